"""Choosing a password when nginx's htpasswd cannot be rewritten: the hash is kept, the page says when it will work."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import bcrypt

from plugins.records.accounts import AccountStore
from plugins.records.readers import ReaderStore
from plugins.service.core import Service
from plugins.service.emails import Postman
from plugins.service.passwords import Passwords
from plugins.settings.federation import FederationSettings


def service(tmp_path: Path) -> Service:
    federation = FederationSettings("Fédération", "https://example.org/", "https://adherents.example.org/", email="a@example.org")
    return Service(
        federation, ReaderStore(tmp_path / "base.sqlite"), Postman(None, None, tmp_path / "sortie"), b"cle-de-test-longue"
    )  # type: ignore[arg-type]


def test_a_password_is_kept_when_the_htpasswd_cannot_be_written(tmp_path: Path, capsys) -> None:
    core = service(tmp_path)
    accounts = AccountStore(core.store.path)
    accounts.open_for("msp-essai", "essai@example.org", "MSP Essai", date(2099, 12, 31), datetime.now(UTC))
    blocked = tmp_path / "htpasswd"
    blocked.mkdir()  # a folder where the file should be: os.replace cannot put the new file there
    passwords = Passwords(core, blocked)
    account = accounts.get("msp-essai")
    assert account is not None
    assert passwords.set(account, "une-phrase-de-passe-longue") == (True, False)
    stored = accounts.get("msp-essai")
    assert stored is not None and stored.hash
    assert bcrypt.checkpw(b"une-phrase-de-passe-longue", ("$2b$" + stored.hash[4:]).encode())
    assert "n'a pas pu être réécrit" in capsys.readouterr().err
    assert passwords.set(account, "une-autre-phrase-longue") == (False, False)  # the link was for the old hash


def test_without_htpasswd_the_password_waits_for_the_next_server_run(tmp_path: Path) -> None:
    core = service(tmp_path)
    accounts = AccountStore(core.store.path)
    accounts.open_for("msp-essai", "essai@example.org", "MSP Essai", date(2099, 12, 31), datetime.now(UTC))
    account = accounts.get("msp-essai")
    assert account is not None
    assert Passwords(core, None).set(account, "une-phrase-de-passe-longue") == (True, False)
    target = tmp_path / "ecrit" / "htpasswd"
    assert accounts.write_htpasswd(target, date(2026, 12, 2)) == 1
    assert target.read_text().startswith("msp-essai:$2y$")
