"""Full-text search with Pagefind: each site's search bundles, made from its written pages.

A site's search merges up to two bundles in the browser (plugins/website/plan.py, search_bundles):
the pages both sites show alike, indexed once on the public site and copied to the members' site,
and the site's own pages. A bundle holds nothing the site it is served from does not show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from plugins.website.plan import SHARED_BUNDLE, page_dest

# The "#" that Markdown's toc extension appends to every heading of editors' text: no template can mark it
# data-pagefind-ignore, and indexed it would end every sub-result's title and sit in the excerpts.
EXCLUDED = "a.headerlink"


class SearchIndexError(RuntimeError):
    """Pagefind failed; the message is French."""


def index_site(site_dir: Path, bundles: dict[str, list[str]]) -> None:
    """Write each bundle of site_dir (its name -> its pages' source URIs) into site_dir/<name>/."""
    for name, pages in bundles.items():
        index_bundle(site_dir, name, pages)


def share_bundle(public_dir: Path, members_dir: Path) -> None:
    """Copy the bundle of the pages both sites show alike from the public site to the members' site."""
    source, target = public_dir / SHARED_BUNDLE, members_dir / SHARED_BUNDLE
    if target.exists():
        shutil.rmtree(target)
    if source.is_dir():
        shutil.copytree(source, target)


def index_bundle(site_dir: Path, name: str, pages: list[str]) -> None:
    """Index the given pages (source URIs) of site_dir, their data-pagefind-body part, into site_dir/name/.

    Pagefind indexes a folder: it gets one of links to these pages only, beside the site (same
    file system, so the links cost no copy), and computes each page's URL from its place there.
    """
    scratch = site_dir.parent / f".{site_dir.name}-{name}-pages"
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        for page in map(page_dest, pages):
            link = scratch / page
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(site_dir / page, link)
        _pagefind(scratch, site_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pagefind(pages_dir: Path, output: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pagefind",
            "--site",
            str(pages_dir),
            "--output-path",
            str(output),
            "--exclude-selectors",
            EXCLUDED,
            "--force-language",
            "fr",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SearchIndexError(f"l'index de recherche n'a pas pu être construit pour {output} :\n{result.stdout}{result.stderr}")
