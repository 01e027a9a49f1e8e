"""Controlled vocabularies of the content model (slug -> French label)."""

from __future__ import annotations

SHEET_TYPES = {
    "modele": "Modèle",
    "fiche-pratique": "Fiche pratique",
    "fiche-outil": "Fiche outil",
    "guide": "Guide",
    "retour-experience": "Retour d'expérience",
}

STAGES = {
    "emergence": "Émergence",
    "projet": "Projet",
    "fonctionnement": "Fonctionnement",
    "evolution": "Évolution",
}

OFFER_KINDS = {
    "recrutement": "Recrutement",
    "remplacement": "Remplacement",
    "collaboration": "Collaboration",
    "association": "Association",
    "reprise-patientele": "Reprise de patientèle",
    "creation-msp": "Création de MSP",
    "coordination": "Coordination",
}

PROFESSIONS = {
    "medecin-generaliste": "Médecin généraliste",
    "infirmier": "Infirmier·e",
    "ipa": "Infirmier·e en pratique avancée",
    "masseur-kinesitherapeute": "Masseur-kinésithérapeute",
    "pharmacien": "Pharmacien·ne",
    "sage-femme": "Sage-femme",
    "orthophoniste": "Orthophoniste",
    "dieteticien": "Diététicien·ne",
    "psychologue": "Psychologue",
    "podologue": "Pédicure-podologue",
    "chirurgien-dentiste": "Chirurgien·ne-dentiste",
    "orthoptiste": "Orthoptiste",
    "ergotherapeute": "Ergothérapeute",
    "psychomotricien": "Psychomotricien·ne",
    "assistant-medical": "Assistant·e médical·e",
    "secretaire": "Secrétaire",
    "coordinateur": "Coordinateur·rice",
    "mediateur-sante": "Médiateur·rice en santé",
    "travailleur-social": "Travailleur·se social·e",
    "medecin-specialiste": "Médecin spécialiste",
}

STORY_SERIES = {
    "inspir-cafe": "Inspir'Café",
    "talents": "Les MSP ont du talent",
}

ACCESS = {"adherents": "Adhérents", "public": "Public"}

MSP_SITES = {"mono": "Monosite", "multi": "Multisite"}

# Metropolitan codes 01-95 (with Corsica's 2A/2B instead of 20) and overseas 971-976.
DEPARTMENTS = frozenset([f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"] + [str(n) for n in range(971, 977)])

DEPARTMENT_NAMES = {
    "44": "Loire-Atlantique",
    "49": "Maine-et-Loire",
    "53": "Mayenne",
    "72": "Sarthe",
    "85": "Vendée",
}


def department_label(code: str) -> str:
    """Return 'Loire-Atlantique (44)' for known codes, the code otherwise."""
    name = DEPARTMENT_NAMES.get(code)
    return f"{name} ({code})" if name else code
