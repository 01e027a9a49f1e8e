"""Generate synthetic content in the editors' format (CONTENT-MODEL.md) at any scale.

    .venv/bin/python bench/generate.py DEST [--scale 1]

Scale 1 is the APMSL's real volume: 211 toolbox sheets, 13 offers, ~50 news, ~5 stories,
~30 events and 20 letters a year over five years, 90 MSP. Scale 10 is ten times that.
Text is deterministic (seeded) French-like prose with headings, lists, tables and links.
"""

from __future__ import annotations

import argparse
import random
import shutil
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
YEARS = (2022, 2023, 2024, 2025, 2026)
THEMES = [
    "projet-de-sante",
    "coordination",
    "protocoles",
    "prevention",
    "systeme-information",
    "usagers",
    "juridique-financier",
    "accueil-professionnels",
]
TYPES = ["modele", "fiche-pratique", "fiche-outil", "guide", "retour-experience"]
STAGES = ["emergence", "projet", "fonctionnement", "evolution"]
KINDS = ["recrutement", "remplacement", "collaboration", "association", "reprise-patientele", "creation-msp", "coordination"]
PROFESSIONS = [
    "medecin-generaliste",
    "infirmier",
    "ipa",
    "masseur-kinesitherapeute",
    "pharmacien",
    "sage-femme",
    "orthophoniste",
    "dieteticien",
    "psychologue",
    "podologue",
    "coordinateur",
    "assistant-medical",
]
DEPARTMENTS = {"44": (47.2, -1.6), "49": (47.5, -0.55), "53": (48.07, -0.77), "72": (48.0, 0.2), "85": (46.67, -1.43)}
WORDS = (
    "équipe patient parcours coordination protocole santé soins professionnel réunion médecin infirmier "
    "pharmacien prévention dépistage accompagnement territoire organisation dossier partagé projet "
    "éducation thérapeutique maison pluriprofessionnelle accueil usagers financement accord conventionnel "
    "indicateur suivi consultation domicile hôpital partenaire formation stagiaire installation"
).split()
TAGS = ["vie de la fédération", "ACI", "prévention", "formation", "coordination", "recrutement", "juridique"]


def sentence(rng: random.Random, n: int = 14) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(max(2, n - 5), n + 5))]
    return words[0].capitalize() + " " + " ".join(words[1:]) + "."


def paragraph(rng: random.Random, sentences: int = 4) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def body(rng: random.Random, sections: int, links: Sequence[str] = ()) -> str:
    """Return Markdown with headings, a list, a table and links, like a real sheet."""
    parts = [paragraph(rng, 3)]
    for i in range(sections):
        parts.append(f"## {sentence(rng, 4)[:-1]}")
        parts.append(paragraph(rng))
        if i % 2 == 0:
            parts.append("\n".join(f"- {sentence(rng, 8)}" for _ in range(4)))
        if i == 1:
            rows = "\n".join(f"| {rng.choice(WORDS)} | {sentence(rng, 6)} |" for _ in range(4))
            parts.append(f"| Étape | Contenu |\n|---|---|\n{rows}")
    for link in links:
        parts.append(f"Voir aussi [{sentence(rng, 4)[:-1].lower()}]({link}).")
    return "\n\n".join(parts) + "\n"


def day_in(rng: random.Random, year: int) -> date:
    end = date(year, 11, 20) if year == 2026 else date(year, 12, 31)
    return date(year, 1, 1) + timedelta(days=rng.randint(0, (end - date(year, 1, 1)).days))


def write(path: Path, front: str, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}---\n\n{text}", encoding="utf-8")


def generate(dest: Path, scale: int = 1, seed: int = 2026) -> dict[str, int]:
    """Write a whole project (mkdocs.yml, pages, media, content) under dest; return the counts."""
    rng = random.Random(seed)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copytree(ROOT / "content" / "medias", dest / "content" / "medias")
    shutil.copytree(ROOT / "content" / "pages", dest / "content" / "pages")
    (dest / "toolbox" / "files").mkdir(parents=True)
    (dest / "toolbox" / "themes.yml").write_text("".join(f"{t}: {t.replace('-', ' ').capitalize()}\n" for t in THEMES), "utf-8")
    counts = {
        "sheets": 211 * scale,
        "msp": 90 * scale,
        "offers": 13 * len(YEARS) * scale,
        "news": 50 * len(YEARS) * scale,
        "stories": 5 * len(YEARS) * scale,
        "events": 30 * len(YEARS) * scale,
    }
    sheets = [f"{THEMES[i % 8]}/fiche-{i:05d}" for i in range(counts["sheets"])]
    for i, ref in enumerate(sheets):
        public = i % 7 == 0
        attachments = ""
        if i % 10 == 0:
            name = f"modele-{i:05d}.pdf"
            (dest / "toolbox" / "files" / name).write_bytes(b"%PDF-1.4\n" + paragraph(rng).encode("utf-8"))
            attachments = f"attachments: [../files/{name}]\n"
        links = [f"../{sheets[rng.randrange(len(sheets))]}.md".replace(f"../{THEMES[i % 8]}/", "")] if i % 3 == 0 else []
        front = (
            f'title: "{sentence(rng, 6)[:-1]}"\ntype: {TYPES[i % 5]}\nthemes: [{THEMES[i % 8]}, {THEMES[(i + 3) % 8]}]\n'
            f"keywords: [{', '.join(rng.sample(WORDS, 3))}]\nstage: {STAGES[i % 4]}\n"
            f"date: {day_in(rng, YEARS[i % 5])}\n"
            + ("access: public\n" if public else "")
            + f'summary: "{sentence(rng, 16)}"\n'
            + attachments
        )
        write(dest / "toolbox" / f"{ref}.md", front, body(rng, 4, links))
    msps = []
    for i in range(counts["msp"]):
        dep = list(DEPARTMENTS)[i % 5]
        lat, lon = DEPARTMENTS[dep]
        msps.append(f"msp-{i:05d}")
        write(
            dest / "content/msp" / f"msp-{i:05d}.md",
            f'name: "MSP {sentence(rng, 3)[:-1]}"\ndepartment: "{dep}"\ncommunes: [Commune {i}]\n'
            f"lat: {lat + rng.uniform(-0.4, 0.4):.4f}\nlon: {lon + rng.uniform(-0.4, 0.4):.4f}\nsites: mono\nsince: {2010 + i % 15}\n",
            paragraph(rng) + "\n",
        )
    for i in range(counts["offers"]):
        published = day_in(rng, YEARS[i % 5])
        write(
            dest / "content/offres" / f"offre-{i:05d}.md",
            f'title: "{sentence(rng, 5)[:-1]}"\nmsp: {msps[i % len(msps)]}\nkind: {KINDS[i % 7]}\n'
            f'professions: [{PROFESSIONS[i % 12]}]\ncommune: Commune {i}\ndepartment: "{list(DEPARTMENTS)[i % 5]}"\n'
            f"date: {published}\nexpires: {published + timedelta(days=rng.randint(60, 240))}\ncontact:\n  email: offre{i}@example.org\n",
            body(rng, 2),
        )
    for i in range(counts["news"]):
        write(
            dest / "content/actualites" / f"actualite-{i:05d}.md",
            f'title: "{sentence(rng, 6)[:-1]}"\ndate: {day_in(rng, YEARS[i % 5])}\ntags: ["{TAGS[i % 7]}"]\n'
            f'summary: "{sentence(rng)}"\n' + ("access: adherents\n" if i % 5 == 0 else ""),
            body(rng, 2),
        )
    for i in range(counts["stories"]):
        write(
            dest / "content/inspir-cafe" / f"recit-{i:05d}.md",
            f'title: "{sentence(rng, 6)[:-1]}"\ndate: {day_in(rng, YEARS[i % 5])}\nseries: {"talents" if i % 2 else "inspir-cafe"}\n'
            f"msp: {msps[i % len(msps)]}\nauthors:\n  - name: Personne {i}\n    profession: infirmière\n"
            f'themes: [{THEMES[i % 8]}]\nsummary: "{sentence(rng)}"\n',
            body(rng, 3),
        )
    for i in range(counts["events"]):
        start = day_in(rng, YEARS[i % 5])
        write(
            dest / "content/agenda" / f"evenement-{i:05d}.md",
            f'title: "{sentence(rng, 5)[:-1]}"\nstart: {start}T14:00\nend: {start}T17:00\nplace: Salle {i}\n'
            f'commune: Nantes\ndepartment: "44"\n'
            + ("audience: adherents\n" if i % 4 == 0 else "")
            + f'summary: "{sentence(rng)}"\n',
            body(rng, 1),
        )
    for year in YEARS:
        for month in range(1, 13):
            if year == 2026 and month > 11:
                continue
            audiences = ["adherents"] + (["public"] if month % 2 else [])
            for audience in audiences:
                write(
                    dest / "newsletters" / f"{year}-{month:02d}-{audience}.md",
                    f'subject: "Lettre {audience} {month:02d}/{year}"\naudience: {audience}\ndate: {year}-{month:02d}-01\n'
                    f"send_at: {year}-{month:02d}-01T09:00\n",
                    paragraph(rng, 6) + "\n",
                )
    counts["letters"] = len(list((dest / "newsletters").glob("*.md")))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    print(generate(args.dest, args.scale))


if __name__ == "__main__":
    main()
