"""Warm builds: `build.py build` takes the unchanged pages, outputs and search bundles of the previous build.

What it writes must be the same bytes as a build from nothing (Pagefind's filter and metadata
files aside: Pagefind does not write those identically twice, even from the same pages), and
what changes every page (a setting, the code, a package) must make every page anew.
"""

from __future__ import annotations

import shutil
import time
from importlib import metadata
from pathlib import Path

import jinja2
import pytest

from plugins.base import fingerprint
from plugins.base.fingerprint import code_version
from plugins.build import sites as builder
from plugins.build.sites import build_all
from plugins.plan.pages import is_search_bundle
from plugins.render.incremental import CACHE_FILE
from plugins.render.themeenv import BYTECODE
from tests.support import REPO, TODAY

SOURCES = ("content", "toolbox", "newsletters")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "projet"
    for name in SOURCES:
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    return root


def pagefind_variable(parts: tuple[str, ...]) -> bool:
    """Pagefind's files that differ from one run to the next on the same pages (filters, metadata, and the entry naming them)."""
    if not any(map(is_search_bundle, parts)):
        return False
    return "filter" in parts or parts[-1].endswith(".pf_meta") or parts[-1] == "pagefind-entry.json"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".old-") and not pagefind_variable(p.relative_to(root).parts)
    }


def assert_same(warm: Path, cold: Path) -> None:
    got, expected = tree(warm), tree(cold)
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []


def edit(project: Path) -> None:
    """An editor's push: a members-only sheet, a public news item, an offer removed, an event added, a letter's editorial."""
    letter = project / "newsletters/2026-09-adherents.md"
    letter.write_text(letter.read_text("utf-8") + "\nUn mot ajouté à l'éditorial.\n", "utf-8")
    sheet = project / "toolbox/protocoles/protocole-avk.md"
    sheet.write_text(sheet.read_text("utf-8") + "\nParagraphe ajouté après la relecture du protocole.\n", "utf-8")
    news = project / "content/actualites/mars-bleu-2026.md"
    news.write_text(news.read_text("utf-8").replace("Mars bleu", "Mars Bleu", 1), "utf-8")
    (project / "content/offres/ipa-fontenay.md").unlink()
    event = (project / "content/agenda/webinaire-rgpd.md").read_text("utf-8")
    (project / "content/agenda/webinaire-rgpd-bis.md").write_text(event.replace("RGPD", "RGPD (seconde session)", 1), "utf-8")


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_warm_build_writes_what_a_cold_one_writes(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str
) -> None:
    monkeypatch.setenv("BUILD_PROCESSES", processes)
    output = tmp_path / "site"
    first = build_all(project, output, TODAY, strict=True)
    assert first.rewritten == first.pages  # nothing to take from
    edit(project)
    warm = build_all(project, output, TODAY, strict=True)
    cold = build_all(project, tmp_path / "froid", TODAY, strict=True)
    assert cold.rewritten == cold.pages
    # Most pages came from the previous build: the edited ones, their listings and the sections' were rendered again.
    for site, count in warm.pages.items():
        assert 0 < warm.rewritten[site] < count / 2, (site, warm.rewritten)
    assert_same(output, tmp_path / "froid")
    assert "Un mot ajouté à l'éditorial." in (output / "lettres/2026-09-adherents.txt").read_text("utf-8")


def test_nothing_changed_renders_no_page(project: Path, tmp_path: Path) -> None:
    """Not even the sections' pages: the navigation takes their titles from the plan (mkdocs.yml's nav), not from them."""
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    again = build_all(project, output, TODAY)
    assert again.rewritten == {"public": 0, "adherents": 0}, again.rewritten
    build_all(project, tmp_path / "froid", TODAY)
    assert_same(output, tmp_path / "froid")


def test_a_sheets_body_is_written_on_its_page_only(project: Path, tmp_path: Path) -> None:
    """Listings show cards (plan.SheetCard): an edited body writes the sheet's page, not the listings; a new title writes both."""
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    sheet = project / "toolbox/protocoles/protocole-avk.md"
    text = sheet.read_text("utf-8")
    sheet.write_text(text + "\nParagraphe ajouté après la relecture du protocole.\n", "utf-8")
    body = build_all(project, output, TODAY)
    assert body.rewritten == {"public": 0, "adherents": 1}, body.rewritten
    sheet.write_text(text.replace("suivi des patients sous AVK", "suivi des patients sous antivitamines K", 1), "utf-8")
    title = build_all(project, output, TODAY)
    # Its page, the toolbox's home, the listings of its type, theme, stage and four keywords; on the public site, its
    # teaser and the same listings but the keywords' (a locked sheet's keywords are not shown there).
    assert title.rewritten == {"public": 5, "adherents": 9}, title.rewritten
    build_all(project, tmp_path / "froid", TODAY)
    assert_same(output, tmp_path / "froid")
    listing = (output / "adherents/boite-a-outils/type/modele/index.html").read_text("utf-8")
    assert "suivi des patients sous antivitamines K" in listing


def test_a_changed_setting_makes_every_page_anew(project: Path, tmp_path: Path) -> None:
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    settings = project / "mkdocs.yml"
    text = settings.read_text("utf-8")
    name = next(line for line in text.splitlines() if line.startswith("site_name:"))
    settings.write_text(text.replace(name, "site_name: Fédération renommée", 1), "utf-8")
    warm = build_all(project, output, TODAY)
    assert warm.rewritten == warm.pages
    build_all(project, tmp_path / "froid", TODAY)
    assert_same(output, tmp_path / "froid")
    assert "Fédération renommée" in (output / "public/offres/index.html").read_text("utf-8")


def test_another_day_renders_only_what_shows_the_date(project: Path, tmp_path: Path) -> None:
    """The daily rebuild: offers expire and events pass, the other pages stay as they are."""
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    later = TODAY.replace(year=TODAY.year + 1)
    warm = build_all(project, output, later)
    build_all(project, tmp_path / "froid", later)
    assert_same(output, tmp_path / "froid")
    assert warm.rewritten["public"] < warm.pages["public"]


def test_the_code_version_follows_the_files_and_the_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = tmp_path / "plugins"
    (code / "templates").mkdir(parents=True)
    (code / "templates/page.html").write_text("<p>{{ page }}</p>", "utf-8")
    before = code_version(code, ["jinja2"])
    assert code_version(code, ["jinja2"]) == before
    (code / "templates/page.html").write_text("<p>{{ page | e }}</p>", "utf-8")
    edited = code_version(code, ["jinja2"])
    assert edited != before
    real = metadata.version
    monkeypatch.setattr(fingerprint.metadata, "version", lambda name: "99.0" if name == "jinja2" else real(name))
    assert code_version(code, ["jinja2"]) != edited


def test_a_damaged_cache_means_a_build_from_nothing(project: Path, tmp_path: Path) -> None:
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    (output / "public" / CACHE_FILE).write_text('{"version": 2, "site": ', "utf-8")
    (output / "adherents" / CACHE_FILE).write_text('{"version": 2, "pages": []}', "utf-8")
    edit(project)
    warm = build_all(project, output, TODAY)
    assert warm.rewritten == warm.pages
    build_all(project, tmp_path / "froid", TODAY)
    assert_same(output, tmp_path / "froid")


def test_complete_takes_nothing_from_the_previous_build(project: Path, tmp_path: Path) -> None:
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    again = build_all(project, output, TODAY, complete=True)
    assert again.rewritten == again.pages


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_failed_warm_build_leaves_the_previous_site_as_it_was(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str
) -> None:
    """The new build's files are links to the previous one's: nothing may be written through them.

    With two processes, the letters fail in the public site's (forked: the patch reaches it).
    """
    monkeypatch.setenv("BUILD_PROCESSES", processes)
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    deadline = time.monotonic() + 30
    while list(output.glob(".old-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    before = {p: p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()}
    edit(project)

    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lettres en panne")

    monkeypatch.setattr(builder, "write_letters", fail)
    with pytest.raises(RuntimeError, match="lettres en panne"):
        build_all(project, output, TODAY)
    after = {p: p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()}
    assert sorted(after) == sorted(before)
    assert [p for p in before if after[p] != before[p]] == []


def test_a_link_follows_its_target_appearing(project: Path, tmp_path: Path) -> None:
    """A news item links to an offer not yet published: once it is, the link leads to its page."""
    news = project / "content/actualites/mars-bleu-2026.md"
    news.write_text(news.read_text("utf-8") + "\nVoir [l'offre à venir](../offres/ipa-fontenay-2.md).\n", "utf-8")
    output = tmp_path / "site"
    build_all(project, output, TODAY)
    page = output / "public/actualites/mars-bleu-2026/index.html"
    assert 'href="../offres/ipa-fontenay-2.md"' in page.read_text("utf-8")  # MkDocs leaves a link to nothing as written
    offer = (project / "content/offres/ipa-fontenay.md").read_text("utf-8")
    (project / "content/offres/ipa-fontenay-2.md").write_text(offer, "utf-8")
    build_all(project, output, TODAY)
    assert 'href="../../offres/ipa-fontenay-2/"' in page.read_text("utf-8")
    build_all(project, tmp_path / "froid", TODAY)
    assert_same(output, tmp_path / "froid")


def test_one_process_and_two_write_the_same_bytes(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One process converts each page's Markdown once for both sites; a link it holds may lead to a file only one site has."""
    news = project / "content/actualites/mars-bleu-2026.md"
    link = "\nLes adhérents trouveront [le modèle](../boite-a-outils/fiches/files/protocole-avk-inr.pdf).\n"
    news.write_text(news.read_text("utf-8") + link, "utf-8")
    monkeypatch.setenv("BUILD_PROCESSES", "1")
    build_all(project, tmp_path / "un", TODAY)
    monkeypatch.setenv("BUILD_PROCESSES", "2")
    build_all(project, tmp_path / "deux", TODAY)
    assert_same(tmp_path / "un", tmp_path / "deux")
    members = (tmp_path / "un/adherents/actualites/mars-bleu-2026/index.html").read_text("utf-8")
    assert 'href="../../boite-a-outils/fiches/files/protocole-avk-inr.pdf"' in members


def test_only_the_letters_whose_content_changed_are_rendered_again(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A letter is composed from its editorial and what was published before it: the others are linked as they were."""
    from plugins.letters import publish

    output = tmp_path / "site"
    build_all(project, output, TODAY)
    rendered: list[str] = []
    real = publish.render_letter

    def counting(composed, identity):  # type: ignore[no-untyped-def]
        rendered.append(composed.letter.slug)
        return real(composed, identity)

    monkeypatch.setattr(publish, "render_letter", counting)
    build_all(project, output, TODAY)
    assert rendered == []
    letter = project / "newsletters/2026-09-adherents.md"
    letter.write_text(letter.read_text("utf-8") + "\nUn mot ajouté à l'éditorial.\n", "utf-8")
    build_all(project, output, TODAY)
    assert rendered == ["2026-09-adherents"]
    build_all(project, tmp_path / "froid", TODAY)
    assert_same(output, tmp_path / "froid")
    assert "Un mot ajouté à l'éditorial." in (output / "adherents/lettres/2026-09-adherents/lettre.txt").read_text("utf-8")


def test_compiled_templates_are_kept_beside_the_output(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next build's process takes the theme's compiled templates from the folder; damaged ones are compiled again."""
    monkeypatch.setenv("BUILD_PROCESSES", "1")  # the compilations counted here, in this process
    compiled: list[str] = []
    original = jinja2.Environment.compile

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # type: ignore[no-untyped-def]
        if self.bytecode_cache is BYTECODE:
            compiled.append(name)
        return original(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", compile)
    output = tmp_path / "site"
    BYTECODE.clear()
    build_all(project, output, TODAY)
    kept = builder.templates_cache(output)
    assert "main.html" in compiled and "base.html" in compiled
    assert len(list(kept.iterdir())) >= len(set(compiled))
    sheet = project / "toolbox/protocoles/protocole-avk.md"
    sheet.write_text(sheet.read_text("utf-8") + "\nParagraphe ajouté.\n", "utf-8")
    compiled.clear()
    BYTECODE.clear()  # as in a new process
    build_all(project, output, TODAY)
    assert compiled == []
    for file in kept.iterdir():
        file.write_bytes(b"abime")
    BYTECODE.clear()
    sheet.write_text(sheet.read_text("utf-8") + "\nEncore un paragraphe.\n", "utf-8")
    build_all(project, output, TODAY)
    assert "main.html" in compiled
    build_all(project, tmp_path / "froid", TODAY, complete=True)
    assert_same(output, tmp_path / "froid")
