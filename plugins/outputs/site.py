"""Everything a built site has beside its pages: feeds, calendars, the map's data, robots and sitemap, the search index.

Called by the one build of a site (plugins/build/site.py) after MkDocs wrote the pages; reads the
content model, never the pages' HTML (Pagefind aside).
"""

from __future__ import annotations

import functools
import gzip
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

from markupsafe import escape

from plugins.base import environment
from plugins.model import Audience, Content
from plugins.outputs.calendar import write_calendars
from plugins.outputs.feeds import section_feeds, write_feeds
from plugins.outputs.geo import write_geojson
from plugins.plan.pages import SHARED_BUNDLE, page_url

EMPTY_SITEMAP = '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"></urlset>\n'


@dataclass
class Target:
    """One site's folder as its outputs are written into it (as Pelican's Writer): for whom, where, its address and
    name; keep(name, inputs, write) calls write() unless the output's inputs are those of the previous build
    (Incremental.output: the preview keeps its files, a build links them); index(folder, bundles) makes the search
    bundles whose pages changed (None: not now, as in the preview's first build)."""

    audience: Audience
    folder: Path
    url: str
    name: str
    keep: Callable[[str, object, Callable[[], Iterable[Path]]], None]
    index: Callable[[Path, dict[str, list[str]]], None] | None = None

    def write(self, name: str, inputs: object, write: Callable[[], Iterable[Path]]) -> None:
        self.keep(name, inputs, write)


def write_site_outputs(target: Target, content: Content, today: date, search: dict[str, list[str]], pages: list[str]) -> None:
    """Write one site's outputs beside its pages.

    search: the site's search bundles (plan.search_bundles); the members' site does not index the
    shared one, which the build copies from the public site (search.share_bundle).
    pages: the site's pages (source URIs, in the plan's order), which the public sitemap lists.
    """
    audience, site, site_url, site_name = target.audience, target.folder, target.url, target.name
    # Each feed on its own: a sheet's new title writes the toolbox's feed again, not the four others. Its fingerprint is
    # that of its text (dataclasses' repr: each field's, quoted), one digest: the fingerprinter reduced the entries of a
    # site one by one, the slower way (measured: bench/RESULTS.md, « Why the code is as it is »).
    for feed in section_feeds(content, audience, today, site_url):
        target.write(f"feeds/{feed.section}", repr(feed), functools.partial(write_feeds, [feed], site, site_name, site_url))
    events = content.events_for(audience)
    target.write("calendars", events, lambda: write_calendars(events, site, f"Agenda — {site_name}", site_url))
    members = content.members()
    target.write("map", members, lambda: [write_geojson(members, site, site_url)])
    if target.index is not None:
        own = {name: pages for name, pages in search.items() if audience is Audience.PUBLIC or name != SHARED_BUNDLE}
        target.index(site, own)
    if audience is Audience.ADHERENTS:
        # No page listed; the empty file is kept because Material's script asks for it (feed links).
        (site / "sitemap.xml").write_text(EMPTY_SITEMAP, encoding="utf-8")
        (site / "robots.txt").write_text("User-agent: *\nDisallow: /\n", encoding="utf-8")
    else:
        built = build_date()
        target.write("sitemap", (site_url, pages, built), lambda: write_sitemap(site, site_url, pages, built))
        (site / "robots.txt").write_text(
            f"User-agent: *\nAllow: /\nSitemap: {site_url.rstrip('/')}/sitemap.xml\n", encoding="utf-8"
        )


def build_date() -> str:
    """Return the date the sitemap gives every page, as MkDocs dates them: SOURCE_DATE_EPOCH (reproducible builds), else today (UTC)."""
    epoch = environment.text("SOURCE_DATE_EPOCH") or None
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch is not None else datetime.now(UTC)
    return moment.strftime("%Y-%m-%d")


def sitemap(site_url: str, pages: Iterable[str], built: str) -> str:
    """Return the sitemap MkDocs' template (mkdocs/templates/sitemap.xml, which Material uses) makes of these pages.

    Written here rather than by MkDocs: MkDocs lists the pages it was given, and a build gives it only
    those it renders anew (plugins/render/plugin.py). The same bytes (tests/outputs/test_sitemap.py).
    """
    base = site_url if site_url.endswith("/") else site_url + "/"
    urls = "".join(
        f"\n    <url>\n         <loc>{escape(urljoin(base, page_url(uri)))}</loc>\n         <lastmod>{built}</lastmod>\n    </url>"
        for uri in pages
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}\n</urlset>'
    )


def write_sitemap(site: Path, site_url: str, pages: Iterable[str], built: str) -> list[Path]:
    """Write sitemap.xml and its gzip copy as MkDocs does (the copy's time: midnight UTC of the build's date)."""
    text = sitemap(site_url, pages, built).encode("utf-8")
    path = site / "sitemap.xml"
    path.write_bytes(text)
    packed = site / "sitemap.xml.gz"
    stamp = int(datetime.fromisoformat(built).replace(tzinfo=UTC).timestamp())
    with packed.open("wb") as f, gzip.GzipFile(fileobj=f, filename=str(packed), mode="wb", mtime=stamp) as gz:
        gz.write(text)
    return [path, packed]
