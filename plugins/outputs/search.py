"""Full-text search with Pagefind: each site's search bundles, made from its written pages.

A site's search merges up to two bundles in the browser (plugins/plan/pages.py, search_bundles):
the pages both sites show alike, indexed once on the public site and copied to the members' site,
and the site's own pages. A bundle holds nothing the site it is served from does not show.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from plugins.plan.pages import SHARED_BUNDLE, page_dest

# The "#" that Markdown's toc extension appends to every heading of editors' text: no template can mark it
# data-pagefind-ignore, and indexed it would end every sub-result's title and sit in the excerpts.
EXCLUDED = "a.headerlink"
SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")
INDEXED_ELEMENT = b'<article id="contenu" '  # main.html


class SearchIndexError(RuntimeError):
    """Pagefind failed; the message is French."""


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
    """Index the given pages (source URIs) of site_dir, their data-pagefind-body part, into site_dir/name/."""
    write_sources(site_dir, name, pages)
    index_sources(site_dir, name)


def sources_dir(site_dir: Path, name: str) -> Path:
    """Return the folder beside site_dir where a bundle's pages are copied for Pagefind, cut to what it indexes."""
    return site_dir.parent / f".{site_dir.name}-{name}-search"


def write_sources(site_dir: Path, name: str, pages: list[str]) -> None:
    """Copy the given pages of site_dir, each cut to its data-pagefind-body element, into the bundle's sources folder.

    Pagefind reads the whole of every page it is given, navigation and footer included; it indexes
    only the data-pagefind-body element. Given that element alone, at the same paths (a page's URL
    is its path), it writes the same index and fragments in less time and with less CPU
    (measured: bench/RESULTS.md, « Why the code is as it is »).
    """
    sources = sources_dir(site_dir, name)
    shutil.rmtree(sources, ignore_errors=True)
    update_sources(site_dir, pages, {}, sources)  # no version known: every page cut


def source_files(pages: list[str]) -> list[str]:
    """Return the files of the given pages (source URIs), checked to stay inside the folder they are copied to."""
    files = [page_dest(page) for page in pages]
    unsafe = [f for f in files if not SAFE_PATH.fullmatch(f) or ".." in f.split("/")]
    if unsafe:  # page names are checked when the content loads (slugs)
        raise SearchIndexError(f"nom de page inattendu pour l'index de recherche : {unsafe[0]}")
    return files


KEPT = ".coupes.json"  # in a kept sources folder: each cut page's file -> the version of the page it was cut from


def update_sources(site_dir: Path, pages: list[str], versions: dict[str, str], sources: Path) -> None:
    """Bring a bundle's sources kept between builds (write_sources' cut pages) up to the given pages of site_dir.

    versions: each page's version in this build (incremental.py's fingerprints); a page whose version is the
    one its cut was made from is not read again, a page no longer in the bundle loses its cut. The list of
    cuts is written last: a build stopped midway leaves none, and the next one cuts every page anew.
    Pagefind reads only the HTML files of the folder.
    """
    files = source_files(pages)
    record = sources / KEPT
    try:
        made = json.loads(record.read_text("utf-8"))
        record.unlink()
    except (OSError, ValueError):
        made = None
    if not isinstance(made, dict):
        shutil.rmtree(sources, ignore_errors=True)
        made = {}
    wanted: dict[str, str | None] = {}
    folders: set[Path] = set()
    for page, file in zip(pages, files, strict=True):
        version = wanted[file] = versions.get(page)
        if version is not None and made.get(file) == version:
            continue
        target = sources / file
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        target.write_bytes(indexed_part((site_dir / file).read_bytes(), file))
    for file in made.keys() - wanted.keys():
        (sources / file).unlink(missing_ok=True)
    sources.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({f: v for f, v in wanted.items() if v is not None}, sort_keys=True), "utf-8")


def indexed_part(page: bytes, file: str) -> bytes:
    """Return a page cut to its data-pagefind-body element (up to the page's last </article>), in a bare document.

    The element is main.html's first <article>: before it, editors' text is only in escaped titles.
    """
    start = page.find(INDEXED_ELEMENT)
    end = page.rfind(b"</article>")
    if start < 0 or end < start or b" data-pagefind-body" not in page[start : page.find(b">", start)]:
        raise SearchIndexError(f"la page {file} n'a pas de partie à indexer (article data-pagefind-body) : gabarit modifié ?")
    return (
        b'<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"></head><body>'
        + page[start : end + 10]
        + b"</body></html>\n"
    )


def index_sources(site_dir: Path, name: str, kept: Path | None = None) -> None:
    """Index a bundle's sources into site_dir/name/: those kept between builds (update_sources), or else those
    write_sources made, deleted afterwards."""
    sources = kept or sources_dir(site_dir, name)
    try:
        _pagefind(sources, site_dir / name, sources)
    finally:
        if kept is None:
            shutil.rmtree(sources, ignore_errors=True)


def pagefind_binary() -> str:
    """Return the Pagefind program of the pinned pagefind[bin] package (`python -m pagefind` starts Python to find it)."""
    from pagefind.service import get_executable  # deferred on purpose: only a build indexes

    found = get_executable()
    if found is None:
        raise SearchIndexError("Pagefind est introuvable : installez le paquet pagefind[bin] (pyproject.toml)")
    return str(found.resolve())


def _pagefind(site_dir: Path, output: Path, working_dir: Path) -> None:
    result = subprocess.run(
        [
            pagefind_binary(),
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
