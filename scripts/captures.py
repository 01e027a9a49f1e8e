"""Take the README's screenshots of every page type, at 375 px and 1280 px, from the built sample sites.

    .venv/bin/python build.py && .venv/bin/python scripts/captures.py
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, static_server  # noqa: E402
from tests.pages import MEMBERS, PUBLIC  # noqa: E402

DEST = ROOT / "docs" / "captures"


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def main() -> None:
    DEST.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for site, pages in (("public", PUBLIC), ("adherents", MEMBERS)):
            with static_server(ROOT / "site" / site) as base:
                for width in (375, 1280):
                    page = browser.new_page(viewport={"width": width, "height": 800 if width == 375 else 900})
                    for name, path in pages.items():
                        page.goto(base + path)
                        page.wait_for_load_state("networkidle")
                        if path.startswith("recherche/"):
                            page.wait_for_selector(".pagefind-ui__result")
                        page.screenshot(path=DEST / f"{site}-{slug(name)}-{width}.png")
                    page.close()
        browser.close()
    print(f"Captures écrites dans {DEST.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
