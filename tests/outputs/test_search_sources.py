"""Pagefind is given each page cut to the part it indexes: the index must be the one it makes from whole pages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from plugins.outputs import search
from plugins.outputs.search import KEPT, SearchIndexError, index_bundle, indexed_part, update_sources, write_sources

# Pagefind 1.x does not write its filter and metadata files identically twice, even from the same pages.
UNSTABLE = ("filter/", ".pf_meta", "pagefind-entry.json")


def stable_files(bundle: Path) -> dict[str, bytes]:
    files = {p.relative_to(bundle).as_posix(): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}
    return {name: data for name, data in files.items() if not any(part in name for part in UNSTABLE)}


def test_pagefind_writes_the_same_index_from_the_indexed_parts_as_from_whole_pages(sample_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "adherents"
    shutil.copytree(sample_site / "adherents", site, ignore=shutil.ignore_patterns("pagefind", "pagefind-site"))
    dests = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html") if b" data-pagefind-body" in p.read_bytes())
    assert len(dests) > 50 and "index.html" not in dests
    uris = [dest.removesuffix("/index.html") + ".md" for dest in dests]

    index_bundle(site, "cut", uris)

    working = tmp_path / "whole-pages"
    working.mkdir()
    (working / "pagefind.json").write_text(json.dumps({"glob": "{" + ",".join(dests) + "}"}), encoding="utf-8")
    search._pagefind(site, tmp_path / "whole", working)

    cut, whole = stable_files(site / "cut"), stable_files(tmp_path / "whole")
    assert len([name for name in whole if name.startswith("fragment/")]) == len(dests)
    assert cut.keys() == whole.keys()
    assert [name for name in cut if cut[name] != whole[name]] == []
    assert not (tmp_path / ".adherents-cut-search").exists()  # the cut pages are deleted once indexed


def test_a_page_without_its_indexed_part_stops_the_index_with_its_name(tmp_path: Path) -> None:
    page = tmp_path / "actualites" / "note" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text('<html><body><article id="contenu" class="md-content__inner">Texte</article></body></html>', "utf-8")
    with pytest.raises(SearchIndexError, match="actualites/note/index.html"):
        index_bundle(tmp_path, "pagefind", ["actualites/note.md"])
    assert not (tmp_path / "pagefind").exists()


def test_the_indexed_part_is_the_first_article_up_to_the_last_closing_one() -> None:
    page = (
        b"<html><head><title>data-pagefind-body</title></head><body><nav>menu</nav>"
        b'<article id="contenu" class="x" data-pagefind-body><h1>Titre</h1>'
        b'<article class="fed-card">carte</article></article><footer>pied</footer></body></html>'
    )
    part = indexed_part(page, "x/index.html")
    assert b"menu" not in part and b"pied" not in part
    assert b'<h1>Titre</h1><article class="fed-card">carte</article></article></body>' in part


def test_kept_sources_are_cut_again_only_where_the_page_changed(sample_site: Path, tmp_path: Path, monkeypatch) -> None:
    site = sample_site / "adherents"
    dests = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html") if b" data-pagefind-body" in p.read_bytes())
    uris = [dest.removesuffix("/index.html") + ".md" for dest in dests][:20]
    versions = {uri: "v1" for uri in uris}
    kept = tmp_path / "coupes"
    cut: list[str] = []
    original = search.indexed_part
    monkeypatch.setattr(search, "indexed_part", lambda page, file: cut.append(file) or original(page, file))

    update_sources(site, uris, versions, kept)
    assert len(cut) == 20
    write_sources(site, "temoin", uris)  # what a build from nothing cuts
    fresh = {
        p.relative_to(search.sources_dir(site, "temoin")).as_posix(): p.read_bytes()
        for p in search.sources_dir(site, "temoin").rglob("*.html")
    }
    shutil.rmtree(search.sources_dir(site, "temoin"))

    cut.clear()
    versions[uris[3]] = "v2"
    update_sources(site, uris[:-1], versions, kept)  # one page changed, the last one left the bundle
    assert cut == [dests[3]]
    assert {p.relative_to(kept).as_posix(): p.read_bytes() for p in kept.rglob("*.html")} == {
        name: data for name, data in fresh.items() if name != dests[19]
    }

    cut.clear()
    (kept / KEPT).write_text("abîmé", "utf-8")  # as a build stopped midway would not leave it: all cut anew
    update_sources(site, uris, versions, kept)
    assert len(cut) == 20
