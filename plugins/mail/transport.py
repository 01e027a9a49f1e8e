"""Mail transport: one SMTP connection reused for every message (or an outbox folder of .eml files), and the three
ways a message can fail, shared by the letters' send and the service's outbox."""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.policy import SMTP
from pathlib import Path

from plugins.base import environment

# The stdlib's SMTP policy RFC 2047-encodes a long List-Unsubscribe, which breaks it; 998 keeps it intact.
POLICY = SMTP.clone(max_line_length=998)


class TemporaryFailure(Exception):
    """4xx or a lost connection before DATA: the message was not accepted, try again later."""


class PermanentFailure(Exception):
    """5xx: the server refuses this recipient or message for good."""


class LostDuringData(Exception):
    """The connection broke after DATA began: the server may or may not have the message."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str = ""
    password: str = ""
    security: str = "none"
    timeout: float = 30.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> SmtpSettings | None:
        """Return the settings from SMTP_* variables, or None when SMTP_HOST is unset (outbox mode)."""
        env = environment.current() if environ is None else environ
        if not env.get("SMTP_HOST"):
            return None
        security = env.get("SMTP_SECURITY", "starttls").lower()
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"SMTP_SECURITY « {security} » inconnu, attendu none, starttls ou tls")
        default_port = {"none": 25, "starttls": 587, "tls": 465}[security]
        port = env.get("SMTP_PORT") or str(default_port)
        if not port.isdigit():
            raise ValueError(f"SMTP_PORT « {port[:20]} » n'est pas un numéro de port")
        return cls(env["SMTP_HOST"], int(port), env.get("SMTP_USER", ""), env.get("SMTP_PASSWORD", ""), security)


class SmtpTransport:
    """One SMTP connection, reused for every message, reopened when it drops."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        try:
            if s.security == "tls":
                self.smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
            else:
                self.smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    self.smtp.starttls(context=ssl.create_default_context())
            self.smtp.ehlo_or_helo_if_needed()  # mail()/rcpt() do not greet by themselves, unlike sendmail()
            if s.user:
                self.smtp.login(s.user, s.password)
        except (OSError, smtplib.SMTPException) as exc:
            self.smtp = None
            raise TemporaryFailure(f"connexion à {s.host}:{s.port} impossible : {exc}") from exc

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None

    def _reset(self) -> None:
        try:
            if self.smtp is not None:
                self.smtp.rset()
        except (OSError, smtplib.SMTPException):
            self.drop()

    def drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    def _expect(self, step: str, answer: tuple[int, bytes]) -> None:
        """Raise for a MAIL or RCPT reply that is not 250/251 (after resetting the transaction)."""
        code, text = answer
        if code in (250, 251):
            return
        self._reset()
        error = PermanentFailure if code >= 500 else TemporaryFailure
        raise error(f"{step} {code} {text.decode('utf-8', 'replace')}")

    def send(self, sender: str, recipient: str, data: bytes, before_data: Callable[[], None]) -> None:
        """Send one message; raise TemporaryFailure, PermanentFailure or LostDuringData."""
        if self.smtp is None:
            self.open()
        assert self.smtp is not None
        try:
            self._expect("MAIL", self.smtp.mail(sender))
            self._expect("RCPT", self.smtp.rcpt(recipient))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.drop()
            raise TemporaryFailure(f"connexion perdue avant l'envoi : {exc}") from exc
        before_data()
        try:
            self.smtp.data(data)
        except smtplib.SMTPDataError as exc:
            self._reset()
            error = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            text = f"DATA {exc.smtp_code} {error}"
            raise (PermanentFailure if exc.smtp_code >= 500 else TemporaryFailure)(text) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.drop()
            raise LostDuringData(f"connexion perdue pendant l'envoi du message : {exc}") from exc


class OutboxTransport:
    """Write each message as an .eml file: the default when no SMTP server is configured."""

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        pass

    def send(self, sender: str, recipient: str, data: bytes, before_data: Callable[[], None]) -> None:
        before_data()
        name = hashlib.sha256(recipient.lower().encode()).hexdigest()[:16]
        target = self.folder / f"{name}.eml"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
