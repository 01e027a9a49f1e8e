"""The conversions kept beside site/ between builds: a warm build writes the very bytes of a cold one, and what the
pages depend on (their Markdown, the site's files, the Markdown settings) invalidates what it must."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from plugins.builder import build_all
from tests.conftest import TODAY, make_project, write_files


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "pagefind" not in p.parts  # Pagefind does not write its files identically twice
    }


def kept(output: Path) -> int:
    db = sqlite3.connect(output.parent / f".{output.name}-cache" / "pages.sqlite")
    try:
        return db.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_warm_build_after_edits_equals_a_cold_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str) -> None:
    monkeypatch.setenv("BUILD_PROCESSES", processes)
    (tmp_path / "projet").mkdir()
    # A news item links to one that does not exist yet: its link is resolved only once the other is written.
    lien = "---\ntitle: Lien\ndate: 2026-10-01\nsummary: Un lien.\n---\n\nVoir [la suite](a-venir.md).\n"
    project = make_project(tmp_path / "projet", {"content/actualites/lien.md": lien})
    warm = tmp_path / "chaud" / "site"
    build_all(project, warm, TODAY)
    first = kept(warm)
    assert first > 10
    edits = {
        # One sheet's text, a new page that another one links to, and a link to a page that was missing before.
        "toolbox/fiche-rcp.md": (project / "toolbox/fiche-rcp.md")
        .read_text()
        .replace("Texte réservé aux adhérents.", "Texte modifié, voir [le guide](guide-prevention.md)."),
        "content/actualites/nouvelle.md": "---\ntitle: Nouvelle\ndate: 2026-11-01\nsummary: Nouveau.\n---\n\nVoir [la convention](nouvelle-convention.md).\n",
        "content/actualites/a-venir.md": "---\ntitle: À venir\ndate: 2026-11-02\nsummary: La suite.\n---\n\nLa suite.\n",
    }
    write_files(project, edits)
    build_all(project, warm, TODAY)
    cold = build_all(project, tmp_path / "froid" / "site", TODAY).output
    assert tree(warm) == tree(cold)
    assert 'href="../a-venir/"' in (warm / "public" / "actualites" / "lien" / "index.html").read_text()
    # The Markdown settings of mkdocs.yml change every page's key: the next build converts again.
    config = project / "mkdocs.yml"
    config.write_text(config.read_text().replace("permalink_title: Lien vers cette section", "permalink_title: Lien ici"))
    build_all(project, warm, TODAY)
    cold = build_all(project, tmp_path / "froid2" / "site", TODAY).output
    assert tree(warm) == tree(cold)
    assert 'title="Lien ici"' in (warm / "adherents" / "boite-a-outils" / "fiches" / "fiche-rcp" / "index.html").read_text()
    assert kept(warm) <= first + 4  # the old conversions were dropped, not piled up
