"""Subscribers and the suppression list, read from files given at run time (never committed)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from plugins.model import Audience
from plugins.model.fields import ADDRESS  # the one email rule of the project
from plugins.model.tables import table


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str


@dataclass
class SubscriberList:
    """Who receives a letter of one audience, and what was skipped on the way."""

    recipients: list[Subscriber]
    invalid: list[str]
    suppressed: int


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    reader = table(path.read_text(encoding="utf-8-sig"))
    header = list(reader.fieldnames or [])
    return header, [(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}) for row in reader]


def read_suppressed(path: Path | None) -> set[str]:
    """Return the suppressed addresses (unsubscribes, hard bounces): a CSV with an email column, or one per line."""
    if path is None or not path.exists():
        return set()
    text = path.read_text(encoding="utf-8-sig")
    if "email" in text.split("\n", 1)[0].lower():
        return {row["email"].lower() for _, row in _rows(path)[1] if row.get("email")}
    return {line.strip().lower() for line in text.splitlines() if "@" in line}


def check_columns(path: Path) -> str | None:
    """Return a French line if the subscribers' CSV lacks a column send needs, else None."""
    try:
        header, _ = _rows(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return f"{path} illisible : {exc}"
    missing = {"email", "audience"} - set(header)
    if missing:
        return f"{path}:1: en-tête: colonnes absentes : {', '.join(sorted(missing))} ; attendu email, name, audience"
    return None


def read_subscribers(path: Path, audience: Audience, suppressed: set[str]) -> SubscriberList:
    """Return the valid, unsuppressed, de-duplicated subscribers of one audience, in file order."""
    header, rows = _rows(path)
    missing = {"email", "audience"} - set(header)
    if missing:
        raise ValueError(
            f"{path.name}:1: en-tête: colonnes absentes : {', '.join(sorted(missing))}, attendu email, name, audience"
        )
    recipients: list[Subscriber] = []
    invalid: list[str] = []
    seen: set[str] = set()
    dropped = 0
    for line, row in rows:
        if row.get("audience", "") != audience.value:
            continue
        email = row.get("email", "")
        if not ADDRESS.match(email):
            invalid.append(f"{path.name}:{line}: email: « {email} » n'est pas une adresse valide, ligne ignorée")
            continue
        key = email.lower()
        if key in suppressed:
            dropped += 1
            continue
        if key not in seen:
            seen.add(key)
            recipients.append(Subscriber(email, row.get("name", "")))
    return SubscriberList(recipients, invalid, dropped)
