"""`build.py abonnes retours`: bounces and mailto unsubscriptions from a folder of .eml files, applied to the store."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

from plugins.letters.message import message_id, token
from plugins.records.readers import ReaderStore
from tests.support import REPO, TODAY, make_project, recipient, status_block, unsubscription

SECRET = "secret-de-test-des-retours-2026"
DOMAIN = "msp-pdl.example.org"
LETTERS = {
    f"newsletters/2026-{m:02d}-public.md": f"---\nsubject: Lettre {m}\naudience: public\ndate: 2026-{m:02d}-02\n---\n\nÉdito.\n"
    for m in (7, 8, 9, 10)
}


def bounce(address: str, letter: str, status: str) -> bytes:
    """Return a DSN for one recipient of one letter, with the original headers (as Postfix sends it)."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["To"] = f"lettre@{DOMAIN}"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText("Votre message n'a pas pu être remis.\n", "plain", "utf-8"))
    part = MIMEBase("message", "delivery-status")
    action = "failed" if status.startswith("5") else "delayed"
    part.set_payload([status_block({"Reporting-MTA": "dns; mx.example.net"}), status_block(recipient(address, action, status))])
    report.attach(part)
    headers = f"From: lettre@{DOMAIN}\nTo: {address}\nMessage-ID: {message_id(letter, address, DOMAIN)}\n"
    report.attach(MIMEText(headers, "rfc822-headers"))
    return report.as_bytes()


def test_bounces_and_mailto_unsubscriptions_update_the_store(tmp_path: Path) -> None:
    (tmp_path / "projet").mkdir()
    project = make_project(tmp_path / "projet", LETTERS)
    db = tmp_path / "lecteurs.sqlite"
    store = ReaderStore(db)
    readers = ["dur@example.org", "mou@example.org", "intermittent@example.org", "partant@example.org"]
    store.import_rows([(r, "", "public") for r in readers], "test", datetime.now(UTC))
    inbox = tmp_path / "retours"
    inbox.mkdir()
    files = {
        "01-dur.eml": bounce("dur@example.org", "2026-09-public", "5.1.1"),
        "02-mou.eml": bounce("mou@example.org", "2026-08-public", "4.2.2"),
        "03-mou.eml": bounce("mou@example.org", "2026-09-public", "4.2.2"),
        "04-intermittent.eml": bounce("intermittent@example.org", "2026-07-public", "4.2.2"),
        "05-intermittent.eml": bounce("intermittent@example.org", "2026-09-public", "4.2.2"),
        "06-intermittent.eml": bounce("intermittent@example.org", "2026-10-public", "4.2.2"),
        "07-partant.eml": unsubscription(
            "partant@example.org", f"désinscription {token(SECRET.encode(), 'public', 'partant@example.org')}"
        ),
        "08-humain.eml": unsubscription("quelqu-un@example.org", "Merci pour la lettre !"),
    }
    for name, data in files.items():
        (inbox / name).write_bytes(data)

    def run() -> subprocess.CompletedProcess[str]:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LETTER_", "IMAP_"))}, "LETTER_SECRET": SECRET}
        return subprocess.run(
            [
                sys.executable,
                str(REPO / "build.py"),
                "--project",
                str(project),
                "--today",
                TODAY.isoformat(),
                "abonnes",
                "--db",
                str(db),
                "retours",
                "--dossier",
                str(inbox),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    result = run()
    assert result.returncode == 0, result.stderr
    state = {r: store.reader(r, "public").state for r in readers}
    assert state == {
        "dur@example.org": "bounced",
        "mou@example.org": "subscribed",
        "intermittent@example.org": "subscribed",
        "partant@example.org": "unsubscribed",
    }
    assert "dur@example.org : rebond définitif 5.1.1 (2026-09-public) → adresse en erreur" in result.stdout
    assert sorted(p.name for p in inbox.glob("*.eml")) == ["08-humain.eml"]  # a person reads what the command did not understand
    assert len(list((inbox / "traites").glob("*.eml"))) == 7
    # A third soft bounce in a row (August, September, October) marks the address; July-September-October did not.
    (inbox / "09-mou.eml").write_bytes(bounce("mou@example.org", "2026-10-public", "4.2.2"))
    again = run()
    assert "mou@example.org : rebond temporaire 4.2.2 (2026-10-public) → adresse en erreur" in again.stdout
    assert store.reader("mou@example.org", "public").state == "bounced"
    assert store.blocked("mou@example.org", "public") and not store.blocked("intermittent@example.org", "public")


def test_a_missing_folder_or_mailbox_setting_stops_in_french(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    ReaderStore(tmp_path / "l.sqlite")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LETTER_", "IMAP_"))}
    base = [
        sys.executable,
        str(REPO / "build.py"),
        "--project",
        str(project),
        "abonnes",
        "--db",
        str(tmp_path / "l.sqlite"),
        "retours",
    ]
    missing = subprocess.run(
        [*base, "--dossier", str(tmp_path / "absent")], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert missing.returncode == 1 and "introuvable" in missing.stderr
    no_imap = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert no_imap.returncode == 1 and "IMAP_HOST" in no_imap.stderr
