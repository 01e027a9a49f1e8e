"""Share the theme's template work between builds of the same process, and escape our templates' output.

Each MkDocs build creates a new Jinja environment: it compiles Material's templates again and
lists the theme's 14,500 files (its icons included) to find the static ones. A full build makes
two sites, the preview rebuilds both on every edit: the compiled templates (Jinja's bytecode,
checked against the template's source) and the listing are kept for the process instead.

MkDocs' environment does not autoescape. Our templates print editors' text, so they are escaped
by default; Material's own templates are written for raw output (they print page.content, the
table of contents and the navigation as they are) and keep it. Jinja escapes a template's output
as that template was compiled, but marks {{ super() }} and macro output safe or not as the template
a page starts from: only our own templates extend our main.html (hence our 404.html).
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2


class MemoryBytecodeCache(jinja2.BytecodeCache):
    """Jinja bytecode kept in memory, and in a folder when given one (keep_in): for the next build's process.

    Jinja compares each template's source checksum (and its own bytecode version) before reuse; its
    key is made of the template's name and file, so Material's main.html and ours never share one.
    Without it, each site's build compiled Material's templates again, even after a one-file edit
    (measured: bench/RESULTS.md, « Why the code is as it is »).
    """

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}
        self.folder: Path | None = None

    def keep_in(self, folder: Path | None) -> None:
        """Read and write the compiled templates in folder too (None: memory only)."""
        self.folder = folder

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.store.get(bucket.key)
        if data is None and self.folder is not None:
            try:
                data = (self.folder / bucket.key).read_bytes()
            except OSError:
                data = None
        if data is not None:
            bucket.bytecode_from_string(data)  # Jinja resets the bucket if the data is not its own

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.store[bucket.key] = bucket.bytecode_to_string()
        if self.folder is not None:
            # Two processes may write the same template: each to a file of its own, then renamed over.
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = self.folder / f".{bucket.key}.{os.getpid()}"
            temporary.write_bytes(data)
            os.replace(temporary, self.folder / bucket.key)

    def clear(self) -> None:
        self.store.clear()


BYTECODE = MemoryBytecodeCache()
_LISTINGS: dict[tuple[Any, ...], list[str]] = {}


def escape_templates_of(folder: Path) -> Callable[[str | None], bool]:
    """Return Jinja's autoescape choice: on for the templates found in folder, off for the theme's own."""
    ours = {p.relative_to(folder).as_posix() for p in folder.rglob("*.html")}

    def autoescape(name: str | None) -> bool:
        # folder comes first in the theme's search path: a name found there is our template, even
        # where it shadows one of Material's (main.html, partials/footer.html).
        return name in ours

    return autoescape


def share_theme_work(theme: Any, escaped: Path) -> None:
    """Make theme.get_env() return environments that reuse compiled templates and the theme's file listing.

    The templates under escaped (first in the theme's search path) get autoescape.
    """
    original: Callable[[], jinja2.Environment] = type(theme).get_env.__get__(theme)

    def get_env() -> jinja2.Environment:
        env = original()
        # Set on every environment that shares the bytecode: Jinja's cache key ignores autoescape.
        env.autoescape = escape_templates_of(escaped)
        env.bytecode_cache = BYTECODE
        search_path = tuple(theme.dirs)
        static_templates = tuple(sorted(theme.static_templates))
        list_templates = env.list_templates

        def listed(extensions=None, filter_func=None) -> list[str]:
            # MkDocs' only caller passes a filter defined in its code (same __code__ every build)
            # that depends on the theme's static templates: the listing depends on nothing else.
            key = (search_path, static_templates, extensions and tuple(extensions), getattr(filter_func, "__code__", filter_func))
            if key not in _LISTINGS:
                _LISTINGS[key] = list_templates(extensions, filter_func)
            return list(_LISTINGS[key])

        env.list_templates = listed  # type: ignore[method-assign]
        flatten_globals(env)
        return env

    theme.get_env = get_env


class SealedGlobals(dict):
    """An environment's globals, which can no longer change once a template has taken a copy (flat_globals)."""

    sealed = False

    def _check(self) -> None:
        if self.sealed:
            raise RuntimeError("globals of the template environment changed after a template was loaded")

    def __setitem__(self, key: str, value: Any) -> None:
        self._check()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._check()
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._check()
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._check()
        return super().setdefault(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self._check()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._check()
        return super().popitem()

    def clear(self) -> None:
        self._check()
        super().clear()

    def __ior__(self, other: Any) -> SealedGlobals:  # type: ignore[misc]  # dict types |= narrower than a subclass may
        self._check()
        super().update(other)
        return self


def flatten_globals(env: jinja2.Environment) -> None:
    """Give env's templates their globals as a plain dict (flat_globals), the environment's sealed once they do."""
    env.globals = SealedGlobals(env.globals)
    env.make_globals = types.MethodType(flat_globals, env)  # type: ignore[method-assign]


def flat_globals(env: jinja2.Environment, template_globals: Any = None) -> dict[str, Any]:
    """Jinja's Environment.make_globals as a plain dict instead of a ChainMap over the environment's globals.

    Jinja copies a template's globals into every context it makes (each include, import and macro
    module), and iterating a ChainMap is done in Python, which showed in a build's profile
    (measured: bench/RESULTS.md, « Why the code is as it is »). A copy cannot follow later changes to the
    environment's globals: the globals are sealed (SealedGlobals) once the first template is loaded,
    after the plugins' on_env.
    """
    if isinstance(env.globals, SealedGlobals):
        env.globals.sealed = True
    return {**env.globals, **(template_globals or {})}
