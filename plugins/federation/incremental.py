"""Incremental rebuilds for the local preview: redo only the pages whose inputs changed.

A page's HTML depends on its own plan (title, template, Markdown, context, search filters) and on
what every page shares (navigation, footer, mkdocs.yml, templates, the list of pages). The preview
keeps one fingerprint of each; the next build of the same site writes again only the pages whose
fingerprint moved, and rewrites feeds, calendars and the map only when their items changed.
`build.py build` never uses this: it always starts from an empty folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path


def digest(*parts: object) -> str:
    """Return a short, stable fingerprint of values whose repr() is deterministic (dataclasses, text, dates)."""
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


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


def tree_state(*folders: Path) -> tuple[tuple[str, int, int], ...]:
    """Return (path, size, mtime) of every file under folders: the templates' and assets' version."""
    return tuple(
        (str(p), p.stat().st_size, p.stat().st_mtime_ns)
        for folder in folders
        if folder.is_dir()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    )


@dataclass
class Incremental:
    """What the previous build of one preview site wrote."""

    site: str = ""  # fingerprint of what all pages share; "" after a failed or no build
    pages: dict[str, str] = field(default_factory=dict)  # page source URI -> fingerprint of its plan
    dests: set[str] = field(default_factory=set)  # pages written, to delete those that disappear
    outputs: dict[str, str] = field(default_factory=dict)  # feeds, calendars, map -> fingerprint
    index: Callable[[Path, dict[str, list[str]]], None] | None = None  # how to index its search bundles (in the background)
    written: int = 0  # pages written by the last build, for the preview's message

    def unchanged(self, site: str, uri: str, fingerprint: str, dest: str) -> bool:
        """Tell whether the page at dest is still what this plan would write."""
        return site == self.site and self.pages.get(uri) == fingerprint and Path(dest).exists()

    def output_changed(self, name: str, *inputs: object) -> bool:
        """Tell whether an output's inputs changed since it was last written (and remember them)."""
        fingerprint = digest(*inputs)
        if self.outputs.get(name) == fingerprint:
            return False
        self.outputs[name] = fingerprint
        return True

    def finish(self, site: str, pages: dict[str, str], dests: Iterable[str]) -> None:
        """Record a successful build and delete the pages the previous one wrote that are gone."""
        current = set(dests)
        for gone in self.dests - current:
            Path(gone).unlink(missing_ok=True)
        self.site, self.pages, self.dests = site, pages, current
