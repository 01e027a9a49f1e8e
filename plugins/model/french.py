"""French dates as the sites, letters, emails and the service's pages write them, in Paris time (no MkDocs)."""

from __future__ import annotations

from datetime import date, datetime

from plugins.model.fields import PARIS

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def date_fr(value: date | datetime | None) -> str:
    """Return '4 décembre 2026'."""
    if value is None:
        return ""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def time_fr(value: datetime) -> str:
    """Return '14 h' or '14 h 30' in Paris time."""
    local = value.astimezone(PARIS)
    return f"{local.hour} h" + (f" {local.minute:02d}" if local.minute else "")


def when_fr(event) -> str:
    """Return an event's dates and times in plain French."""
    start, end = event.start.astimezone(PARIS), event.end.astimezone(PARIS) if event.end else None
    text = f"{WEEKDAYS[start.weekday()]} {date_fr(start)}"
    if event.all_day:
        if end and end.date() != start.date():
            return f"du {text} au {WEEKDAYS[end.weekday()]} {date_fr(end)}"
        return text
    if end and end.date() != start.date():
        return f"du {text} à {time_fr(start)} au {WEEKDAYS[end.weekday()]} {date_fr(end)} à {time_fr(end)}"
    if end:
        return f"{text}, de {time_fr(start)} à {time_fr(end)}"
    return f"{text} à {time_fr(start)}"
