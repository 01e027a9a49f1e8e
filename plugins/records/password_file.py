"""Members' accounts from a CSV exported at run time, turned into an htpasswd file (bcrypt)."""

from __future__ import annotations

import grp
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import bcrypt

from plugins.model.fields import ADDRESS
from plugins.model.problems import ContentError, Problem
from plugins.model.tables import table

# nginx checks the hash on every request, assets included: see bench/auth_cost.py for the measure.
DEFAULT_COST = 8
MIN_SECRET_LENGTH = 12
# \Z, not $ (which also matches before a final newline); [0-9], not \d (which takes any script's digits).
LOGIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{1,99}\Z")
BCRYPT_HASH = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}\Z")
COLUMNS = {"login", "password", "hash", "expires", "name", "email"}


@dataclass(frozen=True)
class Account:
    """One login of a member team or person."""

    login: str
    secret: str | None
    hash: str | None
    expires: date | None
    line: int
    email: str = ""  # where « Mot de passe oublié » sends the link (accounts from the CSV may have none)
    name: str = ""

    def is_valid_on(self, day: date) -> bool:
        """Return whether the account may log in on that day (the end date is included)."""
        return self.expires is None or day <= self.expires


@dataclass(frozen=True)
class AccountsSummary:
    """What an htpasswd run wrote, for the operator."""

    written: int
    expired: list[str]


def read_accounts(path: Path) -> list[Account]:
    """Read and check the accounts CSV (',' or ';' separated, UTF-8); raise ContentError on any problem."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ContentError([Problem(name, 1, "fichier", f"introuvable : {path}")]) from None
    except UnicodeDecodeError:
        raise ContentError([Problem(name, 1, "fichier", "encodage illisible, attendu un CSV en UTF-8")]) from None
    reader = table(text)
    problems: list[Problem] = []
    header = list(reader.fieldnames or [])
    if "login" not in header or not ({"password", "hash"} & set(header)):
        problems.append(
            Problem(name, 1, "en-tête", "colonnes attendues : login, password ou hash, et facultativement expires, name, email")
        )
        raise ContentError(problems)
    for unknown in sorted(set(header) - COLUMNS):
        problems.append(Problem(name, 1, unknown, "colonne inconnue, attendu : login, password, hash, expires, name, email"))
    accounts: list[Account] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        account = _account(name, line, {k: (v or "").strip() for k, v in row.items() if k}, problems)
        if account is None:
            continue
        if account.login in seen:
            problems.append(
                Problem(
                    name,
                    line,
                    "login",
                    f"« {account.login} » figure déjà ligne {seen[account.login]}, attendu un identifiant unique",
                )
            )
            continue
        seen[account.login] = line
        accounts.append(account)
    if problems:
        raise ContentError(problems)
    return accounts


def _account(name: str, line: int, row: dict[str, str], problems: list[Problem]) -> Account | None:
    """Return the row's account, or None after recording what is wrong with it."""
    before = len(problems)
    login, secret, hashed = row.get("login", ""), row.get("password", ""), row.get("hash", "")
    if not LOGIN.match(login):
        problems.append(
            Problem(name, line, "login", f"« {login} » invalide, attendu 2 à 100 caractères parmi lettres, chiffres et . _ @ + -")
        )
    email = row.get("email", "")
    if email and not ADDRESS.match(email):
        problems.append(Problem(name, line, "email", f"« {email[:80]} » n'est pas une adresse électronique valide"))
    if secret and hashed:
        problems.append(Problem(name, line, "password", "à la fois un mot de passe et une empreinte, attendu l'un des deux"))
    elif hashed and not BCRYPT_HASH.match(hashed):
        problems.append(Problem(name, line, "hash", "empreinte non reconnue, attendu une empreinte bcrypt ($2y$…)"))
    elif not hashed and len(secret) < MIN_SECRET_LENGTH:
        what = "absent" if not secret else f"trop court ({len(secret)} caractères)"
        problems.append(Problem(name, line, "password", f"mot de passe {what}, attendu au moins {MIN_SECRET_LENGTH} caractères"))
    expires = None
    if row.get("expires"):
        try:
            expires = date.fromisoformat(row["expires"])
        except ValueError:
            problems.append(Problem(name, line, "expires", f"« {row['expires']} » n'est pas une date, attendu AAAA-MM-JJ"))
    if len(problems) > before:
        return None
    return Account(login, secret or None, hashed or None, expires, line, email.lower(), row.get("name", ""))


def hash_secret(secret: str, cost: int = DEFAULT_COST) -> str:
    """Return a bcrypt hash with the $2y$ prefix that Apache's and nginx's tools write."""
    hashed = bcrypt.hashpw(secret.encode("utf-8"), bcrypt.gensalt(rounds=cost)).decode("ascii")
    return "$2y$" + hashed[4:]


def group_id(name: str) -> int:
    """Return the id of a system group; raise ContentError (French) if it does not exist."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise ContentError(
            [Problem("--group", 0, "groupe", f"groupe « {name} » inconnu sur cette machine (ex. www-data)")]
        ) from None


def write_htpasswd(
    accounts: list[Account], target: Path, today: date, cost: int = DEFAULT_COST, group: str | None = None
) -> AccountsSummary:
    """Write the valid accounts to target atomically (mode 0640); expired ones are left out.

    The new file keeps the owner and group of the one it replaces (or takes group): nginx's
    workers run as an unprivileged user (www-data on Debian) that reads it through its group.
    """
    gid = group_id(group) if group else None
    valid = [a for a in accounts if a.is_valid_on(today)]
    lines = [f"{a.login}:{a.hash or hash_secret(a.secret or '', cost)}\n" for a in valid]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".htpasswd-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.writelines(lines)
        os.chmod(tmp, 0o640)
        if target.exists() or gid is not None:
            before = target.stat() if target.exists() else os.stat(tmp)
            os.chown(tmp, before.st_uid if target.exists() else -1, gid if gid is not None else before.st_gid)
    except PermissionError as exc:
        os.unlink(tmp)
        raise ContentError(
            [
                Problem(
                    target.name,
                    0,
                    "groupe",
                    f"impossible de garder le propriétaire et le groupe de {target} : {exc}"
                    " ; lancez la commande avec le compte qui possède ce fichier",
                )
            ]
        ) from exc
    os.replace(tmp, target)
    return AccountsSummary(len(valid), [a.login for a in accounts if not a.is_valid_on(today)])
