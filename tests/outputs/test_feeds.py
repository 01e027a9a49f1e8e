"""Feeds parse clean with feedparser, calendars with icalendar, and two builds give the same bytes."""

from __future__ import annotations

from pathlib import Path

import feedparser
import icalendar
import pytest

from plugins.build.sites import build_all
from tests.support import SECRET_SHEET, TODAY, make_project

SECTIONS = ("offres", "inspir-cafe", "actualites", "agenda", "boite-a-outils")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = make_project(tmp_path_factory.mktemp("flux"), SECRET_SHEET)
    build_all(root, root / "site", TODAY, strict=True)
    build_all(root, root / "again", TODAY, strict=True)
    return root / "site", root / "again"


def parse(path: Path):
    feed = feedparser.parse(path.read_bytes())
    assert not feed.bozo, f"{path}: {feed.get('bozo_exception')}"
    return feed


@pytest.mark.parametrize("site", ["public", "adherents"])
@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_every_feed_parses_clean(sites, site: str, section: str, kind: str) -> None:
    feed = parse(sites[0] / site / section / f"{kind}.xml")
    assert feed.version == ("rss20" if kind == "rss" else "atom10")
    assert feed.feed.language == "fr" or kind == "atom"
    for entry in feed.entries:
        assert entry.link.startswith("https://")
        assert entry.published_parsed is not None
        assert entry.id == entry.link


def test_public_feeds_hold_public_items_only(sites) -> None:
    public = sites[0] / "public"
    news = parse(public / "actualites/rss.xml")
    assert [e.title for e in news.entries] == ["Nouvelle convention", "Une actualité plus ancienne"]
    offers = parse(public / "offres/rss.xml")
    assert [e.title for e in offers.entries] == ["Médecin généraliste à Nantes"]
    sheets = parse(public / "boite-a-outils/rss.xml")
    locked = next(e for e in sheets.entries if e.title == "Fiche de coordination verrouillée")
    assert locked.summary == "Résumé public de la fiche verrouillée."
    assert "motcle-canari" not in (public / "boite-a-outils/rss.xml").read_text("utf-8")
    members_news = parse(sites[0] / "adherents/actualites/rss.xml")
    assert "Actualité-canari réservée" in [e.title for e in members_news.entries]
    assert members_news.entries[0].link.startswith("https://adherents.msp-pdl.example.org/")


def test_feed_dates_are_paris_time_and_last_build_is_the_newest_item(sites) -> None:
    text = (sites[0] / "public/actualites/rss.xml").read_text("utf-8")
    assert "<lastBuildDate>Tue, 15 Sep 2026 00:00:00 +0200</lastBuildDate>" in text
    assert "<pubDate>Sat, 01 Feb 2025 00:00:00 +0100</pubDate>" in text


def test_two_builds_of_the_same_content_give_the_same_bytes(sites) -> None:
    first, second = sites
    outputs = [p.relative_to(first) for p in first.rglob("*") if p.suffix in (".xml", ".ics") and "sitemap" not in p.name]
    assert len(outputs) > 20
    assert [p for p in outputs if (first / p).read_bytes() != (second / p).read_bytes()] == []


@pytest.mark.parametrize("site", ["public", "adherents"])
def test_calendars_parse_and_carry_stable_uids_and_paris_times(sites, site: str) -> None:
    calendar = icalendar.Calendar.from_ical((sites[0] / site / "agenda/agenda.ics").read_bytes())
    events = {str(e["summary"]): e for e in calendar.walk("VEVENT")}
    assert "Journée régionale" in events
    assert ("Réunion-canari des adhérents" in events) == (site == "adherents")
    journee = events["Journée régionale"]
    assert str(journee["uid"]) == "journee-regionale@" + (
        "msp-pdl.example.org" if site == "public" else "adherents.msp-pdl.example.org"
    )
    start = journee.decoded("dtstart")
    assert start.isoformat() == "2026-12-04T09:30:00+01:00"
    assert str(start.tzinfo) == "Europe/Paris"
    assert journee["location"] == "Cité des congrès, Nantes"
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    one = icalendar.Calendar.from_ical((sites[0] / site / "agenda/journee-regionale/evenement.ics").read_bytes())
    assert [str(e["uid"]) for e in one.walk("VEVENT")] == [str(journee["uid"])]


def test_pages_announce_their_feeds(sites) -> None:
    listing = (sites[0] / "public/offres/index.html").read_text("utf-8")
    assert '<link rel="alternate feed" type="application/rss+xml" title="Postes à pourvoir (RSS)" href="rss.xml">' in listing
    assert 'href="atom.xml">flux Atom</a>' in listing
    agenda = (sites[0] / "public/agenda/index.html").read_text("utf-8")
    assert 'type="text/calendar"' in agenda


def test_every_feed_and_calendar_of_the_sample_parses_clean(sample_site: Path) -> None:
    feeds = sorted(sample_site.glob("*/*/rss.xml")) + sorted(sample_site.glob("*/*/atom.xml"))
    assert len(feeds) == 20
    for path in feeds:
        assert parse(path).entries, path
    calendars = sorted(sample_site.glob("*/agenda/**/*.ics"))
    assert len(calendars) > 10
    for path in calendars:
        assert icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"), path


def test_a_feed_holds_its_newest_entries_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader polls a feed to learn what is new: the newest FEED_LENGTH entries, whatever the section's history."""
    from plugins.model import Audience, load_content
    from plugins.outputs import feeds
    from tests.support import REPO

    content = load_content(REPO)
    every = {f.section: f for f in feeds.section_feeds(content, Audience.ADHERENTS, TODAY, "https://exemple.org/")}
    assert len(every["boite-a-outils"].entries) == len(content.sheets) < feeds.FEED_LENGTH  # the sample: all of them
    monkeypatch.setattr(feeds, "FEED_LENGTH", 3)
    few = {f.section: f for f in feeds.section_feeds(content, Audience.ADHERENTS, TODAY, "https://exemple.org/")}
    for section, feed in few.items():
        dated = sorted(every[section].entries, key=lambda e: (e.published, e.url))
        assert feed.entries == dated[-3:], section
    news = few["actualites"].entries
    assert [e.title for e in news] == [n.title for n in content.news_for(Audience.ADHERENTS)[:3]][::-1]
    text = feeds.render_feed(few["boite-a-outils"], "atom", "Site", "https://exemple.org/")
    assert len(feedparser.parse(text).entries) == 3
