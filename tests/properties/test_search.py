"""French search with Pagefind in a real browser, on the sample sites: words, filters, and no members' page in public."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from plugins.model import Audience, load_content
from plugins.plan.pages import item_uri, page_url
from tests.support import OPEN_SEARCH, REPO, TODAY, static_server

pytestmark = pytest.mark.browser

SEARCH = (
    """async (q) => {"""
    + OPEN_SEARCH
    + """
  const found = await pagefind.search(q);
  const data = await Promise.all(found.results.map(r => r.data()));
  return data.map(d => d.url);
}"""
)


@pytest.fixture(scope="module")
def content():
    return load_content(REPO)


@pytest.fixture(scope="module")
def public(sample_site: Path, browser):
    with static_server(sample_site / "public") as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base + "recherche/")
        yield page, base
        page.close()


@pytest.fixture(scope="module")
def members(sample_site: Path, browser):
    with static_server(sample_site / "adherents") as base:
        page = browser.new_page()
        page.goto(base + "recherche/")
        yield page, base
        page.close()


def search(site, query: str) -> list[str]:
    page, _ = site
    return page.evaluate(SEARCH, query)


def url_of(item) -> str:
    return "/" + page_url(item_uri(item))


def test_accents_plurals_and_elision_are_folded(public, content) -> None:
    assert set(search(public, "sante")) == set(search(public, "santé"))
    assert len(search(public, "sante")) > 10
    coordinator = url_of(next(s for s in content.sheets if s.slug == "role-du-coordinateur"))
    assert coordinator in search(public, "coordinateurs")
    # The site's two bundles are merged: a word only one of them has comes first, and Pagefind adds the other's
    # pages matching the longest word the query starts with (« a » for « adhesion »), after it.
    join = search(public, "l'adhésion")
    assert join[0] == search(public, "adhesion")[0] == search(public, "adhésion")[0] == "/adherer/"


def test_a_public_search_never_returns_a_members_only_page(public, content) -> None:
    hidden = [
        *(n for n in content.news if n.audience is Audience.ADHERENTS),
        *(e for e in content.events if e.audience is Audience.ADHERENTS),
        *(lt for lt in content.letters if lt.audience is Audience.ADHERENTS),
        *(p for p in content.pages if p.audience is Audience.ADHERENTS),
    ]
    assert len(hidden) >= 6
    for item in hidden:
        title = getattr(item, "title", "") or getattr(item, "subject", "")
        assert url_of(item) not in search(public, title), title
    # Locked sheets are found by their teaser fields only: tests/properties/test_leaks.py scans the index for their body.


def test_the_members_search_finds_members_only_pages(members, content) -> None:
    news = next(n for n in content.news if n.audience is Audience.ADHERENTS)
    assert url_of(news) in search(members, news.title)
    sheet = next(s for s in content.sheets if s.audience is Audience.ADHERENTS)
    body_words = " ".join(sheet.body.split("\n\n")[0].split()[:6])
    assert url_of(sheet) in search(members, body_words)


def test_expired_offers_and_listings_are_not_indexed(public, content) -> None:
    expired = [o for o in content.offers if not o.is_open(TODAY)]
    assert expired
    for offer in expired:
        assert url_of(offer) not in search(public, offer.title)
    assert "/offres/" not in search(public, "postes à pourvoir")


def test_filter_by_department_with_the_keyboard(public, content) -> None:
    page, base = public
    page.goto(base + "recherche/?q=poste")
    page.wait_for_selector(".pagefind-ui__result")
    page.get_by_text("Département", exact=True).first.focus()
    page.keyboard.press("Enter")
    box = page.get_by_label("Loire-Atlantique (44)")
    box.focus()
    page.keyboard.press("Space")
    page.wait_for_function("document.querySelectorAll('.pagefind-ui__result').length > 0")
    page.wait_for_timeout(500)
    more = page.locator(".pagefind-ui__button")
    while more.count() and more.first.is_visible():
        more.first.focus()
        page.keyboard.press("Enter")
        page.wait_for_timeout(300)
    urls = [
        u.removeprefix(base.rstrip("/")).split("#")[0]
        for u in page.locator(".pagefind-ui__result-link").evaluate_all("els => els.map(e => e.href)")
    ]
    in_44 = {url_of(o) for o in content.open_offers(TODAY) if o.department == "44"} | {
        url_of(m) for m in content.members() if m.department == "44"
    }
    assert urls and set(urls) <= in_44
    assert {url_of(o) for o in content.open_offers(TODAY) if o.department == "44"} <= set(urls)


def test_every_filter_is_offered_when_a_bundle_is_slow(public, sample_site: Path, browser) -> None:
    # Pagefind UI alone shows the filters its first search counted, and a search counts only the filters
    # already loaded: with the shared bundle's filter files late, as on a slow connection, « Profession »
    # and « Série » (its pages only) went missing. CI once lost « Département » the same way.
    names = public[0].evaluate("async () => {" + OPEN_SEARCH + " return Object.keys(await pagefind.filters()); }")
    expected = {html.unescape(name) for name in names}  # Pagefind's API gives them as HTML, its interface as text
    assert {"Département", "Profession", "Série", "Rubrique"} <= expected
    with static_server(sample_site / "public", slow=("/pagefind/filter/", 1.5)) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(base + "recherche/?q=poste")
            page.wait_for_selector(".pagefind-ui__result")
            page.wait_for_timeout(2500)
            assert set(page.locator(".pagefind-ui__filter-name").all_inner_texts()) == expected
            links = page.locator(".pagefind-ui__result-link").evaluate_all("els => els.map(e => e.href)")
            assert links and len(links) == len(set(links))  # the bundles merged once
        finally:
            page.close()


def test_the_search_page_speaks_french(public) -> None:
    page, base = public
    page.goto(base + "recherche/?q=protocole")
    page.wait_for_selector(".pagefind-ui__result")
    assert "résultat" in page.locator(".pagefind-ui__message").inner_text()
    box = page.locator(".pagefind-ui__search-input")
    assert box.get_attribute("title").startswith("Rechercher")  # its accessible name
    box.fill("")
    box.focus()
    page.keyboard.type("infirmier")
    page.wait_for_selector(".pagefind-ui__result-link")
    assert "infirmier" in page.locator(".pagefind-ui__message").inner_text()


def test_the_home_search_form_leads_to_results_with_the_keyboard(public) -> None:
    page, base = public
    page.goto(base)
    page.get_by_label("Rechercher sur le site").focus()
    page.keyboard.type("kinésithérapeute")
    page.keyboard.press("Enter")
    page.wait_for_url("**/recherche/?q=*")
    page.wait_for_selector(".pagefind-ui__result-link")
    assert (
        "/offres/kinesitherapeute-saumur/"
        in page.locator(".pagefind-ui__result-link").evaluate_all("els => els.map(e => e.href)")[0]
    )


def test_a_word_found_on_one_page_brings_that_page_and_no_teaser_without_it(public, content) -> None:
    """« aisan » starts « aisance », on one offer only: as « ASALE » started « ASALEE ».

    Pagefind searches the longest beginning of a word that a bundle has (« a »…) when the bundle has none:
    the bundle of the locked teasers then brought 28 teasers after the offer. Each result must hold the word.
    """
    [offer] = [o for o in content.offers if o.slug == "coordinatrice-chateaubriant"]
    assert "aisance" in offer.body.lower() and offer.is_open(TODAY)
    found = public[0].evaluate(
        """async (q) => {"""
        + OPEN_SEARCH
        + """
  const found = await pagefind.search(q);
  return await Promise.all(found.results.map(async (r) => { const d = await r.data(); return [d.url, d.content]; }));
}""",
        "aisan",
    )
    assert [url for url, _ in found] == [url_of(offer)]
    # A word only an expired offer has: no result, rather than every page holding a word that starts with « a ».
    assert search(public, "agrandi") == []
    # The site's own bundle still answers for its own words (the « Adhérer » page), without the other's pages.
    assert search(public, "adhesion") == ["/adherer/"]
