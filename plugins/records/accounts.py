"""The members' accounts in the service's SQLite file: the one list that nginx's htpasswd is written from.

Two sources share it. Accounts opened by accepting a membership request (« adhésion ») belong to
the service: their password is chosen by the team through a signed link. Accounts of the
accounts CSV (« import ») are copied in by `build.py server`: a line the staff change in the CSV
replaces the password, a line they remove removes the account, and a password the member chose
since (« Mot de passe oublié ») stays as long as the staff leave the line as it was.
Only bcrypt hashes are kept, never a password.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from plugins.base.sqlite import Store
from plugins.records.password_file import Account, hash_secret, write_htpasswd
from plugins.records.readers import stamp

MEMBERSHIP, IMPORT = "membership", "import"  # where an account comes from: an accepted request, the staff's CSV
WORDS = {"source": {"adhésion": MEMBERSHIP, "import": IMPORT}}  # what 0.x stored
LINK_INTERVAL = timedelta(hours=1)  # at most one password link per account and hour
KEEP_EXPIRED = timedelta(days=365)  # an expired account is erased a year after its end (a late renewal keeps it)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS accounts (
    login TEXT PRIMARY KEY,
    email TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    hash TEXT,
    expires TEXT,
    source TEXT NOT NULL CHECK (source IN ('{MEMBERSHIP}', '{IMPORT}')),
    imported TEXT NOT NULL DEFAULT '',
    link_sent TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS accounts_email ON accounts (email);
"""


@dataclass(frozen=True)
class MemberAccount:
    login: str
    email: str
    name: str
    hash: str | None  # None until the team chooses its password
    expires: str | None  # AAAA-MM-JJ, the last day it may log in
    source: str
    imported: str
    link_sent: str | None
    created: str
    updated: str

    def is_valid_on(self, day: date) -> bool:
        return self.expires is None or day <= date.fromisoformat(self.expires)


@dataclass(frozen=True)
class SyncSummary:
    added: int
    changed: int
    removed: int


class AccountConflict(ValueError):
    """A login the CSV and a membership both claim, or taken by another team."""


def _credential(account: Account) -> str:
    """Return what identifies a CSV line's credential without keeping it: a digest of its password or hash."""
    return hashlib.sha256((account.hash or account.secret or "").encode()).hexdigest()


class AccountStore(Store):
    schema = SCHEMA

    def migrate(self, db: sqlite3.Connection) -> None:
        self.recode(db, "accounts", WORDS)

    @staticmethod
    def _get(db: sqlite3.Connection, login: str) -> MemberAccount | None:
        row = db.execute("SELECT * FROM accounts WHERE login = ?", (login,)).fetchone()
        return MemberAccount(*row) if row else None

    def get(self, login: str) -> MemberAccount | None:
        with self.reading() as db:
            return self._get(db, login)

    def all(self) -> list[MemberAccount]:
        with self.reading() as db:
            return [MemberAccount(*row) for row in db.execute("SELECT * FROM accounts ORDER BY login")]

    def by_email(self, email: str) -> list[MemberAccount]:
        with self.reading() as db:
            rows = db.execute("SELECT * FROM accounts WHERE email = ? ORDER BY login", (email.strip().lower(),))
            return [MemberAccount(*row) for row in rows]

    def sync_csv(self, accounts: list[Account], when: datetime, cost: int) -> SyncSummary:
        """Copy the accounts CSV in: new and changed lines, removed lines; raise AccountConflict on a membership's login."""
        known = {a.login: a for a in self.all()}
        taken = sorted(a.login for a in accounts if a.login in known and known[a.login].source != IMPORT)
        if taken:
            raise AccountConflict(
                f"identifiant(s) déjà ouverts par une adhésion acceptée : {', '.join(taken)} ; changez-les dans le CSV"
            )
        # Hash outside the transaction (bcrypt is slow on purpose): only the lines the staff changed.
        hashes = {
            a.login: a.hash or hash_secret(a.secret or "", cost)
            for a in accounts
            if a.login not in known or known[a.login].imported != _credential(a)
        }
        added = changed = 0
        with self.transaction() as db:
            for a in accounts:
                expires = a.expires.isoformat() if a.expires else None
                if a.login in hashes:
                    exists = self._get(db, a.login) is not None
                    db.execute(
                        "INSERT INTO accounts (login, email, name, hash, expires, source, imported, created, updated)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (login) DO UPDATE SET email = excluded.email,"
                        " name = excluded.name, hash = excluded.hash, expires = excluded.expires,"
                        " imported = excluded.imported, updated = excluded.updated",
                        (a.login, a.email, a.name, hashes[a.login], expires, IMPORT, _credential(a), stamp(when), stamp(when)),
                    )
                    changed, added = changed + exists, added + (not exists)
                else:
                    db.execute(
                        "UPDATE accounts SET email = ?, name = ?, expires = ?, updated = ? WHERE login = ?",
                        (a.email, a.name, expires, stamp(when), a.login),
                    )
            logins = {a.login for a in accounts}
            gone = [login for login, a in known.items() if a.source == IMPORT and login not in logins]
            db.executemany("DELETE FROM accounts WHERE login = ?", [(login,) for login in gone])
        return SyncSummary(added, changed, len(gone))

    def open_for(self, login: str, email: str, name: str, expires: date, when: datetime) -> bool:
        """Open a membership's account (no password yet), or extend the same team's; return whether it is a renewal.

        Raise AccountConflict when the login belongs to another address or to the CSV.
        """
        email = email.strip().lower()
        with self.transaction() as db:
            existing = self._get(db, login)
            if existing and (existing.source != MEMBERSHIP or existing.email != email):
                raise AccountConflict(f"l'identifiant « {login} » est déjà pris par un autre compte")
            if existing:
                db.execute(
                    "UPDATE accounts SET expires = ?, name = ?, updated = ? WHERE login = ?",
                    (expires.isoformat(), name, stamp(when), login),
                )
                return True
            db.execute(
                "INSERT INTO accounts (login, email, name, hash, expires, source, created, updated)"
                " VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
                (login, email, name, expires.isoformat(), MEMBERSHIP, stamp(when), stamp(when)),
            )
            return False

    def set_hash(self, login: str, new_hash: str, expected: str | None, when: datetime) -> bool:
        """Replace the account's hash if it is still the one the link was made for (each link works once)."""
        with self.transaction() as db:
            account = self._get(db, login)
            if account is None or account.hash != expected:
                return False
            db.execute(
                "UPDATE accounts SET hash = ?, link_sent = NULL, updated = ? WHERE login = ?", (new_hash, stamp(when), login)
            )
            return True

    def claim_link(self, login: str, when: datetime, owe: Callable[[sqlite3.Connection], object] | None = None) -> bool:
        """Return whether a password link may go to this account now (one per hour), and note it.

        owe(db) queues the link's email in the same transaction.
        """
        with self.transaction() as db:
            account = self._get(db, login)
            if account is None:
                return False
            if account.link_sent and when - datetime.fromisoformat(account.link_sent) < LINK_INTERVAL:
                return False
            db.execute("UPDATE accounts SET link_sent = ? WHERE login = ?", (stamp(when), login))
            if owe is not None:
                owe(db)
            return True

    def forget_expired(self, today: date) -> int:
        """Erase the accounts that ended more than a year ago (what the privacy page promises)."""
        cutoff = (today - KEEP_EXPIRED).isoformat()
        with self.transaction() as db:
            return db.execute("DELETE FROM accounts WHERE expires IS NOT NULL AND expires < ?", (cutoff,)).rowcount

    def write_htpasswd(self, target: Path, today: date, group: str | None = None) -> int:
        """Write nginx's htpasswd from the accounts with a password that are valid today; return how many."""
        accounts = [
            Account(a.login, None, a.hash, date.fromisoformat(a.expires) if a.expires else None, 0) for a in self.all() if a.hash
        ]
        return write_htpasswd(accounts, target, today, group=group).written
