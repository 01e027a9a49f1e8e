"""Build one recipient's message: multipart/alternative, List-Unsubscribe (RFC 8058), stable Message-ID."""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from urllib.parse import quote

from plugins.letters.render import UNSUBSCRIBE_PLACEHOLDER, RenderedLetter
from plugins.mail.transport import POLICY


def token(secret: bytes, letter_audience: str, email: str) -> str:
    """Return the recipient's unsubscribe token (HMAC: cannot be forged for another address)."""
    return hmac.new(secret, f"{letter_audience}:{email.lower()}".encode(), hashlib.sha256).hexdigest()[:32]


def message_id(letter: str, email: str, domain: str) -> str:
    """Return the same Message-ID for a (letter, recipient) on every attempt: a resend is a recognisable duplicate."""
    digest = hashlib.sha256(f"{letter}:{email.lower()}".encode()).hexdigest()[:24]
    return f"<{letter}.{digest}@{domain}>"


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@functools.lru_cache(maxsize=8)
def _qp_chunks(template: str) -> tuple[bytes, ...]:
    """Return the quoted-printable encoding of a part, cut where the recipient's link goes (once per letter)."""
    return tuple(_qp(chunk) for chunk in template.split(UNSUBSCRIBE_PLACEHOLDER))


def _part(subtype: str, template: str, unsubscribe_url: str) -> bytes:
    """Return one MIME part for a recipient: soft line breaks around their link join the pre-encoded chunks."""
    body = (b"=\r\n" + _qp(unsubscribe_url) + b"=\r\n").join(_qp_chunks(template))
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'.encode("ascii")
        + body
    )


def _folded(name: str, value: object) -> bytes:
    """Return one header as the email package folds and encodes it (RFC 2047 for French names)."""
    head = EmailMessage(policy=POLICY)
    head[name] = value
    return POLICY.fold_binary(name, head[name])


@functools.lru_cache(maxsize=8)
def _letter_headers(subject: str, sender_name: str, sender_email: str, list_id: str) -> bytes:
    """Return the headers that are the same for every recipient of a letter (folded once)."""
    sender = Address(display_name=sender_name, addr_spec=sender_email)
    return _folded("Subject", subject) + _folded("From", sender) + _folded("List-Id", list_id)


def build_message(
    rendered: RenderedLetter,
    *,
    subject: str,
    sender: Address,
    to_email: str,
    to_name: str,
    msg_id: str,
    unsubscribe_https: str,
    unsubscribe_mailto: str,
    list_id: str,
    date: datetime,
) -> bytes:
    """Return the message for one recipient, multipart/alternative.

    The ASCII headers are written as they are: List-Unsubscribe must never be RFC 2047-encoded,
    and the email package's header parser would cost more than the rest of the message.
    """
    boundary = "=_" + hashlib.sha256(msg_id.encode()).hexdigest()[:28]
    plain_headers = (
        f"Date: {format_datetime(date)}\r\nMessage-ID: {msg_id}\r\n"
        f"List-Unsubscribe: <{unsubscribe_mailto}>, <{unsubscribe_https}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    ).encode("ascii")
    delimiter = f"--{boundary}\r\n".encode("ascii")
    return b"".join(
        [
            _letter_headers(subject, sender.display_name, sender.addr_spec, list_id),
            f"To: {formataddr((to_name, to_email))}\r\n".encode("ascii"),
            plain_headers,
            delimiter,
            _part("plain", rendered.text, unsubscribe_https),
            b"\r\n",
            delimiter,
            _part("html", rendered.html, unsubscribe_https),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        ]
    )


def unsubscribe_links(base_url: str, mailbox: str, tok: str, email: str) -> tuple[str, str]:
    """Return the https and mailto unsubscribe links for one recipient."""
    https = f"{base_url}{'&' if '?' in base_url else '?'}jeton={tok}&adresse={quote(email)}"
    mailto = f"mailto:{mailbox}?subject={quote('désinscription ' + tok)}"
    return https, mailto
