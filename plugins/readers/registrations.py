"""Event registrations in the service's SQLite file: places, waiting list, cancellations, in arrival order.

Every registration or cancellation is one BEGIN IMMEDIATE transaction: two requests for the last
place are served one after the other, so the places given never exceed the places offered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from plugins.readers.store import Database, stamp

CONFIRMED, WAITING, CANCELLED = "confirmé", "en attente", "annulé"
FULL, ALREADY = "complet", "déjà inscrit"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS registrations (
    id INTEGER PRIMARY KEY,
    event TEXT NOT NULL,
    event_start TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    answers TEXT NOT NULL DEFAULT '{{}}',
    status TEXT NOT NULL CHECK (status IN ('{CONFIRMED}', '{WAITING}', '{CANCELLED}')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    reminded TEXT
);
CREATE INDEX IF NOT EXISTS registrations_start ON registrations (event_start);
CREATE UNIQUE INDEX IF NOT EXISTS registrations_once ON registrations (event, email) WHERE status != '{CANCELLED}';
"""


@dataclass(frozen=True)
class Registration:
    id: int
    event: str
    event_start: str
    email: str
    name: str
    answers: dict[str, str]
    status: str
    created: str
    updated: str
    reminded: str | None

    @classmethod
    def from_row(cls, row: tuple) -> Registration:
        return cls(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), *row[6:])


@dataclass(frozen=True)
class Outcome:
    """What a registration request did: its status (or FULL, ALREADY) and the waiting rank if any."""

    status: str
    registration: Registration | None = None
    rank: int = 0


class RegistrationBook(Database):
    schema = SCHEMA

    @staticmethod
    def _active(db, event: str, email: str) -> Registration | None:
        row = db.execute(
            "SELECT * FROM registrations WHERE event = ? AND email = ? AND status != ?", (event, email, CANCELLED)
        ).fetchone()
        return Registration.from_row(row) if row else None

    @staticmethod
    def _confirmed(db, event: str) -> int:
        return db.execute("SELECT COUNT(*) FROM registrations WHERE event = ? AND status = ?", (event, CONFIRMED)).fetchone()[0]

    @staticmethod
    def _rank(db, registration: Registration) -> int:
        return db.execute(
            "SELECT COUNT(*) FROM registrations WHERE event = ? AND status = ? AND id <= ?",
            (registration.event, WAITING, registration.id),
        ).fetchone()[0]

    def register(
        self,
        event: str,
        start: datetime,
        email: str,
        name: str,
        answers: dict[str, str],
        places: int,
        waiting_list: bool,
        when: datetime,
    ) -> Outcome:
        """Give a place if one is left, else a rank on the waiting list (if the event has one), else FULL."""
        email = email.lower()
        with self.transaction() as db:
            existing = self._active(db, event, email)
            if existing:
                return Outcome(ALREADY, existing, self._rank(db, existing) if existing.status == WAITING else 0)
            if self._confirmed(db, event) < places:
                status = CONFIRMED
            elif waiting_list:
                status = WAITING
            else:
                return Outcome(FULL)
            cursor = db.execute(
                "INSERT INTO registrations (event, event_start, email, name, answers, status, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (event, stamp(start), email, name, json.dumps(answers, ensure_ascii=False), status, stamp(when), stamp(when)),
            )
            row = db.execute("SELECT * FROM registrations WHERE id = ?", (cursor.lastrowid,)).fetchone()
            registration = Registration.from_row(row)
            return Outcome(status, registration, self._rank(db, registration) if status == WAITING else 0)

    def cancel(
        self, event: str, email: str, places: int, when: datetime, number: int | None = None
    ) -> tuple[Registration | None, Registration | None]:
        """Cancel a registration (only registration number, if given); return it (None if there was none) and whoever
        the freed place went to."""
        email = email.lower()
        with self.transaction() as db:
            existing = self._active(db, event, email)
            if existing is None or (number is not None and existing.id != number):
                return None, None
            db.execute("UPDATE registrations SET status = ?, updated = ? WHERE id = ?", (CANCELLED, stamp(when), existing.id))
            promoted = None
            if existing.status == CONFIRMED and self._confirmed(db, event) < places:
                row = db.execute(
                    "SELECT * FROM registrations WHERE event = ? AND status = ? ORDER BY id LIMIT 1", (event, WAITING)
                ).fetchone()
                if row:
                    db.execute("UPDATE registrations SET status = ?, updated = ? WHERE id = ?", (CONFIRMED, stamp(when), row[0]))
                    promoted = Registration.from_row(db.execute("SELECT * FROM registrations WHERE id = ?", (row[0],)).fetchone())
            return existing, promoted

    def forget_past(self, months: int, now: datetime) -> int:
        """Erase the registrations of events that ended more than months ago (the retention the form states)."""
        cutoff = stamp(now - timedelta(days=round(months * 30.44)))
        with self.transaction() as db:
            return db.execute("DELETE FROM registrations WHERE event_start < ?", (cutoff,)).rowcount

    def active(self, event: str, email: str) -> Registration | None:
        with self.reading() as db:
            return self._active(db, event, email.lower())

    def places_left(self, event: str, places: int) -> int:
        with self.reading() as db:
            return max(0, places - self._confirmed(db, event))

    def registrants(self, event: str) -> list[Registration]:
        """Return the event's registrations: confirmed, then waiting, then cancelled, each in arrival order."""
        order = f"CASE status WHEN '{CONFIRMED}' THEN 0 WHEN '{WAITING}' THEN 1 ELSE 2 END, id"
        with self.reading() as db:
            return [
                Registration.from_row(r)
                for r in db.execute(f"SELECT * FROM registrations WHERE event = ? ORDER BY {order}", (event,))
            ]
