"""The search page as readers see it in chromium: filter boxes that neither overlap nor clip, result headings
without the permalink sign, excerpts without the facts' labels, colours that follow the site's scheme."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.support import OPEN_SEARCH, static_server

pytestmark = pytest.mark.browser

SITES = ("public", "adherents")
WIDTHS = (375, 1280)
# Words that reach every kind of indexed page (sheets, teasers, offers, stories, news, events, MSP, pages).
QUERIES = ("protocole", "poste", "équipe", "santé", "coordination", "infirmier", "réunion", "adhésion")

# Every problem of the filter panel's layout, in French; all filter groups are open when it runs.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const box = (e) => e.getBoundingClientRect();
  const name = (e) => (e.querySelector('summary, label') || e).textContent.trim();
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1 && a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
  const clipped = (e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1;
  const pairs = (list, what) => list.forEach((a, i) => list.slice(i + 1).forEach((b) => {
    if (overlap(box(a), box(b))) problems.push(`${what} « ${name(a)} » et « ${name(b)} » se chevauchent`);
  }));
  const textBox = (e) => { const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect(); };
  const panel = document.querySelector('.pagefind-ui__filter-panel');
  const column = box(document.querySelector('#contenu'));
  if (box(panel).left < column.left - 1 || box(panel).right > column.right + 1) problems.push('le panneau des filtres sort de la colonne');
  const blocks = [...panel.querySelectorAll('.pagefind-ui__filter-block')];
  pairs(blocks, 'les filtres');
  for (const block of blocks) {
    const summary = block.querySelector('summary');
    const rows = [...block.querySelectorAll('.pagefind-ui__filter-value')];
    if (!inside(box(block), box(panel))) problems.push(`le filtre « ${name(block)} » dépasse du panneau`);
    if (!inside(box(summary), box(block))) problems.push(`le titre du filtre « ${name(block)} » dépasse de son cadre`);
    if (!inside(textBox(summary), box(summary))) problems.push(`le titre du filtre « ${name(block)} » est coupé`);
    pairs(rows, 'les cases');
    for (const row of rows) {
      const [check, label] = [row.querySelector('input'), row.querySelector('label')];
      if (!inside(box(row), box(block))) problems.push(`la case « ${name(row)} » dépasse du filtre « ${name(block)} »`);
      if (overlap(box(check), box(label))) problems.push(`la case « ${name(row)} » chevauche son libellé`);
      if (!inside(box(check), box(row)) || !inside(textBox(label), box(row))) problems.push(`la case « ${name(row)} » est coupée`);
    }
  }
  const containers = [panel, ...blocks, ...panel.querySelectorAll('summary, .pagefind-ui__filter-group'),
                      document.querySelector('.pagefind-ui__drawer'), document.querySelector('.pagefind-ui__results-area')];
  for (const c of containers) {
    if (clipped(c)) problems.push(`« ${c.className.split(' ')[0]} » ${name(c).slice(0, 30)} : contenu coupé (${c.scrollWidth}×${c.scrollHeight} dans ${c.clientWidth}×${c.clientHeight})`);
  }
  return problems;
}"""

ALL_RESULTS = (
    """async (queries) => {"""
    + OPEN_SEARCH
    + """
  const found = [];
  for (const q of queries) {
    const search = await pagefind.search(q);
    found.push(...await Promise.all(search.results.map((r) => r.data())));
  }
  return found.map((d) => ({url: d.url, title: d.meta.title, excerpt: d.excerpt,
                            subs: d.sub_results.map((s) => ({title: s.title, excerpt: s.excerpt}))}));
}"""
)


@pytest.fixture(scope="module")
def servers(sample_site: Path):
    with static_server(sample_site / "public") as public, static_server(sample_site / "adherents") as members:
        yield {"public": public, "adherents": members}


@pytest.fixture(scope="module")
def fact_labels(sample_site: Path) -> re.Pattern[str]:
    """Match a fact's label glued to its value ("TypeModèle", "Publié le3 mars"), labels read from the built pages."""
    labels = {
        html.unescape(label)
        for page in sample_site.rglob("*.html")
        for facts in re.findall(r'<dl class="fed-facts".*?</dl>', page.read_text(encoding="utf-8"), re.S)
        for label in re.findall(r"<dt>(.*?)</dt>", facts)
    }
    assert {"Type", "Thèmes", "Lieu"} <= labels
    return re.compile(r"(?<!\w)(" + "|".join(map(re.escape, sorted(labels, key=len, reverse=True))) + r")(?=[A-ZÀ-Ý0-9])")


def open_search(browser, base: str, width: int, scheme: str = "light"):
    """Return the search page on "protocole" in a new context, every filter group open."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme, locale="fr-FR")
    page = context.new_page()
    page.goto(base + "recherche/?q=protocole")
    page.wait_for_selector(".pagefind-ui__result")
    page.wait_for_selector(".pagefind-ui__filter-block")
    # Measured at rest: a turning arrow's corners would stick out of its title for a quarter of a second.
    page.add_style_tag(content="*, ::before, ::after { transition: none !important; animation: none !important; }")
    page.eval_on_selector_all("details.pagefind-ui__filter-block", "els => els.forEach(e => { e.open = true; })")
    page.wait_for_timeout(200)
    return page


def plain(text: str) -> str:
    """Return an excerpt as read: Pagefind's <mark> tags gone, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("site", SITES)
def test_filter_boxes_neither_overlap_nor_clip(browser, servers, site: str, width: int) -> None:
    page = open_search(browser, servers[site], width)
    problems = page.evaluate(LAYOUT_PROBLEMS)
    page.context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("site", SITES)
def test_result_headings_shown_end_without_the_permalink_sign(browser, servers, site: str) -> None:
    page = open_search(browser, servers[site], 1280)
    headings = page.locator(".pagefind-ui__result-link").all_inner_texts()
    page.context.close()
    assert len(headings) > 5
    signed = [h for h in headings if h.strip().endswith(("#", "¶"))]
    assert not signed, signed


@pytest.mark.parametrize("site", SITES)
def test_indexed_headings_and_excerpts_carry_no_permalink_and_no_fact_label(browser, servers, fact_labels, site: str) -> None:
    page = open_search(browser, servers[site], 1280)
    results = page.evaluate(ALL_RESULTS, list(QUERIES))
    page.context.close()
    assert len({r["url"] for r in results}) > 20
    problems = set()
    for r in results:
        for title, excerpt in [(r["title"], r["excerpt"]), *((s["title"], s["excerpt"]) for s in r["subs"])]:
            text = plain(excerpt)
            if title.strip().endswith(("#", "¶")):
                problems.add(f"{r['url']} : titre « {title} »")
            if re.search(r"\w#(\s|$)", text):
                problems.add(f"{r['url']} : signe de lien dans l'extrait « {text} »")
            if glued := fact_labels.search(text):
                problems.add(f"{r['url']} : libellé « {glued[1]} » collé dans l'extrait « {text} »")
    assert not problems, "\n".join(sorted(problems))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_search_follows_the_colour_scheme(browser, servers, scheme: str) -> None:
    page = open_search(browser, servers["public"], 1280, scheme)
    colours = page.evaluate("""() => {
      const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
      const link = document.createElement('a');  // a link of the page's text, for its colour
      link.href = '#contenu';
      document.querySelector('#contenu > p').append(link);
      return {page: css('body', 'backgroundColor'), text: css('#contenu', 'color'), link: getComputedStyle(link).color,
              field: css('.pagefind-ui__search-input', 'backgroundColor'), typed: css('.pagefind-ui__search-input', 'color'),
              excerpt: css('.pagefind-ui__result-excerpt', 'color'), filter: css('.pagefind-ui__filter-label', 'color'),
              result: css('.pagefind-ui__result-link', 'color')};
    }""")
    page.context.close()
    assert colours["field"] == colours["page"]
    assert colours["typed"] == colours["excerpt"] == colours["filter"] == colours["text"]
    assert colours["result"] == colours["link"]
