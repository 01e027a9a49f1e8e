"""Take the README's screenshots of every page type, at 375 px and 1280 px, from the built sample sites.

.venv/bin/python build.py && .venv/bin/python scripts/captures.py [recherche]

With a word, only the page types whose name holds it. The search page is also taken in the dark scheme
(`-sombre-`), whole, with its « Rubrique » filter open.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, MEMBERS, PUBLIC, static_server  # noqa: E402  # noqa: E402

DEST = ROOT / "docs" / "captures"
SEARCH = "recherche"
SCHEMES = {"light": "", "dark": "-sombre"}


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def show_search(page: Page) -> None:
    """Wait for the results and open the « Rubrique » filter (closed on phones), its counts updated."""
    page.wait_for_selector(".pagefind-ui__result")
    page.wait_for_selector(".pagefind-ui__filter-block")
    rubrique = page.locator("details.pagefind-ui__filter-block").filter(has=page.locator("summary", has_text="Rubrique"))
    if not rubrique.evaluate("details => details.open"):
        rubrique.locator("summary").click()
    page.wait_for_timeout(500)


def capture(browser, base: str, site: str, pages: dict[str, str], width: int, scheme: str) -> None:
    page = browser.new_page(viewport={"width": width, "height": 800 if width == 375 else 900}, color_scheme=scheme)
    for name, path in pages.items():
        if scheme == "dark" and not path.startswith(SEARCH):
            continue
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        if path.startswith(SEARCH):
            show_search(page)
        # The search page whole: on a phone its results come below the filters.
        page.screenshot(path=DEST / f"{site}-{slug(name)}{SCHEMES[scheme]}-{width}.png", full_page=path.startswith(SEARCH))
    page.close()


def main(only: str = "") -> None:
    DEST.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for site, pages in (("public", PUBLIC), ("adherents", MEMBERS)):
            chosen = {name: path for name, path in pages.items() if only in slug(name)}
            with static_server(ROOT / "site" / site) as base:
                for width in (375, 1280):
                    for scheme in SCHEMES:
                        capture(browser, base, site, chosen, width, scheme)
        browser.close()
    print(f"Captures écrites dans {DEST.relative_to(ROOT)}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
