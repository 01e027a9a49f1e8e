"""iCalendar files for the agenda, written with icalendar (the one place that touches it)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from icalendar import Calendar, Component
from icalendar import Event as VEvent

from plugins.model import Event
from plugins.model.fields import PARIS
from plugins.model.vocabulary import department_label
from plugins.plan.pages import item_uri, page_url


def location(event: Event) -> str:
    """Return the event's place as one line."""
    if event.online:
        return "En ligne"
    parts = [event.place, event.commune, department_label(event.department) if event.department and not event.commune else None]
    return ", ".join(p for p in parts if p)


def vevent(event: Event, site_url: str) -> VEvent:
    """Return one event with a UID and DTSTAMP that stay the same from build to build."""
    host = urlsplit(site_url).hostname or "localhost"
    url = site_url.rstrip("/") + "/" + page_url(item_uri(event))
    ve = VEvent()
    ve.add("uid", f"{event.slug}@{host}")
    ve.add("dtstamp", event.start.astimezone(UTC))
    ve.add("summary", event.title)
    if event.all_day:
        ve.add("dtstart", event.start.date())
        ve.add("dtend", (event.end or event.start).date() + timedelta(days=1))
    else:
        ve.add("dtstart", event.start)
        ve.add("dtend", event.end or event.start + timedelta(hours=2))
    if where := location(event):
        ve.add("location", where)
    description = event.summary + (f"\n\nInscription : {event.registration}" if event.registration else "")
    ve.add("description", (description + f"\n\n{url}").strip())
    ve.add("url", url)
    return ve


@functools.lru_cache(maxsize=1)
def paris_timezone() -> Component:
    """Return the VTIMEZONE of Europe/Paris, computed once (icalendar derives it from the tz database)."""
    probe = Calendar()
    event = VEvent()
    event.add("dtstart", datetime(2026, 1, 1, tzinfo=PARIS))
    probe.add_component(event)
    probe.add_missing_timezones()
    return probe.walk("VTIMEZONE")[0]


@functools.lru_cache(maxsize=1)
def paris_timezone_ical() -> bytes:
    return paris_timezone().to_ical()


END = b"END:VCALENDAR\r\n"


def calendar_head(name: str) -> bytes:
    """Return a calendar's first lines, up to its components (what icalendar writes before them)."""
    cal = Calendar()
    cal.add("prodid", "-//Fédération des MSP//build.py//FR")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Europe/Paris")
    whole = cal.to_ical()
    assert whole.endswith(END)
    return whole[: -len(END)]


def render_calendar(events: Iterable[Event], name: str, site_url: str, serialized: dict[str, bytes] | None = None) -> bytes:
    """Return an iCalendar file (Europe/Paris times with their VTIMEZONE).

    The same bytes icalendar's Calendar.to_ical() writes, put together from parts serialised once:
    the time zone for all calendars, each event for the agenda and its own file (serialized).
    """
    serialized = {} if serialized is None else serialized
    parts = [calendar_head(name), paris_timezone_ical()]
    for event in events:
        if event.slug not in serialized:
            serialized[event.slug] = vevent(event, site_url).to_ical()
        parts.append(serialized[event.slug])
    parts.append(END)
    return b"".join(parts)


def write_calendars(events: list[Event], site_dir: Path, name: str, site_url: str) -> list[Path]:
    """Write agenda/agenda.ics and one .ics per event; return the paths written."""
    written = []
    serialized: dict[str, bytes] = {}
    whole = site_dir / "agenda" / "agenda.ics"
    whole.parent.mkdir(parents=True, exist_ok=True)
    whole.write_bytes(render_calendar(events, name, site_url, serialized))
    written.append(whole)
    for event in events:
        one = site_dir / page_url(item_uri(event)) / "evenement.ics"
        one.parent.mkdir(parents=True, exist_ok=True)
        one.write_bytes(render_calendar([event], event.title, site_url, serialized))
        written.append(one)
    return written
