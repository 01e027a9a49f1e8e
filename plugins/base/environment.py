"""The environment variables the project reads, in one place: their names, what each is for, how each is read.

Personal data and secrets never sit in the repository: the operator gives their places and keys
at run time, here (or as command-line options, which win). Nothing else in the project reads
os.environ; a test keeps it so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

VARIABLES = {
    "LETTER_SECRET": "the key of the signed links (letters' unsubscriptions, the service's confirmations)",
    "LETTER_DB": "the service's SQLite base: readers, registrations, membership requests, accounts, outbox",
    "LETTER_LEDGER": "the send ledger (SQLite): who received which letter or reminder",
    "LETTER_SUBSCRIBERS": "a CSV of subscribers, besides the base",
    "LETTER_SUPPRESSED": "a suppression list (CSV or one address a line)",
    "LETTER_OUTBOX": "without SMTP_HOST, the folder where `send` writes the messages as .eml files",
    "LETTER_RATE": "messages per second of a send (10; 0: no limit)",
    "LETTER_RETRY_BACKOFF": "the first wait, in seconds, before a temporary failure is tried again (doubled each time)",
    "SMTP_HOST": "the SMTP relay (without it, messages are written as .eml files)",
    "SMTP_PORT": "its port",
    "SMTP_SECURITY": "none, starttls or tls",
    "SMTP_USER": "its login",
    "SMTP_PASSWORD": "its password",
    "DKIM_SELECTOR": "DKIM signature: the selector",
    "DKIM_DOMAIN": "DKIM signature: the domain",
    "DKIM_KEY_FILE": "DKIM signature: the private key (PEM)",
    "IMAP_HOST": "the sender's mailbox, where bounces and mailto unsubscriptions land",
    "IMAP_PORT": "its port (993)",
    "IMAP_USER": "its login",
    "IMAP_PASSWORD": "its password",
    "IMAP_FOLDER": "the folder to read (INBOX)",
    "IMAP_CA_FILE": "a certificate authority for a private IMAP server",
    "FEDERATION_ACCOUNTS": "the members' accounts CSV (build.py server)",
    "FEDERATION_HTPASSWD": "nginx's htpasswd, rewritten by the service when a password is chosen",
    "SERVICE_MAIL_CAPS": "the service's caps on mail to unproven addresses, per hour",
    "FEDERATION_PUSHER": "who pushes to the editors' repository (set by the SSH key's forced command)",
    "FEDERATION_AUDIENCE_LOG": "the pages' audience log nginx writes without client addresses (lettres bilan --mois)",
    "BACKUP_DIR": "where `build.py sauvegarde` writes its archives (a folder only the operator reads)",
    "BUILD_PROCESSES": "how many processes a build may use",
    "SOURCE_DATE_EPOCH": "the date of a reproducible build",
}


def current() -> Mapping[str, str]:
    """Return the environment, for the readers that take several variables (SMTP_*, DKIM_*, IMAP_*)."""
    return os.environ


def text(name: str, default: str = "") -> str:
    assert name in VARIABLES, name
    return os.environ.get(name, default)


def path(name: str) -> Path | None:
    """Return the path a variable names, or None when it is unset or empty."""
    value = text(name)
    return Path(value) if value else None
