"""Reading the replies mailbox: DSNs and mailto unsubscriptions built with the email package, a folder, dovecot over TLS."""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from plugins.letters.bounces import (
    FolderMailbox,
    ImapMailbox,
    MailboxError,
    Notice,
    _uid_set,
    imap_from_env,
    parse,
    read_notices,
    understood,
)
from plugins.letters.message import message_id, token
from tests.support import DOMAIN, MAILBOX, free_port, recipient, status_block, unsubscription

SECRET = b"secret-de-test-des-lettres"
LETTER = "2026-11-adherents"
READER = "Jeanne.Martin@Example.org"


def original(to: str = READER, letter: str = LETTER) -> EmailMessage:
    """Return the headers of a letter as send.py writes them (Message-ID, List-Unsubscribe)."""
    msg = EmailMessage()
    msg["From"] = f"Fédération des MSP <{MAILBOX}>"
    msg["To"] = to
    msg["Subject"] = "La lettre des adhérents — novembre 2026"
    msg["Message-ID"] = message_id(letter, to, DOMAIN)
    msg["List-Unsubscribe"] = f"<mailto:{MAILBOX}?subject=d%C3%A9sinscription%20{token(SECRET, 'adherents', to)}>"
    msg.set_content("Bonjour,\n")
    return msg


def dsn(*recipients: dict[str, str], returned: str | None = "headers", headers: dict[str, str] | None = None) -> bytes:
    """Return an RFC 3464 report: readable text, message/delivery-status, then the original headers or message."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.net>"
    report["To"] = MAILBOX
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"  # as Postfix writes it: must not hide the DSN
    for name, value in (headers or {}).items():
        report[name] = value
    report.attach(MIMEText("Votre message n'a pas pu être remis.\n", "plain", "utf-8"))
    status = MIMEBase("message", "delivery-status")
    status.set_payload([status_block({"Reporting-MTA": "dns; mx.example.net"}), *map(status_block, recipients)])
    report.attach(status)
    if returned == "headers":
        report.attach(MIMEText(str(original()).split("\n\n", 1)[0] + "\n", "rfc822-headers"))
    elif returned == "message":
        report.attach(MIMEMessage(original()))
    return report.as_bytes()


def ordinary() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Paul Durand <paul@example.org>"
    msg["To"] = MAILBOX
    msg["Subject"] = "Question sur la prochaine lettre"
    msg.set_content("Bonjour, pourriez-vous parler de la télésanté ?\n")
    return msg.as_bytes()


def notices(raw: bytes) -> list[Notice] | None:
    return read_notices(parse(raw), SECRET)


def unsubscribed(audience: str, letter: str | None = None) -> list[Notice]:
    return [Notice("unsubscribe", "jeanne.martin@example.org", letter, audience, "", "désinscription par courriel")]


def good_subject(audience: str = "adherents", address: str = READER) -> str:
    return f"désinscription {token(SECRET, audience, address)}"


# Delivery status notifications


def test_hard_bounce_names_the_recipient_and_the_letter() -> None:
    diagnostic = "smtp; 550 5.1.1 <jeanne.martin@example.org>: User unknown"
    raw = dsn(recipient("Jeanne.Martin@Example.org", "failed", "5.1.1", diagnostic))
    assert notices(raw) == [
        Notice("hard", "jeanne.martin@example.org", LETTER, None, "5.1.1", "550 5.1.1 <jeanne.martin@example.org>: User unknown")
    ]


def test_soft_bounce_reads_the_letter_from_the_returned_message() -> None:
    raw = dsn(recipient(READER, "failed", "4.2.2 (mailbox full)", "smtp; 452 4.2.2 Mailbox full"), returned="message")
    assert notices(raw) == [Notice("soft", "jeanne.martin@example.org", LETTER, None, "4.2.2", "452 4.2.2 Mailbox full")]


def test_delayed_is_soft_and_the_letter_may_come_from_in_reply_to() -> None:
    raw = dsn(recipient(READER, "delayed", "4.4.7"), returned=None, headers={"In-Reply-To": message_id(LETTER, READER, DOMAIN)})
    assert notices(raw) == [Notice("soft", "jeanne.martin@example.org", LETTER, None, "4.4.7", "remise retardée")]


def test_delivered_is_understood_with_nothing_to_do() -> None:
    assert notices(dsn(recipient(READER, "delivered", "2.0.0", "smtp; 250 2.0.0 Ok"))) == []


def test_two_recipients_give_two_notices_and_original_recipient_wins() -> None:
    raw = dsn(
        recipient("ancien@example.org", "failed", "5.2.1", "smtp; 550 5.2.1 Mailbox disabled"),
        recipient("boite@relais.example.net", "delayed", "4.4.1", Original_Recipient="rfc822; Paul@Example.org"),
        returned=None,
    )
    assert notices(raw) == [
        Notice("hard", "ancien@example.org", None, None, "5.2.1", "550 5.2.1 Mailbox disabled"),
        Notice("soft", "paul@example.org", None, None, "4.4.1", "remise retardée"),
    ]


def test_detail_is_cut_to_200_characters() -> None:
    (notice,) = notices(dsn(recipient(READER, "failed", "5.7.1", "smtp; 550 5.7.1 " + "refusé " * 60)))
    assert len(notice.detail) == 200 and notice.detail.startswith("550 5.7.1 refusé")


@pytest.mark.parametrize(
    "block",
    [
        recipient(READER, "failed", "inconnu"),
        recipient(READER, "failed", "2.0.0"),
        recipient(READER, "bounced", "5.1.1"),
        {"Action": "failed", "Status": "5.1.1"},
    ],
    ids=["statut illisible", "statut de succès", "action inconnue", "sans destinataire"],
)
def test_a_dsn_with_an_unreadable_recipient_block_is_left_for_a_human(block: dict[str, str]) -> None:
    assert notices(dsn(recipient("autre@example.org", "failed", "5.1.1"), block)) is None


def test_a_report_without_delivery_status_is_left_for_a_human() -> None:
    report = MIMEMultipart("report", report_type="delivery-status")
    report.attach(MIMEText("Votre message n'a pas pu être remis.\n", "plain", "utf-8"))
    assert notices(report.as_bytes()) is None


# Messages that are not bounces


def test_an_ordinary_message_is_left_for_a_human() -> None:
    assert notices(ordinary()) is None


def test_an_auto_reply_is_left_alone_even_with_a_good_token() -> None:
    assert notices(unsubscription(READER, "Réponse automatique : " + good_subject(), Auto_Submitted="auto-replied")) is None
    assert notices(unsubscription(READER, "Absent : " + good_subject(), X_Autoreply="yes")) is None


def test_an_unsubscription_sent_by_a_client_button_is_understood() -> None:
    raw = unsubscription(READER, good_subject(), Auto_Submitted="auto-generated")
    assert notices(raw) == unsubscribed("adherents")


@pytest.mark.parametrize("audience", ["public", "adherents"])
def test_a_mailto_unsubscription_with_a_good_token(audience: str) -> None:
    raw = unsubscription(f"Jeanne Martin <{READER}>", good_subject(audience))
    assert notices(raw) == unsubscribed(audience)


def test_an_altered_token_is_left_for_a_human() -> None:
    tok = token(SECRET, "public", READER)
    altered = tok[:-1] + ("0" if tok[-1] != "0" else "1")
    assert notices(unsubscription(READER, f"désinscription {altered}")) is None


def test_a_token_made_for_another_address_is_left_for_a_human() -> None:
    assert notices(unsubscription("paul@example.org", good_subject("public", READER))) is None


def test_an_encoded_reply_subject_is_decoded() -> None:
    raw = unsubscription(READER, "Re: " + good_subject("public"), In_Reply_To=message_id(LETTER, READER, DOMAIN))
    assert b"=?utf-8?" in raw.split(b"\n\n", 1)[0]  # the subject travels RFC 2047-encoded
    assert notices(raw) == unsubscribed("public", LETTER)


# Folder mailbox


def test_folder_mailbox_moves_understood_files_to_traites(tmp_path: Path) -> None:
    files = {
        "1-rebond.eml": dsn(recipient(READER, "failed", "5.1.1")),
        "2-question.eml": ordinary(),
        "3-desinscription.eml": unsubscription(READER, good_subject()),
        "4-jeton-faux.eml": unsubscription(READER, "désinscription " + "0" * 32),
    }
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "notes.txt").write_text("pas un message\n", encoding="utf-8")
    mailbox = FolderMailbox(tmp_path)
    seen = {}
    for key, found in understood(mailbox, SECRET):
        seen[key] = [n.kind for n in found]
        mailbox.done(key)
    mailbox.close()
    assert seen == {"1-rebond.eml": ["hard"], "3-desinscription.eml": ["unsubscribe"]}
    assert sorted(p.name for p in (tmp_path / "traites").iterdir()) == ["1-rebond.eml", "3-desinscription.eml"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["2-question.eml", "4-jeton-faux.eml", "notes.txt"]


def test_folder_mailbox_keeps_an_earlier_file_of_the_same_name(tmp_path: Path) -> None:
    mailbox = FolderMailbox(tmp_path)
    for content in (b"premier", b"second"):
        (tmp_path / "retour.eml").write_bytes(content)
        mailbox.done("retour.eml")
    assert sorted(p.read_bytes() for p in (tmp_path / "traites").iterdir()) == [b"premier", b"second"]


# IMAP settings


def test_imap_from_env_names_the_missing_variable() -> None:
    with pytest.raises(ValueError, match="IMAP_PASSWORD manquante"):
        imap_from_env({"IMAP_HOST": "imap.example.org", "IMAP_USER": "lettres"})
    with pytest.raises(ValueError, match="IMAP_HOST"):
        imap_from_env({})
    with pytest.raises(ValueError, match="IMAP_PORT"):
        imap_from_env({"IMAP_HOST": "h", "IMAP_USER": "u", "IMAP_PASSWORD": "p", "IMAP_PORT": "imap"})


def test_imap_from_env_defaults() -> None:
    mailbox = imap_from_env({"IMAP_HOST": "imap.example.org", "IMAP_USER": "lettres", "IMAP_PASSWORD": "p"})
    assert (mailbox.host, mailbox.port, mailbox.folder, mailbox.ca_file) == ("imap.example.org", 993, "INBOX", None)


def test_uid_set_joins_consecutive_uids() -> None:
    assert _uid_set(["9", "1", "2", "3", "4", "12", "11"]) == "1:4,9,11:12"


# A real IMAP server: Debian's dovecot over TLS on 127.0.0.1

DOVECOT = shutil.which("dovecot", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
IMAP_USER, IMAP_PASSWORD = "lettres", "mot-de-passe-imap-de-test"

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
ssl = required
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
auth_mechanisms = plain
auth_failure_delay = 0
mail_location = maildir:{d}/mail
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
# Unprivileged: chroot needs root, and only the TLS listener is opened.
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
  }}
}}
"""


@dataclass
class Dovecot:
    port: int
    cert: Path

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.cert))
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        imap.login(IMAP_USER, IMAP_PASSWORD)
        return imap

    def env(self) -> dict[str, str]:
        return {
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(self.port),
            "IMAP_USER": IMAP_USER,
            "IMAP_PASSWORD": IMAP_PASSWORD,
            "IMAP_CA_FILE": str(self.cert),
        }


def unprivileged() -> tuple[list[str], str, str]:
    """Return the command prefix and the user/group dovecot will see itself running as.

    Dovecot refuses mail access as root. As root, a user namespace makes it see « nobody » while its
    files stay root's, so tmp_path (mode 0700) needs no chmod; otherwise it runs as the current user.
    """
    if os.geteuid() != 0:
        return [], pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    nobody = pwd.getpwnam("nobody")
    prefix = ["unshare", "--user", f"--map-user={nobody.pw_uid}", f"--map-group={nobody.pw_gid}"]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        reason = probe.stderr.strip()
        pytest.skip(f"dovecot refuse de tourner en root et l'espace de noms utilisateur est indisponible : {reason}")
    return prefix, nobody.pw_name, grp.getgrgid(nobody.pw_gid).gr_name


def self_signed(d: Path) -> Path:
    """Write a certificate for 127.0.0.1 (IP subjectAltName, so hostname checking stays on) and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl absent : apt-get install openssl")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem"


def wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            pytest.fail(f"dovecot s'est arrêté ({process.returncode}) : {text}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("dovecot n'écoute pas après 15 s")


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """Start dovecot in the foreground with its own config, maildir, state and log in a tmp folder; stop it at the end."""
    if DOVECOT is None:
        pytest.skip("dovecot absent : apt-get install dovecot-imapd")
    d = tmp_path_factory.mktemp("dovecot")
    prefix, user, group = unprivileged()
    cert = self_signed(d)
    (d / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}:::::\n", encoding="utf-8")
    port = free_port()
    (d / "dovecot.conf").write_text(DOVECOT_CONF.format(d=d, user=user, group=group, port=port), encoding="utf-8")
    with open(d / "sortie.txt", "wb") as output:
        command = [*prefix, DOVECOT, "-F", "-c", str(d / "dovecot.conf")]
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_listening(process, port, d / "dovecot.log")
        yield Dovecot(port, cert)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def remaining(server: Dovecot) -> dict[str, bytes]:
    """Return the subject → flags of every message left in INBOX."""
    imap = server.client()
    try:
        imap.select("INBOX", readonly=True)
        _, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        return {str(parse(item[1])["Subject"]): item[0] for item in data if isinstance(item, tuple)}
    finally:
        imap.logout()


def test_imap_mailbox_expunges_understood_messages_and_leaves_the_others_unseen(dovecot: Dovecot) -> None:
    messages = [
        dsn(recipient(READER, "failed", "5.1.1")),
        ordinary(),
        unsubscription(READER, good_subject("public")),
        unsubscription(READER, "désinscription " + "0" * 32),
    ]
    imap = dovecot.client()
    for raw in messages:
        assert imap.append("INBOX", None, None, raw)[0] == "OK"
    # Flagged for deletion by a human in a mail client, not expunged: neither read nor expunged by us.
    assert imap.append("INBOX", r"(\Deleted)", None, dsn(recipient("autre@example.org", "failed", "5.1.1")))[0] == "OK"
    imap.logout()

    mailbox = imap_from_env(dovecot.env())
    seen = []
    for key, found in understood(mailbox, SECRET):
        seen += [n.kind for n in found]
        mailbox.done(key)
    mailbox.close()

    assert seen == ["hard", "unsubscribe"]
    left = remaining(dovecot)
    bounce = "Undelivered Mail Returned to Sender"
    assert sorted(left) == ["Question sur la prochaine lettre", bounce, f"désinscription {'0' * 32}"]
    assert b"\\Deleted" in left[bounce]
    assert not [flags for flags in left.values() if b"\\Seen" in flags]


def test_imap_mailbox_checks_the_server_certificate(dovecot: Dovecot) -> None:
    mailbox = ImapMailbox("127.0.0.1", IMAP_USER, IMAP_PASSWORD, port=dovecot.port, timeout=10)
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        list(mailbox.messages())


def test_imap_mailbox_reports_a_wrong_password_in_french(dovecot: Dovecot) -> None:
    mailbox = ImapMailbox("127.0.0.1", IMAP_USER, "mauvais", port=dovecot.port, ca_file=str(dovecot.cert), timeout=10)
    with pytest.raises(MailboxError, match=f"connexion IMAP de {IMAP_USER} à 127.0.0.1 refusée"):
        list(mailbox.messages())
