"""The editors' files parsed once (plugins/model/cache.py): a load from the cache is the load from the files."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from plugins.build.sites import build_all, sources_cache
from plugins.model import ContentError, Problem, load_content
from plugins.model import cache as cache_module
from plugins.model.cache import TIMESTAMP_GRAIN_NS, SourceCache, trusted_state
from plugins.model.content import _MARKDOWN_LIKE, _Loader, markdown_like
from plugins.model.source import read_source
from tests.support import REPO, TODAY


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "projet"
    for name in ("content", "toolbox", "newsletters"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    return root


def test_a_load_from_the_cache_is_a_load_from_the_files(project: Path, tmp_path: Path) -> None:
    kept = tmp_path / "sources.cache"
    cache = SourceCache.open(kept)
    first = load_content(project, cache)
    assert cache.parsed > 50 and len(cache.missed) == cache.parsed  # an empty cache is filled afterwards
    cache.fill(cache.missed)
    cache.close()
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
    load_content(project, again)  # the entries of the removed file and of the sheet's first version are gone
    assert again.parsed == 0 and not again.changed
    again.close()


def test_the_preview_reads_again_only_the_files_whose_state_changed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In memory, an unchanged file's parse is the previous load's; a rewrite is seen even with its size and mtime kept."""
    monkeypatch.setattr(cache_module, "TIMESTAMP_GRAIN_NS", 0)  # no coarse timestamps here: no wait for a state to be trusted
    cache = SourceCache()
    sheet = project / "toolbox/protocoles/protocole-avk.md"
    first = cache.read(sheet, project)
    assert not isinstance(first, Problem)
    assert cache.read(sheet, project) is first
    before = sheet.stat()
    text = sheet.read_text("utf-8")
    sheet.write_text(text.replace("title: Protocole", "title: Xrotocole", 1), "utf-8")  # the same size
    os.utime(sheet, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same modification time
    assert sheet.stat().st_size == before.st_size and sheet.stat().st_mtime_ns == before.st_mtime_ns
    second = cache.read(sheet, project)
    assert not isinstance(second, Problem) and second is not first
    assert second.meta["title"].startswith("Xrotocole")
    assert second.meta == read_source(sheet, project).meta  # type: ignore[union-attr]
    sheet.write_text(text, "utf-8")
    assert repr(load_content(project, cache)) == repr(load_content(project))
    assert repr(load_content(project, cache)) == repr(load_content(project))  # every file's state trusted now
    (project / "content/offres/ipa-fontenay.md").unlink()
    assert repr(load_content(project, cache)) == repr(load_content(project))


def test_a_state_is_trusted_only_once_older_than_the_timestamps_grain() -> None:
    """A file rewritten in the same timestamp tick as it was read keeps its state: that state proves nothing."""
    read_at = 1_000 * 10**9
    assert not trusted_state(read_at, read_at)
    assert not trusted_state(read_at - TIMESTAMP_GRAIN_NS + 1, read_at)
    assert trusted_state(read_at - TIMESTAMP_GRAIN_NS, read_at)


def test_a_load_checks_again_only_the_files_that_changed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The preview's loads: a file is checked again if its bytes or the themes changed, or if it had a problem."""
    checked: list[str] = []
    check_body = _Loader.check_body

    def counted(self: _Loader, doc) -> None:  # type: ignore[no-untyped-def]
        checked.append(doc.rel)
        check_body(self, doc)

    monkeypatch.setattr(_Loader, "check_body", counted)  # called once by each check of a file
    cache = SourceCache()
    first = load_content(project, cache)
    assert len(checked) > 50
    checked.clear()
    assert repr(load_content(project, cache)) == repr(first)
    assert checked == []

    sheet = project / "toolbox/protocoles/protocole-avk.md"
    sheet.write_text(sheet.read_text("utf-8").replace("title:", "title: Relu —", 1), "utf-8")
    edited = load_content(project, cache)
    assert checked == ["toolbox/protocoles/protocole-avk.md"]
    assert repr(edited) == repr(load_content(project))

    themes = project / "toolbox/themes.yml"
    themes.write_text(themes.read_text("utf-8").replace(": Coordination", ": Coordination d'équipe", 1), "utf-8")
    checked.clear()
    relabelled = load_content(project, cache)
    sheets = {p.relative_to(project).as_posix() for p in (project / "toolbox").rglob("*.md")}
    assert sheets and sheets <= set(checked)
    assert repr(relabelled) == repr(load_content(project))

    offer = project / "content/offres/ipa-fontenay.md"
    offer.write_text(offer.read_text("utf-8").replace("date: 2026-11-20", "date: 2026-11-31", 1), "utf-8")
    with pytest.raises(ContentError) as plain:
        load_content(project)
    for _ in range(2):  # a file with a problem is checked, and its problem reported, at every load
        checked.clear()
        with pytest.raises(ContentError) as cached:
            load_content(project, cache)
        assert cached.value.report() == plain.value.report()
        assert "content/offres/ipa-fontenay.md" in checked


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


@pytest.mark.parametrize("kept", [b"", b"pas un cache", b"SQLite format 3\x00" + bytes(200)])
def test_a_damaged_cache_is_an_empty_one(project: Path, tmp_path: Path, kept: bytes) -> None:
    path = tmp_path / "sources.cache"
    path.write_bytes(kept)
    cache = SourceCache.open(path)
    assert repr(load_content(project, cache)) == repr(load_content(project))
    assert cache.parsed > 50
    cache.close()


def test_the_build_keeps_it_beside_its_output(project: Path, tmp_path: Path) -> None:
    """Filled after the first build, by a process of its own; the next build reads it."""
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    kept = sources_cache(output)
    assert kept.is_file() and kept.parent == output.parent and kept.name.startswith(".")
    deadline = time.monotonic() + 60
    while True:
        cache = SourceCache.open(kept)
        load_content(project, cache)
        cache.close()
        if cache.parsed == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert cache.parsed == 0
    sheet = project / "toolbox/protocoles/protocole-avk.md"
    sheet.write_text(sheet.read_text("utf-8") + "\nUne ligne de plus.\n", "utf-8")
    build_all(project, output, TODAY)  # parses the edited sheet into the cache itself
    cache = SourceCache.open(kept)
    load_content(project, cache)
    cache.close()
    assert cache.parsed == 0


def test_the_files_are_found_in_pathlibs_order(tmp_path: Path) -> None:
    """markdown_like walks with text, not pathlib, and must keep its order (by path components: "a/" before "a-b/",
    which text order puts after), its extensions and its relative paths."""
    folder = tmp_path / "racine" / "boite"
    for name in ("a/x.md", "a-b/y.md", "a.b/z.md", "A/w.md", "a/b/c/d.md", "b.MD", "c.txt", "d.png", "é/e.markdown"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("---\ntitle: t\n---\n", "utf-8")
    (folder / "dossier.md").mkdir()  # a folder is not a file
    root = tmp_path / "racine"
    expected = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _MARKDOWN_LIKE and p.is_file())
    assert markdown_like(root, "boite") == [(p.relative_to(root).as_posix(), str(p)) for p in expected]
    assert [rel for rel, _ in markdown_like(root, "boite")][:3] == ["boite/A/w.md", "boite/a/b/c/d.md", "boite/a/x.md"]
    assert markdown_like(root, "absent") == []
