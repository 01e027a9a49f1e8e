"""Full-text search with Pagefind: each site's search bundles, made from its written pages.

A site's search merges up to two bundles in the browser (plugins/website/plan.py, search_bundles):
the pages both sites show alike, indexed once on the public site and copied to the members' site,
and the site's own pages. A bundle holds nothing the site it is served from does not show.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from plugins.website.plan import SHARED_BUNDLE, page_dest

# The "#" that Markdown's toc extension appends to every heading of editors' text: no template can mark it
# data-pagefind-ignore, and indexed it would end every sub-result's title and sit in the excerpts.
EXCLUDED = "a.headerlink"
SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")


class SearchIndexError(RuntimeError):
    """Pagefind failed; the message is French."""


def index_site(site_dir: Path, bundles: dict[str, list[str]]) -> None:
    """Write each bundle of site_dir (its name -> its pages' source URIs) into site_dir/<name>/."""
    for name, pages in bundles.items():
        index_bundle(site_dir, name, pages)


def share_bundle(public_dir: Path, members_dir: Path, link: bool = False) -> None:
    """Copy the bundle of the pages both sites show alike from the public site to the members' site.

    link: hard-link its files instead of copying them (a build's, which nothing writes into
    afterwards; the preview indexes its sites again in place).
    """
    source, target = public_dir / SHARED_BUNDLE, members_dir / SHARED_BUNDLE
    if target.exists():
        shutil.rmtree(target)
    if source.is_dir():
        shutil.copytree(source, target, copy_function=os.link if link else shutil.copy2)


def index_bundle(site_dir: Path, name: str, pages: list[str]) -> None:
    """Index the given pages (source URIs) of site_dir, their data-pagefind-body part, into site_dir/name/.

    Pagefind indexes the files of a folder that its glob matches: here, an alternative of the
    bundle's pages. The glob, too long for a command line (4,659 pages at ten times the
    federation's volume), goes into the pagefind.json of a folder beside the site, Pagefind's
    working folder.
    """
    files = [page_dest(page) for page in pages]
    unsafe = [f for f in files if not SAFE_PATH.fullmatch(f)]
    if unsafe:  # page names are checked when the content loads (slugs): not a glob's metacharacter among them
        raise SearchIndexError(f"nom de page inattendu pour l'index de recherche : {unsafe[0]}")
    scratch = site_dir.parent / f".{site_dir.name}-{name}-search"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        (scratch / "pagefind.json").write_text(json.dumps({"glob": "{" + ",".join(files) + "}"}), encoding="utf-8")
        _pagefind(site_dir, site_dir / name, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pagefind(site_dir: Path, output: Path, working_dir: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pagefind",
            "--site",
            str(site_dir.resolve()),
            "--output-path",
            str(output.resolve()),
            "--exclude-selectors",
            EXCLUDED,
            "--force-language",
            "fr",
            "--quiet",
        ],
        cwd=working_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SearchIndexError(f"l'index de recherche n'a pas pu être construit pour {output} :\n{result.stdout}{result.stderr}")
