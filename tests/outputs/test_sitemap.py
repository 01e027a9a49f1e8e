"""The public sitemap, written beside the pages: the same bytes as MkDocs' own template makes of the same pages."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from mkdocs.structure.files import File
from mkdocs.structure.pages import Page
from mkdocs.utils import get_build_date

from plugins.build.site import federation_settings, site_config
from plugins.model import Audience, load_content
from plugins.outputs.site import build_date, sitemap, write_sitemap
from plugins.plan.pages import SitePlan
from tests.support import REPO, TODAY


def test_the_sitemap_is_the_one_mkdocs_template_makes(tmp_path: Path) -> None:
    config = site_config(REPO, Audience.PUBLIC, tmp_path / "site", "https://exemple.org/fede")  # no final slash
    settings = federation_settings(REPO)
    plan = SitePlan(load_content(REPO), Audience.PUBLIC, TODAY, settings.privacy, settings.join_page, settings.membership)
    uris = [spec.src_uri for spec in plan.pages()]
    assert "index.md" in uris and len(uris) > 100
    pages = []
    for uri in uris:
        file = File(uri, src_dir=None, dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls)
        Page(None, file, config)  # MkDocs' page: its canonical URL and date
        pages.append(file)
    template = config.theme.get_env().get_template("sitemap.xml")
    built = get_build_date()
    assert sitemap(config.site_url, uris, built) == template.render(pages=pages)

    written = write_sitemap(tmp_path, config.site_url, uris, built)
    assert written == [tmp_path / "sitemap.xml", tmp_path / "sitemap.xml.gz"]
    text = (tmp_path / "sitemap.xml").read_bytes()
    assert b"<loc>https://exemple.org/fede/</loc>" in text and b"<loc>https://exemple.org/fede/offres/</loc>" in text
    packed = (tmp_path / "sitemap.xml.gz").read_bytes()
    assert gzip.decompress(packed) == text
    midnight = datetime.fromisoformat(built).replace(tzinfo=UTC).timestamp()
    assert int.from_bytes(packed[4:8], "little") == midnight  # the gzip header's time, as MkDocs writes it


def test_the_sitemap_dates_pages_as_mkdocs_does(monkeypatch) -> None:
    assert build_date() == get_build_date()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")  # reproducible builds
    assert build_date() == get_build_date() == "2026-01-01"
