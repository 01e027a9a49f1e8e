"""Editors' text is text: a hostile value in every free-text field shows literally and runs nothing, in both sites."""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest

from plugins.build.sites import build_all
from tests.support import TODAY, make_project, static_server

pytestmark = pytest.mark.browser

# Closes a <script> or an attribute, runs code twice, and holds an ampersand and markup meant as words.
PAYLOAD = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> « R&D » <b>gras</b>'


# A web address the content model accepts (http, a host) that would close an attribute left unescaped.
URL = 'https://msp.example.org/?a=1&b="><img src=x onerror="window.__pwned=3"><b>gras</b>'


def hostile(field: str) -> str:
    """Return the payload behind a word naming the field (a word the search can find)."""
    return field + PAYLOAD


def q(field: str) -> str:
    """Return the hostile value as a single-quoted YAML scalar (the payload holds no single quote)."""
    return f"'{hostile(field)}'"


FILES = {
    "toolbox/themes.yml": f"coordination: {q('themecoordination')}\nprevention: {q('themeprevention')}\n",
    "toolbox/fiche-rcp.md": f"""\
        ---
        title: {q("fichetitre")}
        type: fiche-pratique
        themes: [coordination]
        keywords: [{q("fichemotcle")}]
        stage: fonctionnement
        date: 2026-03-02
        summary: {q("ficheresume")}
        attachments: [files/modele.pdf]
        ---

        ## Préparer la réunion

        Texte **réservé** aux adhérents, [modèle](files/modele.pdf) & « R&D ».
        """,
    "toolbox/guide-prevention.md": f"""\
        ---
        title: {q("guidetitre")}
        type: guide
        themes: [prevention]
        keywords: [{q("guidemotcle")}]
        date: 2026-01-10
        access: public
        summary: {q("guideresume")}
        ---

        Texte public du guide.
        """,
    "content/msp/msp-loire.md": f"""\
        ---
        name: {q("mspnom")}
        department: "44"
        communes: [{q("mspcommune")}, Rezé]
        lat: 47.21
        lon: -1.55
        website: '{URL}'
        ---

        Présentation de l'équipe.
        """,
    "content/msp/msp-ancienne.md": f"""\
        ---
        name: {q("anciennenom")}
        department: "49"
        communes: [{q("anciennecommune")}]
        member: false
        ---

        Ancienne adhérente.
        """,
    "content/offres/medecin-nantes.md": f"""\
        ---
        title: {q("offretitre")}
        msp: msp-loire
        kind: recrutement
        professions: [medecin-generaliste]
        contract: {q("offrecontrat")}
        commune: {q("offrecommune")}
        department: "44"
        date: 2026-10-01
        expires: 2027-02-01
        contact:
          email: recrutement@example.org
          phone: {q("offretelephone")}
          url: '{URL}'
        ---

        Rejoignez notre équipe.
        """,
    "content/inspir-cafe/recit-equipe.md": f"""\
        ---
        title: {q("recittitre")}
        date: 2026-05-04
        series: inspir-cafe
        msp: msp-loire
        video: "https://www.youtube.com/watch?v=abcdefghijk&t=12"
        authors:
          - name: {q("recitauteur")}
            profession: {q("recitprofession")}
        themes: [coordination]
        summary: {q("recitresume")}
        ---

        Le récit.
        """,
    "content/inspir-cafe/recit-ancienne.md": f"""\
        ---
        title: {q("ancienrecit")}
        date: 2026-04-04
        series: talents
        msp: msp-ancienne
        ---

        Un autre récit.
        """,
    "content/actualites/nouvelle-convention.md": f"""\
        ---
        title: {q("actutitre")}
        date: 2026-09-15
        tags: [{q("actusujet")}]
        summary: {q("acturesume")}
        ---

        Texte de l'actualité.
        """,
    "content/actualites/reservee.md": f"""\
        ---
        title: {q("reserveetitre")}
        date: 2026-10-20
        tags: [{q("reserveesujet")}]
        summary: {q("reserveeresume")}
        access: adherents
        ---

        Texte réservé.
        """,
    "content/agenda/journee-regionale.md": f"""\
        ---
        title: {q("evenementtitre")}
        start: 2026-12-04T09:30
        end: 2026-12-04T17:00
        place: {q("evenementlieu")}
        commune: {q("evenementcommune")}
        department: "44"
        registration: '{URL}'
        summary: {q("evenementresume")}
        ---

        Programme.
        """,
    "newsletters/2026-11-public.md": f"""\
        ---
        subject: {q("lettreobjet")}
        audience: public
        date: 2026-11-02
        preheader: {q("lettreaccroche")}
        ---

        Édito.
        """,
    "newsletters/2026-11-adherents.md": f"""\
        ---
        subject: {q("membresobjet")}
        audience: adherents
        date: 2026-11-02
        preheader: {q("membresaccroche")}
        ---

        Édito des adhérents.
        """,
    "content/pages/accueil.md": f"""\
        ---
        title: {q("accueiltitre")}
        summary: {q("accueilresume")}
        ---

        Bienvenue.
        """,
    "content/pages/a-propos.md": f"""\
        ---
        title: {q("pagetitre")}
        summary: {q("pageresume")}
        order: 20
        ---

        La fédération.
        """,
    "content/pages/mentions-legales.md": f"""\
        ---
        title: {q("mentionstitre")}
        order: 95
        ---

        Mentions.
        """,
}

# Pages whose heading is one hostile field, with that field; (site, path, field).
HEADINGS = [
    (site, path, field)
    for site in ("public", "adherents")
    for path, field in [
        ("offres/medecin-nantes/", "offretitre"),
        ("boite-a-outils/fiches/guide-prevention/", "guidetitre"),
        ("boite-a-outils/fiches/fiche-rcp/", "fichetitre"),
        ("actualites/nouvelle-convention/", "actutitre"),
        ("agenda/journee-regionale/", "evenementtitre"),
        ("inspir-cafe/recit-equipe/", "recittitre"),
        ("inspir-cafe/recit-ancienne/", "ancienrecit"),
        ("msp/msp-loire/", "mspnom"),
        ("lettres/2026-11-public/", "lettreobjet"),
        ("a-propos/", "pagetitre"),
        ("mentions-legales/", "mentionstitre"),
    ]
] + [("adherents", "actualites/reservee/", "reserveetitre"), ("adherents", "lettres/2026-11-adherents/", "membresobjet")]

# What a page tells about itself: its text, attribute values, JSON-LD, and anything injected.
INSPECT = """() => {
  const text = [];
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    // With scripts on, a <noscript> holds its markup as text that nobody sees.
    if (!node.parentElement.closest("script, style, noscript")) { text.push(node.data); }
  }
  const attributes = [];
  for (const el of document.querySelectorAll("*")) {
    if (el.tagName === "SCRIPT") { continue; }
    // A phone link drops the number's spaces, a search filter is written for Pagefind: the search test reads it.
    for (const a of el.attributes) {
      if (!a.value.startsWith("tel:") && a.name !== "data-pagefind-filter") { attributes.push(a.value); }
    }
  }
  return {
    pwned: typeof window.__pwned,
    text: text.join("\\n"),
    title: document.title,
    attributes,
    jsonld: [...document.querySelectorAll('script[type="application/ld+json"]')].map(s => s.textContent),
    injected: [
      ...document.querySelectorAll("[onerror]"),
      ...[...document.querySelectorAll("b")].filter(b => b.textContent === "gras"),
      ...[...document.querySelectorAll('script:not([type="application/ld+json"])')]
        .filter(s => s.textContent.includes("__pwned")),
    ].map(el => el.outerHTML.slice(0, 120)),
  };
}"""

DOUBLE_ESCAPED = ("&amp;", "&lt;", "&gt;", "&#", "&quot;")


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("echappement"), FILES)
    build_all(root, root / "site", TODAY, strict=True)
    return root / "site"


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield page
    context.close()


def inspect(page) -> dict:
    """Return what INSPECT finds, after checking that nothing ran and nothing was injected."""
    found = page.evaluate(INSPECT)
    where = page.url
    assert found["pwned"] == "undefined", f"{where}: hostile text ran as script"
    assert page.dialogs == [], where  # type: ignore[attr-defined]
    assert found["injected"] == [], f"{where}: hostile text became elements"
    return found


def assert_literal(found: dict, where: str) -> None:
    """Every trace of the payload is the whole payload as characters, never half-parsed nor escaped twice."""
    for source in [found["text"], found["title"], *found["attributes"]]:
        assert source.count("__pwned=1") == source.count(PAYLOAD), f"{where}: payload mangled in {source[:300]!r}"
        assert not any(e in source for e in DOUBLE_ESCAPED), f"{where}: escaped twice in {source[:300]!r}"
    for shown in [found["text"], found["title"]]:
        rest = " ".join(shown.replace(PAYLOAD, "").replace(URL, "").split())
        start = max(0, rest.find("<") - 100)
        assert "<" not in rest and ">" not in rest, f"{where}: markup shown as text in {rest[start : start + 300]!r}"
    for text in found["jsonld"]:
        for value in strings(json.loads(text)):
            assert value.count("__pwned=1") == value.count(PAYLOAD), f"{where}: JSON-LD {value[:200]!r}"


def strings(data: object) -> list[str]:
    """Return every string of a JSON value."""
    if isinstance(data, dict):
        return [s for v in data.values() for s in strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return [data] if isinstance(data, str) else []


def html_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if "pagefind" not in p.parts)


@pytest.mark.parametrize("site", ["public", "adherents"])
def test_every_page_shows_hostile_text_as_text(sites: Path, page, site: str) -> None:
    paths = html_pages(sites / site)
    assert len(paths) > 25
    shown = 0
    with static_server(sites / site) as base:
        for path in paths:
            page.goto(base + path)
            found = inspect(page)
            assert_literal(found, path)
            shown += found["text"].count(PAYLOAD)
    assert shown > 100  # the payload really reached the pages


@pytest.mark.parametrize(("site", "path", "field"), HEADINGS)
def test_titles_read_literally(sites: Path, page, site: str, path: str, field: str) -> None:
    with static_server(sites / site) as base:
        page.goto(base + path)
        inspect(page)
        assert page.locator("article h1").inner_text() == hostile(field)
        assert page.title().startswith(hostile(field))
        if site == "public":
            assert page.locator('meta[property="og:title"]').get_attribute("content") == hostile(field)


def test_cards_and_facts_read_literally(sites: Path, page) -> None:
    with static_server(sites / "public") as base:
        page.goto(base + "offres/")
        card = page.locator("article.fed-card--offer")
        assert card.locator("h3 a").inner_text() == hostile("offretitre")
        assert hostile("offrecommune") in card.text_content() and hostile("mspnom") in card.text_content()
        page.goto(base + "msp/msp-loire/")
        inspect(page)
        assert page.locator("article.fed-card--offer h3 a").inner_text() == hostile("offretitre")
        assert page.get_by_role("link", name=URL).get_attribute("href") == URL
        page.goto(base + "offres/medecin-nantes/")
        inspect(page)
        facts = page.locator(".fed-facts").inner_text()
        for field in ("mspnom", "offrecommune", "offrecontrat"):
            assert hostile(field) in facts, field
        assert page.locator(".fed-facts a").first.inner_text() == hostile("mspnom")
        assert hostile("offretelephone") in page.locator(".fed-contact").inner_text()
        assert page.get_by_role("link", name=URL).get_attribute("href") == URL
        page.goto(base + "inspir-cafe/recit-equipe/")
        inspect(page)
        assert f"{hostile('recitauteur')}, {hostile('recitprofession')}" in page.locator(".fed-facts").inner_text()
        assert page.locator(".fed-video").get_attribute("data-title") == "Vidéo : " + hostile("recittitre")
        assert page.locator('meta[property="og:description"]').get_attribute("content") == hostile("recitresume")
        page.goto(base)
        assert page.locator('meta[name="description"]').get_attribute("content") == hostile("accueilresume")


def test_markdown_and_navigation_still_render_as_html(sites: Path, page) -> None:
    with static_server(sites / "adherents") as base:
        page.goto(base + "boite-a-outils/fiches/fiche-rcp/")
        inspect(page)
        assert page.locator("article h2#preparer-la-reunion").inner_text().startswith("Préparer la réunion")
        assert page.locator("article strong").inner_text() == "réservé"
        assert "aux adhérents, modèle & « R&D »." in page.locator("article").inner_text()
        assert page.locator(".md-nav--secondary a[href='#preparer-la-reunion']").count() == 1
        assert page.locator(".md-tabs__link", has_text="pagetitre").inner_text() == hostile("pagetitre")
        assert page.locator(".md-header__topic", has_text="fichetitre").inner_text() == hostile("fichetitre")


def test_structured_data_holds_the_exact_text(sites: Path, page) -> None:
    with static_server(sites / "public") as base:
        for path, key, field in [
            ("offres/medecin-nantes/", "title", "offretitre"),
            ("agenda/journee-regionale/", "name", "evenementtitre"),
            ("actualites/nouvelle-convention/", "headline", "actutitre"),
        ]:
            page.goto(base + path)
            [text] = inspect(page)["jsonld"]
            assert json.loads(text)[key] == hostile(field)


@pytest.mark.parametrize("site", ["public", "adherents"])
def test_map_popup_reads_literally(sites: Path, page, site: str) -> None:
    with static_server(sites / site) as base:
        page.goto(base + "msp/")
        marker = page.locator(".leaflet-marker-icon")
        marker.wait_for()
        assert marker.get_attribute("title") == hostile("mspnom")
        marker.click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        inspect(page)
        assert popup.locator("a").inner_text() == hostile("mspnom")
        assert popup.locator("a").get_attribute("href").endswith("/msp/msp-loire/")
        assert hostile("mspcommune") + ", Rezé" in popup.inner_text()
        assert popup.locator("script, img, b").count() == 0


@pytest.mark.parametrize("site", ["public", "adherents"])
def test_search_results_read_literally(sites: Path, page, site: str) -> None:
    with static_server(sites / site) as base:
        page.goto(base + "recherche/?q=offretitre")
        page.wait_for_selector(".pagefind-ui__result-link")
        page.wait_for_timeout(500)  # excerpts and filters arrive after the first result
        inspect(page)
        results = page.locator("#recherche")
        assert hostile("offretitre") in results.locator(".pagefind-ui__result-link").all_inner_texts()
        assert results.locator("script, img, b").count() == 0
        found = page.evaluate("document.querySelector('#recherche').textContent")
        assert not any(e in found for e in DOUBLE_ESCAPED), found[:500]
        assert hostile("actusujet") in found  # the news tag as a filter value
        page.goto(base + "recherche/?q=gras")
        page.wait_for_function("document.querySelectorAll('.pagefind-ui__result-link').length > 1")
        page.locator(".pagefind-ui__filter-name", has_text="Sujet").click()
        page.locator(".pagefind-ui__filter-label", has_text="actusujet").click()  # the value selects its page
        page.wait_for_function("document.querySelectorAll('.pagefind-ui__result-link').length === 1")
        assert page.locator(".pagefind-ui__result-link").get_attribute("href") == "/actualites/nouvelle-convention/"
        inspect(page)
        page.goto(base + "recherche/?q=" + quote('<img src=x onerror="window.__pwned=3">'))
        page.wait_for_selector(".pagefind-ui__message")
        page.wait_for_timeout(300)
        inspect(page)


def shown(detail) -> str:
    """Return the text a feed reader shows for a feedparser title or summary."""
    if detail.type == "text/html":
        assert "<" not in detail.value, f"markup a reader would render: {detail.value[:200]!r}"
        return html.unescape(detail.value)
    return detail.value


@pytest.mark.parametrize("site", ["public", "adherents"])
@pytest.mark.parametrize("kind", ["rss", "atom"])
@pytest.mark.parametrize("section", ["offres", "inspir-cafe", "actualites", "agenda", "boite-a-outils"])
def test_feeds_read_literally(sites: Path, site: str, kind: str, section: str) -> None:
    feed = feedparser.parse((sites / site / section / f"{kind}.xml").read_bytes())
    assert not feed.bozo and feed.entries
    for entry in feed.entries:
        title = shown(entry.title_detail)
        assert title.count("__pwned=1") == title.count(PAYLOAD) == 1, title
        if "summary_detail" in entry:
            summary = shown(entry.summary_detail)
            assert summary.count("__pwned=1") == summary.count(PAYLOAD), summary
        for tag in entry.get("tags", []):
            assert tag.term.count("__pwned=1") == tag.term.count(PAYLOAD), tag.term
