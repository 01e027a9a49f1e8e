"""Build tiny projects in tmp_path with the real MkDocs build and read what it wrote."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from plugins.model import ContentError
from tests.support import REPO, SECRET_SHEET, TODAY, make_project, write_files

CANARIES = [
    "motcle-canari",
    "Titre-canari",
    "Corps-canari",
    "piece-jointe-canari",
    "contenu-canari-piece",
    "Actualité-canari",
    "Résumé-canari",
    "Réunion-canari",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("projet"), SECRET_SHEET)
    build_all(root, root / "site", TODAY, strict=True)
    return root / "site"


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def all_text(site: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in site.rglob("*") if p.is_file())


def test_both_sites_are_built_with_a_page_per_item(built: Path) -> None:
    for site in ("public", "adherents"):
        for page in (
            "index.html",
            "offres/index.html",
            "offres/medecin-nantes/index.html",
            "boite-a-outils/index.html",
            "boite-a-outils/fiches/fiche-rcp/index.html",
            "actualites/nouvelle-convention/index.html",
            "agenda/journee-regionale/index.html",
            "inspir-cafe/recit-equipe/index.html",
            "msp/msp-loire/index.html",
            "lettres/index.html",
        ):
            assert (built / site / page).is_file(), f"{site}/{page}"


def test_the_public_site_holds_no_members_only_text(built: Path) -> None:
    public = all_text(built / "public")
    assert [c for c in CANARIES if c in public] == []
    assert not (built / "public/actualites/reserve").exists()
    assert not (built / "public/boite-a-outils/fiches/files/piece-jointe-canari.pdf").exists()


def test_the_members_site_holds_every_members_only_item(built: Path) -> None:
    members = built / "adherents"
    sheet = read(members / "boite-a-outils/fiches/coordination/fiche-canari/index.html")
    assert "Corps-canari" in sheet and "Titre-canari" in sheet and "motcle-canari" in sheet
    assert (members / "boite-a-outils/fiches/files/piece-jointe-canari.pdf").read_bytes() == b"%PDF-1.4 contenu-canari-piece\n"
    assert "piece-jointe-canari.pdf" in sheet
    assert "Actualité-canari" in read(members / "actualites/index.html")
    assert "Réunion-canari" in read(members / "agenda/index.html")
    toolbox = read(members / "boite-a-outils/index.html")
    assert "fed-card--locked" not in toolbox and "Réservé aux adhérents" not in toolbox
    assert "fed-card--locked" in read(built / "public/boite-a-outils/index.html")


def test_a_locked_sheet_is_a_teaser_on_the_public_site(built: Path) -> None:
    teaser = read(built / "public/boite-a-outils/fiches/coordination/fiche-canari/index.html")
    assert "Fiche de coordination verrouillée" in teaser
    assert "Résumé public de la fiche verrouillée." in teaser
    assert "Outil réservé aux adhérents" in teaser
    assert "https://adherents.msp-pdl.example.org/boite-a-outils/fiches/coordination/fiche-canari/" in teaser


def test_public_sheets_and_their_files_are_public(built: Path) -> None:
    page = read(built / "public/boite-a-outils/fiches/guide-prevention/index.html")
    assert "Texte public du guide." in page


def test_listings_are_newest_first(built: Path) -> None:
    listing = read(built / "adherents/actualites/index.html")
    order = [listing.index(t) for t in ("Actualité-canari réservée", "Nouvelle convention", "Une actualité plus ancienne")]
    assert order == sorted(order)


def test_an_expired_offer_leaves_the_listing_but_keeps_its_page(built: Path) -> None:
    assert "Offre-canari" not in read(built / "adherents/offres/index.html")
    assert "Médecin généraliste à Nantes" in read(built / "public/offres/index.html")
    page = read(built / "adherents/offres/ancienne-offre/index.html")
    assert "Offre expirée" in page and "1er mars 2026" in page
    assert "Candidater" not in page


def test_navigation_lists_sections_not_pages(built: Path) -> None:
    home = read(built / "adherents/index.html")
    nav = re.findall(r'class="md-nav__link[^"]*"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*class="md-nav__link', home)
    links = {a or b for a, b in nav}
    assert 5 <= len(links) <= 20
    assert not any("medecin-nantes" in link or "fiche-rcp" in link for link in links)


def test_members_site_is_not_indexed(built: Path) -> None:
    members = built / "adherents"
    for page in members.rglob("*.html"):
        assert '<meta name="robots" content="noindex, nofollow">' in read(page), page
    assert "<url>" not in read(members / "sitemap.xml")
    assert not (members / "sitemap.xml.gz").exists()
    assert "Disallow: /" in read(members / "robots.txt")
    public_sitemap = read(built / "public/sitemap.xml")
    assert "offres/medecin-nantes/" in public_sitemap and "reserve" not in public_sitemap


def test_pages_are_french(built: Path) -> None:
    assert '<html lang="fr"' in read(built / "public/index.html")


def test_a_failing_build_keeps_the_previous_site(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    build_all(root, root / "site", TODAY, strict=True)
    before = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    write_files(root, {"content/offres/medecin-nantes.md": "---\ntitle: [cassé\n---\n"})
    with pytest.raises(ContentError):
        build_all(root, root / "site", TODAY, strict=True)
    after = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []


def test_the_key_of_a_shared_rendering_is_the_same_in_every_process() -> None:
    import os
    import subprocess
    import sys

    code = "from plugins.render.plugin import rendered_key; print(rendered_key('a.md', 'Texte é'))"
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "random")
    }
    assert len(keys) == 1 and "a.md" in keys.pop()
