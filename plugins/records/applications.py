"""Membership requests in the service's SQLite file, from the form to the staff's answer and the payment.

A request waits for its contact address to confirm it (a link mailed with none of the typed text);
only then do the staff hear of it. It is « reçue » until the staff accept or refuse it; « payée »
is noted apart, since the fee may be paid before or after the answer. Requests never confirmed are
erased after 30 days, refused and forgotten ones a year on, accepted ones three years after the
membership they opened (the federation's accounts).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from plugins.base.sqlite import Store
from plugins.records.readers import stamp
from plugins.settings.membership import MembershipRequest
from plugins.settings.privacy import PENDING_DAYS

RECEIVED, ACCEPTED, REFUSED = "received", "accepted", "refused"
LABELS = {RECEIVED: "reçue", ACCEPTED: "acceptée", REFUSED: "refusée"}
WORDS = {"status": {french: code for code, french in LABELS.items()}}  # what 0.x stored
KEEP_UNANSWERED = timedelta(days=365)
KEEP_ACCEPTED = timedelta(days=3 * 365)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS membership_requests (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('{RECEIVED}', '{ACCEPTED}', '{REFUSED}')),
    team TEXT NOT NULL,
    structure TEXT NOT NULL,
    commune TEXT NOT NULL,
    department TEXT NOT NULL,
    professionals TEXT NOT NULL,
    contact TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    consent TEXT NOT NULL,
    decided TEXT,
    reason TEXT NOT NULL DEFAULT '',
    login TEXT NOT NULL DEFAULT '',
    membership_end TEXT,
    paid TEXT,
    confirmed TEXT
);
"""


@dataclass(frozen=True)
class Application:
    """A stored membership request and what became of it."""

    id: int
    created: str
    status: str
    request: MembershipRequest
    consent: str
    decided: str | None
    reason: str
    login: str
    membership_end: str | None
    paid: str | None
    confirmed: str | None = None  # when the contact address confirmed the request; None: the staff do not see it

    @classmethod
    def from_row(cls, row: tuple) -> Application:
        request = MembershipRequest(row[3], row[4], row[5], row[6], json.loads(row[7]), row[8], row[9], row[10])
        return cls(row[0], row[1], row[2], request, *row[11:])


class Answered(Exception):
    """The request was already answered: nothing changed."""

    def __init__(self, application: Application):
        super().__init__(application.status)
        self.application = application


class Unconfirmed(Exception):
    """The request's contact address has not confirmed it: the staff cannot answer it yet."""

    def __init__(self, application: Application):
        super().__init__(application.id)
        self.application = application


class ApplicationBook(Store):
    schema = SCHEMA

    def migrate(self, db: sqlite3.Connection) -> None:
        self.recode(db, "membership_requests", WORDS)
        self.add_column(db, "membership_requests", "confirmed", "TEXT")
        db.execute("UPDATE membership_requests SET confirmed = created WHERE confirmed IS NULL AND status != ?", (RECEIVED,))

    def add(
        self,
        request: MembershipRequest,
        consent: str,
        when: datetime,
        owe: Callable[[sqlite3.Connection, Application], object] | None = None,
    ) -> Application:
        """Store a request from the form, unconfirmed; owe(db, application) queues its confirmation in the transaction."""
        with self.transaction() as db:
            self._forget(db, when)
            cursor = db.execute(
                "INSERT INTO membership_requests (created, status, team, structure, commune, department, professionals,"
                " contact, email, phone, consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    stamp(when),
                    RECEIVED,
                    request.team,
                    request.structure,
                    request.commune,
                    request.department,
                    json.dumps(request.professionals),
                    request.contact,
                    request.email.lower(),
                    request.phone,
                    consent,
                ),
            )
            row = db.execute("SELECT * FROM membership_requests WHERE id = ?", (cursor.lastrowid,)).fetchone()
            application = Application.from_row(row)
            if owe is not None:
                owe(db, application)
            return application

    def confirm(
        self, number: int, email: str, created: str, when: datetime, owe: Callable[[sqlite3.Connection, Application], object]
    ) -> tuple[Application | None, bool]:
        """Confirm request number from its contact's link; return it (None if gone) and whether it was confirmed now.

        owe(db, application) queues the staff's notice and the acknowledgement, once, in the transaction.
        """
        with self.transaction() as db:
            row = db.execute("SELECT * FROM membership_requests WHERE id = ?", (number,)).fetchone()
            if row is None:
                return None, False
            application = Application.from_row(row)
            if application.request.email != email.lower() or application.created != created:
                return None, False
            if application.confirmed is not None:
                return application, False
            db.execute("UPDATE membership_requests SET confirmed = ? WHERE id = ?", (stamp(when), number))
            application = Application.from_row(db.execute("SELECT * FROM membership_requests WHERE id = ?", (number,)).fetchone())
            owe(db, application)
            return application, True

    def get(self, number: int) -> Application | None:
        with self.reading() as db:
            row = db.execute("SELECT * FROM membership_requests WHERE id = ?", (number,)).fetchone()
            return Application.from_row(row) if row else None

    def list(self, status: str | None = None, unconfirmed: bool = False) -> list[Application]:
        """Return the requests (of one status), confirmed ones only unless unconfirmed."""
        shown = "" if unconfirmed else " AND confirmed IS NOT NULL"
        with self.reading() as db:
            if status:
                rows = db.execute(f"SELECT * FROM membership_requests WHERE status = ?{shown} ORDER BY id", (status,))
            else:
                rows = db.execute(f"SELECT * FROM membership_requests WHERE 1{shown} ORDER BY id")
            return [Application.from_row(r) for r in rows]

    def _answer(self, number: int, status: str, when: datetime, **values: str) -> Application | None:
        with self.transaction() as db:
            row = db.execute("SELECT * FROM membership_requests WHERE id = ?", (number,)).fetchone()
            if row is None:
                return None
            if row[2] != RECEIVED:
                raise Answered(Application.from_row(row))
            if Application.from_row(row).confirmed is None:
                raise Unconfirmed(Application.from_row(row))
            columns = "".join(f", {name} = ?" for name in values)
            db.execute(
                f"UPDATE membership_requests SET status = ?, decided = ?{columns} WHERE id = ?",
                (status, stamp(when), *values.values(), number),
            )
            return Application.from_row(db.execute("SELECT * FROM membership_requests WHERE id = ?", (number,)).fetchone())

    def accept(self, number: int, login: str, membership_end: date, when: datetime) -> Application | None:
        """Mark a received request accepted; raise Answered if it was answered already; None if unknown."""
        return self._answer(number, ACCEPTED, when, login=login, membership_end=membership_end.isoformat())

    def refuse(self, number: int, reason: str, when: datetime) -> Application | None:
        return self._answer(number, REFUSED, when, reason=reason)

    def mark_paid(self, number: int, when: datetime) -> Application | None:
        """Note the fee paid (once: a second call keeps the first date)."""
        with self.transaction() as db:
            db.execute("UPDATE membership_requests SET paid = ? WHERE id = ? AND paid IS NULL", (stamp(when), number))
            row = db.execute("SELECT * FROM membership_requests WHERE id = ?", (number,)).fetchone()
            return Application.from_row(row) if row else None

    def forget(self, when: datetime) -> int:
        with self.transaction() as db:
            return self._forget(db, when)

    @staticmethod
    def _forget(db, when: datetime) -> int:
        """Erase what the privacy page says is erased: refused or unanswered after a year, accepted 3 years after its end."""
        year_ago = stamp(when - KEEP_UNANSWERED)
        removed = db.execute(
            "DELETE FROM membership_requests WHERE confirmed IS NULL AND created < ?",
            (stamp(when - timedelta(days=PENDING_DAYS)),),
        ).rowcount
        removed += db.execute(
            "DELETE FROM membership_requests WHERE (status = ? AND decided < ?) OR (status = ? AND created < ?)",
            (REFUSED, year_ago, RECEIVED, year_ago),
        ).rowcount
        ended = (when - KEEP_ACCEPTED).date().isoformat()
        removed += db.execute(
            "DELETE FROM membership_requests WHERE status = ? AND membership_end < ?", (ACCEPTED, ended)
        ).rowcount
        return removed
