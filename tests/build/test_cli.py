"""The editors' command line, run as they run it: `python build.py ...` in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugins.model.scaffold import KINDS
from tests.support import REPO, make_project, write_files

LINE = re.compile(r"^(?P<file>[\w./-]+\.(?:md|yml)):(?P<line>\d+): (?P<field>[^:]+): (?P<message>.+)$")


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--project", str(project), "--today", "2026-11-23", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_check_passes_on_a_valid_project(project: Path) -> None:
    result = run(project, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Aucun problème : 2 fiches, 2 MSP, 1 offres")


def test_check_lists_every_problem_at_once_and_fails(project: Path) -> None:
    write_files(
        project,
        {
            "content/offres/medecin-nantes.md": "---\ntitle: Médecin\nmsp: msp-ancienne\nkind: embauche\n---\n",
            "toolbox/fiche-rcp.md": "---\ntitle: RCP\ntype: fiche-pratique\nthemes: [coordination]\ndate: 2026-02-30\naccess: public\n---\n",
        },
    )
    result = run(project, "check")
    assert result.returncode == 1
    lines = [LINE.match(line) for line in result.stderr.splitlines() if line.startswith(("content/", "toolbox/"))]
    assert all(lines), result.stderr
    found = {(m["file"], m["field"]) for m in lines}
    assert ("content/offres/medecin-nantes.md", "kind") in found
    assert ("content/offres/medecin-nantes.md", "msp") in found
    assert ("content/offres/medecin-nantes.md", "expires") in found
    assert ("toolbox/fiche-rcp.md", "date") in found
    assert re.search(r"\d+ problèmes trouvés : rien n'a été publié\.", result.stderr)
    assert "Traceback" not in result.stderr


def test_a_build_with_bad_content_fails_and_keeps_the_previous_site(project: Path) -> None:
    assert run(project, "build").returncode == 0
    home = (project / "site/public/index.html").read_bytes()
    write_files(project, {"content/agenda/journee-regionale.md": "---\ntitle: Journée\nstart: 2026-13-04\n---\n"})
    result = run(project, "build")
    assert result.returncode == 1
    assert "content/agenda/journee-regionale.md:3: start:" in result.stderr
    assert "Le site précédent" in result.stderr and "est conservé" in result.stderr
    assert (project / "site/public/index.html").read_bytes() == home


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_new_writes_a_file_that_check_refuses_until_filled(project: Path, kind: str) -> None:
    """Issue 14: `check` refuses the placeholders left by `new` (tests/model/test_model_errors.py fills them in)."""
    result = run(project, "new", kind, "Réunion d'équipe : l'essentiel")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Fichier créé : ")
    rel = result.stdout.split("Fichier créé : ")[1].split(" — ")[0]
    assert (project / rel).is_file()
    check = run(project, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert all(line.startswith(rel) for line in check.stderr.splitlines()[:-1]), check.stderr
    assert f"{rel}:" in check.stderr and "encore à compléter" in check.stderr
    again = run(project, "new", kind, "Réunion d'équipe : l'essentiel")
    assert again.returncode == 1 and "existe déjà" in again.stderr


def test_new_refuses_a_title_without_letters(project: Path) -> None:
    result = run(project, "new", "fiche", "???")
    assert result.returncode == 1
    assert "ne donne pas de nom de fichier" in result.stderr


def test_unknown_command_is_refused_in_french(project: Path) -> None:
    result = run(project, "publier")
    assert result.returncode == 2
    assert "build.py : erreur : argument COMMANDE : choix invalide : 'publier'" in result.stderr, result.stderr
    assert result.stderr.startswith("usage : build.py")


@pytest.mark.parametrize(
    "args",
    [
        ["publier"],
        ["--help"],
        ["send", "--help"],
        ["send", "--rate"],
        ["new"],
        ["new", "recette", "x"],
        ["--today", "hier", "check"],
        ["check", "--en-trop"],
        ["abonnes"],
        ["abonnes", "--help"],
    ],
)
def test_usage_help_and_argument_errors_speak_french(project: Path, args: list[str]) -> None:
    result = run(project, *args)
    text = result.stdout + result.stderr
    english = [
        w
        for w in (
            "usage:",
            "error:",
            "invalid",
            "required",
            "expected",
            "show this help",
            "positional arguments",
            "unrecognized",
            "choose from",
            "argument kind",
            "title",
        )
        if re.search(rf"\b{w}\b", text)
    ]
    assert english == [], text


def test_the_shipped_project_passes_check() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "check"], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr


def test_make_project_copies_the_real_configuration(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    assert (root / "mkdocs.yml").read_text("utf-8") == (REPO / "mkdocs.yml").read_text("utf-8")


def test_two_builds_at_once_take_turns(project: Path) -> None:
    """Two commits pushed seconds apart start two builds into the same site/: the second waits for the first."""
    command = [sys.executable, str(REPO / "build.py"), "--project", str(project), "--today", "2026-11-23", "build"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        staging = project / ".site-staging"
        deadline = time.monotonic() + 60
        while not staging.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert staging.exists(), "the first build should be under way"
        second = run(project, "build")
        out, err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 0, out + err
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Une autre construction est en cours" in second.stderr
    # Its words: « adhérents » with its accent, and the singular below two (« 1 réécrite »).
    assert "Site public : " in second.stdout and "Site adhérents : " in second.stdout, second.stdout
    assert "1 réécrites" not in second.stdout and "1 pages" not in second.stdout
    # The lock, the editors' files parsed (plugins/model/cache.py), the pages cut for Pagefind and the theme's compiled
    # templates, beside the site;
    # SQLite's journal while the cache is being filled after a build.
    beside = {p.name for p in project.iterdir() if p.name.startswith(".")} - {".site-sources.cache-journal"}
    assert beside == {".site-search", ".site-sources.cache", ".site-templates.cache", ".site.lock"}
    # The previous build's folders (.old-*) are deleted in the background, beside the served ones.
    assert sorted(p.name for p in (project / "site").iterdir() if not p.name.startswith(".old-")) == [
        "adherents",
        "lettres",
        "public",
    ]
    assert (project / "site/public/index.html").exists() and (project / "site/adherents/index.html").exists()
