"""Defence in depth: the Content-Security-Policy that `build.py server` writes stops an injected script on its own,
while the site keeps working (search, map, navigation) in chromium behind the real nginx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from tests.support import NGINX, TODAY, make_project, served_sites, static_server

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")
# Raw HTML in a Markdown body is published as written: exactly what the policy must stop.
HOSTILE = {
    "content/actualites/piegee.md": """\
        ---
        title: Actualité piégée
        date: 2026-10-01
        summary: Une actualité avec du HTML brut.
        ---

        Texte avant.

        <script>window.__pwned = 1;</script>
        <img src="x" onerror="window.__pwned = 2">

        Texte après.
        """,
}
WATCH = "window.__violations = []; document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("csp")
    (root / "projet").mkdir()
    project = make_project(root / "projet", HOSTILE)
    build_all(project, project / "site", TODAY)
    with served_sites(project, root) as (public, _):
        yield public + "/", project / "site" / "public"


def test_the_injected_script_runs_without_the_policy_and_not_with_it(sites, browser) -> None:
    base, folder = sites
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    with static_server(folder) as bare:  # the same files without the policy: the script runs (the test can fail)
        page.goto(bare + "actualites/piegee/")
        page.wait_for_load_state("load")
        assert page.evaluate("window.__pwned") in (1, 2)
    page.goto(base + "actualites/piegee/")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    violations = page.evaluate("window.__violations")
    assert any(v.startswith("script-src") for v in violations), violations
    assert "Texte après." in page.locator("article").inner_text()
    context.close()


def test_search_map_and_navigation_work_under_the_policy(sites, browser) -> None:
    base, _ = sites
    context = browser.new_context(viewport={"width": 375, "height": 800})
    context.add_init_script(WATCH)
    page = context.new_page()
    page.goto(base + "recherche/?q=convention")
    page.wait_for_selector(".pagefind-ui__result-link", timeout=15000)
    assert page.evaluate("window.__violations") == []
    page.goto(base + "msp/")
    page.wait_for_selector(".leaflet-marker-icon")
    assert page.evaluate("window.__violations") == []
    page.goto(base)
    page.locator("label.md-header__button[for='__drawer']").click()
    page.wait_for_function("document.getElementById('__drawer').checked")
    page.get_by_role("link", name="Agenda").first.click()
    page.wait_for_url("**/agenda/")
    assert page.evaluate("window.__violations") == []
    context.close()
