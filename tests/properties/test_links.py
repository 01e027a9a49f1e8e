"""Every internal link and asset of both built sites resolves: a page, a file, or an address of the readers service."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from plugins.settings.paths import CONFIRM_PATH, EVENTS_PATH, JOIN_PATH, SUBSCRIBE_PATH

SITES = {"public": "https://msp-pdl.example.org/", "adherents": "https://adherents.msp-pdl.example.org/"}
SERVICE = {SUBSCRIBE_PATH, CONFIRM_PATH, JOIN_PATH, "/lettres/desinscription/"}  # proxied to `build.py service` by nginx
ATTRIBUTES = {"a": "href", "link": "href", "script": "src", "img": "src", "source": "src", "iframe": "src", "form": "action"}


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        name = ATTRIBUTES.get(tag)
        value = dict(attrs).get(name) if name else None
        if value:
            self.urls.append(value)


def target(site: Path, path: str) -> Path | None:
    """Return the file nginx would serve for a path of this site, or None."""
    file = site / unquote(path).lstrip("/")
    for candidate in (file, file / "index.html"):
        if candidate.is_file():
            return candidate
    return None


def broken_links(root: Path) -> list[str]:
    broken = []
    for name, base in SITES.items():
        site = root / name
        for page in sorted(site.rglob("*.html")):
            page_url = base + page.relative_to(site).as_posix().removesuffix("index.html")
            parser = Links()
            parser.feed(page.read_text("utf-8"))
            for url in parser.urls:
                absolute = urljoin(page_url, url)
                parts = urlsplit(absolute)
                if parts.scheme not in ("http", "https"):
                    continue
                owner = next((n for n, b in SITES.items() if absolute.startswith(b)), None)
                if owner is None or parts.path in SERVICE or parts.path.startswith(EVENTS_PATH):
                    continue
                if target(root / owner, parts.path) is None:
                    broken.append(f"{name}/{page.relative_to(site)} → {url}")
    return broken


def test_every_internal_link_and_asset_resolves(sample_site: Path) -> None:
    assert broken_links(sample_site) == []


def test_the_check_finds_a_broken_link(sample_site: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "site"
    shutil.copytree(sample_site / "public", copy / "public")
    shutil.copytree(sample_site / "adherents", copy / "adherents")
    shutil.rmtree(copy / "public" / "agenda")
    assert any("→" in line and "agenda" in line for line in broken_links(copy))


def test_join_is_offered_to_the_public_only_and_each_site_states_its_licence(sample_site: Path) -> None:
    public = (sample_site / "public" / "index.html").read_text("utf-8")
    members = (sample_site / "adherents" / "index.html").read_text("utf-8")
    assert 'href="adherer/"' in public
    assert not (sample_site / "adherents" / "adherer").exists()
    assert all("adherer/" not in p.read_text("utf-8") for p in (sample_site / "adherents").rglob("index.html"))
    assert "CC BY-SA 4.0" in public and "CC BY-SA" not in members
    assert "à ne pas diffuser hors de ces équipes" in members


def test_an_offer_says_until_when_it_is_listed(sample_site: Path) -> None:
    page = (sample_site / "public" / "offres" / "infirmier-saint-nazaire" / "index.html").read_text("utf-8")
    assert "Offre en ligne jusqu&#39;au 15 février 2027" in page or "Offre en ligne jusqu'au 15 février 2027" in page
