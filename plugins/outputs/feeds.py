"""RSS 2.0 and Atom feeds per section, written with feedgen (the one place that touches it)."""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

from feedgen.feed import FeedGenerator

from plugins.model import Audience, Content, Event, JobOffer, NewsItem, Story, ToolboxSheet
from plugins.model.fields import PARIS
from plugins.plan.pages import item_uri, page_url


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed, reduced to what a feed reader shows."""

    title: str
    url: str
    published: datetime
    summary: str
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feed:
    """A section's feed: where it lives and what it holds."""

    section: str
    title: str
    description: str
    entries: list[FeedEntry]

    def path(self, kind: str) -> str:
        return f"{self.section}/{kind}.xml"


FEED_KINDS = ("rss", "atom")
# A feed holds its newest entries only: a reader learns what is new from it, and polls it (every hour, for some). With
# every item, the toolbox's feed grew with the whole toolbox, and an old sheet's edit wrote it again
# (measured: bench/RESULTS.md, « Why the code is as it is »).
FEED_LENGTH = 50


def paris(day: date | datetime) -> datetime:
    """Return a timezone-aware Paris datetime (a date becomes its midnight)."""
    if isinstance(day, datetime):
        return day.astimezone(PARIS)
    return datetime.combine(day, time(0, 0), tzinfo=PARIS)


def section_feeds(content: Content, audience: Audience, today: date, site_url: str) -> list[Feed]:
    """Return the feeds of one site: offers, stories, news, agenda and new toolbox sheets, each its newest entries."""
    absolute = lambda item: site_url.rstrip("/") + "/" + page_url(item_uri(item))  # noqa: E731
    feeds = [
        Feed(
            "offres",
            "Postes à pourvoir",
            "Offres d'emploi et d'installation des MSP adhérentes",
            [_offer(o, absolute(o)) for o in content.open_offers(today)],
        ),
        Feed(
            "inspir-cafe",
            "Inspir'Café et Les MSP ont du talent",
            "Récits d'équipes de MSP",
            [_story(s, absolute(s)) for s in content.stories],
        ),
        Feed(
            "actualites", "Actualités", "Actualités de la fédération", [_news(n, absolute(n)) for n in content.news_for(audience)]
        ),
        Feed(
            "agenda",
            "Agenda",
            "Événements de la fédération et de ses partenaires",
            [_event(e, absolute(e)) for e in content.events_for(audience)],
        ),
        Feed(
            "boite-a-outils",
            "Boîte à outils : nouveaux outils",
            "Nouvelles fiches de la boîte à outils"
            + (" (aperçus des fiches réservées aux adhérents)" if audience is Audience.PUBLIC else ""),
            [_sheet(s, absolute(s)) for s in content.sheets],
        ),
    ]
    return [dataclasses.replace(feed, entries=newest(feed.entries)) for feed in feeds]


def newest(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Return the FEED_LENGTH newest entries (by date, then address), oldest first: the order feeds are written in."""
    return sorted(entries, key=lambda e: (e.published, e.url))[-FEED_LENGTH:]


def _offer(o: JobOffer, url: str) -> FeedEntry:
    summary = f"{o.kind.label} · {', '.join(p.label for p in o.professions)} · {o.commune} ({o.department}) · jusqu'au {o.expires:%d/%m/%Y}"
    return FeedEntry(o.title, url, paris(o.date), summary, tuple(p.label for p in o.professions))


def _story(s: Story, url: str) -> FeedEntry:
    return FeedEntry(s.title, url, paris(s.date), s.summary, (s.series.label,))


def _news(n: NewsItem, url: str) -> FeedEntry:
    return FeedEntry(n.title, url, paris(n.date), n.summary, tuple(t.label for t in n.tags))


def _event(e: Event, url: str) -> FeedEntry:
    return FeedEntry(e.title, url, paris(e.start), e.summary)


def _sheet(s: ToolboxSheet, url: str) -> FeedEntry:
    # A locked sheet's feed entry carries its teaser fields only: never keywords or body.
    categories = (s.type.label, *(t.label for t in s.themes))
    return FeedEntry(s.title, url, paris(s.updated or s.date), s.summary, categories)


def render_feed(feed: Feed, kind: str, site_name: str, site_url: str) -> bytes:
    """Return the RSS or Atom bytes; the same entries always give the same bytes."""
    fg = FeedGenerator()
    home = site_url.rstrip("/") + "/"
    self_url = home + feed.path(kind)
    fg.id(self_url)
    fg.title(f"{feed.title} — {site_name}")
    fg.description(feed.description)
    fg.subtitle(feed.description)
    fg.link(href=home + feed.section + "/", rel="alternate")
    fg.link(href=self_url, rel="self")
    fg.language("fr")
    fg.generator("build.py")
    newest = max((e.published for e in feed.entries), default=datetime(2000, 1, 1, tzinfo=PARIS))
    fg.lastBuildDate(newest)
    fg.updated(newest)
    for entry in sorted(feed.entries, key=lambda e: (e.published, e.url)):
        fe = fg.add_entry()
        fe.id(entry.url)
        fe.guid(entry.url, permalink=True)
        fe.title(entry.title)
        fe.link(href=entry.url)
        fe.published(entry.published)
        fe.updated(entry.published)
        if entry.summary:
            # Readers take an RSS description for HTML: escaped, it shows the editor's text as typed (Atom says type="text").
            fe.description(html.escape(entry.summary, quote=False) if kind == "rss" else entry.summary)
            fe.summary(entry.summary)
        for label in entry.categories:
            fe.category(term=label)
    return fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)


def write_feeds(feeds: Iterable[Feed], site_dir: Path, site_name: str, site_url: str) -> list[Path]:
    """Write every feed in both formats under site_dir; return the paths written."""
    written = []
    for feed in feeds:
        for kind in FEED_KINDS:
            target = site_dir / feed.path(kind)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(render_feed(feed, kind, site_name, site_url))
            written.append(target)
    return written
