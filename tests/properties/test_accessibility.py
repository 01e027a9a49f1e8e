"""Every page type of both sites in chromium: axe-core, keyboard, no third-party request, no cookie, no overflow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import MEMBERS, PUBLIC, REPO, static_server

pytestmark = pytest.mark.browser

AXE = REPO / ".venv/axe/node_modules/axe-core/axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
CASES = [("public", name, path) for name, path in PUBLIC.items()] + [("adherents", name, path) for name, path in MEMBERS.items()]
IDS = [f"{site}-{name}" for site, name, _ in CASES]
YOUTUBE = bytes.fromhex("3c68746d6c3e3c2f68746d6c3e")  # "<html></html>"


@pytest.fixture(scope="module")
def servers(sample_site: Path):
    with static_server(sample_site / "public") as public, static_server(sample_site / "adherents") as members:
        yield {"public": public, "adherents": members}


def open_page(context, base: str, path: str):
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(base + path)
    page.wait_for_load_state("networkidle")
    if path.startswith("recherche/"):
        page.wait_for_selector(".pagefind-ui__result")
    return page, requests


@pytest.mark.skipif(not AXE.exists(), reason="axe-core absent : lancez bash scripts/install.sh --test")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("site", "name", "path"), CASES, ids=IDS)
def test_no_serious_or_critical_axe_violation(browser, servers, site: str, name: str, path: str, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme, locale="fr-FR")
    page, _ = open_page(context, servers[site], path)
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: tags})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))",
        WCAG,
    )
    context.close()
    assert violations == []


@pytest.mark.parametrize(("site", "name", "path"), CASES, ids=IDS)
def test_no_request_outside_the_site_no_cookie_no_overflow(browser, servers, site: str, name: str, path: str) -> None:
    base = servers[site]
    for width in (375, 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page, requests = open_page(context, base, path)
        assert [u for u in requests if not u.startswith(base)] == []
        assert context.cookies() == []
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), width
        assert page.locator("html").get_attribute("lang") == "fr"
        context.close()


def test_the_menu_works_with_the_keyboard_and_shows_focus(browser, servers) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page, _ = open_page(context, servers["public"], "")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Aller au contenu"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Boîte à outils":
            break
    focused = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert focused[0] != "none" and focused[1] != "0px"
    page.keyboard.press("Enter")
    page.wait_for_url("**/boite-a-outils/")
    assert page.locator("h1").inner_text() == "Boîte à outils"
    context.close()


def test_on_a_phone_the_drawer_opens_and_closes_with_the_keyboard(browser, servers) -> None:
    """Material's drawer is a <label>: without navigation.js the keyboard cannot open it and Tab walks
    through its off-screen links with an invisible focus."""
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page, _ = open_page(context, servers["public"], "")
    focused = (
        "(() => { const e = document.activeElement, r = e.getBoundingClientRect(), s = getComputedStyle(e);"
        " return [e.getAttribute('aria-label') || e.textContent.trim(), r.left >= 0 && r.right <= innerWidth, s.outlineStyle]; })()"
    )
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    label, visible, outline = page.evaluate(focused)
    assert (label, visible) == ("Menu", True) and outline != "none"
    assert page.get_attribute("label[for='__drawer'][role='button']", "aria-expanded") == "false"
    page.keyboard.press("Tab")  # the closed drawer's links are out of the tab order
    assert page.evaluate(focused)[1] is True
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    assert page.get_attribute("label[for='__drawer'][role='button']", "aria-expanded") == "true"
    page.wait_for_timeout(400)  # the drawer slides in
    for _ in range(15):
        page.keyboard.press("Tab")
        label, visible, _ = page.evaluate(focused)
        assert visible, label
        if label == "Boîte à outils":
            break
    assert page.evaluate(focused)[:2] == ["Boîte à outils", True]
    page.keyboard.press("Escape")
    assert page.evaluate(focused)[0] == "Menu" and not page.is_checked("#__drawer")
    page.keyboard.press("Enter")
    page.wait_for_timeout(400)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(focused)[:2] == ["Postes à pourvoir", True]
    page.keyboard.press("Enter")
    page.wait_for_url("**/offres/")
    context.close()


def test_a_video_player_loads_only_when_asked(browser, servers) -> None:
    context = browser.new_context()
    asked: list[str] = []
    context.route(
        "https://www.youtube-nocookie.com/**",
        lambda route: (asked.append(route.request.url), route.fulfill(body=YOUTUBE, content_type="text/html")),
    )
    page, requests = open_page(context, servers["public"], PUBLIC["récit vidéo"])
    assert asked == [] and page.locator("iframe").count() == 0
    page.get_by_role("button", name="Lire la vidéo ici").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("iframe[title^='Vidéo']")
    assert asked and asked[0].startswith("https://www.youtube-nocookie.com/embed/")
    context.close()
