"""Every kind of bad input gets one clear French line naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.model import ContentError, load_content
from tests.support import OFFER, SHEET, make_project, offer

EVENT = "content/agenda/journee-regionale.md"


# (case, files to write, expected file, line, field, words the message must hold)
CASES = [
    ("invalid YAML", {OFFER: offer(title="title: Poste: médecin")}, OFFER, 2, "en-tête", "YAML invalide"),
    ("missing front matter", {OFFER: "Juste du texte.\n"}, OFFER, 1, "en-tête", "en-tête absent"),
    ("unclosed front matter", {OFFER: "---\ntitle: x\n"}, OFFER, 1, "en-tête", "non fermé"),
    ("missing required key", {OFFER: offer(commune="")}, OFFER, 1, "commune", "champ obligatoire absent"),
    (
        "unknown sheet type",
        {SHEET: "---\ntitle: T\ntype: fiche\nthemes: [coordination]\ndate: 2026-01-01\nsummary: R\n---\n"},
        SHEET,
        3,
        "type",
        "« fiche » inconnu",
    ),
    (
        "unknown theme",
        {SHEET: "---\ntitle: T\ntype: guide\nthemes: [coordinaton]\ndate: 2026-01-01\nsummary: R\n---\n"},
        SHEET,
        4,
        "themes",
        "vouliez-vous dire « coordination »",
    ),
    (
        "unknown profession",
        {OFFER: offer(professions="professions: [infirmiere]")},
        OFFER,
        5,
        "professions",
        "« infirmiere » inconnu",
    ),
    ("unknown kind", {OFFER: offer(kind="kind: cdi")}, OFFER, 4, "kind", "attendu l'une de ces valeurs"),
    ("unknown key", {OFFER: offer(extra="salaire: 5000")}, OFFER, 11, "salaire", "clé inconnue"),
    ("malformed date", {OFFER: offer(date="date: 01/10/2026")}, OFFER, 8, "date", "format AAAA-MM-JJ"),
    ("impossible date", {OFFER: offer(expires="expires: 2027-02-30")}, OFFER, 9, "expires", "n'existe pas"),
    ("expires before date", {OFFER: offer(expires="expires: 2026-09-01")}, OFFER, 9, "expires", "avant la date de publication"),
    ("unknown MSP", {OFFER: offer(msp="msp: msp-inconnue")}, OFFER, 3, "msp", "« msp-inconnue » inconnue"),
    ("non-member MSP", {OFFER: offer(msp="msp: msp-ancienne")}, OFFER, 3, "msp", "n'est pas adhérente"),
    ("bad department", {OFFER: offer(department='department: "99"')}, OFFER, 7, "department", "n'est pas un département"),
    ("contact without any way", {OFFER: offer(contact="contact: {}")}, OFFER, 10, "contact", "aucune valeur"),
    ("bad contact email", {OFFER: offer(contact="contact: {email: pas-une-adresse}")}, OFFER, 10, "contact", "adresse e-mail"),
    (
        "missing attachment",
        {
            SHEET: "---\ntitle: T\ntype: guide\nthemes: [coordination]\ndate: 2026-01-01\nsummary: R\nattachments: [files/absent.pdf]\n---\n"
        },
        SHEET,
        7,
        "attachments",
        "introuvable",
    ),
    (
        "members' sheet without summary",
        {SHEET: "---\ntitle: T\ntype: guide\nthemes: [coordination]\ndate: 2026-01-01\n---\n"},
        SHEET,
        1,
        "summary",
        "résumé affiché au public",
    ),
    (
        "duplicate slug across folders",
        {"toolbox/autre/fiche-rcp.md": "---\ntitle: T\ntype: guide\nthemes: [coordination]\ndate: 2026-01-01\nsummary: R\n---\n"},
        "toolbox/fiche-rcp.md",
        1,
        "nom du fichier",
        "déjà utilisé par toolbox/autre/fiche-rcp.md",
    ),
    (
        "bad file name",
        {"content/actualites/Mon Actu.md": "---\ntitle: T\ndate: 2026-01-01\n---\n"},
        "content/actualites/Mon Actu.md",
        1,
        "nom du fichier",
        "mon-actu.md",
    ),
    (
        "non-UTF-8 file",
        {OFFER: offer(commune="commune: Saint-Herblain").encode("utf-8").replace(b"Nantes", "Nantes é".encode("latin-1"))},
        OFFER,
        2,
        "fichier",
        "UTF-8",
    ),
    ("empty file", {OFFER: ""}, OFFER, 1, "fichier", "vide"),
    (
        "image without alt text",
        {"content/actualites/nouvelle-convention.md": "---\ntitle: T\ndate: 2026-01-01\n---\n\nTexte\n\n![](photo.png)\n"},
        "content/actualites/nouvelle-convention.md",
        8,
        "image",
        "texte alternatif",
    ),
    (
        "event end before start",
        {EVENT: "---\ntitle: T\nstart: 2026-12-04T14:00\nend: 2026-12-04T09:00\nonline: true\n---\n"},
        EVENT,
        4,
        "end",
        "fin avant le début",
    ),
    ("event without place", {EVENT: "---\ntitle: T\nstart: 2026-12-04T14:00\n---\n"}, EVENT, 2, "place", "online: true"),
    (
        "impossible date-time",
        {EVENT: "---\ntitle: T\nstart: 2026-12-04T25:00\nonline: true\n---\n"},
        EVENT,
        3,
        "start",
        "n'existe pas",
    ),
    (
        "letter audience mismatch",
        {"newsletters/2026-11-public.md": "---\nsubject: S\naudience: adherents\ndate: 2026-11-02\n---\n"},
        "newsletters/2026-11-public.md",
        3,
        "audience",
        "ne correspond pas",
    ),
    (
        "public letter pins a members' sheet",
        {"newsletters/2026-11-public.md": "---\nsubject: S\naudience: public\ndate: 2026-11-02\npin: [toolbox/fiche-rcp]\n---\n"},
        "newsletters/2026-11-public.md",
        5,
        "pin",
        "réservé aux adhérents",
    ),
    (
        "letter pins an unknown item",
        {"newsletters/2026-11-public.md": "---\nsubject: S\naudience: public\ndate: 2026-11-02\ndrop: [offres/inconnue]\n---\n"},
        "newsletters/2026-11-public.md",
        5,
        "drop",
        "introuvable",
    ),
    ("missing themes file", {"toolbox/themes.yml": None}, "toolbox/themes.yml", 1, "fichier", "absent"),
]


@pytest.mark.parametrize(("files", "path", "line", "field", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_reported_in_french(tmp_path: Path, files, path, line, field, words):
    make_project(tmp_path, files)
    with pytest.raises(ContentError) as caught:
        load_content(tmp_path)
    lines = str(caught.value).splitlines()
    matching = [s for s in lines if s.startswith(f"{path}:{line}: {field}: ")]
    assert matching, f"no line for {path}:{line}: {field} in:\n" + "\n".join(lines)
    assert words in matching[0]
    assert ", attendu" in matching[0] or "attendu" in matching[0]


def test_every_problem_is_listed_at_once(tmp_path: Path):
    make_project(tmp_path, {OFFER: offer(kind="kind: cdi", expires="expires: 2027-02-30"), SHEET: ""})
    with pytest.raises(ContentError) as caught:
        load_content(tmp_path)
    fields = {(p.path, p.field) for p in caught.value.problems}
    assert {(OFFER, "kind"), (OFFER, "expires"), (SHEET, "fichier")} <= fields
    assert caught.value.report().endswith("3 problèmes trouvés : rien n'a été publié.")


def test_bom_and_crlf_are_accepted(tmp_path: Path):
    crlf = offer(title="title: Poste avec BOM").replace("\n", "\r\n")
    make_project(tmp_path, {OFFER: b"\xef\xbb\xbf" + crlf.encode("utf-8")})
    content = load_content(tmp_path)
    (found,) = [o for o in content.offers if o.slug == "medecin-nantes"]
    assert found.title == "Poste avec BOM"
    assert "\r" not in found.body


def test_valid_project_loads_with_typed_values(project: Path):
    content = load_content(project)
    (sheet,) = [s for s in content.sheets if s.slug == "fiche-rcp"]
    assert sheet.access.value == "adherents"
    assert [k.label for k in sheet.keywords] == ["RCP", "réunion"]
    assert sheet.attachments[0].name == "modele.pdf"
    (event,) = content.events
    assert event.start.isoformat() == "2026-12-04T09:30:00+01:00"
    assert content.offers[0].msp.name == "MSP de la Loire"
