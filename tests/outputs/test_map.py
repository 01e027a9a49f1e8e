"""The map of member MSP: GeoJSON, markers and department filter in chromium, tiles only on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugins.model import load_content
from tests.support import PNG, REPO, static_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def members():
    return load_content(REPO).members()


def test_geojson_lists_located_member_msp(sample_site: Path, members) -> None:
    data = json.loads((sample_site / "public/msp/msp.geojson").read_text("utf-8"))
    assert data["type"] == "FeatureCollection"
    located = {m.slug: m for m in members if m.lat is not None}
    assert {f["properties"]["id"] for f in data["features"]} == set(located)
    for f in data["features"]:
        m = located[f["properties"]["id"]]
        assert f["geometry"] == {"type": "Point", "coordinates": [m.lon, m.lat]}
        assert f["properties"]["url"].startswith("https://msp-pdl.example.org/msp/")


def test_markers_filter_and_no_tile_before_consent(sample_site: Path, browser, members) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    tiles: list[str] = []

    def tile(route) -> None:
        tiles.append(route.request.url)
        route.fulfill(body=PNG, content_type="image/png")

    page.route("https://tile.openstreetmap.org/**", tile)
    with static_server(sample_site / "public") as base:
        page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
        page.goto(base + "msp/")
        page.wait_for_selector(".leaflet-marker-icon")
        assert page.locator(".leaflet-marker-icon").count() == len([m for m in members if m.lat is not None])
        page.get_by_label("Département").select_option("85")
        in_85 = [m for m in members if m.department == "85"]
        page.wait_for_function(f"document.querySelectorAll('.leaflet-marker-icon').length === {len(in_85)}")
        assert page.locator("#liste-msp section:not([hidden])").count() == 1
        assert page.locator("#liste-msp section:not([hidden]) h2").inner_text() == "Vendée (85)"
        assert outside == [] and tiles == []
        page.get_by_role("button", name="Afficher le fond de carte").click()
        page.wait_for_selector(".leaflet-tile-loaded")
        assert tiles and all(t.startswith("https://tile.openstreetmap.org/") for t in tiles)
    page.close()


def test_the_list_works_without_javascript(sample_site: Path, browser, members) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    with static_server(sample_site / "public") as base:
        page.goto(base + "msp/")
        assert page.locator("#carte").is_hidden()
        assert page.locator(".fed-card--msp, #liste-msp article").count() == len(members)
        assert page.get_by_role("heading", name="Loire-Atlantique (44)").is_visible()
    context.close()
