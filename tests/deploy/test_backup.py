"""Backups taken while the stores are written, checked, kept 14 days and 8 weeks, and restored: nothing answered before
the backup is lost, and a letter already sent is not sent again after a restore."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from plugins.deploy.backup import BackupError, prune, take_backup
from plugins.mail.ledger import SendLedger
from plugins.records.accounts import AccountStore
from plugins.records.readers import SUBSCRIBED, ReaderStore
from plugins.records.registrations import RegistrationBook
from tests.support import REPO, Mailbox, free_port

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def configured(tmp_path: Path) -> dict[str, str]:
    """Stores and files where an operator keeps them, named by the environment as the service and send read them."""
    private = tmp_path / "prive"
    private.mkdir(mode=0o700)
    (private / "htpasswd").write_text("msp-loire:$2b$08$" + "a" * 53 + "\n", encoding="utf-8")
    (private / "dkim.pem").write_text("-----BEGIN PRIVATE KEY-----\nclé\n-----END PRIVATE KEY-----\n", encoding="utf-8")
    return {
        "LETTER_DB": str(private / "service.sqlite"),
        "LETTER_LEDGER": str(private / "envois.sqlite"),
        "FEDERATION_HTPASSWD": str(private / "htpasswd"),
        "DKIM_KEY_FILE": str(private / "dkim.pem"),
        "LETTER_SECRET": "secret-de-la-sauvegarde",
    }


def build_py(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LETTER_", "SMTP_", "DKIM_", "FEDERATION_"))}
    return subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--project", str(REPO), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def writer(db: str, prefix: str, answered: str, stop) -> None:
    """Subscribe and register addresses one transaction at a time; note each one answered, with its time."""
    store, book = ReaderStore(Path(db)), RegistrationBook(Path(db))
    n = 0
    with open(answered, "a", encoding="utf-8") as out:
        while not stop.is_set():
            address = f"{prefix}{n}@example.org"
            store.request(address, "public", "", "pied de page", START)
            book.register("atelier", START + timedelta(days=30), address, "", {}, 10_000, False, START)
            out.write(f"{time.time()} {address}\n")
            out.flush()
            n += 1


def test_a_backup_during_a_burst_holds_everything_answered_before_it_and_restores_over_deleted_stores(tmp_path: Path) -> None:
    env = configured(tmp_path)
    ReaderStore(Path(env["LETTER_DB"]))
    RegistrationBook(Path(env["LETTER_DB"]))
    accounts = AccountStore(Path(env["LETTER_DB"]))
    accounts.open_for("msp-loire", "loire@example.org", "MSP Loire", date(2027, 12, 31), START)
    answered = tmp_path / "repondues.txt"
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    writers = [context.Process(target=writer, args=(env["LETTER_DB"], p, str(answered), stop)) for p in ("a", "b")]
    for w in writers:
        w.start()
    time.sleep(1.5)  # the burst is under way
    began = time.time()
    backups = tmp_path / "sauvegardes"
    backups.mkdir(mode=0o700)
    made = build_py(env, "sauvegarde", "--dossier", str(backups))
    ended = time.time()
    time.sleep(0.5)
    stop.set()
    for w in writers:
        w.join(30)
    assert made.returncode == 0, made.stderr
    archive = Path(made.stdout.strip().splitlines()[-1])  # the archive's path is the last line
    assert archive.parent == backups and stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert "comptes, file des messages) (LETTER_DB) : " in made.stdout
    assert "registre des envois (LETTER_LEDGER) : pas encore créé" in made.stdout  # no send yet: said, not failed
    before = [line.split()[1] for line in answered.read_text().splitlines() if float(line.split()[0]) < began]
    during = [line.split()[1] for line in answered.read_text().splitlines() if began < float(line.split()[0]) < ended]
    assert len(before) > 50 and len(during) > 10, "the burst must go on during the backup"

    for name in ("service.sqlite", "service.sqlite-wal", "service.sqlite-shm"):
        (Path(env["LETTER_DB"]).parent / name).unlink(missing_ok=True)
    restored = build_py(env, "restaurer", str(archive))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with sqlite3.connect(env["LETTER_DB"]) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    readers = {r.email for r in ReaderStore(Path(env["LETTER_DB"])).export()}
    registered = {r.email for r in RegistrationBook(Path(env["LETTER_DB"])).registrants("atelier")}
    assert set(before) <= readers and set(before) <= registered
    assert AccountStore(Path(env["LETTER_DB"])).get("msp-loire") is not None
    assert stat.S_IMODE(Path(env["LETTER_DB"]).stat().st_mode) == 0o600


def test_a_letter_sent_before_the_backup_is_not_sent_again_after_a_restore(tmp_path: Path) -> None:
    env = configured(tmp_path)
    store = ReaderStore(Path(env["LETTER_DB"]))
    readers = [(f"lectrice{n}@example.org", "", "adherents") for n in range(5)]
    store.import_rows(readers, "import test.csv", START)
    assert all(store.reader(r[0], "adherents").state == SUBSCRIBED for r in readers)  # type: ignore[union-attr]
    sink = Mailbox()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_SECURITY": "none"}
        env = {**env, **smtp, "DKIM_KEY_FILE": ""}  # the test key is not a key: the letter goes unsigned
        first = build_py(env, "send", "2026-11-adherents", "--rate", "0")
        assert first.returncode == 0, first.stdout + first.stderr
        assert sorted(m["To"].addresses[0].addr_spec for m in sink.messages) == sorted(r[0] for r in readers)
        backups = tmp_path / "sauvegardes"
        backups.mkdir()
        made = build_py({**env, "BACKUP_DIR": str(backups)}, "sauvegarde")
        assert made.returncode == 0, made.stderr
        archive = made.stdout.strip().splitlines()[-1]
        for folder_file in Path(env["LETTER_DB"]).parent.glob("*.sqlite*"):
            folder_file.unlink()
        restored = build_py(env, "restaurer", archive)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        again = build_py(env, "send", "2026-11-adherents", "--rate", "0")
        assert again.returncode == 0, again.stdout + again.stderr
        assert sorted(m["To"].addresses[0].addr_spec for m in sink.messages) == sorted(r[0] for r in readers)  # nobody twice
        ledger = SendLedger(Path(env["LETTER_LEDGER"]))
        try:
            assert ledger.counts("2026-11-adherents") == {"sent": 5}
        finally:
            ledger.close()
    finally:
        controller.stop()


def test_operator_mistakes_stop_with_a_french_line_and_write_nothing(tmp_path: Path) -> None:
    env = configured(tmp_path)
    ReaderStore(Path(env["LETTER_DB"]))
    missing = build_py(env, "sauvegarde")
    assert missing.returncode == 1 and "--dossier" in missing.stderr and "BACKUP_DIR" in missing.stderr
    typo = build_py(env, "sauvegarde", "--dossier", str(tmp_path / "sauvegrades"))
    assert typo.returncode == 1 and "introuvable" in typo.stderr and not (tmp_path / "sauvegrades").exists()
    backups = tmp_path / "sauvegardes"
    backups.mkdir()
    # a store not created yet is said, not failed; a store in a folder that does not exist is a typo
    gone = build_py({**env, "LETTER_LEDGER": str(tmp_path / "priv" / "envois.sqlite")}, "sauvegarde", "--dossier", str(backups))
    assert gone.returncode == 1 and "priv/envois.sqlite introuvable" in gone.stderr and list(backups.iterdir()) == []
    lost = build_py(
        {**env, "FEDERATION_HTPASSWD": str(tmp_path / "prive" / "htpasswd.old")}, "sauvegarde", "--dossier", str(backups)
    )
    assert lost.returncode == 1 and "htpasswd.old introuvable" in lost.stderr and list(backups.iterdir()) == []
    made = build_py({**env, "LETTER_LEDGER": ""}, "sauvegarde", "--dossier", str(backups))
    archive = Path(made.stdout.strip().splitlines()[-1])
    # A restore whose destination is not configured, or from a damaged archive, changes nothing.
    ReaderStore(Path(env["LETTER_DB"])).import_rows([("garde@example.org", "", "public")], "import", START)
    nowhere = build_py({**env, "LETTER_DB": ""}, "restaurer", str(archive))
    assert nowhere.returncode == 1 and "LETTER_DB n'est pas défini" in nowhere.stderr
    damaged = tmp_path / "abimee.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(damaged, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "bases/service.sqlite":
                data = data[:4096] + b"\x00" * 512 + data[4608:]
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    refused = build_py(env, "restaurer", str(damaged))
    assert refused.returncode == 1 and "ne correspond pas au manifeste" in refused.stderr
    assert ReaderStore(Path(env["LETTER_DB"])).reader("garde@example.org", "public") is not None  # untouched
    other_key = build_py({**env, "LETTER_SECRET": "une-autre-cle"}, "restaurer", str(archive))
    assert other_key.returncode == 0 and "la clé en service n'est pas celle de la sauvegarde" in other_key.stdout
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifeste.json").read())  # type: ignore[union-attr]
    assert {p["variable"] for p in manifest["parts"]} == {"LETTER_DB", "FEDERATION_HTPASSWD", "DKIM_KEY_FILE", "LETTER_SECRET"}


def test_fourteen_days_and_eight_weeks_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "sauvegardes"
    folder.mkdir()
    day = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    names = []
    for n in range(120):  # one a night for 120 nights, two on some
        when = day + timedelta(days=n)
        for extra in (0, 3) if n % 10 == 0 else (0,):
            name = folder / f"sauvegarde-{(when + timedelta(hours=extra)):%Y%m%dT%H%M%SZ}.tar.gz"
            name.write_bytes(b"x")
            names.append(name)
    newest = names[-1]
    prune(folder, newest)
    kept = sorted(p.name for p in folder.iterdir())
    days = {p[11:19] for p in kept}
    weeks = {datetime.strptime(p[11:19], "%Y%m%d").isocalendar()[:2] for p in kept}
    last14 = [day + timedelta(days=n) for n in range(106, 120)]
    assert {d.strftime("%Y%m%d") for d in last14} <= days and len(weeks) == 8
    overlap = len({d.isocalendar()[:2] for d in last14})  # the newest weeks' keepers are among the last days'
    assert len(kept) == 14 + 8 - overlap
    assert newest.exists()
    twice = (day + timedelta(days=110)).strftime("%Y%m%d")
    assert [p for p in kept if p[11:19] == twice] == [f"sauvegarde-{twice}T060000Z.tar.gz"]  # the later of the day


def test_a_backup_needs_something_to_back_up(tmp_path: Path) -> None:
    folder = tmp_path / "sauvegardes"
    folder.mkdir()
    with pytest.raises(BackupError, match="Rien à sauvegarder"):
        take_backup(folder, {}, START)
