"""Members-only content never reaches the public site: canaries in every members-only place, then a scan."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from tests.support import TODAY, make_project

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

# Each canary is a token that no template or public field contains.
CANARIES = {
    "sheet title of a members-only linked file": "cnrlinkedfile",
    "body": "cnrbody",
    "heading": "cnrheading",
    "keyword": "cnrkeyword",
    "image alt text": "cnralt",
    "image file name": "cnrimage",
    "link text": "cnrlinktext",
    "attachment file name": "cnrattachname",
    "attachment content": "cnrattachcontent",
    "news title": "cnrnewstitle",
    "news summary": "cnrnewssummary",
    "news tag": "cnrnewstag",
    "news body": "cnrnewsbody",
    "event title": "cnreventtitle",
    "event place": "cnreventplace",
    "event body": "cnreventbody",
    "letter subject": "cnrlettersubject",
    "letter preheader": "cnrletterpreheader",
    "letter editorial": "cnrlettereditorial",
    "members page title": "cnrpagetitle",
    "members page body": "cnrpagebody",
}

FILES = {
    "toolbox/files/cnrattachname-modele.pdf": b"%PDF-1.4 cnrattachcontent\n",
    "toolbox/files/cnrlinkedfile.docx": b"PK cnrattachcontent",
    "toolbox/files/cnrimage.png": PNG,
    "toolbox/protocoles/protocole-verrouille.md": """\
        ---
        title: Protocole pluriprofessionnel verrouillé
        type: modele
        themes: [coordination]
        keywords: [cnrkeyword, anticoagulants]
        stage: fonctionnement
        date: 2026-10-15
        summary: Un modèle de protocole partagé entre médecins, infirmiers et pharmaciens.
        attachments: [../files/cnrattachname-modele.pdf]
        ---

        ## Étapes cnrheading

        Le protocole cnrbody se déroule en trois temps.

        ![Schéma cnralt du parcours](../files/cnrimage.png)

        Voir aussi [le modèle cnrlinktext](../files/cnrlinkedfile.docx) et
        [le guide public](../guide-prevention.md).
        """,
    "content/actualites/reservee.md": """\
        ---
        title: Réunion cnrnewstitle
        date: 2026-10-20
        tags: [cnrnewstag]
        summary: Résumé cnrnewssummary.
        access: adherents
        ---

        Texte cnrnewsbody.
        """,
    "content/agenda/atelier-reserve.md": """\
        ---
        title: Atelier cnreventtitle
        start: 2026-12-15T14:00
        end: 2026-12-15T17:00
        place: Salle cnreventplace
        commune: Angers
        department: "49"
        audience: adherents
        summary: Atelier réservé.
        ---

        Programme cnreventbody.
        """,
    "newsletters/2026-11-adherents.md": """\
        ---
        subject: Lettre cnrlettersubject
        audience: adherents
        date: 2026-11-02
        send_at: 2026-11-02T09:00
        preheader: Accroche cnrletterpreheader
        ---

        Éditorial cnrlettereditorial.
        """,
    "content/pages/espace-coordinateurs.md": """\
        ---
        title: Coordinateurs cnrpagetitle
        access: adherents
        ---

        Page cnrpagebody.
        """,
}


def readable(path: Path) -> str:
    """Return a file's text, inflating gzip or zlib data (sitemaps, search index fragments)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:1] == b"\x78":
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass
    return data.decode("utf-8", "replace").lower()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("fuite"), FILES)
    build_all(root, root / "site", TODAY, strict=True)
    return root / "site"


def public_files(site: Path) -> list[Path]:
    """Every file of the public site, plus the public letters' e-mail parts written for operators."""
    return [p for p in (site / "public").rglob("*") if p.is_file()] + sorted((site / "lettres").glob("*-public.*"))


def test_no_canary_in_any_public_file(site: Path) -> None:
    files = public_files(site)
    assert len(files) > 30
    leaks = {
        f"{p.relative_to(site)}: {where}"
        for p in files
        for where, token in CANARIES.items()
        if token in readable(p) or token in p.name.lower()
    }
    assert sorted(leaks) == []


def test_every_canary_is_in_the_members_site(site: Path) -> None:
    """The scan above only means something if each canary really reached an output."""
    members = [p for p in (site / "adherents").rglob("*") if p.is_file()]
    text = "\n".join(readable(p) + p.name.lower() for p in members)
    missing = [where for where, token in CANARIES.items() if token not in text]
    assert missing == []


def test_the_public_letter_was_composed_from_the_same_window(site: Path) -> None:
    """The public letter's window holds the canary items: it left them out, it did not miss them."""
    text = readable(site / "lettres/2026-11-public.txt")
    assert "journée régionale" in text and "médecin généraliste à nantes" in text
    members = readable(site / "lettres/2026-11-adherents.txt")
    assert "cnrnewstitle" in members and "protocole pluriprofessionnel verrouillé" in members
    assert "cnrlettereditorial" in members and "cnreventtitle" in members


def test_the_locked_teaser_keeps_its_allowed_fields(site: Path) -> None:
    teaser = readable(site / "public/boite-a-outils/fiches/protocoles/protocole-verrouille/index.html")
    assert "protocole pluriprofessionnel verrouillé" in teaser
    assert "un modèle de protocole partagé" in teaser
