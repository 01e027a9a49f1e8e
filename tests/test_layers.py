"""Every import points down: the project's packages as floors, from what needs nothing of the project to the build.

The layers are listed once, here, bottom first; a module imports only from its own floor or those below
(function-level imports included). What still points up is listed in UPWARD, the work of the reshaping
(issue « One way down »): the list only shrinks. A new upward import fails the test, and so does a listed
one that is gone (take it off the list).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

# Bottom first. A module belongs to the first floor one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("plugins.fingerprint", "plugins.locking", "plugins.french_cli", "plugins.processes", "plugins.environment")),
    ("model", ("plugins.model", "plugins.scaffold")),
    ("settings", ("plugins.settings", "plugins.membership", "plugins.privacy", "plugins.readers.paths")),
    ("plan", ("plugins.website",)),
    ("render", ("plugins.federation",)),
    ("outputs", ("plugins.outputs",)),
    # The accounts' CSV, their bcrypt hashes and the htpasswd written from them (plugins/access/accounts.py): the
    # records the service keeps (plugins/readers/account_store.py) need them; nginx's files (deploy) only read them.
    (
        "records",
        (
            "plugins.readers.store",
            "plugins.readers.registrations",
            "plugins.readers.applications",
            "plugins.readers.account_store",
            "plugins.readers.outbox",
            "plugins.readers.guard",
            "plugins.access.accounts",
        ),
    ),
    ("letters", ("plugins.letters",)),
    ("service", ("plugins.readers",)),
    ("deploy", ("plugins.access",)),
    ("build", ("plugins.builder", "plugins.preview")),
]

# (importing module, imported module) pairs that still point up: to remove, never to add.
UPWARD: set[tuple[str, str]] = set()  # none left: keep it so
# The MkDocs adapter is the build's alone: nothing else may need MkDocs to run (the service, send, the letters).
ADAPTER = "plugins.federation"
ADAPTER_USERS = ("plugins.builder", "plugins.preview", "plugins.federation")


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
                # « from plugins.readers import tokens » imports the module plugins.readers.tokens.
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


def test_only_the_build_imports_the_mkdocs_adapter() -> None:
    users = {a for a, b in imports() if b.startswith(ADAPTER) and not a.startswith(ADAPTER_USERS)}
    assert sorted(users - {a for a, b in UPWARD if b.startswith(ADAPTER)}) == []


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
    """LETTER_DB, SMTP_*…: plugins/environment.py names and reads them all; nothing else touches os.environ."""
    from plugins.environment import VARIABLES

    readers = []
    named = set()
    for path in [*(REPO / "plugins").rglob("*.py"), REPO / "build.py"]:
        if path == REPO / "plugins" / "environment.py":
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
