"""The service's outbox: every email the service owes is written to its store before the answer, then sent by one
worker thread (plugins/service/sending.py), which resumes after a restart.

A form's answer no longer waits for SMTP, so it takes the same time whatever the store holds;
a crash after the answer loses no message (a row found « sending » at start is sent again, with
the same Message-ID: the one message that may arrive twice is recognisable as a duplicate).

Mail to an address nobody has proven yet (a confirmation asked on a form) is capped, so that the
federation's name cannot be aimed at one mailbox or one provider: per mailbox as the big providers
read it (« +tag » dropped, Gmail's dots ignored) and purpose, per mailbox, per domain and in all, per
hour. A capped message is not sent; the operator is told on stderr. The row keeps the normalised
mailbox and the time (for the caps) and loses the message once sent or dropped; rows are erased
after two days.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from plugins.base.sqlite import Store
from plugins.records.readers import stamp

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    purpose TEXT NOT NULL,
    recipient TEXT NOT NULL,
    mailbox TEXT NOT NULL,
    domain TEXT NOT NULL,
    unproven INTEGER NOT NULL,
    message BLOB,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_try);
CREATE INDEX IF NOT EXISTS outbox_mailbox ON outbox (mailbox, created);
CREATE INDEX IF NOT EXISTS outbox_domain ON outbox (domain, created);
CREATE INDEX IF NOT EXISTS outbox_created ON outbox (created);
"""
# What each message is for, stored as a code (« letter:public », « event:<slug> »), said in French to the operator.
PURPOSES = {
    **{
        "letter": "confirmation d'abonnement à la lettre",
        "password": "lien de mot de passe",
        "membership": "confirmation d'adhésion",
    },
    **{"membership:staff": "demande d'adhésion, pour l'équipe", "membership:receipt": "accusé de réception d'adhésion"},
    "event": "inscription à l'événement",
}


def purpose_label(purpose: str) -> str:
    """Return a message's purpose in French: « inscription à l'événement atelier » for « event:atelier »."""
    if purpose in PURPOSES:
        return PURPOSES[purpose]
    kind, _, what = purpose.partition(":")
    return f"{PURPOSES[kind]} {what}" if kind in PURPOSES and what else purpose


DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}  # providers that ignore dots in the local part
RETRIES = (60, 300, 1800, 7200, 21600)  # seconds before each new attempt after a temporary failure
KEEP = timedelta(days=2)


@dataclass(frozen=True)
class Caps:
    """How many messages to unproven addresses per hour: per mailbox and purpose, per mailbox, per domain, in all."""

    per_purpose: int = 1
    per_mailbox: int = 3
    per_domain: int = 100
    in_all: int = 500

    @classmethod
    def from_env(cls, value: str | None) -> Caps:
        """Read SERVICE_MAIL_CAPS (« par usage,par boîte,par domaine,en tout », per hour); raise ValueError in French."""
        if not value:
            return cls()
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
            raise ValueError(
                f"SERVICE_MAIL_CAPS « {value} » : attendu quatre nombres entiers positifs séparés par des virgules"
                " (par usage, par boîte, par domaine, en tout, par heure), par exemple 1,3,100,500"
            )
        return cls(*(int(p) for p in parts))


def mailbox_of(address: str) -> tuple[str, str]:
    """Return the mailbox an address reaches as the big providers read it, and its domain."""
    local, _, domain = address.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    domain = DOTLESS.get(domain, domain)
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}", domain


class Outbox(Store):
    schema = SCHEMA

    def __init__(self, path: Path, caps: Caps | None = None, say: Callable[[str], None] | None = None):
        super().__init__(path)
        self.caps = caps or Caps()
        self.say = say or (lambda line: print(line, file=sys.stderr, flush=True))
        self.wake = threading.Event()

    # The outbox's own transactions (the worker's marks, a queue of its own) are not synced to disk one by one.
    # A message owed by a request is queued in the request's transaction (synced: it survives a power cut). What the
    # worker marks only says how far it got: lost in a power cut, a message is sent again, with the same Message-ID.
    # Committed in WAL mode, it survives a crash of the service all the same.
    synchronous = "NORMAL"

    def add(self, db: sqlite3.Connection, purpose: str, recipient: str, message: bytes, when: datetime, unproven: bool) -> bool:
        """Queue a message inside the caller's transaction; return False if a cap dropped it (the caller goes on)."""
        mailbox, domain = mailbox_of(recipient)
        status = "pending"
        if unproven:
            since = stamp(when - timedelta(hours=1))
            counted = "FROM outbox WHERE unproven = 1 AND status != 'dropped' AND created >= ?"
            over = [
                ("cette adresse pour cet usage", self.caps.per_purpose, " AND mailbox = ? AND purpose = ?", (mailbox, purpose)),
                ("cette boîte", self.caps.per_mailbox, " AND mailbox = ?", (mailbox,)),
                (f"le domaine {domain}", self.caps.per_domain, " AND domain = ?", (domain,)),
                ("le service", self.caps.in_all, "", ()),
            ]
            for what, cap, where, values in over:
                if db.execute(f"SELECT COUNT(*) {counted}{where}", (since, *values)).fetchone()[0] >= cap:
                    self.say(
                        f"Messages du service : plafond atteint pour {what} ({cap} par heure) ; message « {purpose_label(purpose)} »"
                        " non envoyé (aucune adresse n'est écrite ici)."
                    )
                    status = "dropped"
                    break
        db.execute(
            "INSERT INTO outbox (created, purpose, recipient, mailbox, domain, unproven, message, status, next_try)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                stamp(when),
                purpose,
                recipient if status == "pending" else "",
                mailbox,
                domain,
                int(unproven),
                message if status == "pending" else None,
                status,
                stamp(when),
            ),
        )
        if status == "pending":
            self.wake.set()
        return status == "pending"

    def queue(self, purpose: str, recipient: str, message: bytes, when: datetime, unproven: bool) -> bool:
        """Queue a message in a transaction of its own."""
        with self.transaction() as db:
            return self.add(db, purpose, recipient, message, when, unproven)

    def recover(self) -> int:
        """Put back the messages a stopped service was sending (the server may have one of them: same Message-ID)."""
        with self.transaction() as db:
            return db.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'").rowcount

    def forget(self, when: datetime) -> int:
        """Erase the rows older than KEEP (what the privacy page says)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM outbox WHERE created < ?", (stamp(when - KEEP),)).rowcount

    def due(self, when: datetime) -> tuple[int, str, bytes] | None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, recipient, message FROM outbox WHERE status = 'pending' AND next_try <= ? ORDER BY id LIMIT 1",
                (stamp(when),),
            ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?", (row[0],))
            return row[0], row[1], row[2]

    def done(self, number: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE outbox SET status = 'sent', message = NULL, recipient = '' WHERE id = ?", (number,))

    def retry(self, number: int, when: datetime, error: str) -> None:
        with self.transaction() as db:
            attempts = db.execute("SELECT attempts FROM outbox WHERE id = ?", (number,)).fetchone()[0]
            if attempts > len(RETRIES):
                self.fail(number, error, db)
                return
            later = stamp(when + timedelta(seconds=RETRIES[attempts - 1]))
            db.execute("UPDATE outbox SET status = 'pending', next_try = ?, error = ? WHERE id = ?", (later, error[:200], number))

    def fail(self, number: int, error: str, db: sqlite3.Connection | None = None) -> None:
        if db is None:
            with self.transaction() as own:
                self.fail(number, error, own)
            return
        db.execute(
            "UPDATE outbox SET status = 'failed', message = NULL, recipient = '', error = ? WHERE id = ?", (error[:200], number)
        )

    def counts(self) -> dict[str, int]:
        with self.reading() as db:
            return dict(db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())

    def next_try(self) -> datetime | None:
        with self.reading() as db:
            row = db.execute("SELECT MIN(next_try) FROM outbox WHERE status = 'pending'").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None
