"""The editors' files parsed once (plugins/model/cache.py): a load from the cache is the load from the files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from plugins.builder import build_all, sources_cache
from plugins.model import ContentError, Problem, load_content
from plugins.model.cache import SourceCache
from plugins.model.source import read_source
from tests.conftest import REPO, TODAY


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "projet"
    for name in ("content", "toolbox", "newsletters"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    return root


def test_a_load_from_the_cache_is_a_load_from_the_files(project: Path, tmp_path: Path) -> None:
    cache = SourceCache()
    first = load_content(project, cache)
    assert cache.parsed > 50
    kept = tmp_path / "sources.cache"
    cache.save(kept)
    again = SourceCache.open(kept)
    assert repr(load_content(project, again)) == repr(first)
    assert again.parsed == 0 and not again.changed

    sheet = project / "toolbox/protocoles/protocole-avk.md"
    sheet.write_text(sheet.read_text("utf-8").replace("title:", "title: Relu —", 1), "utf-8")
    (project / "content/offres/ipa-fontenay.md").unlink()
    edited = load_content(project, again)
    assert again.parsed == 1 and again.changed
    assert repr(edited) == repr(load_content(project))
    assert any(s.title.startswith("Relu —") for s in edited.sheets)


def test_each_load_gets_its_own_objects(project: Path) -> None:
    """The preview loads again and again from one cache: what a build changes in its model stays in that build."""
    cache = SourceCache()
    sheet = project / "toolbox/protocoles/protocole-avk.md"
    first = cache.read(sheet, project)
    assert not isinstance(first, Problem)
    first.meta["title"] = "changé après la lecture"
    second = cache.read(sheet, project)
    assert not isinstance(second, Problem)
    assert second.meta["title"] != "changé après la lecture"
    assert second.meta == read_source(sheet, project).meta  # type: ignore[union-attr]


def test_a_broken_file_is_reported_the_same_from_the_cache(project: Path) -> None:
    offer = project / "content/offres/ipa-fontenay.md"
    offer.write_text(offer.read_text("utf-8").replace("title:", "title: [non fermé", 1), "utf-8")
    cache = SourceCache()
    with pytest.raises(ContentError) as plain:
        load_content(project)
    for _ in range(2):  # parsed, then from the cache
        with pytest.raises(ContentError) as cached:
            load_content(project, cache)
        assert cached.value.report() == plain.value.report()
    assert cache.parsed == 0


@pytest.mark.parametrize("kept", [b"", b"pas un cache", b"\x80\x04\x95garbage"])
def test_a_damaged_cache_is_an_empty_one(project: Path, tmp_path: Path, kept: bytes) -> None:
    path = tmp_path / "sources.cache"
    path.write_bytes(kept)
    cache = SourceCache.open(path)
    assert repr(load_content(project, cache)) == repr(load_content(project))
    assert cache.parsed > 50


def test_the_build_keeps_it_beside_its_output(project: Path, tmp_path: Path) -> None:
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    kept = sources_cache(output)
    assert kept.is_file() and kept.parent == output.parent and kept.name.startswith(".")
    cache = SourceCache.open(kept)
    load_content(project, cache)
    assert cache.parsed == 0
