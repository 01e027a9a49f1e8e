"""The departments under the map of member MSP: an open-data outline shipped with both sites, drawn before any
click without a request leaving the site, in both colour schemes; the tiles still come only on request."""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest

from plugins.model import load_content
from tests.support import PNG, REPO, static_server

OUTLINE = REPO / "plugins" / "render" / "assets" / "departements" / "pays-de-la-loire.geojson"
REGION = {"44": "Loire-Atlantique", "49": "Maine-et-Loire", "53": "Mayenne", "72": "Sarthe", "85": "Vendée"}
TILES = "https://tile.openstreetmap.org/**"
STYLE_OF = """selector => {
  const style = getComputedStyle(document.querySelector(selector));
  return {fill: style.fill, fillOpacity: style.fillOpacity, background: style.backgroundColor};
}"""

Point = tuple[float, float]


@pytest.fixture(scope="module")
def outline() -> dict:
    return json.loads(OUTLINE.read_text("utf-8"))


def rings(feature: dict) -> list[list[list[float]]]:
    geometry = feature["geometry"]
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [ring for polygon in polygons for ring in polygon]


def covers(feature: dict, point: Point) -> bool:
    """Tell whether the point is inside the feature's area (even-odd rule over all its rings)."""
    x, y = point
    inside = False
    for ring in rings(feature):
        for (x1, y1), (x2, y2) in pairwise(ring):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
    return inside


def script():
    spec = importlib.util.spec_from_file_location("departements", REPO / "scripts" / "departements.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_outline_is_small_licensed_and_published_on_both_sites(sample_site: Path, outline: dict) -> None:
    assert OUTLINE.stat().st_size < 150_000
    assert "Natural Earth" in (OUTLINE.parent / "LICENSE").read_text("utf-8")
    assert "scripts/departements.py" in (OUTLINE.parent / "README.txt").read_text("utf-8")
    for site in ("public", "adherents"):
        published = sample_site / site / "assets" / "departements"
        assert (published / OUTLINE.name).read_bytes() == OUTLINE.read_bytes()
        assert (published / "LICENSE").is_file()
    assert len(outline["features"]) == 96  # mainland France, Corsica's two included
    region = {f["properties"]["code"]: f["properties"] for f in outline["features"] if f["properties"]["niveau"] == "region"}
    assert {code: p["nom"] for code, p in region.items()} == REGION
    for code, properties in region.items():
        lon, lat = properties["etiquette"]
        assert covers(next(f for f in outline["features"] if f["properties"]["code"] == code), (lon, lat))
    assert [f["properties"]["niveau"] for f in outline["features"]][-5:] == ["region"] * 5  # drawn last, on top


def test_every_member_msp_lies_in_its_own_department(outline: dict) -> None:
    by_code = {f["properties"]["code"]: f for f in outline["features"]}
    located = [(m, (m.lon, m.lat)) for m in load_content(REPO).members() if m.lat is not None and m.lon is not None]
    assert located
    for msp, point in located:
        assert [code for code, f in by_code.items() if covers(f, point)] == [msp.department], msp.slug


def test_neighbouring_departments_draw_one_same_border(outline: dict) -> None:
    edges: dict[frozenset, list[str]] = defaultdict(list)
    owners: dict[tuple, set[str]] = defaultdict(set)
    for f in outline["features"]:
        code = f["properties"]["code"]
        for ring in rings(f):
            for a, b in pairwise(ring):
                edges[frozenset((tuple(a), tuple(b)))].append(code)
                owners[tuple(a)].add(code)
    # An edge drawn by one department between two points it shares with another is half of a border that split.
    split = [
        edge for edge, codes in edges.items() if len(codes) == 1 and set.intersection(*(owners[p] for p in edge)) - set(codes)
    ]
    assert split == []


def test_simplification_keeps_a_shared_border_whole_at_the_finer_tolerance() -> None:
    departements = script()
    # A border with bumps of 0.008°: more than the region's tolerance, less than the rest of France's.
    border = [(1.0 + (0.008 if i % 2 else 0.0), 47.0 + i / 20) for i in range(21)]
    far_side = [(2.0, 47.0), (1.99, 47.5), (2.0, 48.0)]  # a 0.01° dent the coarse tolerance removes

    def department(code: str, ring: list[Point]) -> dict:
        return {
            "properties": {
                "gn_a1_code": f"FR.{code}",
                "type_en": "Metropolitan department",
                "name": code,
                "longitude": 0,
                "latitude": 0,
            },
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in [*ring, ring[0]]]]},
        }

    source = {
        "features": [
            department("44", [(0.0, 47.0), *border, (0.0, 48.0)]),
            department("01", [*border[::-1], *far_side]),
            department("988", [(5.0, 5.0), (6.0, 5.0), (6.0, 6.0)]),
        ]
    }
    source["features"][2]["properties"]["type_en"] = "Overseas department"
    result = {f["properties"]["code"]: f for f in departements.outline(source)["features"]}
    assert set(result) == {"44", "01"}
    shared = {tuple(p) for p in rings(result["44"])[0]} & {tuple(p) for p in rings(result["01"])[0]}
    assert shared == set(border)
    assert (1.99, 47.5) not in {tuple(p) for p in rings(result["01"])[0]}


@pytest.mark.browser
@pytest.mark.parametrize("site", ["public", "adherents"])
def test_departments_are_drawn_before_any_click_and_nothing_leaves_the_site(sample_site: Path, browser, site: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside: list[str] = []
    tiles: list[str] = []

    def tile(route) -> None:
        tiles.append(route.request.url)
        route.fulfill(body=PNG, content_type="image/png")

    page.route(TILES, tile)
    with static_server(sample_site / site) as base:
        page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
        page.goto(base + "msp/")
        page.wait_for_selector("#carte path.fed-map-dep--region")
        page.wait_for_load_state("networkidle")
        assert page.locator("#carte path.fed-map-dep--region").count() == 5
        assert page.locator("#carte path.fed-map-dep").count() == 96
        labels = page.locator("#carte .fed-map-label").evaluate_all("els => els.map(e => e.textContent)")
        assert sorted(labels) == sorted(REGION.values())
        assert page.evaluate(STYLE_OF, "#carte path.fed-map-dep--region")["fillOpacity"] == "1"
        box = page.locator("#carte").bounding_box()
        for path in page.locator("#carte path.fed-map-dep--region").all():
            shape = path.bounding_box()
            assert box and shape and box["x"] <= shape["x"] and shape["x"] + shape["width"] <= box["x"] + box["width"]
        assert "Natural Earth" in page.locator("#carte .leaflet-control-attribution").inner_text()
        page.get_by_label("Département").select_option("85")
        assert page.locator("#carte path.fed-map-dep--choisi").count() == 1
        assert outside == [] and tiles == []

        page.get_by_role("button", name="Afficher le fond de carte").click()
        page.wait_for_selector(".leaflet-tile-loaded")
        assert tiles and set(outside) == set(tiles)
        assert page.evaluate(STYLE_OF, "#carte path.fed-map-dep--region")["fillOpacity"] == "0"  # the tiles show through
    page.close()


def luminance(rgb: str) -> float:
    red, green, blue = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


@pytest.mark.browser
def test_the_outline_follows_the_colour_scheme(sample_site: Path, browser) -> None:
    seen = {}
    with static_server(sample_site / "public") as base:
        for scheme in ("light", "dark"):
            page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme=scheme)
            page.goto(base + "msp/")
            page.wait_for_selector("#carte path.fed-map-dep--region")
            sea = page.evaluate(STYLE_OF, "#carte")["background"]
            land = page.evaluate(STYLE_OF, "#carte path.fed-map-dep--france")["fill"]
            region = page.evaluate(STYLE_OF, "#carte path.fed-map-dep--region")["fill"]
            assert len({sea, land, region}) == 3, scheme  # sea, land and region apart
            seen[scheme] = luminance(land)
            page.close()
    assert seen["dark"] < 80 < 200 < seen["light"]


@pytest.mark.browser
def test_the_pins_still_show_when_the_outline_is_missing(sample_site: Path, browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.route("**/assets/departements/*.geojson", lambda route: route.fulfill(status=404, body="absent"))
    with static_server(sample_site / "public") as base:
        page.goto(base + "msp/")
        page.wait_for_selector(".leaflet-marker-icon")
        assert page.locator("#carte path.fed-map-dep").count() == 0
        assert page.locator(".leaflet-marker-icon").count() == len(
            json.loads((sample_site / "public/msp/msp.geojson").read_text("utf-8"))["features"]
        )
    page.close()
