"""Jinja filters for French dates, labels and links to the model's pages."""

from __future__ import annotations

import re
from datetime import date, datetime

from markupsafe import Markup, escape

from plugins.model.french import date_fr, time_fr, when_fr
from plugins.model.vocabulary import department_label
from plugins.plan.pages import page_url, uri_of


def iso(value: date | datetime) -> str:
    return value.isoformat()


def href(thing) -> str:
    """Return the site-relative URL of an item's or a term's page."""
    return page_url(uri_of(thing))


def author_line(author) -> str:
    """Return 'Name, profession'."""
    return f"{author.name}, {author.profession}" if author.profession else author.name


_YOUTUBE = re.compile(r"(?:youtube\.com/watch\?(?:.*&)?v=|youtu\.be/|youtube\.com/embed/)([\w-]{6,})")
_VIMEO = re.compile(r"vimeo\.com/(?:video/)?(\d+)")


def video_embed(url: str | None) -> str:
    """Return the privacy-friendly player URL of a YouTube or Vimeo link, '' for other sites."""
    if not url:
        return ""
    if m := _YOUTUBE.search(url):
        return f"https://www.youtube-nocookie.com/embed/{m.group(1)}?autoplay=1"
    if m := _VIMEO.search(url):
        return f"https://player.vimeo.com/video/{m.group(1)}?dnt=1&autoplay=1"
    return ""


def pagefind_filter(pair: tuple[str, str]) -> Markup:
    """Return the data-pagefind-filter attribute of a (filter, value) search filter.

    Pagefind 1.5 decodes a filter's value twice when it indexes a page, and its interface shows filter
    names and values as HTML. Escaped three times, an editor's tag reaches the index escaped once and
    the reader as the text it is (were Pagefind to decode it once, readers would see entities, never
    markup). The name Pagefind keeps as written: escaped once.
    """
    name, value = pair
    for _ in range(3):
        value = str(escape(value))
    return Markup(f"{escape(name)}:{value}")


FILTERS = {
    "video_embed": video_embed,
    "author_line": author_line,
    "date_fr": date_fr,
    "time_fr": time_fr,
    "when_fr": when_fr,
    "iso": iso,
    "href": href,
    "department": department_label,
    "pagefind_filter": pagefind_filter,
}
