"""Parts of Material's page that are the same on many pages of a site, rendered once per build.

The navigation, the tabs and the footer of a page depend only on the site, on the folder the
page is in (MkDocs writes links relative to it: "../../offres/" from actualites/x/, "../" to
actualites/ itself) and on which section of the navigation is the current one. Every other page
of that folder in that section gets the same bytes: they are rendered for the first and reused.
The header is the same but for the page's title: it is reused with each page's title in place.
Top-level pages (the home page, the sections and the footer pages, which the fragments link to
and where a link to the page itself is written "./") and pages outside a folder of their own
(404.html) keep their own rendering. tests/render/test_fragments.py compares the whole output with a
rendering of every page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup


def fragment_key(page: Any, nav: Any) -> tuple:
    """Return what a page's shared fragments depend on: its folder and the current section of the navigation."""
    url = page.url if page is not None else None
    if url is None or not url.endswith("/") or url.count("/") < 2:
        return ("page", url)
    active = next((n for n, item in enumerate(nav or ()) if getattr(item, "active", False)), -1)
    return (url.rsplit("/", 2)[0], active)


# Where a fragment rendered with a page's title (Material's header) shows it: not a character of a title.
TITLE_HOLE = "\x00titre\x00"


class Fragments:
    """One build's rendered fragments, keyed by name and fragment_key."""

    def __init__(self) -> None:
        self.done: dict[tuple, Markup] = {}
        self.holed: dict[tuple, tuple[str, ...]] = {}

    def __call__(self, name: str, key: tuple, page: Any = None, *, caller: Callable[[], str]) -> Markup:
        """Return the fragment, rendered by caller for the first page with this key.

        page: the fragment prints this page's title (page.meta.title, else page.title, as Material's
        header does) and nothing else of it: rendered once with a hole in the title's place, it is
        given each page's title there.
        """
        if page is None:
            found = self.done.get((name, key))
            if found is None:
                found = self.done[(name, key)] = Markup(caller())
            return found
        parts = self.holed.get((name, key))
        if parts is None:
            had, title = "title" in page.meta, page.meta.get("title")
            page.meta["title"] = TITLE_HOLE
            try:
                parts = self.holed[(name, key)] = tuple(caller().split(TITLE_HOLE))
            finally:
                if had:
                    page.meta["title"] = title
                else:
                    del page.meta["title"]
        title = page.meta.get("title") or page.title
        return Markup(str(title).join(parts))
