"""Issue 14: broken YAML at the right line, misnamed files, anchors and long values, placeholders left by `new`."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugins.model import ContentError, load_content
from plugins.model.scaffold import KINDS, write_new
from tests.support import OFFER, REPO, SHEET, TODAY, make_project, offer

MARKER = "À COMPLÉTER"


def problems_of(root: Path) -> list[str]:
    """Return the problem lines `check` would print for the project."""
    with pytest.raises(ContentError) as caught:
        load_content(root)
    return str(caught.value).splitlines()


def sheet(**changes: str) -> str:
    """Return a valid public sheet with some front-matter lines replaced (key -> whole line)."""
    lines = {
        "title": "title: Organiser une RCP",
        "type": "type: guide",
        "themes": "themes: [coordination]",
        "date": "date: 2026-01-01",
        "access": "access: public",
        "summary": "summary: Un résumé.",
    }
    lines.update(changes)
    return "---\n" + "\n".join(v for v in lines.values() if v) + "\n---\n\nTexte.\n"


# (case, file, its content, expected line, field, words the message must hold)
BROKEN_YAML = [
    (
        "unclosed quote at the end",
        SHEET,
        sheet(title='title: "Organiser une RCP'),
        2,
        "title",
        "guillemet ouvrant sans guillemet fermant",
    ),
    (
        "unclosed quote before a quoted value",
        OFFER,
        offer(title='title: "Médecin à Nantes'),
        2,
        "title",
        "guillemet ouvrant sans guillemet fermant",
    ),
    (
        "unclosed single quote before a quoted value",
        SHEET,
        sheet(type="type: 'guide", summary="summary: 'Un résumé'"),
        3,
        "type",
        "guillemet ouvrant sans guillemet fermant",
    ),
    (
        "unclosed quote in a nested value",
        OFFER,
        offer(contact='contact:\n  email: "recrutement@example.org'),
        11,
        "contact",
        "guillemet ouvrant sans guillemet fermant",
    ),
    (
        "unclosed quote in a list item",
        OFFER,
        offer(professions='professions:\n  - "infirmier\n  - ipa'),
        6,
        "professions",
        "guillemet ouvrant sans guillemet fermant",
    ),
    (
        "apostrophe closes a single-quoted value",
        SHEET,
        sheet(title="title: 'L'équipe et la RCP'"),
        2,
        "title",
        "guillemet fermant au milieu",
    ),
    (
        "backslash between double quotes",
        SHEET,
        sheet(summary='summary: "Voir C:\\dossier"'),
        7,
        "summary",
        "barre oblique inverse",
    ),
    (
        "value starting with * (Markdown emphasis)",
        SHEET,
        sheet(summary="summary: *Nouveau* un modèle"),
        7,
        "summary",
        "entre guillemets",
    ),
    ("invisible control character", SHEET, sheet(summary="summary: Un\x0brésumé"), 7, "summary", "caractère invisible"),
]


@pytest.mark.parametrize(
    ("path", "text", "line", "field", "words"), [c[1:] for c in BROKEN_YAML], ids=[c[0] for c in BROKEN_YAML]
)
def test_broken_yaml_is_reported_where_the_value_starts(
    tmp_path: Path, path: str, text: str, line: int, field: str, words: str
) -> None:
    make_project(tmp_path, {path: text})
    lines = problems_of(tmp_path)
    (mine,) = [s for s in lines if s.startswith(f"{path}:")]
    assert mine.startswith(f"{path}:{line}: {field}: "), "\n".join(lines)
    assert words in mine and "attendu" in mine, mine


def billion_laughs(levels: int) -> str:
    """Return a sheet whose title nests aliases ten times per level: 10**(levels - 1) copies of a 30-character text."""
    rows = ['l0: &l0 "ha ha ha ha ha ha ha ha ha ha"']
    rows += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels)]
    return sheet(title="", extra="\n".join([*rows, f"title: *l{levels - 1}"]))


# (case, file content, expected line, field, words)
ANCHORS = [
    ("nested aliases (34 MB message before)", billion_laughs(7), 7, "l0", "ancre « &l0 »"),
    ("billion laughs (out of memory before)", billion_laughs(10), 7, "l0", "ancre « &l0 »"),
    ("anchor on a value", sheet(title="title: &t Organiser une RCP"), 2, "title", "ancre « &t »"),
    ("alias", sheet(summary="summary: *resume"), 7, "summary", "alias « *resume »"),
]


@pytest.mark.parametrize(("text", "line", "field", "words"), [c[1:] for c in ANCHORS], ids=[c[0] for c in ANCHORS])
def test_anchors_and_aliases_are_refused_before_anything_is_built(
    tmp_path: Path, text: str, line: int, field: str, words: str
) -> None:
    make_project(tmp_path, {SHEET: text})
    started = time.monotonic()
    lines = problems_of(tmp_path)
    elapsed = time.monotonic() - started
    report = "\n".join(lines)
    assert len(report.encode("utf-8")) < 500, f"{len(report.encode('utf-8'))} bytes: {report[:300]}"
    assert elapsed < 5, f"{elapsed:.1f} s"
    (mine,) = [s for s in lines if s.startswith(f"{SHEET}:")]
    assert mine.startswith(f"{SHEET}:{line}: {field}: ") and words in mine and "attendu" in mine, mine


LONG = "x" * 5000

# (case, files) : every quoted value must be cut to a readable length
LONG_VALUES = [
    ("unknown sheet type", {SHEET: sheet(type=f"type: {LONG}")}),
    ("list where a text is expected", {SHEET: sheet(title="title: [" + ", ".join(["mot"] * 2000) + "]")}),
    ("unknown MSP", {OFFER: offer(msp=f"msp: msp-{LONG}")}),
    ("missing attachment", {SHEET: sheet(extra=f"attachments: [files/{'x' * 200}.pdf]")}),
    ("unknown contact key", {OFFER: offer(contact=f"contact: {{{'k' * 900}: x}}")}),
    ("unknown key", {OFFER: offer(extra=f"{'k' * 900}: x")}),
    (
        "letter pins an unknown item",
        {"newsletters/2026-11-public.md": f"---\nsubject: S\naudience: public\ndate: 2026-11-02\npin: [offres/{LONG}]\n---\n"},
    ),
]


@pytest.mark.parametrize("files", [c[1] for c in LONG_VALUES], ids=[c[0] for c in LONG_VALUES])
def test_quoted_values_are_cut_to_a_readable_length(tmp_path: Path, files: dict[str, str]) -> None:
    make_project(tmp_path, files)
    (path,) = files
    mine = [s for s in problems_of(tmp_path) if s.startswith(f"{path}:")]
    assert mine
    for line in mine:
        assert len(line) < 400, f"{len(line)} characters: {line[:300]}…"
        assert "…" in line, line


# (case, misnamed file, name the message must suggest)
MISNAMED = [
    ("upper-case .MD offer", "content/offres/infirmier-clisson.MD", "renommez-le en infirmier-clisson.md"),
    (".markdown sheet", "toolbox/coordination/fiche-aci.markdown", "renommez-le en fiche-aci.md"),
    (".txt letter", "newsletters/2026-12-public.txt", "renommez-le en 2026-12-public.md"),
    (".md.txt saved by a text editor", "content/actualites/nouvelle-aide.md.txt", "renommez-le en nouvelle-aide.md"),
    ("twin of an existing file", "content/offres/medecin-nantes.Md", "medecin-nantes.md existe déjà"),
]


@pytest.mark.parametrize(("rel", "words"), [c[1:] for c in MISNAMED], ids=[c[0] for c in MISNAMED])
def test_a_content_file_with_another_extension_is_named(tmp_path: Path, rel: str, words: str) -> None:
    make_project(tmp_path, {rel: "---\ntitle: T\ndate: 2026-11-02\n---\n\nTexte.\n"})
    lines = problems_of(tmp_path)
    mine = [s for s in lines if s.startswith(f"{rel}:1: nom du fichier: ")]
    assert mine, "\n".join(lines)
    assert words in mine[0] and "attendu" in mine[0], mine[0]


def test_a_text_attachment_in_the_toolbox_is_not_a_misnamed_sheet(tmp_path: Path) -> None:
    make_project(tmp_path, {"toolbox/files/notice.txt": "Mode d'emploi du modèle.\n"})
    load_content(tmp_path)


def test_check_fails_on_a_misnamed_file(tmp_path: Path) -> None:
    make_project(tmp_path, {"content/offres/infirmier-clisson.MD": "---\ntitle: T\n---\n"})
    result = subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--project", str(tmp_path), "--today", TODAY.isoformat(), "check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "content/offres/infirmier-clisson.MD:1: nom du fichier: " in result.stderr


# (kind, fields `new` leaves to fill): "texte" is the body
TO_FILL = [
    ("fiche", {"type", "themes", "stage", "summary", "texte"}),
    ("offre", {"msp", "kind", "professions", "contract", "commune", "department", "contact", "texte"}),
    ("recit", {"series", "msp", "authors", "summary", "texte"}),
    ("actualite", {"summary", "texte"}),
    ("evenement", {"start", "end", "place", "commune", "department", "summary", "texte"}),
    ("msp", {"department", "communes", "texte"}),
    ("lettre", {"send_at", "preheader", "texte"}),
    ("page", {"summary", "texte"}),
]

# What an editor writes in place of each placeholder, by the key it sits under.
FILLED = {
    "type": "guide",
    "themes": "coordination",
    "stage": "projet",
    "summary": "Un résumé.",
    "msp": "msp-loire",
    "kind": "remplacement",
    "professions": "infirmier",
    "contract": "CDD",
    "commune": "Clisson",
    "department": '"44"',
    "email": "contact@example.org",
    "series": "talents",
    "name": "Anne Martin",
    "profession": "Infirmière",
    "start": "2026-12-10T09:30",
    "end": "2026-12-10T12:00",
    "place": "Salle des fêtes",
    "communes": "Clisson",
    "send_at": "2026-11-30T09:00",
    "preheader": "Les nouvelles du mois.",
}
_KEY = re.compile(r"^(?P<indent>\s*(?:- )?)(?P<key>[\w-]+):")


def fill(text: str, keep: str = "") -> str:
    """Replace every placeholder as an editor would, except those of the field `keep` ("texte" is the body)."""
    lines, parent, front = [], "", True
    for number, line in enumerate(text.split("\n")):
        front = front and not (line == "---" and number > 0)
        key = _KEY.match(line)
        if key and not key["indent"]:
            parent = key["key"]
        if MARKER in line and (parent if front else "texte") != keep:
            value = FILLED[key["key"] if key else parent] if front else "Le texte de l'équipe."
            line = line[: line.index(MARKER)] + value if front else value
        lines.append(line)
    return "\n".join(lines)


def line_of(text: str, field: str) -> int:
    """Return the line of a top-level key, or of the body's placeholder for "texte"."""
    lines = text.split("\n")
    if field == "texte":
        return max(n for n, line in enumerate(lines, start=1) if MARKER in line)
    return next(n for n, line in enumerate(lines, start=1) if line.startswith(f"{field}:"))


@pytest.mark.parametrize(("kind", "fields"), TO_FILL, ids=[c[0] for c in TO_FILL])
def test_new_leaves_placeholders_that_check_refuses_until_replaced(tmp_path: Path, kind: str, fields: set[str]) -> None:
    assert {k for k, _ in TO_FILL} == set(KINDS)
    project = make_project(tmp_path)
    path = write_new(project, kind, "Réunion d'équipe : l'essentiel", TODAY)
    rel, text = path.relative_to(project).as_posix(), path.read_text("utf-8")
    lines = [s for s in problems_of(project) if s.startswith(f"{rel}:")]
    expected = sorted(f"{rel}:{line_of(text, f)}: {f}" for f in fields)
    assert sorted(": ".join(s.split(": ")[:2]) for s in lines) == expected, "\n".join(lines)
    assert all("à compléter" in s and "attendu" in s for s in lines), "\n".join(lines)
    path.write_text(fill(text), encoding="utf-8")
    content = load_content(project)
    assert any(item.rel == rel for item in content.all_items())


@pytest.mark.parametrize(("kind", "field"), [(k, f) for k, fields in TO_FILL for f in sorted(fields)])
def test_each_placeholder_left_is_named_alone(tmp_path: Path, kind: str, field: str) -> None:
    project = make_project(tmp_path)
    path = write_new(project, kind, "Réunion d'équipe : l'essentiel", TODAY)
    text = path.read_text("utf-8")
    path.write_text(fill(text, keep=field), encoding="utf-8")
    rel = path.relative_to(project).as_posix()
    (line,) = problems_of(project)
    assert line.startswith(f"{rel}:{line_of(text, field)}: {field}: encore à compléter"), line
