"""JSON-LD and OpenGraph on public pages, from public fields only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from tests.support import SECRET_SHEET, TODAY, make_project

LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("ld"), SECRET_SHEET)
    build_all(root, root / "site", TODAY, strict=True)
    return root / "site"


def json_ld(page: Path) -> list[dict]:
    return [json.loads(m) for m in LD.findall(page.read_text("utf-8"))]


def test_an_open_offer_is_a_job_posting(site: Path) -> None:
    [data] = json_ld(site / "public/offres/medecin-nantes/index.html")
    assert data["@type"] == "JobPosting"
    assert data["validThrough"] == "2027-02-01T23:59:00+01:00"
    assert data["datePosted"] == "2026-10-01"
    assert data["hiringOrganization"]["name"] == "MSP de la Loire"
    assert data["jobLocation"]["address"]["addressLocality"] == "Nantes"
    assert data["jobLocation"]["geo"] == {"@type": "GeoCoordinates", "latitude": 47.21, "longitude": -1.55}
    assert "Rejoignez notre équipe." in data["description"] and "headerlink" not in data["description"]


def test_an_expired_offer_has_no_job_posting(site: Path) -> None:
    assert json_ld(site / "public/offres/ancienne-offre/index.html") == []


def test_events_news_and_stories(site: Path) -> None:
    [event] = json_ld(site / "public/agenda/journee-regionale/index.html")
    assert event["@type"] == "Event"
    assert event["startDate"] == "2026-12-04T09:30:00+01:00" and event["endDate"] == "2026-12-04T17:00:00+01:00"
    assert event["location"]["name"] == "Cité des congrès"
    [news] = json_ld(site / "public/actualites/nouvelle-convention/index.html")
    assert news["@type"] == "Article" and news["datePublished"] == "2026-09-15"
    [story] = json_ld(site / "public/inspir-cafe/recit-equipe/index.html")
    assert story["author"] == [{"@type": "Person", "name": "Anne Martin"}]


def test_opengraph_on_public_pages_only(site: Path) -> None:
    page = (site / "public/actualites/nouvelle-convention/index.html").read_text("utf-8")
    assert '<meta property="og:title" content="Nouvelle convention">' in page
    assert '<meta property="og:description" content="Une convention signée.">' in page
    assert '<meta property="og:url" content="https://msp-pdl.example.org/actualites/nouvelle-convention/">' in page
    teaser = (site / "public/boite-a-outils/fiches/coordination/fiche-canari/index.html").read_text("utf-8")
    assert '<meta property="og:description" content="Résumé public de la fiche verrouillée.">' in teaser
    members = (site / "adherents/actualites/nouvelle-convention/index.html").read_text("utf-8")
    assert "og:title" not in members and "ld+json" not in members
