"""The readers' store (SQLite): who receives which letter, since when, on whose word, and what happened since.

One row per (address, audience) with its state, stored as a code (shown in French: LABELS):
- pending (« en attente »): asked on a form, confirmation link not followed yet (receives nothing);
- subscribed (« abonné »): confirmed (or imported by the operator, who vouches for the consent);
- unsubscribed (« désabonné »): left (link, one-click, mailto or operator); never written to again by `send`;
- bounced (« en erreur »): the address bounced (one hard bounce, or soft bounces on three letters in a row).
Every change is one transaction and leaves a line in the history. An erased address (RGPD
art. 17) leaves only its SHA-256 in the suppression list, so that a later import cannot bring
it back; only the person's own confirmed subscription can.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from plugins.base.sqlite import Store
from plugins.settings.privacy import PENDING_DAYS

AUDIENCES = ("public", "adherents")
PENDING, SUBSCRIBED, UNSUBSCRIBED, BOUNCED = "pending", "subscribed", "unsubscribed", "bounced"
STATES = (PENDING, SUBSCRIBED, UNSUBSCRIBED, BOUNCED)
FORM, IMPORT, OPERATOR = "form", "import", "operator"
# The history's events, and how a reader left (the detail of UNSUBSCRIBED events).
ASKED, ASKED_ALREADY, ASKED_AGAIN, CONFIRMED, LEFT, SOFT_BOUNCE, MARKED, IMPORTED = (
    *("asked", "asked-already-subscribed", "asked-within-the-hour", "confirmed"),
    *("unsubscribed", "soft-bounce", "bounced", "imported"),
)
LINK, ONE_CLICK, MAILTO = "link", "one-click", "mailto"
LABELS = {
    **{PENDING: "en attente", SUBSCRIBED: "abonné", UNSUBSCRIBED: "désabonné", BOUNCED: "en erreur"},
    **{FORM: "formulaire", IMPORT: "import", OPERATOR: "opérateur"},
    **{LINK: "lien de la lettre", ONE_CLICK: "un clic (RFC 8058)", MAILTO: "courriel de désinscription"},
}
EVENTS = {
    **{ASKED: "demande d'inscription", ASKED_ALREADY: "demande d'inscription, déjà abonnée : rien envoyé"},
    **{ASKED_AGAIN: "demande d'inscription, confirmation déjà envoyée dans l'heure : rien envoyé"},
    **{CONFIRMED: "inscription confirmée", LEFT: "désinscription", SOFT_BOUNCE: "rebond temporaire"},
    **{MARKED: "adresse en erreur", IMPORTED: "importée"},
}
# Stores written before the codes (0.x) kept French words: each is turned into its code once (ReaderStore.migrate).
WORDS = {
    "state": {"en attente": PENDING, "abonné": SUBSCRIBED, "désabonné": UNSUBSCRIBED, "en erreur": BOUNCED},
    "source": {"formulaire": FORM, "import": IMPORT, "opérateur": OPERATOR},
}
CONFIRMATION_INTERVAL = timedelta(hours=1)  # at most one confirmation email per address and hour

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS readers (
    email TEXT NOT NULL,
    audience TEXT NOT NULL CHECK (audience IN {AUDIENCES}),
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN {STATES}),
    source TEXT NOT NULL CHECK (source IN ('{FORM}', '{IMPORT}', '{OPERATOR}')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    consent_at TEXT,
    consent_form TEXT NOT NULL DEFAULT '',
    confirmed_at TEXT,
    confirmation_sent TEXT,
    pending TEXT,
    PRIMARY KEY (email, audience)
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    audience TEXT NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS history_email ON history (email);
CREATE TABLE IF NOT EXISTS bounces (
    email TEXT NOT NULL,
    letter TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft')),
    at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (email, letter, kind)
);
CREATE TABLE IF NOT EXISTS erased (
    digest TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
"""


def label(code: str) -> str:
    """Return the French words for a stored state, source or way of leaving (a code unknown here is shown as it is)."""
    return LABELS.get(code, code)


def event_label(code: str) -> str:
    """Return the French words for an event of the history."""
    return EVENTS.get(code, code)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def request_stamp(when: datetime) -> str:
    """Return the stamp of a subscription request made at when: what its confirmation link is bound to."""
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def digest(email: str) -> str:
    """Return what the suppression list keeps of an erased address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


@dataclass(frozen=True)
class Reader:
    email: str
    audience: str
    name: str
    state: str
    source: str
    created: str
    updated: str
    consent_at: str | None
    consent_form: str
    confirmed_at: str | None
    confirmation_sent: str | None
    pending: str | None  # the request awaiting confirmation (its stamp): the one its link may confirm


@dataclass(frozen=True)
class Request:
    """What a subscription request did: the stamp its confirmation link is bound to ("" when none is due now)."""

    request: str = ""


class ReaderStore(Store):
    """The letters' readers."""

    schema = SCHEMA

    def migrate(self, db: sqlite3.Connection) -> None:
        self.add_column(db, "readers", "pending", "TEXT")
        self.recode(db, "readers", WORDS)
        # The history's French events (and the details that said why nothing was sent, or how the reader left).
        with_note = {"déjà abonnée, rien envoyé": ASKED_ALREADY, "confirmation déjà envoyée dans l'heure": ASKED_AGAIN}
        for note, code in with_note.items():
            db.execute(
                "UPDATE history SET event = ?, detail = substr(detail, 1, length(detail) - ?) WHERE event = ? AND detail LIKE ?",
                (code, len(f" ; {note}"), "demande d'inscription", f"% ; {note}"),
            )
        events = {"demande d'inscription": ASKED, "inscription confirmée": CONFIRMED, "désinscription": LEFT}
        events |= {"rebond temporaire": SOFT_BOUNCE, "adresse en erreur": MARKED, "importée": IMPORTED}
        db.executemany("UPDATE history SET event = ? WHERE event = ?", [(code, word) for word, code in events.items()])
        ways = {"lien de la lettre": LINK, "un clic (RFC 8058)": ONE_CLICK, "courriel de désinscription": MAILTO}
        db.executemany("UPDATE history SET detail = ? WHERE event = ? AND detail = ?", [(c, LEFT, w) for w, c in ways.items()])

    @staticmethod
    def _log(db: sqlite3.Connection, email: str, audience: str, when: datetime, event: str, detail: str = "") -> None:
        db.execute(
            "INSERT INTO history (email, audience, at, event, detail) VALUES (?, ?, ?, ?, ?)",
            (email, audience, stamp(when), event, detail),
        )

    @staticmethod
    def _row(db: sqlite3.Connection, email: str, audience: str) -> Reader | None:
        row = db.execute("SELECT * FROM readers WHERE email = ? AND audience = ?", (email, audience)).fetchone()
        return Reader(*row) if row else None

    def reader(self, email: str, audience: str) -> Reader | None:
        with self.transaction() as db:
            return self._row(db, email.lower(), audience)

    def request(
        self,
        email: str,
        audience: str,
        name: str,
        form: str,
        when: datetime,
        owe: Callable[[sqlite3.Connection, str], object] | None = None,
    ) -> Request:
        """Record a form's subscription request; nothing is subscribed before the confirmation.

        owe(db, request) queues the confirmation email in the same transaction, when one is due.
        """
        email = email.lower()
        with self.transaction() as db:
            self._forget_unconfirmed(db, when)
            row = self._row(db, email, audience)
            # Each request writes its line, whatever the store holds: the answer takes the same time.
            if row and row.state == SUBSCRIBED:
                self._log(db, email, audience, when, ASKED_ALREADY, form)
                return Request()
            if row and row.confirmation_sent and when - datetime.fromisoformat(row.confirmation_sent) < CONFIRMATION_INTERVAL:
                self._log(db, email, audience, when, ASKED_AGAIN, form)
                return Request()
            asked = request_stamp(when)
            if row is None:
                db.execute(
                    "INSERT INTO readers (email, audience, name, state, source, created, updated, consent_at, consent_form,"
                    " confirmation_sent, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (email, audience, name, PENDING, FORM, stamp(when), stamp(when), stamp(when), form, stamp(when), asked),
                )
            else:
                # A former reader asking again keeps their state until they confirm.
                db.execute(
                    "UPDATE readers SET consent_at = ?, consent_form = ?, confirmation_sent = ?, updated = ?, pending = ?"
                    " WHERE email = ? AND audience = ?",
                    (stamp(when), form, stamp(when), stamp(when), asked, email, audience),
                )
            self._log(db, email, audience, when, ASKED, form)
            if owe is not None:
                owe(db, asked)
            return Request(asked)

    @staticmethod
    def _forget_unconfirmed(db: sqlite3.Connection, when: datetime) -> None:
        """Erase the requests never confirmed within PENDING_DAYS, and their history (what the privacy page promises)."""
        cutoff = stamp(when - timedelta(days=PENDING_DAYS))
        stale = db.execute("SELECT email, audience FROM readers WHERE state = ? AND created < ?", (PENDING, cutoff)).fetchall()
        for email, audience in stale:
            db.execute("DELETE FROM readers WHERE email = ? AND audience = ?", (email, audience))
            db.execute("DELETE FROM history WHERE email = ? AND audience = ?", (email, audience))

    def confirm(self, email: str, audience: str, asked: str, when: datetime, detail: str = "") -> bool:
        """Subscribe on the confirmation click of the request asked (its stamp); False if that request is not pending.

        A link confirms the one request it was mailed for: once the address confirmed, left, bounced
        or was erased, or asked again (a newer link), it changes nothing.
        """
        email = email.lower()
        with self.transaction() as db:
            row = self._row(db, email, audience)
            if row is None or not asked or row.pending != asked:
                # The same link followed twice: the address is subscribed since this request, nothing changed since.
                return (
                    row is not None
                    and row.state == SUBSCRIBED
                    and row.pending is None
                    and row.confirmed_at is not None
                    and bool(asked)
                    and datetime.fromisoformat(row.confirmed_at) >= datetime.fromisoformat(asked).replace(microsecond=0)
                    and row.updated == row.confirmed_at
                )
            db.execute(
                "UPDATE readers SET state = ?, confirmed_at = ?, updated = ?, pending = NULL WHERE email = ? AND audience = ?",
                (SUBSCRIBED, stamp(when), stamp(when), email, audience),
            )
            db.execute("DELETE FROM erased WHERE digest = ?", (digest(email),))
            db.execute("DELETE FROM bounces WHERE email = ?", (email,))
            self._log(db, email, audience, when, CONFIRMED, detail)
            return True

    def unsubscribe(self, email: str, audience: str, how: str, when: datetime) -> bool:
        """Unsubscribe from one audience's letter (recorded even if the address came from a CSV); False if already.

        how: LINK, ONE_CLICK or MAILTO."""
        email = email.lower()
        with self.transaction() as db:
            row = self._row(db, email, audience)
            if row is not None and row.state == UNSUBSCRIBED:
                return False
            if row is None:
                db.execute(
                    "INSERT INTO readers (email, audience, state, source, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
                    (email, audience, UNSUBSCRIBED, OPERATOR, stamp(when), stamp(when)),
                )
            else:
                db.execute(
                    "UPDATE readers SET state = ?, updated = ?, pending = NULL WHERE email = ? AND audience = ?",
                    (UNSUBSCRIBED, stamp(when), email, audience),
                )
            self._log(db, email, audience, when, LEFT, how)
            return True

    def bounce(self, email: str, letter: str, hard: bool, status: str, when: datetime, recent_letters: list[str]) -> bool:
        """Record a bounce; mark the address « en erreur » after one hard bounce or soft ones on the last three letters.

        recent_letters: the letters of that audience up to and including this one, oldest first.
        Return True if the address has just been marked.
        """
        email = email.lower()
        kind = "hard" if hard else "soft"
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO bounces (email, letter, kind, at, status) VALUES (?, ?, ?, ?, ?)",
                (email, letter, kind, stamp(when), status),
            )
            soft = {r[0] for r in db.execute("SELECT letter FROM bounces WHERE email = ? AND kind = 'soft'", (email,))}
            last_three = recent_letters[-3:]
            if not hard and not (len(last_three) == 3 and soft.issuperset(last_three)):
                self._log(db, email, "", when, SOFT_BOUNCE, f"{letter} {status}")
                return False
            rows = db.execute("SELECT audience FROM readers WHERE email = ? AND state != ?", (email, BOUNCED)).fetchall()
            if not rows:
                db.execute(
                    "INSERT OR IGNORE INTO readers (email, audience, state, source, created, updated)"
                    " VALUES (?, 'public', ?, ?, ?, ?)",
                    (email, BOUNCED, OPERATOR, stamp(when), stamp(when)),
                )
            db.execute("UPDATE readers SET state = ?, updated = ?, pending = NULL WHERE email = ?", (BOUNCED, stamp(when), email))
            why = f"rebond définitif {status}" if hard else f"rebonds temporaires sur {', '.join(last_three)}"
            self._log(db, email, "", when, MARKED, f"{letter} : {why}")
            return True

    @staticmethod
    def _blocked(db: sqlite3.Connection, email: str, audience: str) -> bool:
        email = email.lower()
        row = db.execute(
            "SELECT 1 FROM readers WHERE email = ? AND (state = ? OR (audience = ? AND state = ?))"
            " UNION ALL SELECT 1 FROM erased WHERE digest = ? LIMIT 1",
            (email, BOUNCED, audience, UNSUBSCRIBED, digest(email)),
        ).fetchone()
        return row is not None

    def blocked(self, email: str, audience: str) -> bool:
        """Return True if this address must not receive this audience's letter, whatever a CSV says."""
        with self.reading() as db:
            return self._blocked(db, email, audience)

    @contextmanager
    def gate(self, audience: str) -> Iterator[Callable[[str], bool]]:
        """Yield blocked(email) for one audience on one connection held for a whole send.

        Each check is its own read (autocommit, WAL): an unsubscription committed meanwhile is
        seen by the next one. Opening a connection per message was a noticeable share of the send
        (measured: bench/RESULTS.md, « Why the code is as it is »).
        """
        with self.reading() as db:
            yield lambda email: self._blocked(db, email, audience)

    def recipients(self, audience: str) -> list[tuple[str, str]]:
        """Return (email, name) of this audience's subscribers, oldest first."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT email, name FROM readers r WHERE audience = ? AND state = ? AND NOT EXISTS"
                " (SELECT 1 FROM readers b WHERE b.email = r.email AND b.state = ?) ORDER BY created, email",
                (audience, SUBSCRIBED, BOUNCED),
            ).fetchall()
        return rows

    def excluded(self, audience: str) -> int:
        """Return how many addresses this audience's letter leaves out: unsubscribed, or in error (here or elsewhere)."""
        with self.reading() as db:
            return db.execute(
                "SELECT COUNT(*) FROM readers r WHERE audience = ? AND (state IN (?, ?) OR (state = ? AND EXISTS"
                " (SELECT 1 FROM readers b WHERE b.email = r.email AND b.state = ?)))",
                (audience, UNSUBSCRIBED, BOUNCED, SUBSCRIBED, BOUNCED),
            ).fetchone()[0]

    def import_rows(self, rows: list[tuple[str, str, str]], form: str, when: datetime) -> list[tuple[str, str]]:
        """Subscribe (email, name, audience) rows vouched for by the operator; return (email, outcome) per row.

        Unsubscribed, bounced and erased addresses are never brought back by an import.
        """
        outcomes = []
        with self.transaction() as db:
            for email, name, audience in rows:
                email = email.lower()
                row = self._row(db, email, audience)
                if db.execute("SELECT 1 FROM erased WHERE digest = ?", (digest(email),)).fetchone():
                    outcomes.append((email, "ignorée : adresse effacée à la demande de la personne"))
                elif row is None:
                    db.execute(
                        "INSERT INTO readers (email, audience, name, state, source, created, updated, consent_at, consent_form,"
                        " confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (email, audience, name, SUBSCRIBED, IMPORT, stamp(when), stamp(when), stamp(when), form, stamp(when)),
                    )
                    self._log(db, email, audience, when, IMPORTED, form)
                    outcomes.append((email, "ajoutée"))
                elif row.state in (UNSUBSCRIBED, BOUNCED):
                    outcomes.append((email, f"ignorée : {label(row.state)} depuis le {row.updated[:10]}"))
                elif row.state == PENDING:
                    db.execute(
                        "UPDATE readers SET state = ?, source = ?, confirmed_at = ?, updated = ? WHERE email = ? AND audience = ?",
                        (SUBSCRIBED, IMPORT, stamp(when), stamp(when), email, audience),
                    )
                    self._log(db, email, audience, when, IMPORTED, form)
                    outcomes.append((email, "ajoutée (demande en attente)"))
                else:
                    outcomes.append((email, "déjà abonnée"))
        return outcomes

    def export(self, audience: str | None = None) -> list[Reader]:
        with self.reading() as db:
            query = "SELECT * FROM readers" + (" WHERE audience = ?" if audience else "") + " ORDER BY email, audience"
            return [Reader(*row) for row in db.execute(query, (audience,) if audience else ())]

    def since_letter(self, audience: str, start: datetime, end: datetime | None) -> dict[str, int]:
        """Counts for a letter's report, with no address: who left, by which way, and who joined, between start and end."""
        upper = stamp(end) if end else "9999"
        with self.reading() as db:
            rows = db.execute(
                "SELECT event, detail, COUNT(*) FROM history WHERE audience = ? AND at >= ? AND at < ?"
                " AND event IN (?, ?) GROUP BY event, detail",
                (audience, stamp(start), upper, LEFT, CONFIRMED),
            ).fetchall()
        counts: dict[str, int] = {}
        for event, detail, n in rows:
            key = f"{LEFT}:{detail}" if event == LEFT else CONFIRMED
            counts[key] = counts.get(key, 0) + n
        return counts

    def bounces_of(self, letter: str) -> dict[str, int]:
        """How many addresses bounced on a letter, by kind (hard, soft)."""
        with self.reading() as db:
            return dict(db.execute("SELECT kind, COUNT(*) FROM bounces WHERE letter = ? GROUP BY kind", (letter,)).fetchall())

    def history(self, email: str) -> tuple[list[Reader], list[tuple[str, str, str, str]]]:
        """Return the address's rows and its history (at, audience, event, detail), oldest first."""
        email = email.lower()
        with self.reading() as db:
            rows = [Reader(*r) for r in db.execute("SELECT * FROM readers WHERE email = ? ORDER BY audience", (email,))]
            events = db.execute(
                "SELECT at, audience, event, detail FROM history WHERE email = ? ORDER BY id", (email,)
            ).fetchall()
        return rows, events

    def is_erased(self, email: str) -> bool:
        with self.reading() as db:
            return db.execute("SELECT 1 FROM erased WHERE digest = ?", (digest(email),)).fetchone() is not None

    def erase(self, email: str, when: datetime) -> int:
        """Erase everything about an address, keep its digest in the suppression list; return the rows removed."""
        email = email.lower()
        with self.transaction() as db:
            removed = sum(
                db.execute(f"DELETE FROM {table} WHERE email = ?", (email,)).rowcount
                for table in ("readers", "history", "bounces")
            )
            db.execute("INSERT OR IGNORE INTO erased (digest, at) VALUES (?, ?)", (digest(email), stamp(when)))
        return removed
