"""Every page of both sites through the Nu HTML Checker (vnu), in one java run: no error but Material's own."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO

VNU = REPO / ".venv/vnu/node_modules/vnu-jar/build/dist/vnu.jar"
JAVA = shutil.which("java")

# Errors that Material for MkDocs' own templates bring on every build: (start of the checker's message, a piece
# of the flagged markup that only Material's element has). Ours are fixed, not listed here.
MATERIAL_ERRORS = [
    # base.html: the drawer and search toggles are checkboxes with autocomplete="off", so that the browser does
    # not restore them open when the reader comes back to a page; HTML allows autocomplete on text-like inputs only.
    ("Attribute “autocomplete” is only allowed when the input type is", '<input class="md-toggle"'),
    # partials/toc.html: the table of contents' title is a label for the "__toc" checkbox, which nav-item.html
    # writes only for pages that are in the navigation; our generated pages (offers, sheets, stories...) are not.
    ("The value of the “for” attribute of the “label” element must be the ID", '<label class="md-nav__title" for="__toc">'),
]


def pages(site_root: Path) -> list[Path]:
    """Return the HTML pages of both sites, without the archived letters' email HTML (lettre.html).

    A letter's email HTML is written for mail clients (MJML's tables, Outlook's namespaces and styles), not for
    browsers: the checker's complaints there are the price of reaching Outlook.
    """
    return [
        path
        for site in ("public", "adherents")
        for path in sorted((site_root / site).rglob("*.html"))
        if path.name != "lettre.html"
    ]


def flagged(message: dict) -> str:
    """Return the markup the checker points at (the extract's highlighted part)."""
    extract = message.get("extract", "")
    start = message.get("hiliteStart", 0)
    return extract[start : start + message.get("hiliteLength", len(extract))]


def where(message: dict, site_root: Path) -> str:
    """Return the page (relative to the sites' folder) and line of a message."""
    page = message.get("url", "").removeprefix("file:").removeprefix(f"{site_root}/")
    return f"{page}:{message.get('lastLine', '?')}"


def from_material(message: dict) -> bool:
    return any(message["message"].startswith(text) and markup in flagged(message) for text, markup in MATERIAL_ERRORS)


@pytest.mark.skipif(
    JAVA is None, reason="Java absent (paquet Debian default-jre-headless) : lancez bash scripts/install.sh --test"
)
@pytest.mark.skipif(not VNU.exists(), reason="Nu HTML Checker (vnu.jar) absent : lancez bash scripts/install.sh --test")
def test_every_page_of_both_sites_is_valid_html(sample_site: Path) -> None:
    files = pages(sample_site)
    assert len(files) > 100
    run = subprocess.run(
        [JAVA, "-jar", str(VNU), "--format", "json", "--exit-zero-always", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    messages = json.loads(run.stderr)["messages"]  # vnu writes its report on stderr
    errors = [
        f"{where(m, sample_site)}: {m['message']} {flagged(m)!r}"
        for m in messages
        if m["type"] != "info" and not from_material(m)
    ]
    assert not errors, f"{len(errors)} erreur(s) du Nu HTML Checker :\n" + "\n".join(errors)
