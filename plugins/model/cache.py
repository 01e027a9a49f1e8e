"""Editors' files parsed once: the front matter and body of each file, kept by the digest of its bytes.

Parsing the YAML front matter of 8,000 files took 1.5 s of every build at ten times the
federation's volume, for the one or two files an editor changed. A file's parse depends on its
bytes, its path and the parsing code only (plugins/model/source.py); the checks of its fields and
of the links between files are made again at every load, from the parsed files.

`build.py build` keeps the cache in a file beside the output folder (SourceCache.open, .save):
written and read by the build only, as the sites themselves are. The preview keeps one in memory.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import uuid
from pathlib import Path

from plugins.fingerprint import code_version
from plugins.model.problems import Problem
from plugins.model.source import SourceDocument, parse_read

CACHE_VERSION = 1
PARSER = Path(__file__).resolve().parent  # the model's code: what a parse depends on besides the file
PARSER_PACKAGES = ("pyyaml", "python-frontmatter")


class SourceCache:
    """Parsed files by (path, bytes): each entry is pickled, so that no build sees another's objects."""

    def __init__(self, entries: dict[str, bytes] | None = None) -> None:
        self._entries = entries or {}
        self._used: dict[str, bytes] = {}
        self.parsed = 0  # files parsed by the last load (the others were in the cache)

    @classmethod
    def open(cls, path: Path) -> SourceCache:
        """Return the cache kept at path; an empty one if there is none, or one of another version or parser."""
        try:
            kept = pickle.loads(path.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError):
            return cls()
        if not isinstance(kept, dict) or kept.get("version") != _version() or not isinstance(kept.get("entries"), dict):
            return cls()
        return cls(kept["entries"])

    @property
    def changed(self) -> bool:
        """Tell whether the last load parsed a file or left an entry unread (then save has something to keep)."""
        return self.parsed > 0 or self._used.keys() != self._entries.keys()

    def save(self, path: Path) -> None:
        """Keep the entries of the last load only (files removed since go), replacing the file at once."""
        temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}")
        temporary.write_bytes(pickle.dumps({"version": _version(), "entries": self._used}, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(temporary, path)

    def start(self) -> None:
        """Begin a load: the entries it reads are those kept next."""
        if self._used:
            self._entries = self._used
        self._used = {}
        self.parsed = 0

    def read(self, path: Path, root: Path) -> SourceDocument | Problem:
        """Return the file parsed (read_source), from the cache if its path and bytes are those of an entry."""
        name = str(path)
        with open(name, "rb") as file:
            raw = file.read()
        rel = path.relative_to(root).as_posix()
        key = hashlib.blake2b(f"{name}\0{rel}\0".encode("utf-8", "surrogateescape") + raw, digest_size=20).hexdigest()
        kept = self._entries.get(key)
        if kept is not None:
            self._used[key] = kept
            parsed: SourceDocument | Problem = pickle.loads(kept)
            return parsed
        parsed = parse_read(raw, rel, path)
        self._used[key] = pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
        self.parsed += 1
        return parsed


_VERSION: str | None = None


def _version() -> str:
    global _VERSION
    if _VERSION is None:
        _VERSION = f"{CACHE_VERSION}:{code_version(PARSER, PARSER_PACKAGES)}"
    return _VERSION
