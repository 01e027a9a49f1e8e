"""Every import points down: the project's packages as floors, from what needs nothing of the project to the build.

The layers are listed once, here, bottom first; a module imports only from its own floor or those below
(function-level imports included). What still points up is listed in UPWARD, the work of the reshaping
(issue « One way down »): the list only shrinks. A new upward import fails the test, and so does a listed
one that is gone (take it off the list).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

# Bottom first: one package per floor, each a folder of plugins/ whose name says what it owns.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("plugins.base",)),  # fingerprints, locks, processes, French argparse, the environment: stdlib only
    ("model", ("plugins.model",)),  # editors' files -> typed content, French dates, the one email rule
    ("settings", ("plugins.settings",)),  # mkdocs.yml's settings read without MkDocs, the service's paths
    ("plan", ("plugins.plan",)),  # what each site is made of: pages, URLs, feeds, search bundles
    ("render", ("plugins.render",)),  # the MkDocs adapter: plugin, templates, assets, incremental builds
    ("outputs", ("plugins.outputs",)),  # feeds, calendars, map data, sitemap, Pagefind
    ("mail", ("plugins.mail",)),  # SMTP and outbox transports, DKIM, the send-once ledger
    ("records", ("plugins.records",)),  # the service's SQLite stores and the htpasswd written from the accounts
    ("letters", ("plugins.letters",)),  # compose, MJML, publish, the send loop, bounces
    ("service", ("plugins.service",)),  # the Starlette app behind nginx and the operators' commands
    ("deploy", ("plugins.deploy",)),  # nginx, the CSP, the installer, the repository's hooks, diagnosis, backups
    ("build", ("plugins.build",)),  # the one build of a site, for `build.py build` and the preview
]

# (importing module, imported module) pairs that still point up: to remove, never to add.
UPWARD: set[tuple[str, str]] = set()  # none left: keep it so
# The MkDocs adapter is the build's alone: nothing else may need MkDocs to run (the service, send, the letters).
ADAPTER = "plugins.render"
ADAPTER_USERS = ("plugins.build", "plugins.render")


def floor(module: str) -> int | None:
    for n, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return n
    return None


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


MODULES = {module_of(p) for p in (REPO / "plugins").rglob("*.py")}


def imports() -> set[tuple[str, str]]:
    """Return (importer, imported module) for every import between the project's modules, at any depth of the code."""
    found = set()
    for path in (REPO / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # « from plugins.service import tokens » imports the module plugins.service.tokens.
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found |= {(module_of(path), t) for t in targets if t in MODULES}
    return found


def upward() -> set[tuple[str, str]]:
    out = set()
    for importer, imported in imports():
        low, high = floor(importer), floor(imported)
        if low is not None and high is not None and high > low:
            out.add((importer, imported))
    return out


def test_every_module_has_a_floor() -> None:
    assert sorted(m for m in MODULES if m != "plugins" and floor(m) is None) == []


def test_imports_only_point_down_but_for_the_listed_ones() -> None:
    found = upward()
    assert sorted(found - UPWARD) == [], "nouveaux imports vers un étage supérieur"
    assert sorted(UPWARD - found) == [], "imports retirés : enlevez-les de UPWARD"


def test_no_module_imports_itself_back() -> None:
    """No cycle between modules either (floors rule out one between packages): each can be read after what it imports."""
    graph: dict[str, set[str]] = {}
    for importer, imported in imports():
        if importer != imported:
            graph.setdefault(importer, set()).add(imported)
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"cycle : {' -> '.join((*path[path.index(module) :], module))}"
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


def test_only_the_build_imports_the_mkdocs_adapter() -> None:
    users = {a for a, b in imports() if b.startswith(ADAPTER) and not a.startswith(ADAPTER_USERS)}
    assert sorted(users - {a for a, b in UPWARD if b.startswith(ADAPTER)}) == []


def test_mkdocs_itself_is_reached_from_the_adapter_and_the_one_site_build() -> None:
    """MkDocs 2.0 drops plugins: what would change is plugins/render/, plugins/build/site.py and the preview's server."""
    users = set()
    for path in [*(REPO / "plugins").rglob("*.py"), REPO / "build.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(n == "mkdocs" or n.startswith("mkdocs.") for n in names):
                users.add(path.relative_to(REPO).as_posix())
    assert sorted(users) == [
        "plugins/build/preview.py",
        "plugins/build/site.py",
        "plugins/render/config.py",
        "plugins/render/plugin.py",
    ]


def test_imports_are_at_the_top_but_five_deferred_on_purpose() -> None:
    """An import inside a function hides a dependency from the reader (and from this test): five at most, each said."""
    deferred = []
    for path in (REPO / "plugins").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        deferred.append((module_of(path), inner.lineno, lines[inner.lineno - 1]))
    assert len(deferred) <= 5, deferred
    assert all("deferred on purpose" in line for _, _, line in deferred), deferred


def test_the_environment_is_read_in_one_module() -> None:
    """LETTER_DB, SMTP_*…: plugins/base/environment.py names and reads them all; nothing else touches os.environ."""
    from plugins.base.environment import VARIABLES

    readers = []
    named = set()
    for path in [*(REPO / "plugins").rglob("*.py"), REPO / "build.py"]:
        if path == REPO / "plugins" / "base" / "environment.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                readers.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "environment"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                named.add(node.args[0].value)
    assert readers == []
    assert named and named <= set(VARIABLES), sorted(named - set(VARIABLES))
