"""Editors' files parsed once: the front matter and body of each file, kept by the digest of its bytes.

Every build parsed the YAML front matter of every file again, for the one or two files an
editor changed. A file's parse depends on its
bytes, its path and the parsing code only (plugins/model/source.py); the checks of its fields and
of the links between files are made again at every load, from the parsed files.

`build.py build` keeps the cache in an SQLite file beside the output folder (SourceCache.open):
written and read by the build only, as the sites themselves are. Each entry is read when its file
is, so that the build's memory does not hold them all (the build's second process is a copy of
the first). The preview keeps one in memory (SourceCache()).

An empty cache (the first build, or a new version of the parsing code) is filled after the
build, by a process of its own that parses the files again (fill_later): pickling every file
during the build cost it time, and memory in each of its two processes
(measured: bench/RESULTS.md, « Why the code is as it is »).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from plugins.base.fingerprint import code_version
from plugins.model.problems import Problem
from plugins.model.source import SourceDocument, parse_read

CACHE_VERSION = 3  # 3: entries without their path (_dumps)
PARSER = Path(__file__).resolve().parent  # the model's code: what a parse depends on besides the file
PARSER_PACKAGES = ("pyyaml", "python-frontmatter")


class SourceCache:
    """Parsed files by (path, bytes), each pickled: no load sees another's objects."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.parsed = 0  # files parsed by the last load (the others were in the cache)
        self._used: set[str] = set()
        self._stale = False
        self.missed: list[tuple[str, str, str]] = []  # (key, path, rel) of the files left for fill_later
        # Each file's checked front matter, by its key: (what the checks depended on besides it, the values). The
        # preview's loads check again only the files that changed (content._Loader.values); never written to disk.
        self.checked: dict[str, tuple[object, dict]] = {}
        self._defer = False
        # In memory, each file read (path, relative path): its state then (size, times, inode), when it was read, its
        # key and its parse. A file whose state has not changed since is not read again (the preview; trusted_state).
        self._states: dict[tuple[str, str], tuple[tuple[int, int, int, int], int, str, SourceDocument | Problem]] | None
        self._states = {} if path is None else None
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError:  # not a cache (damaged, or another file): start a new one
            if path is None:
                raise
            path.unlink(missing_ok=True)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        # The preview loads from its server's thread, one load at a time (Preview.lock).
        db = sqlite3.connect(
            str(self.path) if self.path else ":memory:", isolation_level=None, check_same_thread=False, timeout=60
        )
        try:
            db.execute("CREATE TABLE IF NOT EXISTS about (version TEXT NOT NULL)")
            db.execute("CREATE TABLE IF NOT EXISTS parsed (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            kept = db.execute("SELECT version FROM about").fetchall()
            if kept != [(_version(),)]:  # another version's entries: start afresh
                db.execute("DELETE FROM parsed")
                db.execute("DELETE FROM about")
                db.execute("INSERT INTO about VALUES (?)", (_version(),))
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    @classmethod
    def open(cls, path: Path) -> SourceCache:
        """Return the cache kept at path (created if there is none; emptied if damaged or of another version)."""
        return cls(path)

    @property
    def changed(self) -> bool:
        """Tell whether the last load parsed a file or left entries unread (removed or edited files)."""
        return self.parsed > 0 or self._stale

    def start(self) -> None:
        """Begin a load: the entries it does not read are removed when it finishes.

        IMMEDIATE: the load will write, and waits (timeout) for a filler still writing; a deferred
        transaction would fail at its first write instead, without waiting.
        """
        self._used = set()
        self.parsed = 0
        self._stale = False
        self.missed = []
        self._db.execute("BEGIN IMMEDIATE")
        # Empty: every file is to parse, and a file's cache is filled after the build (the preview's, in memory, now).
        self._defer = self.path is not None and self._db.execute("SELECT count(*) FROM parsed").fetchone()[0] == 0

    def finish(self) -> None:
        """End a load: keep what it parsed, drop the entries of files it did not read."""
        self.checked = {key: kept for key, kept in self.checked.items() if key in self._used}
        if self._states:
            self._states = {name: seen for name, seen in self._states.items() if seen[2] in self._used}
        count = self._db.execute("SELECT count(*) FROM parsed").fetchone()[0]
        if count != len(self._used):
            self._stale = True
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS used (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM used")
            self._db.executemany("INSERT INTO used VALUES (?)", ((key,) for key in self._used))
            self._db.execute("DELETE FROM parsed WHERE key NOT IN (SELECT key FROM used)")
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._states = None if self._states is None else {}
        self.checked = {}  # a build closes its cache once loaded: its memory is the build's (and its second process's)
        with contextlib.suppress(sqlite3.Error):
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        self._db.close()

    def read(self, path: Path | str, root: Path, rel: str | None = None) -> SourceDocument | Problem:
        """Return the file parsed (read_source), from the cache if its path and bytes are those of an entry.

        path: the file's path, a Path or text (a Path is made of it when it is read); rel: its path relative to
        root, as text, if the caller knows it.
        In memory (the preview), a file whose state has not changed since the previous load is not read again: that
        load's parse is returned, the very object (the model reads its files' parses, never changes them).
        """
        name = os.fspath(path)
        rel = Path(name).relative_to(root).as_posix() if rel is None else rel
        states = self._states
        if states is not None:
            st = os.stat(name)
            state = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            seen = states.get((name, rel))
            if seen is not None and seen[0] == state and trusted_state(max(st.st_mtime_ns, st.st_ctime_ns), seen[1]):
                self._used.add(seen[2])
                return seen[3]
            read_at = time.time_ns()
        path = path if isinstance(path, Path) else Path(name)
        with open(name, "rb") as file:
            raw = file.read()
        key = hashlib.blake2b(f"{name}\0{rel}\0".encode("utf-8", "surrogateescape") + raw, digest_size=20).hexdigest()
        self._used.add(key)
        row = self._db.execute("SELECT value FROM parsed WHERE key = ?", (key,)).fetchone()
        if row is not None:
            parsed = _loads(row[0], path, key)
        else:
            parsed = parse_read(raw, rel, path)
            if isinstance(parsed, SourceDocument):
                parsed.key = key
            self.parsed += 1
            if self._defer:
                self.missed.append((key, name, rel))
            else:
                self._db.execute("INSERT OR REPLACE INTO parsed VALUES (?, ?)", (key, _dumps(parsed)))
        if states is not None:
            states[(name, rel)] = (state, read_at, key, parsed)
        return parsed

    def fill_later(self) -> None:
        """Have a process of its own parse the files the last load left (missed) into the cache, after this build."""
        if not self.missed or self.path is None:
            return
        filler = subprocess.Popen(
            [sys.executable, "-m", "plugins.model.cache", str(self.path)],
            cwd=Path(__file__).resolve().parents[2],
            start_new_session=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert filler.stdin is not None
        filler.stdin.write(json.dumps(self.missed).encode("utf-8"))
        filler.stdin.close()
        self.missed = []

    def fill(self, missed: list[tuple[str, str, str]]) -> None:
        """Parse each file into the cache, if it is still what the load read (same key)."""
        self._db.execute("BEGIN IMMEDIATE")
        for key, name, rel in missed:
            try:
                with open(name, "rb") as file:
                    raw = file.read()
            except OSError:
                continue
            if hashlib.blake2b(f"{name}\0{rel}\0".encode("utf-8", "surrogateescape") + raw, digest_size=20).hexdigest() != key:
                continue  # edited since: the next load parses it
            parsed = parse_read(raw, rel, Path(name))
            self._db.execute("INSERT OR REPLACE INTO parsed VALUES (?, ?)", (key, _dumps(parsed)))
        self._db.execute("COMMIT")


# A file's timestamps may be coarser than a nanosecond (two seconds on FAT, one on some network shares): a file
# written in the same tick as it was read, after the read, keeps its state. Its state is trusted only once it
# was read more than that after its last change (as Git does with its index's "racily clean" entries).
TIMESTAMP_GRAIN_NS = 2_000_000_000


def trusted_state(changed_ns: int, read_at_ns: int) -> bool:
    """Tell whether a file whose state (size, times, inode) is the same as when it was read has the same bytes.

    changed_ns: the later of its modification and status change times; read_at_ns: when it was read.
    """
    return changed_ns + TIMESTAMP_GRAIN_NS <= read_at_ns


def _dumps(parsed: SourceDocument | Problem) -> bytes:
    """Pickle a parse; a document without its path: the entry's key holds it, and unpickling a Path object for
    each file slowed every load (measured: bench/RESULTS.md, « Why the code is as it is »)."""
    if isinstance(parsed, SourceDocument):
        kept: object = (parsed.rel, parsed.meta, parsed.body, parsed.body_line, parsed.problems)
    else:
        kept = parsed
    return pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(value: bytes, path: Path, key: str) -> SourceDocument | Problem:
    kept = pickle.loads(value)
    if isinstance(kept, Problem):
        return kept
    rel, meta, body, body_line, problems = kept
    return SourceDocument(path, rel, meta, body, body_line, problems, key)


_VERSION: str | None = None


def _version() -> str:
    global _VERSION
    if _VERSION is None:
        _VERSION = f"{CACHE_VERSION}:{code_version(PARSER, PARSER_PACKAGES)}"
    return _VERSION


if __name__ == "__main__":  # fill_later's process: the cache's path, and the files to parse as JSON on stdin
    cache = SourceCache(Path(sys.argv[1]))
    try:
        cache.fill([(str(k), str(n), str(r)) for k, n, r in json.loads(sys.stdin.buffer.read())])
    finally:
        cache.close()
