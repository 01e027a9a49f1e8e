"""Read the federation's mailbox: bounces (RFC 3464 delivery status notifications) and mailto unsubscriptions.

Only parsing and mailbox access live here: what a message tells comes back as Notice objects,
and the caller applies them to the subscriber store before marking the message done.
"""

from __future__ import annotations

import email
import hmac
import imaplib
import re
import ssl
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.policy import default
from email.utils import collapse_rfc2231_value, getaddresses
from pathlib import Path
from typing import Protocol

from plugins.base import environment
from plugins.letters.message import token
from plugins.model import Audience

DETAIL_MAX = 200
DONE_FOLDER = "traites"

# message_id() writes <{letter slug}.{24 hex}@{domain}>; the slug is what is before the last dot.
LETTER_ID = re.compile(r"<([^<>@\s]+)\.[0-9a-f]{24}@[^<>\s]+>")
STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}")
# Clients prefix the subject (« Re: », « TR: ») and some drop the accent; the token is 32 hex characters.
UNSUBSCRIBE_SUBJECT = re.compile(r"d[ée]sinscription\s+([0-9a-f]{32})(?![0-9a-z])", re.IGNORECASE)
# RFC 3834 replies and Sieve notifications; « auto-generated » is not among them: a mail client's unsubscribe
# button may send the mailto: message that way, and the token still proves who asked.
AUTO_SUBMITTED = {"auto-replied", "auto-notified"}
# Vacation and autoresponder markers of programs that do not write Auto-Submitted.
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation")
AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk"}
NO_NOTICE_ACTIONS = {"delivered", "relayed", "expanded"}
DEFAULT_DETAIL = {"failed": "échec de remise", "delayed": "remise retardée"}


@dataclass(frozen=True)
class Notice:
    kind: str  # "hard" (5.x.x, Action: failed), "soft" (4.x.x or Action: delayed), or "unsubscribe"
    email: str  # the address concerned, lowercased (Original-/Final-Recipient of a DSN; the token-verified From)
    letter: str | None  # the letter slug from the original message's Message-ID, when found
    audience: str | None  # for "unsubscribe": the audience whose token matched; None for bounces
    status: str  # DSN Status code like "5.1.1"; "" for unsubscribe
    detail: str  # Diagnostic-Code or a short description, at most 200 characters


class _Unreadable(Exception):
    """A DSN block that cannot be understood: the whole message is left to a human."""


def parse(raw: bytes) -> EmailMessage:
    """Return a raw message parsed with the modern policy (headers decoded, typed parts)."""
    return email.message_from_bytes(raw, _class=EmailMessage, policy=default)


def read_notices(message: EmailMessage, secret: bytes) -> list[Notice] | None:
    """Return what this message tells, or None when it is not a DSN nor a valid mailto unsubscription (leave it where it is)."""
    if _is_dsn(message):
        # Checked before auto-replies: MTAs mark their DSNs « Auto-Submitted: auto-replied ».
        return _dsn_notices(message)
    if _is_auto_reply(message):
        return None
    notice = _unsubscribe_notice(message, secret)
    return None if notice is None else [notice]


# Delivery status notifications


def _is_dsn(message: Message) -> bool:
    report_type = collapse_rfc2231_value(message.get_param("report-type") or "")
    return message.get_content_type() == "multipart/report" and report_type.lower() == "delivery-status"


def _dsn_notices(message: Message) -> list[Notice] | None:
    """Return a notice per failed or delayed recipient, [] when all were delivered, None when unreadable."""
    payload = message.get_payload()
    if not isinstance(payload, list):  # a report without a boundary
        return None
    parts = [p for p in payload if isinstance(p, Message)]
    status_part = next((p for p in parts if p.get_content_type() == "message/delivery-status"), None)
    found = status_part.get_payload() if status_part is not None else None
    blocks = [b for b in found if isinstance(b, Message)] if isinstance(found, list) else []
    if len(blocks) < 2:  # the per-message block, then one per recipient
        return None
    letter = _letter_from_original(parts) or _letter_from_thread(message)
    try:
        notices = [_recipient_notice(block, letter) for block in blocks[1:]]
    except _Unreadable:
        return None
    return [n for n in notices if n is not None]


def _recipient_notice(block: Message, letter: str | None) -> Notice | None:
    """Return the notice of one per-recipient block, None for a delivery; raise _Unreadable when unclear."""
    action = (_text(block.get("Action")).lower().split() or [""])[0]
    if action in NO_NOTICE_ACTIONS:
        return None
    if action not in DEFAULT_DETAIL:
        raise _Unreadable(action)
    found = STATUS.match(_text(block.get("Status")))
    if found is None or found[1] == "2":
        raise _Unreadable(block.get("Status"))
    kind = "hard" if action == "failed" and found[1] == "5" else "soft"
    detail = _typed_value(_text(block.get("Diagnostic-Code"))) or DEFAULT_DETAIL[action]
    return Notice(kind, _recipient(block), letter, None, found[0], detail[:DETAIL_MAX])


def _recipient(block: Message) -> str:
    """Return the address as we sent to it: Original-Recipient survives forwarding, Final-Recipient may not."""
    for name in ("Original-Recipient", "Final-Recipient"):
        address = _typed_value(_text(block.get(name))).strip("<>").lower()
        if "@" in address and not any(c.isspace() for c in address):
            return address
    raise _Unreadable("destinataire")


def _typed_value(field: str) -> str:
    """Return the value of an RFC 3464 « type; value » field without its type (rfc822, smtp, utf-8)."""
    return field.split(";", 1)[1].strip() if ";" in field else field


def _letter_from_original(parts: list[Message]) -> str | None:
    """Return the letter slug from the returned headers (text/rfc822-headers) or message (message/rfc822)."""
    for part in parts:
        if part.get_content_type() == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            original: Message = HeaderParser(policy=default).parsestr(raw.decode("utf-8", "replace"))
        elif part.get_content_type() == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            if not isinstance(inner, Message):
                continue
            original = inner
        else:
            continue
        letter = _letter_from_ids(_text(original.get("Message-ID")))
        if letter:
            return letter
    return None


def _letter_from_thread(message: Message) -> str | None:
    """Return the letter slug from In-Reply-To, else from the most recent matching References entry."""
    return _letter_from_ids(_text(message.get("In-Reply-To"))) or _letter_from_ids(_text(message.get("References")), last=True)


def _letter_from_ids(ids: str, last: bool = False) -> str | None:
    slugs = LETTER_ID.findall(ids)
    return (slugs[-1] if last else slugs[0]) if slugs else None


# Mailto unsubscriptions


def _is_auto_reply(message: Message) -> bool:
    """Tell whether an autoresponder wrote this (RFC 3834 Auto-Submitted, vacation headers, bulk precedence)."""
    if _text(message.get("Auto-Submitted")).split(";", 1)[0].strip().lower() in AUTO_SUBMITTED:
        return True
    if any(message.get(name) is not None for name in AUTO_REPLY_HEADERS):
        return True
    return _text(message.get("Precedence")).lower() in AUTO_PRECEDENCE


def _unsubscribe_notice(message: Message, secret: bytes) -> Notice | None:
    """Return the unsubscription asked by the subject's token, if it was made for the From address."""
    found = UNSUBSCRIBE_SUBJECT.search(unicodedata.normalize("NFC", _text(message.get("Subject"))))
    sender = _single_address(message)
    if found is None or sender is None:
        return None
    tok = found[1].lower()
    for audience in Audience:
        # The token is an HMAC of (audience, address): a match proves the request comes from the letter sent there.
        if hmac.compare_digest(token(secret, audience.value, sender), tok):
            return Notice("unsubscribe", sender, _letter_from_thread(message), audience.value, "", "désinscription par courriel")
    return None


def _single_address(message: Message) -> str | None:
    """Return the lowercased From address, or None unless there is exactly one."""
    # Not decoded first: an RFC 2047 display name may hide a comma that would split the address list.
    addresses = [addr for _, addr in getaddresses([str(v) for v in message.get_all("From", [])]) if addr]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].lower()


def _text(value: object) -> str:
    """Return a header as plain text: RFC 2047 decoded (whatever the parsing policy), unfolded."""
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError):  # an unknown charset or a broken encoded word: keep it as it came
        text = str(value)
    return " ".join(text.split())


# Mailboxes


class Mailbox(Protocol):
    """Where replies to the letters land: read everything, mark what was applied as done."""

    def messages(self) -> Iterator[tuple[str, bytes]]: ...

    def done(self, key: str) -> None: ...

    def close(self) -> None: ...


def understood(mailbox: Mailbox, secret: bytes) -> Iterator[tuple[str, list[Notice]]]:
    """Yield the key and notices of each understood message; the caller calls done(key) once they are applied."""
    for key, raw in mailbox.messages():
        notices = read_notices(parse(raw), secret)
        if notices is not None:
            yield key, notices


class FolderMailbox:
    """Every *.eml file of a folder; done() moves a file into traites/, the others stay for a human."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """Yield each file's name and content, in name order."""
        for file in sorted(self.path.glob("*.eml")):
            if file.is_file():
                yield file.name, file.read_bytes()

    def done(self, key: str) -> None:
        """Move the file into traites/, never over an earlier file of the same name."""
        target = self.path / DONE_FOLDER
        target.mkdir(exist_ok=True)
        destination, n = target / key, 1
        while destination.exists():
            n += 1
            destination = target / f"{Path(key).stem}-{n}{Path(key).suffix}"
        (self.path / key).rename(destination)

    def close(self) -> None:
        """Nothing to release: moves are done at once."""


class MailboxError(Exception):
    """The IMAP server could not be reached or refused us."""


class ImapMailbox:
    """One IMAP folder over TLS: read with BODY.PEEK[] (unseen stays unseen), done() flags \\Deleted, close() expunges."""

    def __init__(
        self,
        host: str,
        user: str,
        password: str,
        *,
        port: int = 993,
        folder: str = "INBOX",
        ca_file: str | None = None,
        timeout: float = 30.0,
    ):
        self.host, self.port, self.user, self.password = host, port, user, password
        self.folder, self.ca_file, self.timeout = folder, ca_file, timeout
        self.imap: imaplib.IMAP4_SSL | None = None
        self.deleted: list[str] = []

    def open(self) -> imaplib.IMAP4_SSL:
        """Connect, log in and select the folder (once)."""
        if self.imap is not None:
            return self.imap
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            imap = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=self.timeout)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"connexion IMAP à {self.host}:{self.port} impossible : {exc}") from exc
        try:
            imap.login(self.user, self.password)
            _check(imap.select(_quoted(self.folder)), f"dossier IMAP « {self.folder} » introuvable")
        except (OSError, imaplib.IMAP4.error, MailboxError) as exc:
            imap.shutdown()
            raise MailboxError(f"connexion IMAP de {self.user} à {self.host} refusée : {exc}") from exc
        self.imap = imap
        return imap

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """Yield each message's UID and bytes, skipping those already flagged for deletion."""
        imap = self.open()
        uids = _check(imap.uid("SEARCH", "UNDELETED"), "recherche IMAP refusée")[0].split()
        for uid in (u.decode("ascii") for u in uids):
            data = _check(imap.uid("FETCH", uid, "(BODY.PEEK[])"), "lecture IMAP refusée")
            raw = next((item[1] for item in data if isinstance(item, tuple) and b"BODY[]" in item[0]), None)
            if raw is not None:  # None: expunged by another client meanwhile
                yield uid, raw

    def done(self, key: str) -> None:
        """Flag the message \\Deleted; close() expunges it."""
        _check(self.open().uid("STORE", key, "+FLAGS.SILENT", r"(\Deleted)"), f"marquage IMAP du message {key} refusé")
        self.deleted.append(key)

    def close(self) -> None:
        """Expunge the messages marked done (only those, with UIDPLUS) and log out."""
        imap, self.imap = self.imap, None
        if imap is None:
            return
        try:
            if self.deleted:
                self._expunge(imap)
        finally:
            self.deleted = []
            imap.logout()  # also closes the socket, whatever the server answers

    def _expunge(self, imap: imaplib.IMAP4_SSL) -> None:
        """Expunge the UIDs marked done; without UIDPLUS, every \\Deleted message of the folder."""
        capabilities = _check(imap.capability(), "capacités IMAP illisibles")[0].upper().split()
        if b"UIDPLUS" in capabilities:  # leave alone what a human flagged \Deleted in a mail client
            _check(imap.uid("EXPUNGE", _uid_set(self.deleted)), "suppression IMAP refusée")
        else:
            _check(imap.expunge(), "suppression IMAP refusée")


def _check(response: tuple[str, list], message: str) -> list:
    """Return a command's data, or raise MailboxError with the server's answer."""
    status, data = response
    if status != "OK":
        raise MailboxError(f"{message} : {data!r}")
    return data


def _uid_set(uids: list[str]) -> str:
    """Return UIDs as an IMAP set with ranges (1:4,9): bounces of one send arrive together, the line stays short."""
    numbers = sorted({int(u) for u in uids})
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(f"{a}:{b}" if a != b else str(a) for a, b in runs)


def _quoted(folder: str) -> str:
    """Return a folder name as an IMAP quoted string (names may hold spaces)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_from_env(environ: Mapping[str, str] | None = None) -> ImapMailbox:
    """Return the mailbox described by the IMAP_* variables; raise ValueError naming a missing or wrong one."""
    env = environment.current() if environ is None else environ
    for name in ("IMAP_HOST", "IMAP_USER", "IMAP_PASSWORD"):
        if not env.get(name):
            raise ValueError(f"variable d'environnement {name} manquante : elle est nécessaire pour lire la boîte des retours")
    port = env.get("IMAP_PORT") or "993"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"IMAP_PORT « {port} » n'est pas un numéro de port")
    ca_file = env.get("IMAP_CA_FILE") or None
    if ca_file and not Path(ca_file).is_file():
        raise ValueError(f"IMAP_CA_FILE « {ca_file} » introuvable")
    return ImapMailbox(
        env["IMAP_HOST"],
        env["IMAP_USER"],
        env["IMAP_PASSWORD"],
        port=int(port),
        folder=env.get("IMAP_FOLDER") or "INBOX",
        ca_file=ca_file,
    )
