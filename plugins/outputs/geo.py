"""The member MSP as GeoJSON, for the map and for anyone who wants the data."""

from __future__ import annotations

import json
from pathlib import Path

from plugins.model import Msp
from plugins.model.vocabulary import department_label
from plugins.plan.pages import item_uri, page_url

GEOJSON = "msp/msp.geojson"


def feature(msp: Msp, site_url: str) -> dict:
    """Return one MSP as a GeoJSON point (longitude first, as GeoJSON wants)."""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [msp.lon, msp.lat]},
        "properties": {
            "id": msp.slug,
            "name": msp.name,
            "department": msp.department,
            "department_label": department_label(msp.department),
            "communes": msp.communes,
            "url": site_url.rstrip("/") + "/" + page_url(item_uri(msp)),
        },
    }


def write_geojson(members: list[Msp], site_dir: Path, site_url: str) -> Path:
    """Write the member MSP that have coordinates to msp/msp.geojson."""
    located = [m for m in members if m.lat is not None and m.lon is not None]
    data = {"type": "FeatureCollection", "features": [feature(m, site_url) for m in located]}
    target = site_dir / GEOJSON
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return target
