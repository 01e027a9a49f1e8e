"""The page types of both sites, as paths on the sample content (shared by the accessibility and privacy tests)."""

from __future__ import annotations

PUBLIC = {
    "accueil": "",
    "liste des offres": "offres/",
    "offre": "offres/medecin-generaliste-clisson/",
    "offre expirée": "offres/pharmacien-gorron/",
    "boîte à outils": "boite-a-outils/",
    "fiche publique": "boite-a-outils/fiches/projet-de-sante/ecrire-son-projet-de-sante/",
    "aperçu verrouillé": "boite-a-outils/fiches/protocoles/protocole-avk/",
    "facette thème": "boite-a-outils/theme/coordination/",
    "actualités": "actualites/",
    "actualité": "actualites/avenant-aci-2026/",
    "agenda": "agenda/",
    "événement": "agenda/forum-installation-2027/",
    "récits": "inspir-cafe/",
    "récit vidéo": "inspir-cafe/talents-atelier-activite-physique/",
    "carte des MSP": "msp/",
    "MSP": "msp/msp-clisson/",
    "lettres": "lettres/",
    "lettre": "lettres/2026-11-public/",
    "recherche": "recherche/?q=protocole",
    "page": "a-propos/",
    "adhérer (grille et formulaire)": "adherer/",
    "404": "404.html",
}
MEMBERS = {
    "accueil": "",
    "boîte à outils": "boite-a-outils/",
    "fiche réservée": "boite-a-outils/fiches/protocoles/protocole-avk/",
    "actualité réservée": "actualites/compte-rendu-ca-octobre/",
    "événement réservé": "agenda/assemblee-generale-2027/",
    "lettre aux adhérents": "lettres/2026-11-adherents/",
    "recherche": "recherche/?q=protocole",
    "carte des MSP": "msp/",
}
