"""Preview both sites locally with live reload (`build.py serve`).

One preview holds both sites. The first change noticed by either server rebuilds both, once:
the content is loaded once (only the changed files parsed again, plugins/model/cache.py), and
only the pages whose plan changed since the previous build are written again (see
plugins/render/incremental.py). On two cores the public site is rebuilt in a forked process
meanwhile (each process converts the pages it writes; with one, a page both sites show is
converted once). The search index is rebuilt in the background after the pages, so that the
browser reloads as soon as the pages are written.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path

import watchdog.observers
from mkdocs.livereload import LiveReloadServer
from watchdog.events import FileClosedEvent, FileCreatedEvent, FileDeletedEvent, FileModifiedEvent, FileMovedEvent

from plugins.base.french_cli import counted
from plugins.base.processes import Worker
from plugins.build.site import NO_DIRTY_WARNING, build_site, federation_settings
from plugins.build.sites import SITE_DIRS, build_processes
from plugins.model import Audience, Content, ContentError, load_content
from plugins.model.cache import SourceCache
from plugins.model.content import carry_over
from plugins.outputs.search import index_sources, share_bundle, update_sources
from plugins.plan.pages import SHARED_BUNDLE, public_view
from plugins.render.incremental import Fingerprinter, Incremental
from plugins.settings.federation import FederationSettings, SettingsError

log = logging.getLogger("plugins.build.preview")
WATCHED = ("content", "toolbox", "newsletters", "mkdocs.yml")
ORDER = (Audience.PUBLIC, Audience.ADHERENTS)


# What an edit does to a file: created, written, closed after writing, moved (editors that save by renaming), deleted.
CHANGES = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent]


class ChangesObserver(watchdog.observers.Observer):  # type: ignore[misc, valid-type]
    """The system's file notifications, changes only.

    By default watchdog also reports each file opened and closed without writing: every refresh
    reads every source, so each refresh made events for every source for each of the two servers,
    handled in Python while the preview rebuilt, which slowed the rebuild
    (measured: bench/RESULTS.md, « Why the code is as it is »).
    """

    def schedule(self, event_handler, path, *, recursive=False, event_filter=None, follow_symlink=False):  # type: ignore[no-untyped-def]
        return super().schedule(
            event_handler, path, recursive=recursive, event_filter=event_filter or CHANGES, follow_symlink=follow_symlink
        )


class BackgroundIndexer:
    """Run the search indexing of the sites that changed, one site at a time, after the pages are served."""

    def __init__(self) -> None:
        self._pending: dict[Path, Callable[[], None]] = {}  # in the order asked: the public site's first
        self._cond = threading.Condition()
        self._busy = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="apercu-recherche", daemon=True)
        self._thread.start()

    def request(self, site: Path, job: Callable[[], None]) -> None:
        """Index site with job, once, after the jobs already pending; a newer job for the same site replaces its own."""
        with self._cond:
            self._pending.pop(site, None)
            self._pending[site] = job
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 120) -> bool:
        """Wait until no index is pending or running (for tests); return False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stop)
                if self._stop:
                    return
                site = next(iter(self._pending))
                job = self._pending.pop(site)
                self._busy = True
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - the preview goes on; the message says what failed
                print(f"Aperçu : {exc}")
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class Preview:
    """Both sites of a project, built into temporary folders and rebuilt when a source changes."""

    def __init__(self, project: Path, today: date, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.project, self.today, self.host = project, today, host
        self.ports = {Audience.PUBLIC: port, Audience.ADHERENTS: port + 1}
        self.dirs = {a: Path(tempfile.mkdtemp(prefix=f"apercu-{SITE_DIRS[a]}-")) for a in ORDER}
        self.indexer = BackgroundIndexer()
        # Search (each bundle's fingerprint when it was last asked for is in its site's state): the bundles left to index
        # (and the versions of their pages), and the pages cut for Pagefind, kept between refreshes.
        self.unindexed: dict[Audience, dict[str, list[str]]] = {a: {} for a in ORDER}
        self.versions: dict[Audience, dict[str, str]] = {a: {} for a in ORDER}
        self.index_lock = threading.Lock()
        self.cuts = Path(tempfile.mkdtemp(prefix="apercu-recherche-"))
        self.states = {a: Incremental(index=functools.partial(self._index_later, a)) for a in ORDER}
        self.rendered: dict = {}
        # The editors' files parsed, by their bytes (in memory): a refresh parses the changed ones.
        self.sources_cache = SourceCache()
        self.lock = threading.Lock()
        self.sources: tuple | None = None
        self.checked = float("-inf")  # when the files were last listed by a refresh that completed (time.monotonic)
        self.built: tuple | None = None  # the sources of the last build that completed
        # The last content built, and the fingerprints of its items: the items a refresh finds unchanged are carried
        # over (carry_over), so that their fingerprints are made once for all the refreshes.
        self.content: Content | None = None
        self.public_views: list | None = None  # plan.public_view of each of its items
        self.settings: tuple[tuple | None, FederationSettings] | None = None  # mkdocs.yml's state, and its settings
        self.fingerprinter = Fingerprinter()
        self.frozen = 0  # refreshes whose objects were frozen since all were last unfrozen (_settle)
        self.builds = 0
        self.last_seconds = 0.0
        logging.getLogger("mkdocs.commands.build").addFilter(NO_DIRTY_WARNING)

    def _index_later(self, audience: Audience, site: Path, bundles: dict[str, list[str]]) -> None:
        """Have the background indexer index those of this site's bundles whose pages changed since they were indexed.

        After a members' sheet is edited, its bundle only: neither the pages both sites show nor their copy on the
        members' site, which Python made (holding the interpreter) while the next edit's refresh ran.
        """
        state = self.states[audience]
        changed = {}
        for name, pages in bundles.items():
            fingerprint = state.bundle_fingerprint(pages)
            if state.bundles.get(name) != fingerprint:
                state.bundles[name] = fingerprint
                changed[name] = pages
        if not changed:
            return
        with self.index_lock:
            self.unindexed[audience].update(changed)
            self.versions[audience] = {page: f"{state.site}/{fingerprint}" for page, fingerprint in state.pages.items()}
        self.indexer.request(site, functools.partial(self._index, audience, site))

    def _index(self, audience: Audience, site: Path) -> None:
        """Index the bundles of a site left to index (in the background indexer's thread); the public site's job then
        copies the bundle of the pages both sites show to the members' site.

        Only the pages whose version changed are cut again (search.update_sources, as builds do), not every page
        of the bundle at each refresh (measured: bench/RESULTS.md, « Why the code is as it is »).
        """
        with self.index_lock:
            bundles, self.unindexed[audience] = self.unindexed[audience], {}
            versions = self.versions[audience]
        try:
            for name, pages in bundles.items():
                kept = self.cuts / f"{SITE_DIRS[audience]}-{name}"
                update_sources(site, pages, versions, kept)
                index_sources(site, name, kept)
            if audience is Audience.PUBLIC and SHARED_BUNDLE in bundles:
                share_bundle(site, self.dirs[Audience.ADHERENTS])
        except BaseException:
            for name in bundles:  # made again after the next edit
                self.states[audience].bundles.pop(name, None)
            raise

    def url(self, audience: Audience) -> str:
        return f"http://{self.host}:{self.ports[audience]}/"

    def _sources(self) -> tuple:
        """Return the state (path, size, mtime) of every watched file: what a rebuild depends on."""
        names = []
        for name in WATCHED:
            path = os.fspath(self.project / name)
            if os.path.isfile(path):
                names.append(path)
            # Text paths: pathlib's objects made the listing slower
            # (measured: bench/RESULTS.md, « Why the code is as it is »).
            for folder, _, files in os.walk(path):
                names.extend(os.path.join(folder, f) for f in files)
        state = []
        for name in sorted(names):
            try:
                st = os.stat(name)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode):
                state.append((name, st.st_size, st.st_mtime_ns))
        return tuple(state)

    def refresh(self) -> None:
        """Rebuild both sites if a watched file changed since the last build (the other server's call finds none).

        Both servers call it for each change. The second call, made while the first refresh ran, returns at once when
        that refresh looked at the files after it was made: every change it was called for was seen. Its server shows
        the new pages only once it returns, and listing the files again would delay it
        (measured: bench/RESULTS.md, « Why the code is as it is »).
        """
        called = time.monotonic()
        with self.lock:
            if self.checked > called:
                return
            began = time.monotonic()
            sources = self._sources()
            if sources == self.sources:
                self.checked = began
                return
            start = time.perf_counter()
            try:
                content = carry_over(self.content, load_content(self.project, self.sources_cache))
                settings = self._settings(sources)
            except (ContentError, SettingsError) as exc:
                print(exc.report() if isinstance(exc, ContentError) else exc)
                print("Aperçu non mis à jour : corrigez les erreurs ci-dessus, il se reconstruira tout seul.")
                self.sources, self.checked = sources, began
                return
            if len(self.rendered) > 4 * len(content.sheets) + 4000:
                self.rendered.clear()  # old versions of edited pages: start afresh now and then
            views = [public_view(item) for item in content.all_items()]
            with_public = not self._public_unchanged(sources, views)
            try:
                self._build_both(content, settings, with_public)
            except Exception:  # noqa: BLE001 - the servers keep the previous version
                traceback.print_exc()
                print("Aperçu non mis à jour : la construction a échoué (voir ci-dessus).")
                return
            else:
                # The next refresh's fingerprinter knows this one's items and their texts, not the objects of its builds
                # (made before _settle, which freezes it with the rest).
                self.fingerprinter = self.fingerprinter.keeping(
                    part for item in content.all_items() for part in (item, item.body, getattr(item, "summary", None))
                )
            finally:
                self._settle()
            self.sources = self.built = sources
            self.checked = began  # not after a failed build: the other server's call tries again
            self.content, self.public_views = content, views
            self.builds += 1
            self.last_seconds = time.perf_counter() - start
            written = sum(s.written for s in self.states.values())
            alone = "" if with_public else " ; le site public n'a pas changé"
            print(
                f"Aperçu à jour en {self.last_seconds:.1f} s ({counted(written, 'page réécrite', 'pages réécrites')}{alone}).",
                flush=True,
            )

    def _settings(self, sources: tuple) -> FederationSettings:
        """Return the federation's settings, read again only when mkdocs.yml changed: loading it at every refresh
        cost time (measured: bench/RESULTS.md, « Why the code is as it is »)."""
        config = os.fspath(self.project / "mkdocs.yml")
        state = next((entry for entry in sources if entry[0] == config), None)
        if self.settings is None or self.settings[0] != state:
            self.settings = (state, federation_settings(self.project))
        return self.settings[1]

    def _public_unchanged(self, sources: tuple, views: list) -> bool:
        """Tell whether the public site built last is also that of the content whose items' public views are given:
        edits of members' items it does not show.

        Only Markdown files changed since that build (no setting, attachment or image), and every item's public view
        (plan.public_view: the item, a locked sheet's teaser, or nothing) is the same as then, in the same order.
        """
        if self.built is None or self.public_views is None or not self.states[Audience.PUBLIC].site:
            return False
        before = {name: state for name, *state in self.built}
        after = {name: state for name, *state in sources}
        changed = [name for name in before.keys() | after.keys() if before.get(name) != after.get(name)]
        if any(not name.endswith(".md") for name in changed):
            return False
        return self.public_views == views

    def _settle(self) -> None:
        """Collect what the refresh left behind, then keep what stays out of Python's collector's way (gc.freeze).

        The collector went through every object the preview keeps (the model, the fingerprints, the pages'
        conversions) more than once a refresh, a time that grew with all the preview keeps
        (measured: bench/RESULTS.md, « Why the code is as it is »).
        Frozen, they are not gone through again; each refresh's garbage is collected here, before what stays
        is frozen in turn. A cycle of objects frozen before it became garbage is collected only when all is
        unfrozen: now and then, and when the preview closes.
        """
        self.frozen += 1
        if self.frozen > 20:
            gc.unfreeze()
            self.frozen = 0
        gc.collect()
        gc.freeze()

    def _build_both(self, content: Content, settings: FederationSettings, with_public: bool = True) -> None:
        """Build both sites in place: on two cores, the public site in a forked process meanwhile (as sites.build_both does).

        The search bundles are indexed afterwards, the public site's first: the members' site takes its shared bundle.
        with_public: False when the public site is that of content already (_public_unchanged): the members' site alone.
        """
        if not with_public:
            members = Audience.ADHERENTS
            self.states[Audience.PUBLIC].written = 0
            self._build(members, content, settings, self.fingerprinter, self.states[members].index)
            return
        if build_processes() < 2:
            for audience in ORDER:  # each item's fingerprint made once for both sites
                self._build(audience, content, settings, self.fingerprinter, self.states[audience].index)
            return
        # The forked process starts with the fingerprints made so far; this one keeps its own for the next refreshes.
        other = Worker(self._build_apart, Audience.PUBLIC, content, settings)
        pending: dict[str, list[str]] = {}
        members = Audience.ADHERENTS
        try:
            self._build(members, content, settings, self.fingerprinter, lambda site, bundles: pending.update(bundles))
        finally:
            public = self.states[Audience.PUBLIC]
            try:
                kept, public_pending = other.result()
            except BaseException:
                public.site = ""  # the other process may have written part of the site: all anew next time
                public.outputs.clear()
                raise
            public.site, public.pages, public.dests, public.outputs, public.written = kept
        if public_pending:
            self._index_later(Audience.PUBLIC, self.dirs[Audience.PUBLIC], public_pending)
        if pending:
            self._index_later(members, self.dirs[members], pending)

    def _build_apart(self, audience: Audience, content: Content, settings: FederationSettings) -> tuple[tuple, dict]:
        """Build one site in the forked process: hand back its new state and the search bundles to index.

        Not its bundles' fingerprints: this process keeps them (_index_later), the forked one does not change them.
        """
        pending: dict[str, list[str]] = {}
        self._build(audience, content, settings, self.fingerprinter, lambda site, bundles: pending.update(bundles))
        state = self.states[audience]
        return (state.site, state.pages, state.dests, state.outputs, state.written), pending

    def _build(
        self,
        audience: Audience,
        content: Content,
        settings: FederationSettings,
        fingerprinter: Fingerprinter,
        index: Callable[[Path, dict[str, list[str]]], None] | None,
    ) -> None:
        """Build one site in its folder, over its previous version (MkDocs' dirty build: unchanged pages stay)."""
        state = self.states[audience]

        def index_if_written(site: Path, bundles: dict[str, list[str]]) -> None:
            if index is not None and state.written:  # the preview's first build indexes nothing
                index(site, bundles)

        build_site(
            content,
            audience,
            self.dirs[audience],
            self.url(audience),
            self.today,
            settings,
            state,
            self.rendered,
            index_if_written,
            fingerprinter=fingerprinter,
            keep_rendered=True,
            serve_url=self.url(audience),
        )

    def servers(self) -> dict[Audience, LiveReloadServer]:
        """Return one live-reload server per site, both watching the sources."""
        servers = {}
        for audience in ORDER:
            server = LiveReloadServer(
                builder=self.refresh,
                host=self.host,
                port=self.ports[audience],
                root=str(self.dirs[audience]),
                polling_interval=0.25,
            )
            # MkDocs polls every watched file four times a second: two servers over thousands of sources took
            # more processor than the refresh itself. The system's notifications cost nothing while nothing changes.
            server.observer = ChangesObserver()
            for name in WATCHED:
                if (self.project / name).exists():
                    server.watch(str(self.project / name))
            servers[audience] = server
        return servers

    def close(self) -> None:
        gc.unfreeze()
        self.indexer.stop()
        self.sources_cache.close()
        for folder in (*self.dirs.values(), self.cuts):
            shutil.rmtree(folder, ignore_errors=True)


def serve(project: Path, today: date, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the public site on port and the members' site on port + 1 until Ctrl+C."""
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop cleans up like Ctrl+C
    preview = Preview(project, today, host, port)
    preview.refresh()
    servers = preview.servers()
    public, members = servers[Audience.PUBLIC], servers[Audience.ADHERENTS]
    print(
        f"Site public : {preview.url(Audience.PUBLIC)}  —  espace adhérents : {preview.url(Audience.ADHERENTS)}"
        "  (Ctrl+C pour arrêter)",
        flush=True,
    )
    thread = threading.Thread(target=public.serve, daemon=True)
    thread.start()
    try:
        members.serve()
    except KeyboardInterrupt:
        print("Arrêt de l'aperçu.")
    finally:
        for server in (public, members):
            server.shutdown()
        preview.close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
