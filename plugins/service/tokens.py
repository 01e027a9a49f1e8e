"""Signed, expiring links: an HMAC over the purpose, the values and the issue time.

The values themselves travel in the link (an address, an audience, an event): the signature
only proves that the service wrote them, and when. Altering one character of anything breaks it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def _mac(secret: bytes, purpose: str, values: tuple[str, ...], issued: int) -> str:
    message = "\x1f".join((purpose, str(issued), *values)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True)
class Signed:
    """What a link carries besides its values: when it was issued and its signature."""

    issued: int
    signature: str

    def query(self) -> str:
        return f"t={self.issued}&jeton={self.signature}"


def sign(secret: bytes, purpose: str, values: tuple[str, ...], when: datetime) -> Signed:
    issued = int(when.timestamp())
    return Signed(issued, _mac(secret, purpose, values, issued))


def check(
    secret: bytes,
    purpose: str,
    values: tuple[str, ...],
    issued: str,
    signature: str,
    max_age: timedelta,
    now: datetime | None = None,
) -> str:
    """Return "ok", "expiré" or "invalide" for a link's values, issue time and signature."""
    try:
        when = int(issued)
    except ValueError:
        return "invalide"
    if not hmac.compare_digest(_mac(secret, purpose, values, when), signature):
        return "invalide"
    now = now or datetime.now(UTC)
    if now.timestamp() - when > max_age.total_seconds() or when - now.timestamp() > 300:
        return "expiré"
    return "ok"
