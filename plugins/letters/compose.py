"""Compose a letter: its editorial plus what was published since the previous letter of its audience."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import markdown

from plugins.model import Audience, Content, Event, Item, JobOffer, Letter, NewsItem, Story, ToolboxSheet
from plugins.model.french import date_fr, when_fr
from plugins.plan.pages import item_uri, page_url

# Without a previous letter, the window a letter looks back over (monthly and bimonthly letters).
DEFAULT_WINDOW = {Audience.ADHERENTS: timedelta(days=31), Audience.PUBLIC: timedelta(days=61)}
# How far ahead the agenda section looks.
AGENDA_HORIZON = timedelta(days=92)
SECTION_TITLES = {
    "agenda": "Agenda",
    "toolbox": "Nouveaux outils",
    "offres": "Postes à pourvoir",
    "actualites": "Actualités",
    "inspir-cafe": "Récits d'équipes",
}


@dataclass(frozen=True)
class LetterItem:
    """One item of a letter as the email shows it."""

    title: str
    url: str
    summary: str
    meta: str


@dataclass
class LetterSection:
    key: str
    title: str
    items: list[LetterItem] = field(default_factory=list)


@dataclass
class ComposedLetter:
    """A letter ready to render: editorial HTML (XHTML-style) and its sections."""

    letter: Letter
    editorial_html: str
    editorial_text: str
    sections: list[LetterSection]
    site_url: str
    archive_url: str

    @property
    def refs(self) -> list[str]:
        return [i.url for s in self.sections for i in s.items]


def markdown_xhtml(text: str) -> str:
    """Render Markdown as XHTML (<br />, not <br>): mjml-python fails on unclosed tags."""
    return markdown.markdown(text, extensions=["tables", "attr_list"], output_format="xhtml")


def previous_letter(content: Content, letter: Letter) -> Letter | None:
    earlier = [lt for lt in content.letters if lt.audience is letter.audience and (lt.date, lt.slug) < (letter.date, letter.slug)]
    return max(earlier, key=lambda lt: (lt.date, lt.slug), default=None)


def _when(event: Event) -> str:

    return when_fr(event)


def _meta(item: Item) -> str:

    if isinstance(item, Event):
        place = "En ligne" if item.online else ", ".join(p for p in (item.place, item.commune) if p)
        return " · ".join(p for p in (_when(item), place) if p)
    if isinstance(item, JobOffer):
        return f"{item.kind.label} · {item.commune} ({item.department}) · jusqu'au {date_fr(item.expires)}"
    if isinstance(item, ToolboxSheet):
        return f"{item.type.label} · " + ", ".join(t.label for t in item.themes)
    if isinstance(item, Story):
        return item.series.label
    if isinstance(item, NewsItem):
        return date_fr(item.date)
    return ""


def _section_of(item: Item) -> str:
    return "toolbox" if isinstance(item, ToolboxSheet) else item.collection


class Dated:
    """A collection's items in their own order, found by date without going through all of them."""

    def __init__(self, items: Sequence[Item], when: Callable[[Any], date]) -> None:
        self.items = list(items)
        order = sorted(range(len(self.items)), key=lambda i: when(self.items[i]))
        self._order = order
        self._dates = [when(self.items[i]) for i in order]

    def between(self, start: date, end: date, *, include_start: bool, include_end: bool) -> list[Item]:
        """Return the items dated from start to end, in the collection's order."""
        lo = (bisect.bisect_left if include_start else bisect.bisect_right)(self._dates, start)
        hi = (bisect.bisect_right if include_end else bisect.bisect_left)(self._dates, end)
        return [self.items[i] for i in sorted(self._order[lo:hi])]


class Catalogue:
    """What letters pick from, sorted by date once for every letter a build writes: going through every item for
    each letter grows with the letters times the items (measured: bench/RESULTS.md, « Why the code is as it is »)."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self._audiences: dict[Audience, dict[str, Dated]] = {}

    def of(self, audience: Audience) -> dict[str, Dated]:
        known = self._audiences.get(audience)
        if known is None:
            content = self.content
            known = self._audiences[audience] = {
                "agenda": Dated(content.events_for(audience), lambda e: e.date),
                "toolbox": Dated([s for s in content.sheets if s.visible_to(audience)], lambda s: s.date),
                "offres": Dated(content.offers, lambda o: o.date),
                "actualites": Dated(content.news_for(audience), lambda n: n.date),
                "inspir-cafe": Dated(content.stories, lambda s: s.date),
            }
        return known


def compose(content: Content, letter: Letter, site_url: str, catalogue: Catalogue | None = None) -> ComposedLetter:
    """Return the letter with its sections; a public letter holds public items only.

    catalogue: the content's items sorted by date, made once for many letters (Catalogue(content)).
    """
    audience = letter.audience
    previous = previous_letter(content, letter)
    since = previous.date if previous else letter.date - DEFAULT_WINDOW[audience]
    found = (catalogue or Catalogue(content)).of(audience)

    def fresh(key: str) -> list[Item]:
        return found[key].between(since, letter.date, include_start=False, include_end=True)

    picked: dict[str, list[Item]] = {
        "agenda": found["agenda"].between(letter.date, letter.date + AGENDA_HORIZON, include_start=True, include_end=False),
        "toolbox": fresh("toolbox"),
        "offres": [o for o in fresh("offres") if isinstance(o, JobOffer) and o.is_open(letter.date)],
        "actualites": fresh("actualites"),
        "inspir-cafe": fresh("inspir-cafe"),
    }
    for ref in letter.pin:
        item = content.by_ref[ref]
        if item.visible_to(audience) and item not in picked[_section_of(item)]:
            picked[_section_of(item)].insert(0, item)
    dropped = {content.by_ref[ref].ref for ref in letter.drop}
    base = site_url.rstrip("/") + "/"
    sections = []
    for key, items in picked.items():
        kept = [i for i in items if i.ref not in dropped and i.visible_to(audience)]
        if kept:
            sections.append(
                LetterSection(
                    key,
                    SECTION_TITLES[key],
                    [LetterItem(i.title, base + page_url(item_uri(i)), getattr(i, "summary", "") or "", _meta(i)) for i in kept],
                )
            )
    return ComposedLetter(
        letter, markdown_xhtml(letter.body), letter.body.strip(), sections, base, base + page_url(item_uri(letter))
    )
