"""Pages converted from Markdown, kept beside the built sites from one build to the next.

Most builds follow a one-file edit: the other pages' Markdown has not changed, nor the links it
may point to. A page's conversion is kept under a digest of everything it depends on: its source
path and Markdown, the site's list of files (relative links are resolved against it), the
Markdown settings of mkdocs.yml and the versions of the packages that convert it. Anything else
changes the key, and the page is converted again.

The file is beside site/, never inside: nginx serves site/public and site/adherents only.
"""

from __future__ import annotations

import hashlib
import pickle
import sqlite3
from importlib.metadata import version
from pathlib import Path
from typing import Any

PACKAGES = ("mkdocs", "Markdown", "pymdown-extensions", "mkdocs-material")
SCHEMA = """
CREATE TABLE IF NOT EXISTS pages (
    key TEXT PRIMARY KEY,
    build TEXT NOT NULL,
    value BLOB NOT NULL
);
"""


def settings_digest(config: Any, uris: list[str]) -> str:
    """Return the digest of what every page's conversion in this site depends on besides its own Markdown."""
    parts = [
        repr(sorted(uris)),
        repr(config.markdown_extensions),
        repr(sorted((k, repr(v)) for k, v in (config.mdx_configs or {}).items())),
        repr(config.use_directory_urls),
        repr(config.validation),
        *(f"{name}={version(name)}" for name in PACKAGES),
    ]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class MarkdownCache:
    """A SQLite file of converted pages; each build marks what it used, and the rest is dropped after it."""

    def __init__(self, path: Path, build: str):
        self.path, self.build = path, build
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")  # a lost cache costs one slower build, nothing else
        self.db.executescript(SCHEMA)
        self.pending: list[tuple[str, str, bytes]] = []
        self.used: list[str] = []
        self.hits = 0

    @staticmethod
    def key(site: str, src_uri: str, markdown: str) -> str:
        text = "\x1f".join((site, src_uri, markdown))
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20).hexdigest()

    def get(self, key: str) -> Any | None:
        row = self.db.execute("SELECT value FROM pages WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        self.hits += 1
        self.used.append(key)
        return pickle.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        self.pending.append((key, self.build, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))

    def save(self) -> None:
        """Write this process's new pages and mark the ones it reused as used by this build."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT OR REPLACE INTO pages (key, build, value) VALUES (?, ?, ?)", self.pending)
            self.db.executemany("UPDATE pages SET build = ? WHERE key = ?", [(self.build, k) for k in self.used])
        self.pending, self.used = [], []

    def close(self) -> None:
        self.db.close()


def drop_unused(path: Path, build: str) -> None:
    """Drop the pages no site of this build used (old versions of edited pages, deleted pages)."""
    if not path.exists():
        return
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        db.execute("DELETE FROM pages WHERE build != ?", (build,))
    finally:
        db.close()
