"""Smoke test in a real browser: Debian's chromium opens the sample sites as a reader would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import static_server

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    yield page
    context.close()


def no_horizontal_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_public_home_listing_and_item(sample_site: Path, page) -> None:
    with static_server(sample_site / "public") as base:
        requests: list[str] = []
        failed: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(base)
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("h1").first.is_visible()
        assert page.get_by_role("link", name="Postes à pourvoir").first.is_visible()

        page.get_by_role("link", name="Postes à pourvoir").first.click()
        page.wait_for_url("**/offres/")
        assert page.locator("h1").inner_text() == "Postes à pourvoir"
        cards = page.locator("article.fed-card--offer")
        assert cards.count() >= 1
        first = cards.first.locator("h3 a")
        title = first.inner_text()

        first.click()
        page.wait_for_url("**/offres/*/")
        assert page.locator("h1").inner_text() == title
        assert page.get_by_role("heading", name="Candidater").is_visible()
        assert page.errors == []  # type: ignore[attr-defined]
        assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
        assert failed == []


def test_public_teaser_is_locked(sample_site: Path, page) -> None:
    with static_server(sample_site / "public") as base:
        page.goto(base + "boite-a-outils/")
        locked = page.locator("article.fed-card--locked h3 a").first
        locked.click()
        page.wait_for_url("**/boite-a-outils/fiches/**")
        assert page.get_by_text("Outil réservé aux adhérents").is_visible()
        assert page.get_by_role("link", name="Adhérer à la fédération").is_visible()


def test_members_toolbox_listing_and_sheet(sample_site: Path, page) -> None:
    with static_server(sample_site / "adherents") as base:
        page.goto(base + "boite-a-outils/")
        assert page.get_by_text("Espace adhérents").first.is_visible()
        assert page.locator("h1").inner_text() == "Boîte à outils"
        sheets = page.locator("article.fed-card--sheet")
        assert sheets.count() >= 30
        assert page.locator("article.fed-card--locked").count() == 0

        page.get_by_role("link", name="Guide").first.click()
        page.wait_for_url("**/boite-a-outils/type/guide/")
        guides = page.locator("article.fed-card--sheet h3 a")
        assert guides.count() >= 1
        guides.first.click()
        page.wait_for_url("**/boite-a-outils/fiches/**")
        assert page.locator("article h2, .md-content h2").count() >= 1
        assert page.errors == []  # type: ignore[attr-defined]


def test_home_fits_a_phone(sample_site: Path, browser) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    with static_server(sample_site / "public") as base:
        for path in ("", "offres/", "boite-a-outils/", "agenda/"):
            page.goto(base + path)
            assert no_horizontal_overflow(page), path
    context.close()
