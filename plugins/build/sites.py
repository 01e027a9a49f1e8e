"""Build both sites (and everything beside them) into a staging folder, then swap it in."""

from __future__ import annotations

import functools
import multiprocessing
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

from plugins.base import environment
from plugins.base.locking import FileLock
from plugins.base.processes import Background, ReceivedPages, SentPages, Worker
from plugins.build.site import build_site, federation_settings
from plugins.letters.publish import write_letters
from plugins.model import Audience, Content, load_content
from plugins.model.cache import SourceCache
from plugins.outputs.search import index_sources, share_bundle, update_sources, write_sources
from plugins.render.incremental import Fingerprinter, Incremental
from plugins.render.plugin import RenderedPages
from plugins.render.themeenv import BYTECODE
from plugins.settings.federation import FederationSettings

SITE_DIRS = {Audience.PUBLIC: "public", Audience.ADHERENTS: "adherents"}


@dataclass
class BuildResult:
    """What a build produced, for the CLI's summary."""

    output: Path
    pages: dict[str, int]  # site folder -> its pages
    rewritten: dict[str, int]  # site folder -> the pages rendered anew (the others were taken from the previous build)


def build_staged(
    content: Content,
    audience: Audience,
    site_dir: Path,
    today: date,
    settings: FederationSettings,
    strict: bool = False,
    rendered: RenderedPages | None = None,
    site_url: str | None = None,
    previous: Path | None = None,
    fingerprinter: Fingerprinter | None = None,
    search_sources: Path | None = None,
) -> SiteBuild:
    """Build one site into a new folder (build_site), from the same site's last build if there is one.

    previous: the same site's last build, whose unchanged pages and search bundles are taken as
    they are (incremental.py); the result is the same as without. The search bundles whose pages
    changed are left for the caller to index (SiteBuild.index), once this process's memory is freed.
    search_sources: where the pages cut for Pagefind are kept between builds (update_sources), a folder per bundle.
    """
    state = Incremental.beside(previous, site_dir) if previous else Incremental(site_dir=site_dir)
    pending: dict[str, list[str]] = {}
    url = site_url or settings.site_url(audience)
    index = functools.partial(changed_bundles, state, pending)
    plugin = build_site(
        content,
        audience,
        site_dir,
        url,
        today,
        settings,
        state,
        rendered,
        index,
        fingerprinter=fingerprinter,
        strict=strict,
    )
    state.save(site_dir)
    versions = {page: f"{state.site}/{fingerprint}" for page, fingerprint in state.pages.items()} if search_sources else {}
    return SiteBuild(site_dir, len(plugin.specs), state.written, pending, kept=search_sources, versions=versions)


@dataclass
class SiteBuild:
    """One site built but for the search bundles whose pages changed."""

    site_dir: Path
    pages: int
    written: int  # pages rendered anew (the others were taken from the previous build)
    pending: dict[str, list[str]]  # search bundles to index: name -> pages (source URIs)
    prepared: bool = False  # the pending bundles' pages are cut to what Pagefind indexes (write_sources)
    kept: Path | None = None  # where the cut pages are kept between builds (update_sources), if they are
    versions: dict[str, str] = field(default_factory=dict)  # each page's version, for the kept cuts

    def kept_sources(self, name: str) -> Path | None:
        return self.kept / f"{self.site_dir.name}-{name}" if self.kept is not None else None

    def prepare_index(self) -> None:
        """Cut the pending bundles' pages to what Pagefind indexes (in the process that built them, before it ends).

        Kept cuts are made again only for the pages whose version changed: after a one-sheet edit, the few pages it
        changed instead of all of them (measured: bench/RESULTS.md, « Why the code is as it is »).
        """
        for name, pages in self.pending.items():
            kept = self.kept_sources(name)
            if kept is not None:
                update_sources(self.site_dir, pages, self.versions, kept)
            else:
                write_sources(self.site_dir, name, pages)
        self.versions = {}  # not sent back from the public site's process
        self.prepared = True

    def index(self) -> None:
        """Index the search bundles left to index, one after the other: Pagefind is the largest memory of a build
        (measured: bench/RESULTS.md, « Why the code is as it is »)."""
        if not self.prepared:
            self.prepare_index()
        for name in self.pending:
            index_sources(self.site_dir, name, self.kept_sources(name))


def changed_bundles(state: Incremental, pending: dict[str, list[str]], site_dir: Path, bundles: dict[str, list[str]]) -> None:
    """Link the search bundles whose pages did not change since the previous build; keep the others in pending."""
    for name, pages in bundles.items():
        if not state.bundle_unchanged(name, pages, site_dir / name):
            pending[name] = pages


def swap_in(staging: Path, output: Path) -> None:
    """Replace each top-level folder of output by the freshly built one; the previous ones are deleted afterwards."""
    output.mkdir(parents=True, exist_ok=True)
    for built in sorted(staging.iterdir()):
        target = output / built.name
        if target.exists():
            target.rename(output / f".old-{built.name}-{uuid.uuid4().hex[:12]}")
        built.rename(target)
    staging.rmdir()
    discard(sorted(output.glob(".old-*")))


def discard(folders: list[Path]) -> None:
    """Delete a previous build's folders in a process of their own, which the build does not wait for.

    The new sites are in place already; deleting the old ones (every file of both sites) took long
    (measured: bench/RESULTS.md, « Why the code is as it is »). The folders are beside the sites
    nginx serves, never inside them; a later build deletes whatever an interrupted deletion left.
    """
    if folders:
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import shutil, sys\nfor p in sys.argv[1:]: shutil.rmtree(p, ignore_errors=True)",
                *map(str, folders),
            ],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def build_all(
    project: Path,
    output: Path,
    today: date,
    strict: bool = False,
    on_wait: Callable[[], None] = lambda: None,
    complete: bool = False,
) -> BuildResult:
    """Load, check and build everything; the previous output stays intact on any failure.

    The pages and search bundles that did not change since the build in output are taken from
    it (the same bytes as building them again); complete: build every one anew.
    Builds into the same output take turns (two commits pushed seconds apart): the second
    waits for the first, then loads the content as it is by then.
    """
    with FileLock(output.parent / f".{output.name}.lock") as lock:
        lock.acquire(wait=True, on_wait=on_wait)
        return _build_all(project, output, today, strict, complete)


def sources_cache(output: Path) -> Path:
    """Where the build into output keeps the editors' files parsed (plugins/model/cache.py): beside it, never served."""
    return output.parent / f".{output.name}-sources.cache"


def search_cache(output: Path) -> Path:
    """Where the build into output keeps its pages cut for Pagefind (update_sources): beside it, never served."""
    return output.parent / f".{output.name}-search"


def templates_cache(output: Path) -> Path:
    """Where the build into output keeps the theme's compiled templates (themeenv.BYTECODE): beside it, never served."""
    return output.parent / f".{output.name}-templates.cache"


def _build_all(project: Path, output: Path, today: date, strict: bool, complete: bool) -> BuildResult:
    cache = SourceCache() if complete else SourceCache.open(sources_cache(output))
    try:
        content = load_content(project, cache)
    finally:
        cache.close()
    settings = federation_settings(project)
    staging = output.parent / f".{output.name}-staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    previous = None if complete else output
    BYTECODE.keep_in(None if complete else templates_cache(output))
    if complete:
        shutil.rmtree(search_cache(output), ignore_errors=True)
    try:
        built = build_both(content, staging, today, settings, strict, previous, search_cache(output))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        BYTECODE.keep_in(None)
    swap_in(staging, output)
    cache.fill_later()  # an empty cache is filled after the build (plugins/model/cache.py)
    return BuildResult(output, {k: v[0] for k, v in built.items()}, {k: v[1] for k, v in built.items()})


def build_both(
    content: Content,
    staging: Path,
    today: date,
    settings: FederationSettings,
    strict: bool,
    previous: Path | None = None,
    search_sources: Path | None = None,
) -> dict[str, tuple[int, int]]:
    """Build the two sites and the letters at once on two cores: the public site in a second process; the
    members' site (more pages, and its whole toolbox to index), then the letters, in this one.

    The second process is forked once the model is loaded: it starts with it. Each page both sites
    show is converted from Markdown once, by the public site's process, which sends the conversions
    here as it goes (SentPages, ReceivedPages); the members' site renders its own pages first
    meanwhile. Pagefind (the largest memory of a build) runs only once the public site's process
    has ended, and never twice at once: the public site's bundles while this process renders, then
    the members' site's while this process writes the letters. Each site's output is the same bytes
    as a one-process build's.
    With one core (or BUILD_PROCESSES=1), the sites are built one after the other in this process.
    """
    public, members = Audience.PUBLIC, Audience.ADHERENTS
    before = {a: previous / SITE_DIRS[a] if previous and (previous / SITE_DIRS[a]).is_dir() else None for a in (public, members)}
    if build_processes() < 2:
        rendered: dict = {}  # pages shared by both sites are converted from Markdown once
        fingerprinter = Fingerprinter()  # and each item fingerprinted once
        built = [
            build_staged(
                content,
                a,
                staging / SITE_DIRS[a],
                today,
                settings,
                strict,
                rendered,
                previous=before[a],
                fingerprinter=fingerprinter,
                search_sources=search_sources,
            )
            for a in (public, members)
        ]
        write_all_letters(content, staging, settings, previous)
        for site in built:
            site.index()
    else:
        receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
        other = Worker(
            build_public, content, staging, today, settings, strict, before[public], send, search_sources, close=(receive,)
        )
        send.close()
        received = ReceivedPages(receive)
        indexer = Background(functools.partial(index_when_built, other))
        indexer.start()  # waits for the public site's process to end, then indexes the site while this process renders
        own_indexer: Background[SiteBuild] | None = None
        try:
            try:
                own = build_staged(
                    content,
                    members,
                    staging / SITE_DIRS[members],
                    today,
                    settings,
                    strict,
                    received,
                    previous=before[members],
                    search_sources=search_sources,
                )
            finally:
                received.close()
            own.prepare_index()
            # Pagefind indexes the members' site's bundles once it has indexed the public site's, while this process
            # writes the letters.
            own_indexer = Background(functools.partial(index_after, indexer, own))
            own_indexer.start()
            write_all_letters(content, staging, settings, previous)
        except BaseException:
            other.stop()
            indexer.join()
            if own_indexer is not None:
                own_indexer.join()
            raise
        own_indexer.join()  # it waits for the other: once it has ended, nothing writes into staging (on error too)
        built = [indexer.result(), own_indexer.result()]
    share_bundle(staging / SITE_DIRS[public], staging / SITE_DIRS[members], link=True)
    return {site.site_dir.name: (site.pages, site.written) for site in built}


def build_public(
    content: Content,
    staging: Path,
    today: date,
    settings: FederationSettings,
    strict: bool,
    previous: Path | None,
    send: Connection,
    search_sources: Path | None = None,
) -> SiteBuild:
    """Build the public site but for its search (its pages cut for Pagefind here, before the process ends).

    send: where the conversions of the pages both sites show go, as they are made.
    """
    rendered = SentPages(send)
    try:
        built = build_staged(
            content,
            Audience.PUBLIC,
            staging / SITE_DIRS[Audience.PUBLIC],
            today,
            settings,
            strict,
            rendered,
            previous=previous,
            search_sources=search_sources,
        )
    finally:
        rendered.close()
    built.prepare_index()
    return built


def index_after(before: Background[SiteBuild], site: SiteBuild) -> SiteBuild:
    """Index a site's search bundles once the indexing before has ended (one Pagefind at a time: each is the largest
    memory of a build; measured: bench/RESULTS.md, « Why the code is as it is »); not
    after a failed one (its error stops the build)."""
    before.result()
    site.index()
    return site


def index_when_built(other: Worker[SiteBuild]) -> SiteBuild:
    built = other.result()
    built.index()
    return built


def write_all_letters(content: Content, staging: Path, settings: FederationSettings, previous: Path | None) -> None:
    """Write the letters; those composed as in the build kept in previous are linked from it (publish.py)."""
    write_letters(content, staging, {a: staging / d for a, d in SITE_DIRS.items()}, settings.letters(), previous)


def build_processes() -> int:
    """Return how many processes a build may use: BUILD_PROCESSES if set, else the cores this process may run on."""
    value = environment.text("BUILD_PROCESSES")
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"BUILD_PROCESSES « {value} » : attendu un nombre de processus, 1 ou plus")
        return int(value)
    return len(os.sched_getaffinity(0))
