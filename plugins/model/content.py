"""Load every collection, check every rule, and answer queries on the result."""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from plugins.model import collections as schema
from plugins.model import vocabulary as v
from plugins.model.cache import SourceCache
from plugins.model.entities import (
    Audience,
    Author,
    Contact,
    Event,
    Item,
    JobOffer,
    Letter,
    Msp,
    NewsItem,
    Page,
    Question,
    SignUp,
    Story,
    Term,
    ToolboxSheet,
)
from plugins.model.fields import PLACEHOLDER, Field, holds_placeholder, slugify
from plugins.model.problems import ContentError, FieldError, Problem, cut, quote
from plugins.model.source import LineDict, SourceDocument, _LineLoader, read_source

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LETTER_NAME = re.compile(r"^(\d{4})-(\d{2})-(adherents|public)(?:-[a-z0-9]+(?:-[a-z0-9]+)*)?$")
_IMAGE_WITHOUT_ALT = re.compile(r"!\[\s*\]\(")
_TO_FILL = f"encore à compléter (« {PLACEHOLDER} »)"
# Extensions editors' tools give Markdown files; only a lower-case .md is read.
_MARKDOWN_LIKE = (".md", ".markdown", ".mdown", ".mkd", ".txt")


def markdown_like(root: Path, folder: str) -> list[tuple[str, str]]:
    """Return the files under root/folder with a Markdown-like extension, as (path relative to root, path), text both.

    In pathlib's order (by path components), found with os.walk and text: pathlib's rglob, sort
    and relative_to made each load slower. A file the preview's cache knows unchanged (most of them,
    at every refresh) is not made a Path at all (measured: bench/RESULTS.md, « Why the code is as it is »).
    """
    base = os.fspath(root / folder)
    found: list[str] = []
    for parent, _, names in os.walk(base):
        found.extend(os.path.join(parent, n) for n in names if os.path.splitext(n)[1].lower() in _MARKDOWN_LIKE)
    found.sort(key=lambda name: name.split(os.sep))
    prefix = Path(folder).as_posix() + "/"
    return [(prefix + name[len(base) + 1 :].replace(os.sep, "/"), name) for name in found]


def _folder_in(rel: str, top: str) -> str:
    """Return the folder of a file's relative path (text) within top: 'toolbox/a/b/x.md' -> 'a/b', 'toolbox/x.md' -> ''."""
    folder = rel.rpartition("/")[0]
    return "" if folder == top else folder.removeprefix(top + "/")


_LINK_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")

FOLDERS = {
    "msp": "content/msp",
    "offres": "content/offres",
    "inspir-cafe": "content/inspir-cafe",
    "actualites": "content/actualites",
    "agenda": "content/agenda",
    "pages": "content/pages",
    "lettres": "newsletters",
    "toolbox": schema.TOOLBOX_DIR,
}


def _bare_stem(name: str) -> str:
    """Return a file name without its Markdown-like extensions: 'fiche.md.txt' -> 'fiche'."""
    path = Path(name)
    while path.suffix.lower() in _MARKDOWN_LIKE:
        path = Path(path.stem)
    return path.name


def _has_front_matter(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(8).removeprefix(b"\xef\xbb\xbf").startswith(b"---")


@dataclass
class Content:
    """Everything the editors committed, checked and cross-linked."""

    root: Path
    themes: dict[str, str]
    sheets: list[ToolboxSheet]
    msps: list[Msp]
    offers: list[JobOffer]
    stories: list[Story]
    news: list[NewsItem]
    events: list[Event]
    letters: list[Letter]
    pages: list[Page]
    by_ref: dict[str, Item] = field(default_factory=dict)
    by_term: dict[Term, list[ToolboxSheet]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        newest = lambda item: (item.date, item.slug)  # noqa: E731
        for items in (self.sheets, self.offers, self.stories, self.news, self.letters):
            items.sort(key=newest, reverse=True)
        self.events.sort(key=lambda e: (e.start, e.slug))
        self.msps.sort(key=lambda m: (m.department, m.name))
        self.pages.sort(key=lambda p: (p.order, p.title))
        for item in self.all_items():
            self.by_ref[item.ref] = item
        for sheet in self.sheets:
            if sheet.folder:  # editors may also give a sheet's path under toolbox/
                self.by_ref[f"toolbox/{sheet.folder}/{sheet.slug}"] = sheet
        index: dict[Term, list[ToolboxSheet]] = defaultdict(list)
        for sheet in self.sheets:
            for term in sheet_terms(sheet):
                index[term].append(sheet)
        self.by_term = dict(index)

    def all_items(self) -> Iterable[Item]:
        """Yield every item of every collection."""
        yield from self.sheets
        yield from self.msps
        yield from self.offers
        yield from self.stories
        yield from self.news
        yield from self.events
        yield from self.letters
        yield from self.pages

    def members(self) -> list[Msp]:
        return [m for m in self.msps if m.member]

    def open_offers(self, today: date) -> list[JobOffer]:
        """Return the offers still open on that day, newest first."""
        return [o for o in self.offers if o.is_open(today)]

    def news_for(self, audience: Audience) -> list[NewsItem]:
        return [n for n in self.news if n.visible_to(audience)]

    def events_for(self, audience: Audience) -> list[Event]:
        return [e for e in self.events if e.visible_to(audience)]

    def letters_for(self, audience: Audience) -> list[Letter]:
        return [lt for lt in self.letters if lt.visible_to(audience)]

    def pages_for(self, audience: Audience) -> list[Page]:
        return [p for p in self.pages if p.visible_to(audience)]

    def terms(self, kind: str) -> list[Term]:
        """Return the toolbox terms of a kind (theme, type, stage, keyword), by label."""
        found = [t for t in self.by_term if t.kind == kind]
        return sorted(found, key=lambda t: slugify(t.label))

    def sheets_with(self, term: Term) -> list[ToolboxSheet]:
        return self.by_term.get(term, [])

    def tags(self, audience: Audience) -> list[Term]:
        """Return the news tags used by items this audience may read."""
        found = {t for n in self.news_for(audience) for t in n.tags}
        return sorted(found, key=lambda t: slugify(t.label))

    def msp_of(self, offer_or_story: JobOffer | Story) -> Msp | None:
        return offer_or_story.msp


def carry_over(previous: Content | None, content: Content) -> Content:
    """Return content with each item equal to previous's item of the same file replaced by previous's object.

    For the preview (plugins/build/preview.py), which fingerprints items by object (incremental.Fingerprinter)
    and keeps the fingerprints between refreshes: an item carried over is fingerprinted once for all of
    them. Equal is every field equal (the dataclasses' ==), the MSP of an offer or a story included, so
    an item carried over is the very item a new load makes. The offers and stories not carried over are
    given the MSP object the site lists (the plan groups offers by MSP object). Items are never changed
    once loaded: only this load's new ones are.
    """
    if previous is None:
        return content
    kept = {(type(item), item.rel): item for item in previous.all_items()}

    def same(item: Any) -> Any:
        old = kept.get((type(item), item.rel))
        return old if old is not None and old == item else item

    msps = [same(m) for m in content.msps]
    msp_of = {id(new): carried for new, carried in zip(content.msps, msps, strict=True)}
    for offer in content.offers:
        offer.msp = msp_of[id(offer.msp)]
    for story in content.stories:
        if story.msp is not None:
            story.msp = msp_of[id(story.msp)]
    return Content(
        content.root,
        content.themes,
        [same(s) for s in content.sheets],
        msps,
        [same(o) for o in content.offers],
        [same(s) for s in content.stories],
        [same(n) for n in content.news],
        [same(e) for e in content.events],
        [same(lt) for lt in content.letters],
        [same(p) for p in content.pages],
    )


def sheet_terms(sheet: ToolboxSheet) -> list[Term]:
    """Return every term a sheet can be browsed by."""
    terms = [sheet.type, *sheet.themes, *sheet.keywords]
    if sheet.stage:
        terms.append(sheet.stage)
    return terms


class _Loader:
    """Collect entities and problems from the folders under root."""

    def __init__(self, root: Path, cache: SourceCache | None = None):
        self.root = root
        self.read = cache.read if cache is not None else lambda name, root, rel: read_source(Path(name), root, rel)
        self.checked = cache.checked if cache is not None else None
        self.signature: object = None  # what the checks of a file depend on besides its bytes: the themes (load_themes)
        self.problems: list[Problem] = []
        self.terms: dict[tuple[str, str], Term] = {}
        self.incomplete: list[tuple[SourceDocument, dict[str, Any]]] = []

    def problem(self, rel: str, line: int, fieldname: str, message: str) -> None:
        self.problems.append(Problem(rel, line, fieldname, message))

    def term(self, kind: str, slug: str, label: str) -> Term:
        return self.terms.setdefault((kind, slug), Term(kind, slug, label))

    def free_term(self, kind: str, label: str, doc: SourceDocument, key: str) -> Term | None:
        slug = slugify(label)
        if not slug:
            self.problem(doc.rel, doc.line_of(key), key, f"{quote(label)} sans lettre ni chiffre, attendu un mot")
            return None
        return self.term(kind, slug, label)

    def documents(self, folder: str, name_pattern: re.Pattern[str] = _SLUG) -> list[SourceDocument]:
        """Read every Markdown file of a folder (recursively), checking names."""
        found = [(rel, name, *os.path.splitext(os.path.basename(name))) for rel, name in markdown_like(self.root, folder)]
        self.misnamed([Path(name) for _, name, _, suffix in found if suffix != ".md"], folder, name_pattern)
        docs = []
        for rel, name, stem, suffix in found:
            if suffix != ".md":
                continue
            if not name_pattern.match(stem):
                expected = slugify(stem) or "nom-du-fichier"
                self.problem(
                    rel,
                    1,
                    "nom du fichier",
                    f"{quote(stem + suffix)} contient des caractères non permis, "
                    f"attendu des minuscules sans accent, des chiffres et des tirets (ex. {expected}.md)",
                )
                continue
            doc = self.read(name, self.root, rel)
            if isinstance(doc, Problem):
                self.problems.append(doc)
                continue
            docs.append(doc)
        return docs

    def misnamed(self, paths: list[Path], folder: str, name_pattern: re.Pattern[str]) -> None:
        """Name the content files skipped for their extension (.MD, .markdown, .txt): silence would lose them."""
        for path in paths:
            if not path.is_file():
                continue
            if folder == schema.TOOLBOX_DIR and path.suffix.lower() == ".txt" and not _has_front_matter(path):
                continue  # a text attachment beside the sheets, not a sheet
            stem = _bare_stem(path.name)
            target = (stem if name_pattern.match(stem) else slugify(stem) or "nom-du-fichier") + ".md"
            if (path.parent / target).exists():
                advice = f"attendu un seul fichier : {target} existe déjà, reportez-y ce qui manque puis supprimez celui-ci"
            else:
                advice = f"attendu l'extension .md en minuscules : renommez-le en {target}"
            self.problem(
                path.relative_to(self.root).as_posix(), 1, "nom du fichier", f"{quote(path.name)} n'est pas lu, {advice}"
            )

    def values(self, doc: SourceDocument, fields: list[Field]) -> dict[str, Any] | None:
        """Check a document's keys; return typed values, or None when a required one failed.

        A file checked without a problem by an earlier load from the same cache, with the same bytes and
        themes, is not checked again: its values are those of that load (the preview's refreshes).
        """
        memo = self.checked if doc.key else None
        if memo is not None:
            kept = memo.get(doc.key)
            if kept is not None and kept[0] == self.signature:
                return kept[1]
        before = len(self.problems)
        known = {f.name for f in fields}
        for key in doc.meta:
            if key not in known:
                self.problem(
                    doc.rel,
                    doc.line_of(key),
                    cut(str(key)),
                    f"clé inconnue, attendu l'une de : {', '.join(f.name for f in fields)}",
                )
        values: dict[str, Any] = {}
        complete = True
        for f in fields:
            raw = doc.meta.get(f.name)
            if raw is None or raw == "" or raw == []:
                if f.required:
                    complete = False
                    self.problem(doc.rel, doc.line_of(f.name), f.name, f"champ obligatoire absent, attendu {f.hint}")
                continue
            if holds_placeholder(raw):
                complete = complete and not f.required
                self.problem(doc.rel, doc.line_of(f.name), f.name, f"{_TO_FILL}, attendu {f.hint or 'une valeur'}")
                continue
            try:
                values[f.name] = f.check(raw)
            except FieldError as exc:
                complete = complete and not f.required
                self.problem(doc.rel, doc.line_of(f.name), f.name, str(exc))
        self.check_body(doc)
        if not complete:
            self.incomplete.append((doc, values))
        elif memo is not None and len(self.problems) == before:
            memo[doc.key] = (self.signature, values)
        return values if complete else None

    def check_body(self, doc: SourceDocument) -> None:
        # Most bodies have neither: one look at the whole body (NFC keeps line breaks, which compose with nothing).
        if not _IMAGE_WITHOUT_ALT.search(doc.body) and not holds_placeholder(doc.body):
            return
        for number, line in enumerate(doc.body.split("\n"), start=doc.body_line):
            if _IMAGE_WITHOUT_ALT.search(line):
                self.problem(
                    doc.rel,
                    number,
                    "image",
                    "image sans texte alternatif, attendu ![description de l'image](fichier)",
                )
            if holds_placeholder(line):
                self.problem(doc.rel, number, "texte", f"{_TO_FILL}, attendu votre texte en Markdown à la place de cette ligne")

    def load_themes(self) -> dict[str, str]:
        rel = schema.THEMES_FILE
        path = self.root / rel
        if not path.is_file():
            self.problem(rel, 1, "fichier", "absent, attendu la liste des thèmes « slug: Libellé »")
            return {}
        loader = _LineLoader(path.read_text(encoding="utf-8-sig"))
        loader.line_offset = -1  # type: ignore[attr-defined]
        try:
            data = loader.get_single_data()
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = where.line + 1 if where else 1
            self.problem(rel, line, "fichier", "YAML invalide, attendu des lignes « slug: Libellé »")
            return {}
        finally:
            loader.dispose()
        if not isinstance(data, LineDict) or not data:
            self.problem(rel, 1, "fichier", "aucun thème, attendu des lignes « slug: Libellé »")
            return {}
        themes = {}
        for key, label in data.items():
            if not _SLUG.match(str(key)) or not isinstance(label, str):
                self.problem(rel, data.lines.get(str(key), 1), cut(str(key)), "thème mal formé, attendu « slug: Libellé »")
                continue
            themes[str(key)] = label
        return themes

    def unique(self, docs: list[SourceDocument], collection: str) -> list[SourceDocument]:
        seen: dict[str, str] = {}
        kept = []
        for doc in docs:
            slug = doc.path.stem
            if slug in seen:
                self.problem(
                    doc.rel,
                    1,
                    "nom du fichier",
                    f"{quote(slug)} est déjà utilisé par {seen[slug]}, attendu un nom unique dans {collection}",
                )
                continue
            seen[slug] = doc.rel
            kept.append(doc)
        return kept

    def base(self, doc: SourceDocument, values: dict[str, Any]) -> dict[str, Any]:
        return {
            "slug": doc.path.stem,
            "source": doc.path,
            "rel": doc.rel,
            "body": doc.body,
            "body_line": doc.body_line,
        }

    def sheet(self, doc: SourceDocument, values: dict[str, Any], themes: dict[str, str]) -> ToolboxSheet:
        access = Audience(values.get("access", "adherents"))
        if access is Audience.ADHERENTS and "summary" not in values and not holds_placeholder(doc.meta.get("summary")):
            self.problem(
                doc.rel,
                doc.line_of("summary"),
                "summary",
                "champ obligatoire pour une fiche réservée aux adhérents, attendu le résumé affiché au public",
            )
        if "updated" in values and values["updated"] < values["date"]:
            self.problem(doc.rel, doc.line_of("updated"), "updated", "antérieure à date, attendu une date après la publication")
        keywords = [self.free_term("keyword", k, doc, "keywords") for k in values.get("keywords", [])]
        return ToolboxSheet(
            **self.base(doc, values),
            title=values["title"],
            type=self.term("type", values["type"], v.SHEET_TYPES[values["type"]]),
            themes=[self.term("theme", t, themes[t]) for t in dict.fromkeys(values["themes"])],
            keywords=[k for k in dict.fromkeys(keywords) if k],
            stage=self.term("stage", values["stage"], v.STAGES[values["stage"]]) if "stage" in values else None,
            date=values["date"],
            updated=values.get("updated"),
            access=access,
            summary=values.get("summary", ""),
            attachments=self.attachments(doc, values.get("attachments", [])),
            folder=_folder_in(doc.rel, schema.TOOLBOX_DIR),
        )

    @functools.cached_property
    def resolved_toolbox(self) -> Path:
        return (self.root / schema.TOOLBOX_DIR).resolve()

    def attachments(self, doc: SourceDocument, names: list[str]) -> list[Path]:
        found = []
        for name in names:
            path = (doc.path.parent / name).resolve()
            if not path.is_relative_to(self.resolved_toolbox):
                self.problem(
                    doc.rel,
                    doc.line_of("attachments"),
                    "attachments",
                    f"{quote(name)} sort du dossier toolbox/, attendu un chemin relatif à la fiche",
                )
            elif not path.is_file():
                self.problem(
                    doc.rel,
                    doc.line_of("attachments"),
                    "attachments",
                    f"{quote(name)} introuvable, attendu un fichier existant à côté de la fiche ou dans toolbox/files/",
                )
            elif path.suffix.lower() in (".md", ".yml", ".yaml"):
                self.problem(
                    doc.rel,
                    doc.line_of("attachments"),
                    "attachments",
                    f"{quote(name)} n'est pas une pièce jointe, attendu un document (PDF, DOCX, ODT…)",
                )
            else:
                found.append(path)
        return found

    def msp(self, doc: SourceDocument, values: dict[str, Any]) -> Msp:
        return Msp(
            **self.base(doc, values),
            title=values["name"],
            name=values["name"],
            department=values["department"],
            communes=values["communes"],
            lat=values.get("lat"),
            lon=values.get("lon"),
            sites=values.get("sites"),
            member=values.get("member", True),
            since=values.get("since"),
            website=values.get("website"),
        )

    def registry_ref(self, doc: SourceDocument, msp_id: str, msps: dict[str, Msp], member: bool) -> Msp | None:
        found = msps.get(msp_id)
        if found is None:
            self.problem(
                doc.rel,
                doc.line_of("msp"),
                "msp",
                f"{quote(msp_id)} inconnue, attendu l'identifiant d'un fichier de content/msp/",
            )
        elif member and not found.member:
            self.problem(
                doc.rel,
                doc.line_of("msp"),
                "msp",
                f"{quote(msp_id)} n'est pas adhérente, attendu une MSP avec member: true (seules les adhérentes publient des offres)",
            )
            return None
        return found

    def offer(self, doc: SourceDocument, values: dict[str, Any], msps: dict[str, Msp]) -> JobOffer | None:
        if values["expires"] < values["date"]:
            self.problem(
                doc.rel,
                doc.line_of("expires"),
                "expires",
                f"{values['expires']} est avant la date de publication {values['date']}, attendu une date postérieure",
            )
        msp = self.registry_ref(doc, values["msp"], msps, member=True)
        if msp is None:
            return None
        return JobOffer(
            **self.base(doc, values),
            title=values["title"],
            msp=msp,
            kind=self.term("kind", values["kind"], v.OFFER_KINDS[values["kind"]]),
            professions=[self.term("profession", p, v.PROFESSIONS[p]) for p in dict.fromkeys(values["professions"])],
            contract=values.get("contract"),
            commune=values["commune"],
            department=values["department"],
            date=values["date"],
            expires=values["expires"],
            start=values.get("start"),
            contact=Contact(**values["contact"]),
        )

    def story(self, doc: SourceDocument, values: dict[str, Any], msps: dict[str, Msp], themes: dict[str, str]) -> Story:
        msp = self.registry_ref(doc, values["msp"], msps, member=False) if "msp" in values else None
        return Story(
            **self.base(doc, values),
            title=values["title"],
            date=values["date"],
            series=self.term("series", values["series"], v.STORY_SERIES[values["series"]]),
            summary=values.get("summary", ""),
            msp=msp,
            authors=[Author(**a) for a in values.get("authors", [])],
            video=values.get("video"),
            themes=[self.term("theme", t, themes[t]) for t in dict.fromkeys(values.get("themes", []))],
        )

    def news_item(self, doc: SourceDocument, values: dict[str, Any]) -> NewsItem:
        tags = [self.free_term("tag", t, doc, "tags") for t in values.get("tags", [])]
        return NewsItem(
            **self.base(doc, values),
            title=values["title"],
            date=values["date"],
            summary=values.get("summary", ""),
            tags=[t for t in dict.fromkeys(tags) if t],
            access=Audience(values.get("access", "public")),
        )

    def event(self, doc: SourceDocument, values: dict[str, Any]) -> Event:
        start, all_day = values["start"]
        end = values["end"][0] if "end" in values else None
        if end and end < start:
            self.problem(doc.rel, doc.line_of("end"), "end", "fin avant le début, attendu une date-heure après start")
        if not values.get("online") and not (values.get("place") or values.get("commune")):
            self.problem(doc.rel, doc.line_of("title"), "place", "lieu absent, attendu place et commune, ou online: true")
        return Event(
            **self.base(doc, values),
            title=values["title"],
            start=start,
            end=end,
            all_day=all_day,
            place=values.get("place"),
            commune=values.get("commune"),
            department=values.get("department"),
            online=values.get("online", False),
            registration=values["registration"] if isinstance(values.get("registration"), str) else None,
            sign_up=self.sign_up(doc, values, start),
            access=Audience(values.get("audience", "public")),
            summary=values.get("summary", ""),
        )

    def sign_up(self, doc: SourceDocument, values: dict[str, Any], start: datetime) -> SignUp | None:
        """Return the registrations the event opens on the federation's service, if its registration is a block."""
        block = values.get("registration")
        if not isinstance(block, dict):
            return None
        event_audience = Audience(values.get("audience", "public"))
        audience = Audience(block.get("audience", event_audience.value))
        if event_audience is Audience.ADHERENTS and audience is Audience.PUBLIC:
            self.problem(
                doc.rel,
                doc.line_of("registration"),
                "registration",
                "audience: public pour un événement réservé aux adhérents, attendu audience: adherents",
            )
        closes = block.get("closes", start)
        if closes > start:
            self.problem(
                doc.rel, doc.line_of("registration"), "registration", "closes après le début, attendu une date-heure avant start"
            )
        questions = tuple(
            Question(q["id"], q["label"], q["kind"], tuple(q.get("choices", ())), q.get("required", False))
            for q in block.get("questions", [])
        )
        return SignUp(int(block["places"]), closes, audience, block.get("waiting_list", False), questions)

    def letter(self, doc: SourceDocument, values: dict[str, Any]) -> Letter:
        audience = Audience(values["audience"])
        name = _LETTER_NAME.match(doc.path.stem)
        if name and name.group(3) != audience.value:
            self.problem(
                doc.rel,
                doc.line_of("audience"),
                "audience",
                f"{quote(audience.value)} ne correspond pas au nom du fichier, attendu {name.group(3)}",
            )
        return Letter(
            **self.base(doc, values),
            title=values["subject"],
            subject=values["subject"],
            access=audience,
            date=values["date"],
            send_at=values.get("send_at"),
            preheader=values.get("preheader", ""),
            pin=values.get("pin", []),
            drop=values.get("drop", []),
        )

    def page(self, doc: SourceDocument, values: dict[str, Any]) -> Page:
        return Page(
            **self.base(doc, values),
            title=values["title"],
            summary=values.get("summary", ""),
            access=Audience(values.get("access", "public")),
            order=int(values.get("order", 100)),
        )

    def check_letter_refs(self, letters: list[Letter], docs: dict[str, SourceDocument], content: Content) -> None:
        for letter in letters:
            doc = docs[letter.slug]
            for key in ("pin", "drop"):
                for ref in getattr(letter, key):
                    item = content.by_ref.get(ref)
                    if item is None:
                        self.problem(
                            doc.rel,
                            doc.line_of(key),
                            key,
                            f"{quote(ref)} introuvable, attendu « collection/nom » d'un contenu existant (toolbox, offres, actualites, agenda, inspir-cafe)",
                        )
                    elif key == "pin" and not item.visible_to(letter.audience):
                        self.problem(
                            doc.rel,
                            doc.line_of(key),
                            key,
                            f"{quote(ref)} est réservé aux adhérents, attendu un contenu public dans une lettre publique",
                        )


def load_content(root: Path | str, cache: SourceCache | None = None) -> Content:
    """Load and check everything under root; raise ContentError listing every problem.

    cache: the files parsed by earlier loads, by their bytes (plugins/model/cache.py); this load's are kept in it.
    """
    if cache is None:
        return _load(Path(root), None)
    cache.start()
    try:
        return _load(Path(root), cache)
    finally:
        cache.finish()


def _load(root: Path, cache: SourceCache | None) -> Content:
    loader = _Loader(root, cache)
    themes = loader.load_themes()
    loader.signature = tuple(themes.items())
    typed = lambda folder, fields, pattern=_SLUG: [  # noqa: E731
        (doc, values)
        for doc in loader.unique(loader.documents(folder, pattern), folder)
        if (values := loader.values(doc, fields)) is not None
    ]
    msps = [loader.msp(d, vals) for d, vals in typed(FOLDERS["msp"], schema.MSP_FIELDS)]
    registry = {m.slug: m for m in msps}
    sheets = [loader.sheet(d, vals, themes) for d, vals in typed(FOLDERS["toolbox"], schema.toolbox_fields(themes))]
    offers = [o for d, vals in typed(FOLDERS["offres"], schema.OFFER_FIELDS) if (o := loader.offer(d, vals, registry))]
    for doc, vals in loader.incomplete:
        # Report a wrong MSP even when another field of the file is broken: every problem at once.
        if doc.rel.startswith(FOLDERS["offres"] + "/") and "msp" in vals:
            loader.registry_ref(doc, vals["msp"], registry, member=True)
    stories = [loader.story(d, vals, registry, themes) for d, vals in typed(FOLDERS["inspir-cafe"], schema.story_fields(themes))]
    news = [loader.news_item(d, vals) for d, vals in typed(FOLDERS["actualites"], schema.NEWS_FIELDS)]
    events = [loader.event(d, vals) for d, vals in typed(FOLDERS["agenda"], schema.EVENT_FIELDS)]
    letter_docs = typed(FOLDERS["lettres"], schema.LETTER_FIELDS, _LETTER_NAME)
    letters = [loader.letter(d, vals) for d, vals in letter_docs]
    pages = [loader.page(d, vals) for d, vals in typed(FOLDERS["pages"], schema.PAGE_FIELDS)]
    content = Content(loader.root, themes, sheets, msps, offers, stories, news, events, letters, pages)
    loader.check_letter_refs(letters, {d.path.stem: d for d, _ in letter_docs}, content)
    if loader.problems:
        raise ContentError(loader.problems)
    return content
