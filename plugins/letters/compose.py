"""Compose a letter: its editorial plus what was published since the previous letter of its audience."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import markdown

from plugins.model import Audience, Content, Event, Item, JobOffer, Letter, NewsItem, Story, ToolboxSheet
from plugins.website.plan import item_uri, page_url

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
    from plugins.federation.filters import when_fr  # plain functions, no MkDocs

    return when_fr(event)


def _meta(item: Item) -> str:
    from plugins.federation.filters import date_fr

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


def compose(content: Content, letter: Letter, site_url: str) -> ComposedLetter:
    """Return the letter with its sections; a public letter holds public items only."""
    audience = letter.audience
    previous = previous_letter(content, letter)
    since = previous.date if previous else letter.date - DEFAULT_WINDOW[audience]
    fresh = lambda d: since < d <= letter.date  # noqa: E731
    picked: dict[str, list[Item]] = {
        "agenda": [e for e in content.events_for(audience) if letter.date <= e.date < letter.date + AGENDA_HORIZON],
        "toolbox": [s for s in content.sheets if fresh(s.date) and s.visible_to(audience)],
        "offres": [o for o in content.offers if fresh(o.date) and o.is_open(letter.date)],
        "actualites": [n for n in content.news_for(audience) if fresh(n.date)],
        "inspir-cafe": [s for s in content.stories if fresh(s.date)],
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
