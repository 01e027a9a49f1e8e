"""The fragments rendered once per build (navigation, tabs, footer) give the very bytes a rendering of every page would."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from plugins.plan.pages import is_search_bundle
from plugins.render import fragments
from plugins.render.plugin import FederationPlugin
from tests.support import REPO, TODAY


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        # Pagefind does not write its files identically twice
        if p.is_file() and not any(map(is_search_bundle, p.relative_to(root).parts))
    }


def test_reused_fragments_equal_a_rendering_of_every_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUILD_PROCESSES", "1")  # one process: the patch below reaches every page
    reused = build_all(REPO, tmp_path / "reutilises", TODAY).output
    rendered = []

    def every_time(self, name, key, page=None, *, caller):
        rendered.append(name)
        return fragments.Markup(caller())

    monkeypatch.setattr(fragments.Fragments, "__call__", every_time)
    plain = build_all(REPO, tmp_path / "chaque-page", TODAY).output
    assert len(rendered) > 3 * 300  # three fragments on each of the sites' pages
    first, second = tree(reused), tree(plain)
    assert first.keys() == second.keys()
    different = [name for name in first if first[name] != second[name]]
    assert different == []
    assert filecmp.cmp(reused / "public" / "index.html", plain / "public" / "index.html", shallow=False)


def test_one_markdown_parser_per_build_writes_what_mkdocs_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin converts pages with one parser reset between pages; MkDocs makes one per page: same bytes."""
    monkeypatch.setenv("BUILD_PROCESSES", "1")
    ours = build_all(REPO, tmp_path / "un-analyseur", TODAY).output
    monkeypatch.setattr(FederationPlugin, "on_pre_page", lambda self, page, /, *, config, files: page)
    theirs = build_all(REPO, tmp_path / "mkdocs", TODAY).output
    first, second = tree(ours), tree(theirs)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []
