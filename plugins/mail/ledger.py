"""The send ledger (SQLite): one row per (letter, recipient), so that a rerun sends only what is unsent.

States: pending (not sent; safe to send), inflight (DATA under way), sent (the server accepted it),
failed (permanent refusal, 5xx), unknown (connection lost during DATA: the server may have it),
skipped (the reader left or bounced after the letter's list was drawn up: never sent).
A row found inflight when a run starts belongs to a run that died: see SendLedger.recover().
Only one run sends with a given ledger at a time (SendLedger.hold()); that is also what
makes "inflight means dead" true.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plugins.base.locking import Busy, FileLock
from plugins.base.sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    letter TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    message_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'inflight', 'sent', 'failed', 'unknown', 'skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL,
    PRIMARY KEY (letter, email)
);
CREATE TABLE IF NOT EXISTS letters (
    letter TEXT PRIMARY KEY,
    completed TEXT
);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Delivery:
    email: str
    name: str
    message_id: str
    status: str
    attempts: int


LedgerBusy = Busy  # another process is sending with this ledger


class SendLedger(Store):
    """What was sent to whom; every state change is committed before the next SMTP step."""

    schema = SCHEMA
    # NORMAL: a mark committed in WAL mode survives a crash of the process; a power cut may lose the last marks, and
    # the next run sends those messages again with the same Message-ID (what SMTP allows for a message in flight).
    synchronous = "NORMAL"

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(path.with_name(path.name + ".lock"))
        super().__init__(path)  # who received which letter: personal data, read by its owner only
        self.hold_connection()  # one run sends with a ledger at a time (hold()): one connection for the whole run

    def migrate(self, db: sqlite3.Connection) -> None:
        # A ledger written before the 'skipped' state existed.
        self.rebuild(db, "deliveries", lambda made: "'skipped'" not in made)

    def hold(self) -> None:
        """Take the ledger for this process until close(); raise LedgerBusy if another process has it.

        Two runs reading the same pending rows would both send them, and the second one's
        recover() would take the first one's inflight rows for a dead run's.
        """
        self.lock.acquire(wait=False)

    def close(self) -> None:
        super().close()
        self.lock.release()

    def enlist(self, letter: str, recipients: list[tuple[str, str, str]]) -> int:
        """Add (email, name, message_id) rows as pending; rows already there keep their state."""
        with self.transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (letter, email, name, message_id, status, updated) VALUES (?, ?, ?, ?, 'pending', ?)",
                [(letter, e.lower(), n, m, now()) for e, n, m in recipients],
            )
            return db.total_changes - before

    def recover(self, letter: str) -> int:
        """Turn rows left inflight by a dead run back to pending; return how many.

        The ledger marks a row sent as soon as the server accepts it, so a row still inflight
        was most probably never accepted; if the run died in the instant between the two, the
        resend carries the same Message-ID and is a recognisable duplicate.
        """
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE deliveries SET status = 'pending', last_error = 'reprise après interruption', updated = ? WHERE letter = ? AND status = 'inflight'",
                (now(), letter),
            )
        return cur.rowcount

    def to_send(self, letter: str, retry_unknown: bool = False) -> list[Delivery]:
        states = ("pending", "unknown") if retry_unknown else ("pending",)
        with self.reading() as db:
            rows = db.execute(
                f"SELECT email, name, message_id, status, attempts FROM deliveries WHERE letter = ? AND status IN ({','.join('?' * len(states))}) ORDER BY rowid",
                (letter, *states),
            )
            return [Delivery(*row) for row in rows]

    def mark(self, letter: str, email: str, status: str, error: str = "", attempt: bool = False) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE deliveries SET status = ?, last_error = ?, updated = ?, attempts = attempts + ? WHERE letter = ? AND email = ?",
                (status, error, now(), 1 if attempt else 0, letter, email.lower()),
            )

    def done(self, letter: str) -> set[str]:
        """Return the addresses this letter reached, permanently failed to reach, or must not reach any more."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT email FROM deliveries WHERE letter = ? AND status IN ('sent', 'failed', 'skipped')", (letter,)
            )
            return {row[0] for row in rows}

    def counts(self, letter: str) -> dict[str, int]:
        with self.reading() as db:
            return dict(
                db.execute("SELECT status, COUNT(*) FROM deliveries WHERE letter = ? GROUP BY status", (letter,)).fetchall()
            )

    def sends(self) -> dict[str, str]:
        """Each letter sent to someone, with when its first copy was accepted (UTC, ISO 8601)."""
        with self.reading() as db:
            rows = db.execute("SELECT letter, MIN(updated) FROM deliveries WHERE status = 'sent' GROUP BY letter").fetchall()
        return dict(rows)

    def failures(self, letter: str, status: str) -> list[tuple[str, str]]:
        with self.reading() as db:
            return db.execute(
                "SELECT email, last_error FROM deliveries WHERE letter = ? AND status = ? ORDER BY email", (letter, status)
            ).fetchall()

    def complete(self, letter: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO letters (letter, completed) VALUES (?, ?)", (letter, now()))

    def is_complete(self, letter: str) -> bool:
        with self.reading() as db:
            return (
                db.execute("SELECT 1 FROM letters WHERE letter = ? AND completed IS NOT NULL", (letter,)).fetchone() is not None
            )
