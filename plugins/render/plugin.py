"""The federation plugin: a thin adapter from the site plan to MkDocs files and pages."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import markdown
from markupsafe import Markup, escape
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure import pages as mkpages
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation
from mkdocs.structure.pages import Page as MkPage
from mkdocs.structure.toc import get_toc

from plugins.base.fingerprint import code_version, digest
from plugins.model import Audience, Content, ContentError, Event, JobOffer, NewsItem, Story, load_content, vocabulary
from plugins.plan.pages import FEED_SECTIONS, PageSpec, SitePlan, item_uri, search_bundles
from plugins.plan.static import public_static_files
from plugins.render import structured
from plugins.render.config import FederationConfig
from plugins.render.filters import FILTERS
from plugins.render.fragments import Fragments, fragment_key
from plugins.render.incremental import Fingerprinter, Incremental
from plugins.render.themeenv import share_theme_work
from plugins.settings.federation import FederationSettings, SettingsError
from plugins.settings.membership import CONSENT, PROFESSIONS, STRUCTURES
from plugins.settings.paths import EVENTS_PATH, JOIN_PATH, SUBSCRIBE_PATH
from plugins.settings.privacy import PAGE as PRIVACY_PAGE

LINK = re.compile(r"\]\(|\]:|\bhref=|\bsrc=")  # a Markdown or HTML link or image in a page's Markdown
HEADERLINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>')


def has_link(markdown: str) -> bool:
    """Tell whether a page's Markdown has a link or an image (LINK), whose output depends on the site's files.

    LINK's answer, with str's searches: the regex was slow on each long page that has an « href= »
    or a « ]( », and every page of a site is asked (measured: bench/RESULTS.md, « Why the code is as it is »).
    """
    return "](" in markdown or "]:" in markdown or _word_starts(markdown, "href=") or _word_starts(markdown, "src=")


def _word_starts(text: str, word: str) -> bool:
    """Tell whether word occurs in text where a word starts (the regex's \\b: no letter, digit or _ before)."""
    at = text.find(word)
    while at >= 0:
        if at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_"):
            return True
        at = text.find(word, at + 1)
    return False


TEMPLATES = Path(__file__).parent / "templates"
ASSETS = Path(__file__).parent / "assets"


@dataclass(frozen=True)
class RenderedPage:
    """A page's Markdown converted once, for the other site's build."""

    html: str
    toc: Any
    anchors: set[str]


RenderedPages = dict[tuple[str, str], RenderedPage]


def rendered_key(src_uri: str, markdown: str) -> tuple[str, str]:
    """Return the key of a page's rendering: a real digest, the same in every process (hash() is salted per process)."""
    return src_uri, hashlib.blake2b(markdown.encode("utf-8"), digest_size=16).hexdigest()


def settings_of(config: MkDocsConfig) -> FederationSettings:
    """Return the federation's settings of a loaded mkdocs.yml; raise SettingsError (French) if they are wrong."""
    plugin = config.plugins["federation"].config
    return FederationSettings.read(
        config.site_name, config.site_url or "", config.extra, plugin.public_site_url, plugin.members_site_url
    )


class FederationPlugin(BasePlugin[FederationConfig]):
    """Generate the federation's pages from the content model for one audience."""

    def __init__(self) -> None:
        self.content: Content | None = None
        self.audience: Audience | None = None
        self.today: date | None = None
        self.specs: dict[str, PageSpec] = {}
        self.search_bundles: dict[str, list[str]] = {}
        self.rendered: RenderedPages | None = None
        self.incremental: Incremental | None = None
        self.fingerprints: dict[str, str] = {}
        self.dests: list[str] = []
        self.site_fingerprint = ""
        self.written = 0
        self.settings: FederationSettings | None = None
        self.keep_rendered = False
        self.fingerprinter: Fingerprinter | None = None
        self._markdown: markdown.Markdown | None = None
        self._files: Files | None = None  # the build's files, for the conversions made while rendering
        self._deferred: set[str] = set()  # the pages whose conversion waits for their rendering

    def prepare(
        self,
        content: Content,
        audience: Audience,
        today: date,
        rendered: RenderedPages | None = None,
        incremental: Incremental | None = None,
        settings: FederationSettings | None = None,
        keep_rendered: bool = False,
        fingerprinter: Fingerprinter | None = None,
    ) -> None:
        """Hand over an already loaded model (and the pages another build rendered), so that builds share work.

        rendered: the conversions of the pages both sites show (PageSpec.shared, without links): the
        build puts each of its own there and takes those the other site's build put. A dict, or
        between two processes the pipe of plugins/base/processes.py (SentPages, ReceivedPages).
        keep_rendered: leave the conversions in rendered for later builds (the preview's), instead of
        freeing each one once the other site has used it.

        With incremental, the build skips the pages its previous build wrote from the same plan (the
        preview's are in place; a build's are linked from the previous build's folder); MkDocs must
        then be run with dirty=True, which does not clear the folder.
        fingerprinter: the fingerprints of the model's items, shared with the other site's build in the
        same process (the same model: each item's fingerprint made once for both sites).
        """
        self.content, self.audience, self.today = content, audience, today
        self.rendered = rendered
        self.incremental = incremental
        self.settings = settings
        self.keep_rendered = keep_rendered
        self.fingerprinter = fingerprinter

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self._markdown = None  # one parser per build, made with this configuration's extensions
        self._deferred.clear()
        self.audience = self.audience or Audience(self.config.audience)
        self.today = self.today or (date.fromisoformat(self.config.today) if self.config.today else date.today())
        if self.content is None:
            root = Path(config.config_file_path).parent / self.config.content_dir
            try:
                self.content = load_content(root)
            except ContentError as exc:
                raise PluginError(exc.report()) from None
        config.theme.dirs.insert(0, str(TEMPLATES))
        # The sitemaps are written with the other outputs (plugins/outputs/site.py): MkDocs would list only the pages
        # it is given, and it is given only those rendered anew (on_files), which also drops the template's file.
        config.theme.static_templates.discard("sitemap.xml")
        share_theme_work(config.theme, escaped=TEMPLATES)
        if self.settings is None:  # run by MkDocs itself rather than by build.py
            try:
                self.settings = settings_of(config)
            except SettingsError as exc:
                raise PluginError(str(exc)) from None
        settings = self.settings
        plan = SitePlan(self.content, self.audience, self.today, settings.privacy, settings.join_page, settings.membership)
        self.plan = plan
        # Material prints titles raw (MkDocs' titles are HTML): hand it editors' titles escaped.
        config.nav = [{escape(s.title): s.src_uri} for s in plan.sections()]
        config.extra_css = ["assets/federation.css", *config.extra_css]
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        assert self.content and self.audience
        if self.audience is Audience.PUBLIC:
            keep = public_static_files(self.content, config)
            for file in [f for f in files if not f.is_documentation_page() and f.src_uri not in keep]:
                if not file.src_dir or Path(file.src_dir).resolve() == Path(config.docs_dir).resolve():
                    files.remove(file)
        template = files.get_file_from_path("sitemap.xml")
        if template is not None:  # no longer a template (on_config): MkDocs would copy the theme's file as it is
            files.remove(template)
        in_nav = {s.src_uri for s in self.plan.sections()}
        self.specs = {spec.src_uri: spec for spec in self.plan.pages()}
        self.search_bundles = search_bundles(self.specs.values())
        attachments = list(self.plan.attachments())
        incremental = self.incremental
        if incremental is not None:
            # Not today: what a page shows of the date is in its plan (past events, expired offers, listings).
            self.site_fingerprint = digest(
                self.audience,
                config.site_url,
                Path(config.config_file_path).read_bytes(),
                code_version(),
                self.plan.sections(),
                [(p.title, item_uri(p)) for p in self.plan.footer_pages()],
            )
            # What a link in a page's Markdown turns into depends on whether its target exists: the pages that
            # have links depend on every page and file (an offer added or removed renders them anew, not the others).
            targets = digest(sorted(self.specs), attachments, sorted(f.src_uri for f in files))
            self.fingerprints, self.dests, self.written = {}, [], 0
            fingerprint_of = self.fingerprinter or Fingerprinter()
            incremental.fingerprinter = fingerprint_of  # the outputs' items are the pages': fingerprinted once
        order = list(self.specs.values())
        if self.audience is Audience.ADHERENTS:
            # The members' site renders its own pages first: meanwhile, the public site's build sends the conversions of
            # the pages both show (plugins/build/sites.py). Its sitemap is empty: the order shows nowhere.
            order.sort(key=lambda spec: spec.shared)
        generated_by = File.generated(config, "index.md", content="").generated_by  # this plugin, as MkDocs names it
        site_dir, directory_urls = config.site_dir, config.use_directory_urls  # read once: MkDocs' settings are slow
        for spec in order:
            level = InclusionLevel.INCLUDED if spec.src_uri in in_nav else InclusionLevel.NOT_IN_NAV
            file = PlannedPage(site_dir, directory_urls, spec.src_uri, spec.markdown, level, generated_by)
            if incremental is not None:
                fingerprint = fingerprint_of(*spec.fingerprint_parts(), targets if has_link(spec.markdown) else None)
                self.fingerprints[spec.src_uri] = fingerprint
                self.dests.append(file.abs_dest_path)
                if incremental.unchanged(self.site_fingerprint, spec.src_uri, fingerprint, file.abs_dest_path):
                    if level is InclusionLevel.INCLUDED:
                        # A section: the navigation needs its page, whose title it takes from config.nav (on_config).
                        file.is_modified = _unchanged  # type: ignore[method-assign]  # MkDocs' dirty build skips it
                    else:
                        # MkDocs makes no page of it (most pages after an edit, each with its URLs): the file stays,
                        # for the links to it from the pages rendered anew (the same URL; MkDocs notes such a link at
                        # INFO, below what build.py shows and what strict counts). Figure: bench/RESULTS.md, « Why the
                        # code is as it is ».
                        file.inclusion = InclusionLevel.EXCLUDED
            self._put(files, file)
        if incremental is not None:
            incremental.site = ""  # until this build completes
        for attachment in attachments:
            if attachment.dest_uri not in files.src_uris:
                files.append(File.generated(config, attachment.dest_uri, abs_src_path=str(attachment.source)))
        for asset in sorted(ASSETS.rglob("*")):
            if asset.is_file():
                uri = f"assets/{asset.relative_to(ASSETS).as_posix()}"
                self._put(files, File.generated(config, uri, abs_src_path=str(asset)))
        return files

    @staticmethod
    def _put(files: Files, file: File) -> None:
        """Add a generated file, replacing one of the same URI (MkDocs wants remove then append)."""
        existing = files.src_uris.get(file.src_uri)  # a URI already: get_file_from_path makes a PurePath of each
        if existing is not None:
            files.remove(existing)
        files.append(file)

    def on_page_markdown(self, markdown: str, page: MkPage, config: MkDocsConfig, files: Files) -> str:
        spec = self.specs.get(page.file.src_uri)
        if spec:
            page.meta.update(title=escape(spec.title), template=spec.template)
            if spec.description:
                page.meta["description"] = escape(spec.description)
        return markdown

    def on_post_page(self, output: str, page: MkPage, config: MkDocsConfig) -> str:
        # The page is written next: nothing reads its HTML again, so do not keep thousands of them.
        page.content = None
        page.markdown = None
        self.written += 1
        return output

    def on_pre_page(self, page: MkPage, /, *, config: MkDocsConfig, files: Files) -> MkPage:
        # MkDocs makes a Markdown parser with every extension for each page; this build makes one and resets it
        # between pages (markdown.Markdown.reset). MkDocs converts every page before rendering any, holding all
        # their HTML at once: this build converts each page right before its template (on_page_context)
        # (measured: bench/RESULTS.md, « Why the code is as it is »).
        page.render = functools.partial(self._defer, page)  # type: ignore[method-assign]
        return page

    def _defer(self, page: MkPage, config: MkDocsConfig, files: Files) -> None:
        self._files = files
        self._deferred.add(page.file.src_uri)
        page.content = ""  # converted in on_page_context

    def _convert(self, page: MkPage, config: MkDocsConfig) -> None:
        """Convert a page's Markdown, or take the other site's conversion of the very same Markdown."""
        assert self._files is not None  # set by _defer, MkDocs' call to page.render
        spec = self.specs.get(page.file.src_uri)
        markdown = page.markdown or ""
        # What a link turns into depends on the site's files (an attachment only the members' site has).
        key = (
            rendered_key(page.file.src_uri, markdown)
            if self.rendered is not None and spec and spec.shared and not has_link(markdown)
            else None
        )
        if key is not None and self.rendered is not None:
            # The preview keeps them for its next builds; a build frees each once the other site has used it.
            done = self.rendered.get(key) if self.keep_rendered else self.rendered.pop(key, None)
            if done is not None:
                page.content, page.toc, page.present_anchor_ids = done.html, done.toc, set(done.anchors)
                return
        self._render(page, config, self._files)
        if key is not None and self.rendered is not None:
            self.rendered[key] = RenderedPage(page.content or "", page.toc, set(page.present_anchor_ids or ()))

    def _render(self, page: MkPage, config: MkDocsConfig, files: Files) -> None:
        """MkDocs 1.6's Page.render, with this build's one parser."""
        if page.markdown is None:
            raise RuntimeError("`markdown` field hasn't been set (via `read_source`)")
        md = self._markdown
        if md is None:
            md = self._markdown = markdown.Markdown(
                extensions=config["markdown_extensions"], extension_configs=config["mdx_configs"] or {}
            )
        else:
            md.reset()
        raw_html = mkpages._RawHTMLPreprocessor()
        raw_html._register(md)
        anchors = mkpages._ExtractAnchorsTreeprocessor(page.file, files, config)
        anchors._register(md)
        relative = mkpages._RelativePathTreeprocessor(page.file, files, config)
        relative._register(md)
        title = mkpages._ExtractTitleTreeprocessor()
        title._register(md)
        page.content = md.convert(page.markdown)
        page.toc = get_toc(getattr(md, "toc_tokens", []))
        page._title_from_render = title.title
        page.present_anchor_ids = anchors.present_anchor_ids | raw_html.present_anchor_ids
        if mkpages.log.getEffectiveLevel() > logging.DEBUG:
            page.links_to_anchors = relative.links_to_anchors

    def on_env(self, env, config: MkDocsConfig, files: Files):
        env.filters.update(FILTERS)
        env.globals.update(fragment=Fragments(), fragment_key=fragment_key)  # a new set of fragments each build
        env.filters["structured_data"] = self.structured_data_filter(config)
        env.globals.update(
            audience=self.audience.value if self.audience else "public",
            members_site_url=self.config.members_site_url.rstrip("/") + "/",
            public_site_url=(self.config.public_site_url or config.site_url or "").rstrip("/") + "/",
            vocab=vocabulary,
            # The « Adhérer » page of this site when it is one (a relative link works in the preview too).
            join_url=(f"{self.settings.join_page}/" if self.settings.join_page else self.settings.join_url)
            if self.settings
            else "",
            federation=self.settings,
            feed_sections=FEED_SECTIONS,
            search_bundles=list(self.search_bundles),
            footer_pages=self.plan.footer_pages(),
            privacy_page=PRIVACY_PAGE + "/",
            subscribe_path=SUBSCRIBE_PATH,
            events_path=EVENTS_PATH,
            join_action=JOIN_PATH,
            join_structures=STRUCTURES,
            join_professions=PROFESSIONS,
            join_consent=CONSENT,
            join_values={},
            join_problems={},
        )
        return env

    @staticmethod
    def structured_data_filter(config: MkDocsConfig):
        """Return the Jinja filter that writes an item's JSON-LD (empty for other items)."""
        site_url = (config.site_url or "/").rstrip("/") + "/"
        logo = site_url + (config.theme.get("logo") or "")

        def structured_data(item: object, page: MkPage) -> Markup:
            url = page.canonical_url or site_url
            if isinstance(item, JobOffer):
                data = structured.job_posting(item, url, HEADERLINK.sub("", page.content or "") or item.title)
            elif isinstance(item, Event):
                data = structured.event(item, url, config.site_name)
            elif isinstance(item, (NewsItem, Story)):
                data = structured.article(item, url, config.site_name, logo)
            else:
                return Markup("")
            return Markup(structured.script_tag(data))

        return structured_data

    def on_page_context(
        self, context: Any, /, *, page: MkPage, config: MkDocsConfig, nav: Navigation
    ) -> Any:  # MkDocs' TemplateContext, with this site's own keys added
        if page.file.src_uri in self._deferred:
            self._deferred.discard(page.file.src_uri)
            self._convert(page, config)
        if page.content is not None:
            page.content = Markup(page.content)  # HTML converted from Markdown: our escaping templates print it as is
        spec = self.specs.get(page.file.src_uri)
        if spec:
            context.update(spec.context)
        context["search_filters"] = spec.search if spec else None
        return context

    def on_build_error(self, error: Exception) -> None:
        if self.incremental is not None:  # start the next preview build from scratch
            self.incremental.site = ""
            self.incremental.outputs.clear()

    def on_post_build(self, config: MkDocsConfig) -> None:
        # The parser holds the last page's link processors, and through them this build's configuration and files:
        # not kept past the build (the preview froze each refresh's whole build, alive at its end, and grew at every
        # refresh) (measured: bench/RESULTS.md, « Why the code is as it is »).
        self._markdown = self._files = None
        # The preview's bookkeeping of the pages written; every other output is the build's (plugins/outputs/site.py).
        incremental = self.incremental
        if incremental is not None:
            incremental.finish(self.site_fingerprint, self.fingerprints, self.dests)
            incremental.written = self.written


class PlannedPage(File):
    """A page of the plan, as File.generated makes it, its paths made without pathlib (every page of a build).

    File.generated goes through PurePath for each source path, then computes the page's destination on
    demand, a cost paid again for every page of each site (measured: bench/RESULTS.md, « Why the code is as it is »).
    The plan's source paths are already '/'-separated, relative, and end in '.md'
    (tests/plan/test_planned_pages.py compares every field MkDocs reads with File.generated's, for every
    page of the sample).
    """

    def __init__(
        self,
        site_dir: str,
        use_directory_urls: bool,
        src_uri: str,
        content: str,
        inclusion: InclusionLevel,
        generated_by: str | None,
    ) -> None:
        self.src_uri = src_uri
        self.src_dir = None
        self.dest_dir = site_dir
        self.use_directory_urls = use_directory_urls
        self.inclusion = inclusion
        self.generated_by = generated_by
        self.abs_src_path = None
        self._content = content
        parent, _, name = src_uri.rpartition("/")
        stem = name[:-3] if name.endswith(".md") else ""
        if stem and stem != "README":
            if self.use_directory_urls and stem != "index":
                dest = f"{parent}/{stem}/index.html" if parent else f"{stem}/index.html"
            else:
                dest = f"{parent}/{stem}.html" if parent else f"{stem}.html"
            self.dest_uri = dest
            self.abs_dest_path = os.path.normpath(os.path.join(self.dest_dir, dest))


def _unchanged() -> bool:
    """File.is_modified for a page the previous preview build wrote from the same plan."""
    return False
