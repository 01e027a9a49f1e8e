"""Stable fingerprints: of values (by their repr) and of the code and packages that turn content into files.

Used by the incremental builds (plugins/render/incremental.py): what has the same
fingerprint as in the previous build is taken from it instead of being made again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

# What renders the sites besides the content: their versions are part of every fingerprint.
PACKAGES = (
    *("mkdocs", "mkdocs-material", "markdown", "pymdown-extensions", "jinja2", "markupsafe"),
    *("pagefind", "feedgen", "icalendar", "mjml-python"),
)
CODE = Path(__file__).resolve().parent.parent  # plugins/: the model, the plan, the templates, the assets


def digest(*parts: object) -> str:
    """Return a short, stable fingerprint of values whose repr() is deterministic (dataclasses, text, dates)."""
    return hashlib.blake2b(repr(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def code_version(folder: Path = CODE, packages: Iterable[str] = PACKAGES) -> str:
    """Return a digest of the code that renders the sites (every file under folder, by content) and of the packages' versions."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for name in packages:
        try:
            h.update(f"{name}={metadata.version(name)};".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name}=;".encode())
    return h.hexdigest()
