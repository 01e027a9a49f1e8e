"""Stored values are codes, shown in French: a store written by 0.x (French words) is turned into codes once, whole."""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from plugins.mail.ledger import SendLedger
from plugins.records.accounts import AccountStore
from plugins.records.applications import ACCEPTED, RECEIVED, ApplicationBook
from plugins.records.readers import BOUNCED, PENDING, SUBSCRIBED, UNSUBSCRIBED, ReaderStore
from plugins.records.registrations import CANCELLED, CONFIRMED, WAITING, RegistrationBook
from tests.support import REPO

# The four tables as 0.x made them (its CHECK constraints name French words), verbatim.
OLD_SCHEMA = """
CREATE TABLE readers (
    email TEXT NOT NULL,
    audience TEXT NOT NULL CHECK (audience IN ('public', 'adherents')),
    name TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL CHECK (state IN ('en attente', 'abonné', 'désabonné', 'en erreur')),
    source TEXT NOT NULL CHECK (source IN ('formulaire', 'import', 'opérateur')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    consent_at TEXT,
    consent_form TEXT NOT NULL DEFAULT '',
    confirmed_at TEXT,
    confirmation_sent TEXT,
    pending TEXT,
    PRIMARY KEY (email, audience)
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY, email TEXT NOT NULL, audience TEXT NOT NULL, at TEXT NOT NULL, event TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX history_email ON history (email);
CREATE TABLE registrations (
    id INTEGER PRIMARY KEY,
    event TEXT NOT NULL,
    event_start TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    answers TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL CHECK (status IN ('confirmé', 'en attente', 'annulé')),
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    reminded TEXT,
    confirmed TEXT,
    held_until TEXT
);
CREATE INDEX registrations_start ON registrations (event_start);
CREATE UNIQUE INDEX registrations_once ON registrations (event, email) WHERE status != 'annulé';
CREATE TABLE membership_requests (
    id INTEGER PRIMARY KEY,
    created TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reçue', 'acceptée', 'refusée')),
    team TEXT NOT NULL, structure TEXT NOT NULL, commune TEXT NOT NULL, department TEXT NOT NULL,
    professionals TEXT NOT NULL, contact TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL, consent TEXT NOT NULL,
    decided TEXT, reason TEXT NOT NULL DEFAULT '', login TEXT NOT NULL DEFAULT '', membership_end TEXT, paid TEXT,
    confirmed TEXT
);
CREATE TABLE accounts (
    login TEXT PRIMARY KEY,
    email TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    hash TEXT,
    expires TEXT,
    source TEXT NOT NULL CHECK (source IN ('adhésion', 'import')),
    imported TEXT NOT NULL DEFAULT '',
    link_sent TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE INDEX accounts_email ON accounts (email);
"""
T = "2026-11-02T09:00:00+00:00"


def old_store(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        readers = [
            ("lea@example.org", "public", "Léa", "abonné", "formulaire", T, T, T, "pied de page", T, T, None),
            ("max@example.org", "public", "", "en attente", "formulaire", T, T, T, "pied de page", None, T, T),
            ("partie@example.org", "public", "", "désabonné", "import", T, T, T, "import a.csv", T, None, None),
            ("rebond@example.org", "adherents", "", "en erreur", "opérateur", T, T, None, "", None, None, None),
        ]
        db.executemany("INSERT INTO readers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", readers)
        history = [
            ("lea@example.org", "public", "demande d'inscription", "pied de page"),
            ("lea@example.org", "public", "inscription confirmée", ""),
            ("lea@example.org", "public", "demande d'inscription", "pied de page ; déjà abonnée, rien envoyé"),
            ("max@example.org", "public", "demande d'inscription", "pied de page ; confirmation déjà envoyée dans l'heure"),
            ("partie@example.org", "public", "importée", "import a.csv"),
            ("partie@example.org", "public", "désinscription", "un clic (RFC 8058)"),
            ("rebond@example.org", "", "adresse en erreur", "2026-11-public : rebond définitif 5.1.1"),
        ]
        db.executemany("INSERT INTO history (email, audience, at, event, detail) VALUES (?, ?, '" + T + "', ?, ?)", history)
        registrations = [
            (1, "atelier", "2027-01-10", "a@example.org", "A", "confirmé", T),
            (2, "atelier", "2027-01-10", "b@example.org", "B", "en attente", None),
            (3, "atelier", "2027-01-10", "c@example.org", "C", "annulé", T),
        ]
        db.executemany(
            "INSERT INTO registrations (id, event, event_start, email, name, status, created, updated, confirmed)"
            " VALUES (?, ?, ?, ?, ?, ?, '" + T + "', '" + T + "', ?)",
            registrations,
        )
        facts = ("MSP", "maison", "Nantes", "44", "5", "Claire", "claire@example.org", "0240000000", T)
        db.execute(
            "INSERT INTO membership_requests (id, created, status, team, structure, commune, department, professionals, contact,"
            " email, phone, consent, confirmed) VALUES (1, ?, 'reçue', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (T, *facts, T),
        )
        db.execute(
            "INSERT INTO membership_requests (id, created, status, team, structure, commune, department, professionals, contact,"
            " email, phone, consent, login, membership_end, confirmed) VALUES (2, ?, 'acceptée', ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " 'msp-nantes', '2027-12-31', ?)",
            (T, *facts, T),
        )
        db.execute("INSERT INTO accounts (login, source, created, updated) VALUES ('msp-nantes', 'adhésion', ?, ?)", (T, T))
        db.execute("INSERT INTO accounts (login, source, created, updated) VALUES ('msp-csv', 'import', ?, ?)", (T, T))
    return path


def test_a_store_of_french_words_is_turned_into_codes_once(tmp_path: Path) -> None:
    path = old_store(tmp_path / "lecteurs.sqlite")
    store = ReaderStore(path)
    states = {r.email: (r.state, r.source) for r in store.export()}
    assert states == {
        "lea@example.org": (SUBSCRIBED, "form"),
        "max@example.org": (PENDING, "form"),
        "partie@example.org": (UNSUBSCRIBED, "import"),
        "rebond@example.org": (BOUNCED, "operator"),
    }
    assert store.reader("lea@example.org", "public").confirmed_at == T  # type: ignore[union-attr]
    events = {(email, event, detail) for email in states for _, _, event, detail in store.history(email)[1]}
    assert events == {
        ("lea@example.org", "asked", "pied de page"),
        ("lea@example.org", "confirmed", ""),
        ("lea@example.org", "asked-already-subscribed", "pied de page"),
        ("max@example.org", "asked-within-the-hour", "pied de page"),
        ("partie@example.org", "imported", "import a.csv"),
        ("partie@example.org", "unsubscribed", "one-click"),
        ("rebond@example.org", "bounced", "2026-11-public : rebond définitif 5.1.1"),
    }
    book = RegistrationBook(path)
    assert [(r.id, r.status) for r in book.registrants("atelier")] == [(1, CONFIRMED), (2, WAITING), (3, CANCELLED)]
    applications = ApplicationBook(path)
    assert sorted((a.id, a.status) for a in applications.list()) == [(1, RECEIVED), (2, ACCEPTED)]
    assert [a.id for a in applications.list(RECEIVED)] == [1]
    accounts = AccountStore(path)
    assert {a.login: a.source for a in accounts.all()} == {"msp-nantes": "membership", "msp-csv": "import"}
    # The constraints now name the codes: a French word is refused, the unique index still spares cancellations.
    with sqlite3.connect(path) as db:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("UPDATE readers SET state = 'abonné' WHERE email = 'lea@example.org'")
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(
                "INSERT INTO registrations (event, event_start, email, name, status, created, updated)"
                " VALUES ('atelier', '2027-01-10', 'a@example.org', 'A', 'waiting', 'x', 'x')"
            )
        db.execute(
            "INSERT INTO registrations (event, event_start, email, name, status, created, updated)"
            " VALUES ('atelier', '2027-01-10', 'c@example.org', 'C', 'waiting', 'x', 'x')"
        )
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not any(name.endswith("_before_rebuild") for name in tables)
    # Opening it again changes nothing.
    with sqlite3.connect(path) as db:
        before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    ReaderStore(path), RegistrationBook(path), ApplicationBook(path), AccountStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
    assert {r.email: (r.state, r.source) for r in ReaderStore(path).export()} == states


def test_a_migration_that_fails_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    path = old_store(tmp_path / "lecteurs.sqlite")

    class Broken(ReaderStore):
        schema = ReaderStore.schema + "\nCREATE TABLE cassée (;"

    with pytest.raises(sqlite3.OperationalError):
        Broken(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT state FROM readers WHERE email = 'lea@example.org'").fetchone() == ("abonné",)
        assert "'abonné'" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'readers'").fetchone()[0]
        assert {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {"readers", "history"}
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE '%before_rebuild'").fetchone() == (0,)
    assert ReaderStore(path).reader("lea@example.org", "public").state == SUBSCRIBED  # type: ignore[union-attr]


def test_people_read_the_codes_in_french(tmp_path: Path) -> None:
    path = old_store(tmp_path / "lecteurs.sqlite")
    ReaderStore(path).unsubscribe("lea@example.org", "public", "link", datetime.now(UTC))
    project = tmp_path / "projet"
    project.mkdir()
    (project / "mkdocs.yml").write_bytes((REPO / "mkdocs.yml").read_bytes())
    shown = subprocess.run(
        [
            str(REPO / ".venv/bin/python"),
            str(REPO / "build.py"),
            "--project",
            str(project),
            "abonnes",
            "--db",
            str(path),
            "historique",
            "lea@example.org",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "public : désabonné (source formulaire" in shown.stdout
    assert "demande d'inscription, déjà abonnée : rien envoyé : pied de page" in shown.stdout
    assert "désinscription : lien de la lettre" in shown.stdout
    assert "subscribed" not in shown.stdout and "unsubscribed" not in shown.stdout


def test_a_ledger_from_before_the_skipped_state_is_rebuilt_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "envois.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE deliveries (letter TEXT NOT NULL, email TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',"
            " message_id TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('pending', 'inflight', 'sent', 'failed',"
            " 'unknown')), attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL,"
            " PRIMARY KEY (letter, email))"
        )
        db.execute("INSERT INTO deliveries VALUES ('2026-11-public', 'lea@example.org', '', '<1@x>', 'sent', 1, '', ?)", (T,))
        db.execute("INSERT INTO deliveries VALUES ('2026-11-public', 'max@example.org', '', '<2@x>', 'pending', 0, '', ?)", (T,))
    ledger = SendLedger(path)
    try:
        assert ledger.done("2026-11-public") == {"lea@example.org"}
        ledger.mark("2026-11-public", "max@example.org", "skipped")  # refused by the old constraint
        assert ledger.counts("2026-11-public") == {"sent": 1, "skipped": 1}
    finally:
        ledger.close()
