"""Plan the pages of one site for one audience from the content model."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Self

from plugins.model import Audience, Content, Item, JobOffer, Msp, NewsItem, Story, ToolboxSheet
from plugins.model.entities import Term
from plugins.model.vocabulary import department_label
from plugins.plan.static import linked_files
from plugins.settings.membership import MembershipSettings
from plugins.settings.privacy import PAGE as PRIVACY_PAGE
from plugins.settings.privacy import PrivacySettings, processings

# The sections that have feeds (RSS and Atom), and their names in French.
FEED_SECTIONS = {
    "offres": "Postes à pourvoir",
    "inspir-cafe": "Récits",
    "actualites": "Actualités",
    "agenda": "Agenda",
    "boite-a-outils": "Nouveaux outils",
}


TOOLBOX = "boite-a-outils"
SHEETS = f"{TOOLBOX}/fiches"
FACET_FOLDERS = {"theme": "theme", "type": "type", "stage": "etape", "keyword": "mot-cle"}
FACET_TITLES = {"theme": "Thème", "type": "Type d'outil", "stage": "Étape du projet", "keyword": "Mot-clé"}
HOME_INTRO = "accueil"
FOOTER_ORDER = 90  # pages ordered from 90 on (legal notice...) are linked from the footer, not the menu
SHARED_BUNDLE = "pagefind"  # search entries of the pages both sites show alike (made on the public site)
OWN_BUNDLE = "pagefind-site"  # search entries of one site's own pages


@dataclass(frozen=True)
class Section:
    """A top-level section of the navigation."""

    title: str
    src_uri: str


@dataclass
class PageSpec:
    """One page to generate: where, with which template, and what it shows."""

    src_uri: str
    title: str
    template: str
    markdown: str = ""
    context: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # Search filters of an indexed page, as (filter, value); None keeps the page out of the index.
    search: list[tuple[str, str]] | None = None
    # The same page, with the same words, on both sites: its search entry is made once, in the shared bundle.
    shared: bool = False
    # What the plan made every field above from, for this site, when it is fewer objects than the fields (an item's
    # page: its item, template and context): the incremental builds fingerprint these (fingerprint_parts).
    inputs: tuple | None = None

    def fingerprint_parts(self) -> tuple:
        """Return what this page's plan is made from: the same parts, the same plan (for this site and code)."""
        if self.inputs is not None:
            return self.inputs
        return (self.title, self.template, self.markdown, self.context, self.description, self.search)


@dataclass(frozen=True)
class Download:
    """A sheet's attachment as a reader sees it."""

    name: str
    uri: str
    kind: str
    size: str


@dataclass(frozen=True)
class Attachment:
    """A file copied into the site beside the page that links to it."""

    source: Path
    dest_uri: str


@dataclass(frozen=True)
class SheetView:
    """What a card or a teaser shows of a toolbox sheet: never its body, headings, keywords or attachments."""

    slug: str
    folder: str
    title: str
    type: Term
    themes: tuple[Term, ...]
    stage: Term | None
    date: date
    summary: str
    collection = "toolbox"

    @classmethod
    def of(cls, sheet: ToolboxSheet) -> Self:
        return cls(sheet.slug, sheet.folder, sheet.title, sheet.type, tuple(sheet.themes), sheet.stage, sheet.date, sheet.summary)


@dataclass(frozen=True)
class SheetTeaser(SheetView):
    """What the public may see of a members' sheet.

    Public templates get this view of every locked sheet instead of the sheet itself, so that no
    template can print what it does not hold.
    """

    def visible_to(self, audience: Audience) -> bool:
        return False


@dataclass(frozen=True)
class SheetCard(SheetView):
    """A sheet in a listing, for readers who may read it (SitePlan.shown).

    A listing's fingerprint is that of its cards (incremental.py): an edit to a sheet's body,
    keywords or attachments writes the sheet's page again, not the listings that show it.
    """

    def visible_to(self, audience: Audience) -> bool:
        return True


def public_view(item: Item) -> object:
    """Return what the public site shows of an item: the item itself, a locked sheet's teaser, or nothing.

    A locked sheet shows on the public site as its teaser (pages, listings, search filters: its type,
    themes and stage) and in the toolbox's feed (feeds._sheet: its teaser's fields and its update
    date); a members' news item, event, letter or page does not show there at all. The preview
    skips the public site when no item's public view changed (Preview._public_unchanged).
    """
    if item.visible_to(Audience.PUBLIC):
        return item
    if isinstance(item, ToolboxSheet):
        return SheetTeaser.of(item), item.updated
    return None


def human_size(size: int) -> str:
    """Return '12 ko' or '1,4 Mo'."""
    if size < 1_000_000:
        return f"{max(1, round(size / 1000))} ko"
    return f"{size / 1_000_000:.1f} Mo".replace(".", ",")


def item_uri(item: Item | SheetView) -> str:
    """Return the source URI of an item's page (mirrors the toolbox tree for relative links)."""
    if isinstance(item, (ToolboxSheet, SheetView)):
        folder = f"{item.folder}/" if item.folder else ""
        return f"{SHEETS}/{folder}{item.slug}.md"
    if item.collection == "pages":
        return f"{item.slug}.md"
    return f"{item.collection}/{item.slug}.md"


def term_uri(term: Term) -> str:
    """Return the source URI of a toolbox or news term's listing page."""
    if term.kind == "tag":
        return f"actualites/tag/{term.slug}.md"
    if term.kind == "series":
        return f"inspir-cafe/serie/{term.slug}.md"
    return f"{TOOLBOX}/{FACET_FOLDERS[term.kind]}/{term.slug}.md"


def search_filters(item: Item, audience: Audience) -> list[tuple[str, str]]:
    """Return the search filters of an item's page; a locked sheet gets its teaser fields only."""
    if isinstance(item, ToolboxSheet):
        found = [("Rubrique", "Boîte à outils"), ("Type d'outil", item.type.label)]
        found += [("Thème", t.label) for t in item.themes]
        found += [("Étape", item.stage.label)] if item.stage else []
        if item.visible_to(audience):
            found += [("Mot-clé", k.label) for k in item.keywords]
        return found
    if isinstance(item, JobOffer):
        return [
            ("Rubrique", "Postes à pourvoir"),
            ("Type d'offre", item.kind.label),
            ("Département", department_label(item.department)),
            *(("Profession", p.label) for p in item.professions),
        ]
    if isinstance(item, Story):
        return [("Rubrique", "Récits"), ("Série", item.series.label)]
    if isinstance(item, NewsItem):
        return [("Rubrique", "Actualités"), *(("Sujet", t.label) for t in item.tags)]
    if isinstance(item, Msp):
        return [("Rubrique", "MSP adhérentes"), ("Département", department_label(item.department))]
    labels = {"agenda": "Agenda", "lettres": "Lettres", "pages": "La fédération"}
    return [("Rubrique", labels.get(item.collection, "Autre"))]


def page_url(src_uri: str) -> str:
    """Return the directory-style URL of a source URI ('offres/x.md' -> 'offres/x/')."""
    stem = src_uri.removesuffix(".md")
    if stem == "index":
        return ""
    return stem.removesuffix("/index") + "/"


def page_dest(src_uri: str) -> str:
    """Return the file a page is written to ('offres/x.md' -> 'offres/x/index.html')."""
    return page_url(src_uri) + "index.html"


def search_bundles(specs: Iterable[PageSpec]) -> dict[str, list[str]]:
    """Return the pages (source URIs) of each of a site's search bundles that has any.

    Pagefind merges bundles in the browser. The pages both sites show alike are indexed once, on
    the public site, and that bundle is copied to the members' site (Pagefind indexes those pages
    once, not twice); each site indexes its own pages (the public site's locked teasers and
    « Adhérer » page, the members' site's whole toolbox and members-only pages) apart
    (measured: bench/RESULTS.md, « Why the code is as it is »).
    """
    bundles: dict[str, list[str]] = {SHARED_BUNDLE: [], OWN_BUNDLE: []}
    for spec in specs:
        if spec.search is not None:
            bundles[SHARED_BUNDLE if spec.shared else OWN_BUNDLE].append(spec.src_uri)
    return {name: pages for name, pages in bundles.items() if pages}


def is_search_bundle(name: str) -> bool:
    """Tell whether a site's top folder is one of its search bundles (search_bundles)."""
    return name in (SHARED_BUNDLE, OWN_BUNDLE)


def uri_of(thing: Item | SheetView | Term) -> str:
    return term_uri(thing) if isinstance(thing, Term) else item_uri(thing)


class SitePlan:
    """The pages, attachments and sections of one site."""

    def __init__(
        self,
        content: Content,
        audience: Audience,
        today: date,
        privacy: PrivacySettings | None = None,
        join_page: str = "",
        membership: MembershipSettings | None = None,
    ):
        self.content = content
        self.audience = audience
        self.today = today
        self.privacy = privacy
        self.join_page = join_page  # the slug of the « Adhérer » page: members have joined, it is the public's only
        self.membership = membership  # with it, the « Adhérer » page shows the fee grid and the request form
        self._views: dict[int, SheetView] = {}  # id of a sheet of the content -> its view (shown)

    def content_pages(self) -> list:
        """Return this site's editors' pages, the home text aside (the « Adhérer » page is the public's only)."""
        return [
            p
            for p in self.content.pages_for(self.audience)
            if p.slug != HOME_INTRO and not (self.audience is Audience.ADHERENTS and p.slug == self.join_page)
        ]

    def sections(self) -> list[Section]:
        sections = [
            Section("Accueil", "index.md"),
            Section("Postes à pourvoir", "offres/index.md"),
            Section("Boîte à outils", f"{TOOLBOX}/index.md"),
            Section("Actualités", "actualites/index.md"),
            Section("Agenda", "agenda/index.md"),
            Section("Inspir'Café", "inspir-cafe/index.md"),
            Section("Les MSP", "msp/index.md"),
            Section("Lettres", "lettres/index.md"),
            Section("Rechercher", "recherche.md"),
        ]
        sections += [Section(p.title, item_uri(p)) for p in self.content_pages() if p.order < FOOTER_ORDER]
        return sections

    def footer_pages(self) -> list:
        return [p for p in self.content_pages() if p.order >= FOOTER_ORDER]

    def pages(self) -> Iterator[PageSpec]:
        """Yield every page of the site."""
        yield self.home()
        yield PageSpec("recherche.md", "Rechercher", "search.html", "", {}, "Rechercher dans tout le site")
        yield from self.offer_pages()
        yield from self.toolbox_pages()
        yield from self.news_pages()
        yield from self.event_pages()
        yield from self.story_pages()
        yield from self.msp_pages()
        yield from self.letter_pages()
        yield from (self.join(p) if p.slug == self.join_page else self.item_page(p, "page.html") for p in self.content_pages())
        if self.privacy:
            yield self.privacy_page(self.privacy)

    def join(self, page: Any) -> PageSpec:
        """Return the « Adhérer » page (the public site's only): with membership settings, its fee grid and request form."""
        if self.membership is None:
            spec = self.item_page(page, "page.html")
        else:
            end = self.membership.membership_end(self.today)
            spec = self.item_page(page, "join.html", membership=self.membership, membership_year_end=end)
        spec.shared = False
        return spec

    def privacy_page(self, privacy: PrivacySettings) -> PageSpec:
        """Return the « Données personnelles » page (RGPD art. 13), written from the federation's settings."""
        return PageSpec(
            f"{PRIVACY_PAGE}.md",
            "Données personnelles",
            "privacy.html",
            "",
            {"privacy": privacy, "processings": processings(privacy)},
            "Ce que la fédération fait de vos données personnelles, et comment exercer vos droits.",
        )

    def attachments(self) -> Iterator[Attachment]:
        """Yield the toolbox files this audience may download: attachments and linked files."""
        toolbox = self.toolbox
        files = {p for s in self.content.sheets if s.visible_to(self.audience) for p in s.attachments}
        files |= {p for p in linked_files(self.content, self.audience) if p.is_relative_to(toolbox)}
        for path in sorted(files):
            yield Attachment(path, f"{SHEETS}/{path.relative_to(toolbox).as_posix()}")

    def item_page(self, item: Item, template: str, indexed: bool = True, **context: Any) -> PageSpec:
        # Its inputs: the fields below are the item's, or made from it and this site's audience (search_filters). The
        # incremental builds fingerprint the item once for all its pages and refreshes (incremental.Fingerprinter):
        # the search filters of the item pages, made anew at each refresh, were a large share of their fingerprints'
        # time (measured: bench/RESULTS.md, « Why the code is as it is »).
        return PageSpec(
            item_uri(item),
            item.title,
            template,
            item.body,
            {"item": item, **context},
            getattr(item, "summary", "") or "",
            search_filters(item, self.audience) if indexed else None,
            item.visible_to(Audience.PUBLIC),
            ("item", template, item, indexed, context),
        )

    def listing(self, src_uri: str, title: str, items: list[Any], **context: Any) -> PageSpec:
        return PageSpec(src_uri, title, "listing.html", "", {"items": items, **context})

    def home(self) -> PageSpec:
        intro = next((p for p in self.content.pages if p.slug == HOME_INTRO), None)
        c, a = self.content, self.audience
        return PageSpec(
            "index.md",
            intro.title if intro else "Accueil",
            "home.html",
            intro.body if intro else "",
            {
                "offers": c.open_offers(self.today)[:4],
                "events": [e for e in c.events_for(a) if e.is_upcoming(self.today)][:3],
                "news": c.news_for(a)[:3],
                "stories": c.stories[:2],
                "sheets": self.shown(c.sheets[:4]),
            },
            intro.summary if intro else "",
        )

    def offer_pages(self) -> Iterator[PageSpec]:
        yield self.listing("offres/index.md", "Postes à pourvoir", self.content.open_offers(self.today), kind="offres")
        for offer in self.content.offers:
            expired = not offer.is_open(self.today) and offer.expires < self.today
            # An expired offer keeps its page (links in old letters) but leaves the search index.
            yield self.item_page(offer, "offer.html", indexed=not expired, expired=expired)

    def toolbox_pages(self) -> Iterator[PageSpec]:
        c = self.content
        facets = {kind: [t for t in c.terms(kind) if self.sheets_with(t)] for kind in FACET_FOLDERS}
        yield self.listing(f"{TOOLBOX}/index.md", "Boîte à outils", self.shown(c.sheets), kind="toolbox", facets=facets)
        for kind, terms in facets.items():
            for term in terms:
                title = f"{FACET_TITLES[kind]} : {term.label}"
                yield self.listing(term_uri(term), title, self.shown(self.sheets_with(term)), kind="toolbox", term=term)
        for sheet in c.sheets:
            if sheet.visible_to(self.audience):
                yield self.item_page(sheet, "sheet.html", downloads=self.downloads(sheet))
            else:
                # A locked teaser: never the body, headings, keywords or attachments.
                yield PageSpec(
                    item_uri(sheet),
                    sheet.title,
                    "teaser.html",
                    "",
                    {"item": SheetTeaser.of(sheet)},
                    sheet.summary,
                    search_filters(sheet, self.audience),
                )

    def shown(self, sheets: list[ToolboxSheet]) -> list[SheetView]:
        """Return what this site's listings get of each sheet: its card if its readers may read it, else its teaser.

        One view per sheet for all the listings: each is fingerprinted once (incremental.py).
        """
        views = self._views
        for sheet in sheets:
            if id(sheet) not in views:  # the content holds the sheets: their ids are theirs for the plan's life
                views[id(sheet)] = SheetCard.of(sheet) if sheet.visible_to(self.audience) else SheetTeaser.of(sheet)
        return [views[id(sheet)] for sheet in sheets]

    @functools.cached_property
    def toolbox(self) -> Path:
        """The toolbox folder, resolved once for every sheet's downloads, not once per sheet
        (measured: bench/RESULTS.md, « Why the code is as it is »)."""
        return (self.content.root / "toolbox").resolve()

    def downloads(self, sheet: ToolboxSheet) -> list[Download]:
        toolbox = self.toolbox
        return [
            Download(p.name, f"{SHEETS}/{p.relative_to(toolbox).as_posix()}", p.suffix[1:].upper(), human_size(p.stat().st_size))
            for p in sheet.attachments
        ]

    def sheets_with(self, term: Term) -> list[ToolboxSheet]:
        """Return the sheets listed under a term; keywords of locked sheets stay hidden."""
        sheets = self.content.sheets_with(term)
        if term.kind == "keyword":
            return [s for s in sheets if s.visible_to(self.audience)]
        return sheets

    def news_pages(self) -> Iterator[PageSpec]:
        news = self.content.news_for(self.audience)
        yield self.listing("actualites/index.md", "Actualités", news, kind="actualites", tags=self.content.tags(self.audience))
        for tag in self.content.tags(self.audience):
            yield self.listing(
                term_uri(tag), f"Actualités : {tag.label}", [n for n in news if tag in n.tags], kind="actualites", term=tag
            )
        yield from (self.item_page(n, "news.html") for n in news)

    def event_pages(self) -> Iterator[PageSpec]:
        events = self.content.events_for(self.audience)
        upcoming = [e for e in events if e.is_upcoming(self.today)]
        past = [e for e in reversed(events) if not e.is_upcoming(self.today)]
        yield self.listing("agenda/index.md", "Agenda", upcoming, kind="agenda", past=past)
        for e in events:
            signup_open = bool(e.sign_up and e.sign_up.closes.date() >= self.today)
            yield self.item_page(e, "event.html", past=not e.is_upcoming(self.today), signup_open=signup_open)

    def story_pages(self) -> Iterator[PageSpec]:
        stories = self.content.stories
        series = sorted({s.series for s in stories}, key=lambda t: t.slug)
        yield self.listing(
            "inspir-cafe/index.md", "Inspir'Café et Les MSP ont du talent", stories, kind="inspir-cafe", series=series
        )
        for term in series:
            yield self.listing(
                term_uri(term), term.label, [s for s in stories if s.series == term], kind="inspir-cafe", term=term
            )
        yield from (self.item_page(s, "story.html") for s in stories)

    def msp_pages(self) -> Iterator[PageSpec]:
        members = self.content.members()
        departments = sorted({m.department for m in members})
        groups = [(department_label(d), [m for m in members if m.department == d]) for d in departments]
        yield PageSpec("msp/index.md", "Les MSP adhérentes", "msp_list.html", "", {"groups": groups, "items": members})
        offers: dict[int, list[JobOffer]] = {}  # by MSP (the open offers were listed again for each: 900 MSP, 650 offers)
        for offer in self.content.open_offers(self.today):
            offers.setdefault(id(offer.msp), []).append(offer)
        for msp in members:
            yield self.item_page(msp, "msp.html", offers=offers.get(id(msp), []))

    def letter_pages(self) -> Iterator[PageSpec]:
        letters = self.content.letters_for(self.audience)
        yield self.listing("lettres/index.md", "Lettres d'information", letters, kind="lettres")
        yield from (self.item_page(lt, "letter.html") for lt in letters)
