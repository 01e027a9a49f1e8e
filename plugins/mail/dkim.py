"""DKIM signatures for the letters (dkimpy), so that the one-click headers are covered as RFC 8058 asks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dkim

from plugins.base import environment

# RFC 8058 §4: the signature must cover List-Unsubscribe and List-Unsubscribe-Post.
SIGNED_HEADERS = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)
VARIABLES = ("DKIM_SELECTOR", "DKIM_DOMAIN", "DKIM_KEY_FILE")


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_key: bytes

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DkimKey | None:
        """Return the key named by DKIM_SELECTOR, DKIM_DOMAIN and DKIM_KEY_FILE, None if none is set; raise ValueError (French)."""
        env = environment.current() if environ is None else environ
        given = {name: env.get(name, "").strip() for name in VARIABLES}
        if not any(given.values()):
            return None
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ValueError(
                f"signature DKIM incomplète : {', '.join(missing)} manquant (il faut les trois variables {', '.join(VARIABLES)})"
            )
        path = Path(given["DKIM_KEY_FILE"])
        if not path.is_file():
            raise ValueError(f"DKIM_KEY_FILE introuvable : {path}")
        key = path.read_bytes()
        if b"PRIVATE KEY" not in key:
            raise ValueError(f"DKIM_KEY_FILE {path} n'est pas une clé privée PEM")
        return cls(given["DKIM_SELECTOR"], given["DKIM_DOMAIN"], key)

    def sign(self, message: bytes) -> bytes:
        """Return the message with its DKIM-Signature header first."""
        signature = dkim.sign(
            message, self.selector.encode(), self.domain.encode(), self.private_key, include_headers=list(SIGNED_HEADERS)
        )
        return signature + message
