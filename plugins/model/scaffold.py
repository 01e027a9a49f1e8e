"""Write a ready-to-fill file for an editor (`build.py new`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from plugins.model import vocabulary as v
from plugins.model.content import FOLDERS
from plugins.model.fields import PLACEHOLDER, slugify
from plugins.model.problems import quote


class ScaffoldError(Exception):
    """The file cannot be written; the message is French."""


def _choices(vocabulary: dict[str, str]) -> str:
    return " | ".join(vocabulary)


# Every value an editor must choose is written {todo} (PLACEHOLDER): `check` refuses the file until each is replaced.
KINDS: dict[str, tuple[str, str]] = {
    "fiche": (
        FOLDERS["toolbox"],
        """title: {title}
type: {todo}           # {types}
themes:                     # un ou plusieurs thèmes de toolbox/themes.yml, ex. {theme}
  - {todo}
keywords: []                # mots-clés libres, ex. [ACI, réunion]
stage: {todo}          # facultatif (sinon supprimez la ligne) : {stages}
date: {today}
access: adherents           # adherents (réservé) ou public
summary: {todo}        # résumé affiché au public, en une ou deux phrases
attachments: []             # ex. [files/mon-modele.docx]
""",
    ),
    "offre": (
        FOLDERS["offres"],
        """title: {title}
msp: {todo}            # nom du fichier dans content/msp/, sans .md, ex. {msp}
kind: {todo}           # {kinds}
professions:                # {professions}
  - {todo}
contract: {todo}       # facultatif (sinon supprimez la ligne) : CDI, CDD, libéral…
commune: {todo}
department: {todo}     # code du département entre guillemets, ex. "44"
date: {today}
expires: {expires}         # l'offre disparaît des listes après cette date
contact:                    # au moins un de : email, phone, url
  email: {todo}
""",
    ),
    "recit": (
        FOLDERS["inspir-cafe"],
        """title: {title}
date: {today}
series: {todo}         # inspir-cafe ou talents
msp: {todo}            # facultatif (sinon supprimez la ligne) : nom du fichier dans content/msp/, ex. {msp}
authors:                    # facultatif (sinon supprimez ces trois lignes)
  - name: {todo}       # prénom et nom
    profession: {todo} # ex. Infirmière
themes: []                  # thèmes de toolbox/themes.yml, ex. [{theme}]
summary: {todo}        # une phrase qui donne envie de lire
""",
    ),
    "actualite": (
        FOLDERS["actualites"],
        """title: {title}
date: {today}
tags: []
summary: {todo}        # une phrase de résumé
access: public              # public ou adherents
""",
    ),
    "evenement": (
        FOLDERS["agenda"],
        """title: {title}
start: {todo}          # date et heure de début, ex. {today}T09:30
end: {todo}            # facultatif (sinon supprimez la ligne) : date et heure de fin, ex. {today}T12:30
place: {todo}          # salle, adresse ; pour un événement en ligne, remplacez place et commune par online: true
commune: {todo}
department: {todo}     # code du département entre guillemets, ex. "44"
audience: public            # public ou adherents
summary: {todo}        # une phrase de présentation
""",
    ),
    "msp": (
        FOLDERS["msp"],
        """name: {title}
department: {todo}     # code du département entre guillemets, ex. "44"
communes:
  - {todo}
member: true
since: {year}
""",
    ),
    "lettre": (
        FOLDERS["lettres"],
        """subject: {title}
audience: {audience}
date: {today}
send_at: {todo}        # facultatif (sinon supprimez la ligne) : envoi automatique, ex. {today}T09:00
preheader: {todo}      # facultatif (sinon supprimez la ligne) : phrase d'accroche affichée dans la boîte de réception
pin: []                     # contenus à mettre en avant, ex. [toolbox/mon-outil]
drop: []                    # contenus à retirer de la sélection automatique
""",
    ),
    "page": (
        FOLDERS["pages"],
        """title: {title}
summary: {todo}        # une phrase de présentation
""",
    ),
}


def _first_member_msp(project: Path) -> str:
    """Return the id of a member MSP to show as an example."""
    for path in sorted((project / FOLDERS["msp"]).glob("*.md")):
        if "member: false" not in path.read_text("utf-8", errors="replace"):
            return path.stem
    return "identifiant-de-la-msp"


def write_new(project: Path, kind: str, title: str, today: date, audience: str = "adherents") -> Path:
    """Write the file and return its path; never overwrite."""
    folder, template = KINDS[kind]
    slug = f"{today:%Y-%m}-{audience}" if kind == "lettre" else slugify(title)
    if not slug:
        raise ScaffoldError(f"{quote(title)} ne donne pas de nom de fichier, attendu un titre avec des lettres")
    path = project / folder / f"{slug}.md"
    if path.exists():
        raise ScaffoldError(f"{path.relative_to(project)} existe déjà : choisissez un autre titre ou modifiez ce fichier")
    themes = project / "toolbox" / "themes.yml"
    first_theme = (
        next(
            (line.split(":")[0] for line in themes.read_text("utf-8").splitlines() if ":" in line and not line.startswith("#")),
            "coordination",
        )
        if themes.is_file()
        else "coordination"
    )
    front = template.format(
        title=json.dumps(title, ensure_ascii=False),
        today=today.isoformat(),
        year=today.year,
        audience=audience,
        theme=first_theme,
        expires=date(today.year + (today.month + 2 > 12), (today.month + 2) % 12 or 12, 1).isoformat(),
        types=_choices(v.SHEET_TYPES),
        stages=_choices(v.STAGES),
        kinds=_choices(v.OFFER_KINDS),
        professions=_choices(v.PROFESSIONS),
        msp=_first_member_msp(project),
        todo=PLACEHOLDER,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}---\n\n{PLACEHOLDER} : écrivez ici le texte, en Markdown.\n", encoding="utf-8")
    return path
