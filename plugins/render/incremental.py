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
import hashlib
import json
import operator
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plugins.base.fingerprint import digest

CACHE_FILE = ".build-cache.json"
CACHE_VERSION = 3  # 3: items fingerprinted by their fields (Fingerprinter)


class Fingerprinter:
    """Fingerprints of page plans, each content item's made once per build (a sheet appears on its
    page and on every listing that shows it).

    An item (a dataclass) is fingerprinted from its fields, each reduced in turn: an item it holds
    (an offer's MSP) by that item's fingerprint, a long text (a body) by a digest of its bytes,
    made once for the page's Markdown and the item that holds the same text. By repr() instead,
    each offer printed its MSP whole and each text was escaped, copied and encoded, for every page
    plan: the slower way (measured: bench/RESULTS.md, « Why the code is as it is »).
    """

    LONG = 200  # characters: a longer text is replaced by the digest of its bytes

    def __init__(self) -> None:
        self._known: dict[int, tuple[object, object]] = {}  # id -> (the object, kept alive; its reduction)
        self._fields: dict[type, tuple[str, Callable[[Any], tuple]] | None] = {}
        self._active: set[int] = set()  # the items being reduced (an item that holds itself)

    def _reduce(self, value: object) -> object:
        kind = type(value)
        if kind is str:
            if len(value) < self.LONG:  # type: ignore[arg-type]
                return value
        elif value is None or kind is int or kind is bool or kind is float:
            return value
        known = self._known.get(id(value))  # first: a listing holds thousands of items reduced already
        if known is not None and known[0] is value:
            return known[1]
        reduced: object
        if kind is str:
            reduced = LongText(value)  # type: ignore[arg-type]
        else:
            try:
                fields = self._fields[kind]
            except KeyError:
                fields = self._fields[kind] = _field_getter(kind)
            if fields is None:
                if isinstance(value, dict):
                    return tuple((key, self._reduce(item)) for key, item in value.items())
                if isinstance(value, (list, tuple)):
                    return tuple(self._reduce(item) for item in value)
                return value  # dates, paths, enumerations: their repr() is short and stable
            name, get = fields
            if id(value) in self._active:
                return f"<{name} en cours>"
            self._active.add(id(value))
            try:
                reduced = digest(name, self._reduce(get(value)))
            finally:
                self._active.discard(id(value))
        self._known[id(value)] = (value, reduced)  # the object kept alive: its id is not reused meanwhile
        return reduced

    def __call__(self, *parts: object) -> str:
        return digest(*(self._reduce(part) for part in parts))

    @property
    def kept(self) -> int:
        """Return how many objects this fingerprinter keeps (alive) with their reduction."""
        return len(self._known)

    def keeping(self, objects: Iterable[object]) -> Fingerprinter:
        """Return a fingerprinter that knows this one's reductions of these objects only (those it made).

        The preview keeps its items' between refreshes, not those of the objects each build makes anew
        (a listing's cards, a feed's entries), which would otherwise pile up, more at each refresh
        (measured: bench/RESULTS.md, « Why the code is as it is »).
        """
        kept = Fingerprinter()
        kept._fields = self._fields
        for value in objects:
            known = self._known.get(id(value))
            if known is not None and known[0] is value:
                kept._known[id(value)] = known
        return kept


class LongText(str):
    """A long text's digest in a fingerprint: no text an editor writes prints (repr) like it."""

    __slots__ = ()

    def __new__(cls, text: str) -> LongText:
        return super().__new__(cls, hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest())

    def __repr__(self) -> str:
        return f"<texte {str.__repr__(self)}>"


def _field_getter(kind: type) -> tuple[str, Callable[[Any], tuple]] | None:
    """Return a dataclass's name and a function giving its fields' values (None for other types)."""
    if not dataclasses.is_dataclass(kind):
        return None
    names = tuple(f.name for f in dataclasses.fields(kind))
    if len(names) > 1:
        return f"{kind.__module__}.{kind.__qualname__}", operator.attrgetter(*names)
    return f"{kind.__module__}.{kind.__qualname__}", lambda value: tuple(getattr(value, name) for name in names)


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
    fingerprinter: Fingerprinter | None = None  # the pages' (FederationPlugin.on_files), for the outputs' items

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
            return os.path.exists(dest)  # not pathlib's: its objects cost more than the look, for each page
        # Paths as text: pathlib's objects took more time than the links themselves, for every page of a site
        # (measured: bench/RESULTS.md, « Why the code is as it is »). dest is MkDocs' normalised path of a file in
        # site_dir.
        site_dir = os.fspath(self.site_dir) + os.sep
        relative = dest[len(site_dir) :] if dest.startswith(site_dir) else os.fspath(Path(dest).relative_to(self.site_dir))
        return link(os.path.join(self.previous, relative), dest, self.folders)

    def bundle_fingerprint(self, pages: list[str]) -> str:
        """Return the fingerprint of a search bundle made of these pages (source URIs, fingerprinted by the last build)."""
        return digest(self.site, [(page, self.pages[page]) for page in pages])

    def bundle_unchanged(self, name: str, pages: list[str], folder: Path) -> bool:
        """Tell whether a search bundle is made of the same pages as in the previous build (then link it from there).

        Call it after the pages' build (finish): pages are source URIs, fingerprinted by that build.
        """
        fingerprint = self.bundle_fingerprint(pages)
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
        fingerprint = (self.fingerprinter or Fingerprinter())(self.site, name, inputs)
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
