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

# Opens a site's search as its search page does: the module its interface uses (assets/recherche/pagefind.js),
# over the bundles its « data-bundles » names (once per page load). Prefix of a JS function body; gives `pagefind`.
OPEN_SEARCH = """
  if (!window.__fedSearch) {
    window.__fedSearch = (async () => {
      const html = await (await fetch('/recherche/')).text();
      const found = new DOMParser().parseFromString(html, 'text/html').getElementById('recherche');
      // The module the search page's interface uses (assets/recherche/pagefind.js): what readers get.
      if (!document.getElementById('recherche')) {
        const holder = document.createElement('div');
        holder.id = 'recherche';
        holder.dataset.bundles = found.dataset.bundles.split(' ').filter(Boolean)
          .map((p) => new URL(p, location.origin + '/recherche/').pathname).join(' ');
        document.body.appendChild(holder);
      }
      return await import(new URL('assets/recherche/pagefind.js', location.origin + '/').pathname);
    })();
  }
  const pagefind = await window.__fedSearch;
"""
