"""The one build of a site, run by `build.py build` (plugins/build/sites.py) and by the preview (plugins/build/preview.py).

Read as MkDocs' commands/build.py: one function, one named step per stage. MkDocs is reached here and in
the adapter (plugins/render/) only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort, ConfigurationError

from plugins.model import Audience, Content
from plugins.outputs.site import Target, write_site_outputs
from plugins.render.incremental import Fingerprinter, Incremental
from plugins.render.plugin import FederationPlugin, RenderedPages, settings_of
from plugins.settings.federation import FederationSettings, SettingsError


def build_site(
    content: Content,
    audience: Audience,
    folder: Path,
    url: str,
    today: date,
    settings: FederationSettings,
    state: Incremental,
    rendered: RenderedPages | None,
    index: Callable[[Path, dict[str, list[str]]], None] | None,
    *,
    fingerprinter: Fingerprinter | None = None,
    keep_rendered: bool = False,
    serve_url: str | None = None,
    strict: bool = False,
) -> FederationPlugin:
    """Build one audience's site into folder, over what state says is there: its pages, then everything beside them.

    state: what the previous build of this site wrote (Incremental: its unchanged pages and outputs are kept);
    rendered: the pages' conversions from Markdown, shared with the other site's build;
    index(folder, bundles): makes the search bundles whose pages changed (None: not now).
    Returns the adapter, which knows the site's pages (specs) and search bundles.
    """
    config = site_config(content.root, audience, folder, url, strict)  # 1. mkdocs.yml, for this site
    plugin = federation_plugin(config)  # 2. the site's plan, handed to the adapter
    plugin.prepare(content, audience, today, rendered, state, settings, keep_rendered=keep_rendered, fingerprinter=fingerprinter)
    logger = logging.getLogger("mkdocs.commands.build")
    if NO_DIRTY_WARNING not in logger.filters:
        logger.addFilter(NO_DIRTY_WARNING)
    mkdocs_build(config, serve_url=serve_url, dirty=True)  # 3. the pages that changed (the others are kept or linked)
    target = Target(audience, folder, url, config.site_name, keep=state.output, index=index)
    write_site_outputs(target, content, today, plugin.search_bundles, list(plugin.specs))  # 4. feeds, calendars, map, search
    state.fingerprinter = None  # 5. it holds this build's model: not kept beside the next one's
    return plugin


def site_config(
    project: Path, audience: Audience, site_dir: Path, site_url: str | None = None, strict: bool = False
) -> MkDocsConfig:
    """Load mkdocs.yml for one audience's site; raise SettingsError (French) on any error or warning of MkDocs about it.

    MkDocs logs what it finds wrong in English and goes on with a default after a warning (an unknown name: a typo
    in a setting); here each one stops the command with the file and the setting named.
    """
    heard = MkDocsConfigProblems()
    logger = logging.getLogger("mkdocs.config")
    logger.addFilter(heard)
    try:
        config = load_config(str(project / "mkdocs.yml"), site_dir=str(site_dir), strict=strict)
    except (Abort, ConfigurationError) as exc:
        said = str(exc).removeprefix("MkDocs encountered an error parsing the configuration file: ")
        raise SettingsError(heard.problems or [f"{project / 'mkdocs.yml'} : illisible — {said}"]) from None
    finally:
        logger.removeFilter(heard)
    if heard.problems:
        raise SettingsError(heard.problems)
    plugin_config = config.plugins["federation"].config
    if site_url:
        config.site_url = site_url
    elif audience is Audience.ADHERENTS and plugin_config.members_site_url:
        config.site_url = plugin_config.members_site_url
    return config


class MkDocsConfigProblems(logging.Filter):
    """What MkDocs says is wrong in mkdocs.yml (its warnings and errors), kept in French and not printed."""

    SAID = re.compile(r"Config value '(?P<name>[^']*)': (?P<what>.*)", re.DOTALL)
    OPTION = re.compile(r"Plugin '(?P<plugin>[^']*)' option '(?P<option>[^']*)': (?P<what>.*)", re.DOTALL)
    UNKNOWN = re.compile(r"Unrecognised configuration name: (?P<name>.*)")

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        said = self.SAID.fullmatch(message)
        if said is None:
            self.problems.append(f"mkdocs.yml : {message}")
            return False
        name, what = said["name"], said["what"]
        option = self.OPTION.fullmatch(what)
        if option is not None:
            name, what = f"{name} : {option['plugin']} : {option['option']}", option["what"]
        unknown = self.UNKNOWN.fullmatch(what)
        if unknown is not None:
            if not name.endswith(unknown["name"]):
                name = f"{name} : {unknown['name']}" if name else unknown["name"]
            self.problems.append(f"mkdocs.yml : réglage inconnu « {name} » (faute de frappe ?)")
        else:
            self.problems.append(f"mkdocs.yml, réglage « {name} » refusé par MkDocs : {what}")
        return False


class NoDirtyWarning(logging.Filter):
    """MkDocs warns about 'dirty' builds (which do not clear the folder); ours are exact (see incremental.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "'dirty' build" not in record.getMessage()


NO_DIRTY_WARNING = NoDirtyWarning()


def federation_plugin(config: MkDocsConfig) -> FederationPlugin:
    """Return the site's federation plugin (mkdocs.yml must declare it)."""
    plugin = config.plugins["federation"]
    assert isinstance(plugin, FederationPlugin)
    return plugin


def federation_settings(project: Path) -> FederationSettings:
    """Return the federation's settings from mkdocs.yml, checked; raise SettingsError (French) if they are wrong."""
    return settings_of(site_config(project, Audience.PUBLIC, project / "site"))


def quiet_mkdocs() -> None:
    """Keep MkDocs' English progress lines out of the editors' terminal; warnings stay."""
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
