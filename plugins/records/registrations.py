"""Event registrations in the service's SQLite file: places, waiting list, cancellations, in arrival order.

A request holds a place (or a rank on the waiting list) for HOLD minutes, until its address
confirms it through the link mailed to it; an unconfirmed hold then lapses, and its place goes to
the first confirmed person waiting. A stranger can thus neither fill an event with made-up names
nor book in someone else's name. The places shown are net of holds.
Every change is one BEGIN IMMEDIATE transaction: two requests for the last place are served one
after the other, so the places given never exceed the places offered.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from plugins.base.sqlite import Store
from plugins.records.readers import stamp

CONFIRMED, WAITING, CANCELLED = "confirmed", "waiting", "cancelled"  # stored
FULL, ALREADY = "full", "already"  # what a request found, never stored
LABELS = {CONFIRMED: "confirmé", WAITING: "en attente", CANCELLED: "annulé", FULL: "complet", ALREADY: "déjà inscrit"}
WORDS = {"status": {"confirmé": CONFIRMED, "en attente": WAITING, "annulé": CANCELLED}}  # what 0.x stored
HOLD = timedelta(minutes=30)  # how long an unconfirmed request keeps its place

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
    reminded TEXT,
    confirmed TEXT,
    held_until TEXT
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
    confirmed: str | None = None  # when its address confirmed it; None: a hold until held_until
    held_until: str | None = None

    @classmethod
    def from_row(cls, row: tuple) -> Registration:
        return cls(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), *row[6:])

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed is not None

    def shown_status(self) -> str:
        """The status as the staff read it, in French: an unconfirmed hold says so."""
        said = LABELS[self.status]
        return said if self.confirmed or self.status == CANCELLED else f"{said} (à confirmer)"


@dataclass(frozen=True)
class Outcome:
    """What a registration request did: its status (or FULL, ALREADY) and the waiting rank if any."""

    status: str
    registration: Registration | None = None
    rank: int = 0


# Called inside the transaction for each person a freed place went to (their notice is queued there).
Promote = Callable[[sqlite3.Connection, Registration], object]


class RegistrationBook(Store):
    schema = SCHEMA

    def migrate(self, db: sqlite3.Connection) -> None:
        self.add_column(db, "registrations", "confirmed", "TEXT")
        self.add_column(db, "registrations", "held_until", "TEXT")
        # Registrations made before holds existed were confirmed when made (their email had gone out).
        db.execute("UPDATE registrations SET confirmed = created WHERE confirmed IS NULL AND held_until IS NULL")
        self.recode(db, "registrations", WORDS)

    @staticmethod
    def _active(db, event: str, email: str) -> Registration | None:
        row = db.execute(
            "SELECT * FROM registrations WHERE event = ? AND email = ? AND status != ?", (event, email, CANCELLED)
        ).fetchone()
        return Registration.from_row(row) if row else None

    @staticmethod
    def _get(db, number: int) -> Registration | None:
        row = db.execute("SELECT * FROM registrations WHERE id = ?", (number,)).fetchone()
        return Registration.from_row(row) if row else None

    @staticmethod
    def _taken(db, event: str, now: datetime) -> int:
        """Places taken: confirmed registrations and holds still running."""
        return db.execute(
            "SELECT COUNT(*) FROM registrations WHERE event = ? AND status = ? AND (confirmed IS NOT NULL OR held_until > ?)",
            (event, CONFIRMED, stamp(now)),
        ).fetchone()[0]

    @staticmethod
    def _rank(db, registration: Registration) -> int:
        return db.execute(
            "SELECT COUNT(*) FROM registrations WHERE event = ? AND status = ? AND id <= ?",
            (registration.event, WAITING, registration.id),
        ).fetchone()[0]

    def _settle(self, db, event: str, places: int, now: datetime, promote: Promote | None) -> None:
        """Let the lapsed holds go, then give the free places to the confirmed people waiting, in arrival order."""
        db.execute(
            "UPDATE registrations SET status = ?, updated = ? WHERE event = ? AND status != ? AND confirmed IS NULL"
            " AND held_until <= ?",
            (CANCELLED, stamp(now), event, CANCELLED, stamp(now)),
        )
        while self._taken(db, event, now) < places:
            row = db.execute(
                "SELECT * FROM registrations WHERE event = ? AND status = ? AND confirmed IS NOT NULL ORDER BY id LIMIT 1",
                (event, WAITING),
            ).fetchone()
            if row is None:
                return
            db.execute("UPDATE registrations SET status = ?, updated = ? WHERE id = ?", (CONFIRMED, stamp(now), row[0]))
            promoted = self._get(db, row[0])
            if promote is not None and promoted is not None:
                promote(db, promoted)

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
        promote: Promote | None = None,
        owe: Callable[[sqlite3.Connection, Outcome], object] | None = None,
    ) -> Outcome:
        """Hold a place if one is left, else a rank on the waiting list (if the event has one), else FULL.

        The hold lasts HOLD until the address confirms it (confirm()). owe(db, outcome) queues the
        email that tells the address what happened, in the same transaction.
        """
        email = email.lower()
        with self.transaction() as db:
            self._settle(db, event, places, when, promote)
            existing = self._active(db, event, email)
            if existing:
                outcome = Outcome(ALREADY, existing, self._rank(db, existing) if existing.status == WAITING else 0)
            else:
                if self._taken(db, event, when) < places:
                    status = CONFIRMED
                elif waiting_list:
                    status = WAITING
                else:
                    status = FULL
                if status == FULL:
                    outcome = Outcome(FULL)
                else:
                    cursor = db.execute(
                        "INSERT INTO registrations (event, event_start, email, name, answers, status, created, updated,"
                        " held_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            event,
                            stamp(start),
                            email,
                            name,
                            json.dumps(answers, ensure_ascii=False),
                            status,
                            stamp(when),
                            stamp(when),
                            stamp(when + HOLD),
                        ),
                    )
                    registration = self._get(db, cursor.lastrowid or 0)
                    assert registration is not None
                    outcome = Outcome(status, registration, self._rank(db, registration) if status == WAITING else 0)
            if owe is not None:
                owe(db, outcome)
            return outcome

    def confirm(
        self, number: int, email: str, places: int, waiting_list: bool, when: datetime, promote: Promote | None = None
    ) -> Outcome | None:
        """Confirm the registration number of this address; None if it is no longer active.

        A hold confirmed in time keeps its place (or rank). A lapsed one takes what is left now:
        a place, else a rank on the waiting list, else FULL. ALREADY if it was confirmed before.
        """
        email = email.lower()
        with self.transaction() as db:
            registration = self._get(db, number)
            if registration is None or registration.email != email:
                return None
            if registration.is_confirmed:  # confirmed before; or confirmed, then cancelled by its own link
                if registration.status == CANCELLED:
                    return None
                return Outcome(ALREADY, registration, self._rank(db, registration) if registration.status == WAITING else 0)
            if registration.status != CANCELLED and (registration.held_until or "") > stamp(when):
                status = registration.status  # confirmed in time: it keeps its place or its rank
            else:
                # The hold lapsed: it takes what is left now (its former place may have gone to someone else).
                db.execute("UPDATE registrations SET status = ? WHERE id = ?", (CANCELLED, number))
                self._settle(db, registration.event, places, when, promote)
                if self._active(db, registration.event, email) is not None:
                    return None  # registered again meanwhile: that newer registration is the one that counts
                if self._taken(db, registration.event, when) < places:
                    status = CONFIRMED
                elif waiting_list:
                    status = WAITING
                else:
                    return Outcome(FULL)
            db.execute(
                "UPDATE registrations SET status = ?, confirmed = ?, held_until = NULL, updated = ? WHERE id = ?",
                (status, stamp(when), stamp(when), number),
            )
            if status == WAITING:
                # Confirmed while waiting: a place may be free (lapsed holds). Whoever it goes to is told, but for
                # this registration itself, whose answer (and notice) says so already.
                def others(db: sqlite3.Connection, promoted: Registration) -> None:
                    if promoted.id != number and promote is not None:
                        promote(db, promoted)

                self._settle(db, registration.event, places, when, others)
            confirmed = self._get(db, number)
            assert confirmed is not None
            rank = self._rank(db, confirmed) if confirmed.status == WAITING else 0
            return Outcome(confirmed.status, confirmed, rank)

    def cancel(
        self,
        event: str,
        email: str,
        places: int,
        when: datetime,
        number: int | None = None,
        promote: Promote | None = None,
    ) -> tuple[Registration | None, Registration | None]:
        """Cancel a registration (only registration number, if given); return it (None if there was none) and whoever
        the freed place went to first."""
        email = email.lower()
        promoted: list[Registration] = []

        def note(db: sqlite3.Connection, registration: Registration) -> None:
            promoted.append(registration)
            if promote is not None:
                promote(db, registration)

        with self.transaction() as db:
            existing = self._active(db, event, email)
            if existing is None or (number is not None and existing.id != number):
                return None, None
            db.execute("UPDATE registrations SET status = ?, updated = ? WHERE id = ?", (CANCELLED, stamp(when), existing.id))
            self._settle(db, event, places, when, note)
            return existing, promoted[0] if promoted else None

    def forget_past(self, months: int, now: datetime) -> int:
        """Erase the registrations of events that ended more than months ago (the retention the form states)."""
        cutoff = stamp(now - timedelta(days=round(months * 30.44)))
        with self.transaction() as db:
            return db.execute("DELETE FROM registrations WHERE event_start < ?", (cutoff,)).rowcount

    def active(self, event: str, email: str) -> Registration | None:
        with self.reading() as db:
            return self._active(db, event, email.lower())

    def get(self, number: int) -> Registration | None:
        with self.reading() as db:
            return self._get(db, number)

    def places_left(self, event: str, places: int, now: datetime, promote: Promote | None = None) -> int:
        """Return the places left net of the holds still running (the lapsed ones are let go first)."""
        with self.transaction() as db:
            self._settle(db, event, places, now, promote)
            return max(0, places - self._taken(db, event, now))

    def registrants(self, event: str) -> list[Registration]:
        """Return the event's registrations: confirmed, then waiting, then cancelled, each in arrival order."""
        order = f"CASE status WHEN '{CONFIRMED}' THEN 0 WHEN '{WAITING}' THEN 1 ELSE 2 END, id"
        with self.reading() as db:
            return [
                Registration.from_row(r)
                for r in db.execute(f"SELECT * FROM registrations WHERE event = ? ORDER BY {order}", (event,))
            ]
