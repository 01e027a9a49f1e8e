"""One way to keep a SQLite file: the service's stores (plugins/records/) and the send ledger (plugins/mail/ledger.py).

WAL (readers never wait for a writer), a file only its owner reads (personal data), every change in one
transaction (BEGIN IMMEDIATE … COMMIT), and an earlier version's file brought up to this schema when opened.
A store opens one short connection per operation, so that threads and processes share it safely; a
process that holds a store for itself alone (the ledger during a send) keeps one connection until close().
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from plugins.base.locking import private_file


def quoted(text: str) -> str:
    """Return text as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class Store:
    """A SQLite file with this class's schema."""

    schema = ""
    # FULL: an answered request survives a power cut too. A store may trade that for speed when what a lost
    # commit costs is known (the ledger: see plugins/mail/ledger.py).
    synchronous = "FULL"

    def __init__(self, path: Path):
        self.path = path
        self.held: sqlite3.Connection | None = None
        if path.parent and not path.parent.exists():
            raise FileNotFoundError(f"le dossier {path.parent} n'existe pas")
        private_file(path)  # readers, accounts, registrations, requests, deliveries: personal data, for its owner only
        db = self._connect()
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(self.schema)
            self.migrate(db)
        finally:
            db.close()

    def migrate(self, db: sqlite3.Connection) -> None:
        """Bring a store made by an earlier version up to this schema (columns added since, values recoded)."""

    def rebuild(
        self, db: sqlite3.Connection, table: str, stale: Callable[[str], bool], recode: dict[str, dict[str, str]] | None = None
    ) -> None:
        """Make table again from this schema when stale(its CREATE statement): SQLite's way to change a constraint.

        recode: {column: {earlier value: value now}}, applied to the rows copied. In one transaction: a
        failure leaves the store as it was.
        """
        made = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
        if made is None or not stale(made[0]):
            return
        recode = recode or {}
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        selected = []
        for column in columns:
            if column in recode:
                cases = " ".join(f"WHEN {quoted(w)} THEN {quoted(c)}" for w, c in recode[column].items())
                selected.append(f"CASE {column} {cases} ELSE {column} END")
            else:
                selected.append(column)
        old = f"{table}_before_rebuild"
        indexes = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
        ).fetchall()
        script = "\n".join(
            [
                "BEGIN IMMEDIATE;",
                f"ALTER TABLE {table} RENAME TO {old};",
                *(f"DROP INDEX {name};" for (name,) in indexes),
                self.schema,
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selected)} FROM {old};",
                f"DROP TABLE {old};",
                "COMMIT;",
            ]
        )
        try:
            db.executescript(script)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def recode(self, db: sqlite3.Connection, table: str, words: dict[str, dict[str, str]]) -> None:
        """Turn the French words an earlier version stored in table's columns into this version's codes, once.

        Their CHECK constraints name the words: the table is rebuilt when one of them is still named.
        """
        earlier = [word for column in words.values() for word, code in column.items() if word != code]
        self.rebuild(db, table, lambda made: any(quoted(word) in made for word in earlier), words)

    @staticmethod
    def add_column(db: sqlite3.Connection, table: str, column: str, definition: str) -> None:
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def hold_connection(self) -> None:
        """Keep one connection until close(): for a process that has the store to itself (no other writer waits)."""
        if self.held is None:
            self.held = self._connect()

    def close(self) -> None:
        if self.held is not None:
            self.held.close()
            self.held = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside BEGIN IMMEDIATE … COMMIT (rolled back on any exception)."""
        db = self.held or self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            if db is not self.held:
                db.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection for reads (WAL: readers never wait for a writer)."""
        db = self.held or self._connect()
        try:
            yield db
        finally:
            if db is not self.held:
                db.close()
