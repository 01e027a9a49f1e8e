"""Transactional emails of the service (confirmations, notices): text + HTML, through the same SMTP as `send`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from plugins.mail.transport import POLICY, SmtpSettings, SmtpTransport


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str  # "text/calendar"
    data: bytes
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()
    message_id: str = ""  # a fixed one, so that a resent message is a recognisable duplicate
    reply_to: str = ""


class Postman:
    """Send one message at a time: SMTP when SMTP_HOST is set, else .eml files in an outbox folder."""

    def __init__(self, sender: Address, smtp: SmtpSettings | None, outbox: Path | None):
        if smtp is None and outbox is None:
            raise ValueError("ni SMTP_HOST ni dossier --outbox : les messages de confirmation ne partiraient nulle part")
        self.sender, self.smtp, self.outbox = sender, smtp, outbox

    def message(self, mail: Mail, when: datetime) -> bytes:
        msg = EmailMessage(policy=POLICY)
        msg["From"] = self.sender
        msg["To"] = mail.to
        msg["Subject"] = mail.subject
        msg["Date"] = format_datetime(when.astimezone(UTC))
        digest = hashlib.sha256(f"{mail.to}:{mail.subject}:{when.timestamp()}".encode()).hexdigest()[:24]
        msg["Message-ID"] = mail.message_id or f"<service.{digest}@{self.sender.domain}>"
        if mail.reply_to:
            msg["Reply-To"] = mail.reply_to
        msg["Auto-Submitted"] = "auto-generated"  # no vacation replies to the federation
        msg.set_content(mail.text)
        msg.add_alternative(mail.html, subtype="html")
        for item in mail.attachments:
            maintype, subtype = item.mimetype.split("/", 1)
            msg.add_attachment(item.data, maintype=maintype, subtype=subtype, filename=item.filename, params=dict(item.params))
        return msg.as_bytes(policy=POLICY)

    def send(self, mail: Mail, when: datetime | None = None, before_data: Callable[[], None] = lambda: None) -> None:
        """Send now; raise the transport's TemporaryFailure, PermanentFailure or LostDuringData if it fails.

        before_data is called once the server has accepted the recipient, right before the message
        itself: a ledger marks the message in flight there.
        """
        when = when or datetime.now(UTC)
        self.deliver(mail.to, self.message(mail, when), before_data)

    def deliver(
        self,
        recipient: str,
        data: bytes,
        before_data: Callable[[], None] = lambda: None,
        transport: SmtpTransport | None = None,
    ) -> None:
        """Send a message already made (the outbox's), on transport if given (kept open); raise as send() does."""
        if self.smtp is None:
            before_data()
            self._file(data, datetime.now(UTC))
            return
        if transport is not None:
            transport.send(self.sender.addr_spec, recipient, data, before_data)
            return
        own = SmtpTransport(self.smtp)
        own.open()
        try:
            own.send(self.sender.addr_spec, recipient, data, before_data)
        finally:
            own.close()

    def transport(self) -> SmtpTransport | None:
        """Return an SMTP connection to reuse for several messages (opened on first use), or None for an outbox folder."""
        return SmtpTransport(self.smtp) if self.smtp is not None else None

    def _file(self, data: bytes, when: datetime) -> None:
        assert self.outbox is not None
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{when:%Y%m%dT%H%M%S}-{hashlib.sha256(data).hexdigest()[:12]}.eml"
        tmp = self.outbox / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(self.outbox / name)
