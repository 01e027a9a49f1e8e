"""Incremental rebuilds: redo only the pages whose inputs changed.

A page's HTML depends on its own plan (title, template, Markdown, context, search filters) and on
what every page shares (navigation, footer, mkdocs.yml, the code and templates, the packages'
versions, the list of pages). A build keeps one fingerprint of each; the next build of the same
site writes again only the pages whose fingerprint moved.

The preview keeps them in memory and rewrites its folders in place (it also rewrites feeds,
calendars and the map only when their items changed). `build.py build` keeps them in each built
site (CACHE_FILE, never served: nginx refuses dot files) and builds into a new folder: the pages
that did not change are hard links to the previous build's files, and so are the search bundles
none of whose pages changed. Nothing is ever written through such a link: every file a build
writes is a new one in its own folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from plugins.fingerprint import digest

CACHE_FILE = ".build-cache.json"
CACHE_VERSION = 2


class Fingerprinter:
    """Fingerprints of page plans where each content item's repr() is computed once per build
    (a sheet appears on its page and on every listing that shows it)."""

    def __init__(self) -> None:
        self._items: dict[int, tuple[object, str]] = {}

    def _reduce(self, value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            known = self._items.get(id(value))
            if known is None or known[0] is not value:
                known = (value, digest(value))
                self._items[id(value)] = known
            return known[1]
        if isinstance(value, dict):
            return tuple((key, self._reduce(item)) for key, item in value.items())
        if isinstance(value, (list, tuple)):
            return tuple(self._reduce(item) for item in value)
        return value

    def __call__(self, *parts: object) -> str:
        return digest(*(self._reduce(part) for part in parts))


@dataclass
class Incremental:
    """What the previous build of one site wrote."""

    site: str = ""  # fingerprint of what all pages share; "" after a failed or no build
    pages: dict[str, str] = field(default_factory=dict)  # page source URI -> fingerprint of its plan
    dests: set[str] = field(default_factory=set)  # pages written, to delete those that disappear
    # feeds, calendars, map -> fingerprint of their items, and the files written (relative to the site)
    outputs: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    index: Callable[[Path, dict[str, list[str]]], None] | None = None  # how to index its search bundles (in the background)
    written: int = 0  # pages written by the last build, for the preview's message
    bundles: dict[str, str] = field(default_factory=dict)  # search bundle -> fingerprint of its pages
    # A build into a new folder (site_dir) takes the unchanged pages from the previous build's folder.
    previous: Path | None = None
    site_dir: Path | None = None
    folders: set[str] = field(default_factory=set)  # the folders made for links so far (one mkdir per folder)

    @classmethod
    def beside(cls, previous: Path, site_dir: Path) -> Incremental:
        """Return the state of the build kept in previous (a built site), to build site_dir from; empty if there is none."""
        state = cls(previous=previous, site_dir=site_dir)
        try:
            kept = json.loads((previous / CACHE_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            return state
        if not isinstance(kept, dict) or kept.get("version") != CACHE_VERSION:
            return state  # another version's cache: build everything anew
        try:
            site, pages, bundles = str(kept["site"]), dict(kept["pages"]), dict(kept["bundles"])
            outputs = {str(name): (str(fp), [str(f) for f in files]) for name, (fp, files) in kept["outputs"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            return state  # a damaged cache: build everything anew
        state.site, state.pages, state.bundles, state.outputs = site, pages, bundles, outputs
        return state

    def save(self, site_dir: Path) -> None:
        """Keep this build's fingerprints in the site it built, for the next build."""
        kept = {
            "version": CACHE_VERSION,
            "site": self.site,
            "pages": self.pages,
            "bundles": self.bundles,
            "outputs": self.outputs,
        }
        (site_dir / CACHE_FILE).write_text(json.dumps(kept, sort_keys=True, separators=(",", ":")), encoding="utf-8")

    def unchanged(self, site: str, uri: str, fingerprint: str, dest: str) -> bool:
        """Tell whether the page at dest is still what this plan would write (linking it from the previous build's)."""
        if site != self.site or self.pages.get(uri) != fingerprint:
            return False
        if self.previous is None or self.site_dir is None:
            return Path(dest).exists()
        # Paths as text: pathlib's objects took more time than the links themselves (8,000 pages a site at ten times the
        # federation's volume). dest is MkDocs' normalised path of a file in site_dir.
        site_dir = os.fspath(self.site_dir) + os.sep
        relative = dest[len(site_dir) :] if dest.startswith(site_dir) else os.fspath(Path(dest).relative_to(self.site_dir))
        return link(os.path.join(self.previous, relative), dest, self.folders)

    def bundle_unchanged(self, name: str, pages: list[str], folder: Path) -> bool:
        """Tell whether a search bundle is made of the same pages as in the previous build (then link it from there).

        Call it after the pages' build (finish): pages are source URIs, fingerprinted by that build.
        """
        fingerprint = digest(self.site, [(page, self.pages[page]) for page in pages])
        unchanged = self.bundles.get(name) == fingerprint
        self.bundles[name] = fingerprint
        if not unchanged or self.previous is None or self.site_dir is None:
            return False
        return link_tree(self.previous / folder.relative_to(self.site_dir), folder)

    def output(self, name: str, inputs: object, write: Callable[[], Iterable[Path]]) -> None:
        """Write an output of the site (feeds, calendars, map) unless its items are those of the previous build.

        Call it after the pages' build (finish), whose site fingerprint covers the code and settings.
        The preview's previous files are in place; a build links them from the previous build's folder.
        """
        fingerprint = digest(self.site, name, inputs)
        kept = self.outputs.get(name)
        if kept is not None and kept[0] == fingerprint:
            if self.previous is None or self.site_dir is None:
                return
            if all((self.previous / f).is_file() for f in kept[1]):
                for f in kept[1]:
                    link(self.previous / f, self.site_dir / f, self.folders)
                return
        root = self.site_dir
        written = [p.relative_to(root).as_posix() if root else str(p) for p in write()]
        self.outputs[name] = (fingerprint, written)

    def finish(self, site: str, pages: dict[str, str], dests: Iterable[str]) -> None:
        """Record a successful build and delete the pages the previous one wrote that are gone."""
        current = set(dests)
        for gone in self.dests - current:
            Path(gone).unlink(missing_ok=True)
        self.site, self.pages, self.dests = site, pages, current


def link(source: str | Path, target: str | Path, folders: set[str] | None = None) -> bool:
    """Make target a hard link to source (a previous build's file); False if source is missing.

    folders: the folders known to exist already (target's is added).
    """
    try:
        parent = os.path.dirname(target)
        if folders is None or parent not in folders:
            os.makedirs(parent, exist_ok=True)
            if folders is not None:
                folders.add(parent)
        os.link(source, target)
    except FileNotFoundError:
        return False
    return True


def link_tree(source: Path, target: Path) -> bool:
    """Make target a copy of the folder source made of hard links; False if source is missing."""
    if not source.is_dir():
        return False
    for folder, _, names in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.link(Path(folder) / name, here / name)
    return True
