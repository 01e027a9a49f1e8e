"""Build one recipient's message: multipart/alternative, List-Unsubscribe (RFC 8058), stable Message-ID."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from urllib.parse import quote

from plugins.letters.render import RenderedLetter

# The stdlib's SMTP policy RFC 2047-encodes a long List-Unsubscribe, which breaks it; 998 keeps it intact.
POLICY = SMTP.clone(max_line_length=998)


def token(secret: bytes, letter_audience: str, email: str) -> str:
    """Return the recipient's unsubscribe token (HMAC: cannot be forged for another address)."""
    return hmac.new(secret, f"{letter_audience}:{email.lower()}".encode(), hashlib.sha256).hexdigest()[:32]


def message_id(letter: str, email: str, domain: str) -> str:
    """Return the same Message-ID for a (letter, recipient) on every attempt: a resend is a recognisable duplicate."""
    digest = hashlib.sha256(f"{letter}:{email.lower()}".encode()).hexdigest()[:24]
    return f"<{letter}.{digest}@{domain}>"


def build_message(
    rendered: RenderedLetter, *, subject: str, sender: Address, to_email: str, to_name: str,
    msg_id: str, unsubscribe_https: str, unsubscribe_mailto: str, list_id: str, date: datetime,
) -> EmailMessage:
    """Return the message for one recipient."""
    personal = rendered.for_recipient(unsubscribe_https)
    msg = EmailMessage(policy=POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = Address(display_name=to_name, addr_spec=to_email)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = msg_id
    msg["List-Id"] = list_id
    msg["List-Unsubscribe"] = f"<{unsubscribe_mailto}>, <{unsubscribe_https}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable: 7-bit safe on any relay, and MJML's long lines stay under 998 characters.
    msg.set_content(personal.text, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(personal.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def unsubscribe_links(base_url: str, mailbox: str, tok: str, email: str) -> tuple[str, str]:
    """Return the https and mailto unsubscribe links for one recipient."""
    https = f"{base_url}{'&' if '?' in base_url else '?'}jeton={tok}&adresse={quote(email)}"
    mailto = f"mailto:{mailbox}?subject={quote('désinscription ' + tok)}"
    return https, mailto
