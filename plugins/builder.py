"""Build both sites (and everything beside them) into a staging folder, then swap it in."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.config.defaults import MkDocsConfig

from plugins.access.nginx import Identity
from plugins.federation.plugin import FederationPlugin
from plugins.letters.publish import LetterSettings, write_letters
from plugins.letters.render import Identity as RenderIdentity
from plugins.locking import FileLock
from plugins.membership import MembershipSettings
from plugins.model import Audience, Content, load_content
from plugins.privacy import PAGE as PRIVACY_PAGE
from plugins.privacy import PrivacySettings

SITE_DIRS = {Audience.PUBLIC: "public", Audience.ADHERENTS: "adherents"}


@dataclass
class BuildResult:
    """What a build produced, for the CLI's summary."""

    output: Path
    pages: dict[str, int]


def site_config(
    project: Path, audience: Audience, site_dir: Path, site_url: str | None = None, strict: bool = False
) -> MkDocsConfig:
    """Load mkdocs.yml for one audience's site (strict: any MkDocs warning fails the build)."""
    config = load_config(str(project / "mkdocs.yml"), site_dir=str(site_dir), strict=strict)
    plugin_config = config.plugins["federation"].config
    if site_url:
        config.site_url = site_url
    elif audience is Audience.ADHERENTS and plugin_config.members_site_url:
        config.site_url = plugin_config.members_site_url
    return config


def build_site(
    content: Content,
    audience: Audience,
    site_dir: Path,
    today: date,
    site_url: str | None = None,
    strict: bool = False,
    rendered: dict | None = None,
) -> int:
    """Build one site with MkDocs from an already loaded model; return its page count."""
    config = site_config(content.root, audience, site_dir, site_url, strict)
    plugin = federation_plugin(config)
    plugin.prepare(content, audience, today, rendered)
    mkdocs_build(config)
    return len(plugin.specs)


def federation_plugin(config: MkDocsConfig) -> FederationPlugin:
    """Return the site's federation plugin (mkdocs.yml must declare it)."""
    plugin = config.plugins["federation"]
    assert isinstance(plugin, FederationPlugin)
    return plugin


def swap_in(staging: Path, output: Path) -> None:
    """Replace each top-level folder of output by the freshly built one."""
    output.mkdir(parents=True, exist_ok=True)
    for built in sorted(staging.iterdir()):
        target = output / built.name
        old = output / f".old-{built.name}"
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        built.rename(target)
        if old.exists():
            shutil.rmtree(old)
    staging.rmdir()


def build_all(
    project: Path, output: Path, today: date, strict: bool = False, on_wait: Callable[[], None] = lambda: None
) -> BuildResult:
    """Load, check and build everything; the previous output stays intact on any failure.

    Builds into the same output take turns (two commits pushed seconds apart): the second
    waits for the first, then loads the content as it is by then.
    """
    with FileLock(output.parent / f".{output.name}.lock") as lock:
        lock.acquire(wait=True, on_wait=on_wait)
        return _build_all(project, output, today, strict)


def _build_all(project: Path, output: Path, today: date, strict: bool) -> BuildResult:
    content = load_content(project)
    staging = output.parent / f".{output.name}-staging"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    rendered: dict = {}  # pages shared by both sites are converted from Markdown once
    try:
        pages = {
            SITE_DIRS[a]: build_site(content, a, staging / SITE_DIRS[a], today, strict=strict, rendered=rendered)
            for a in (Audience.PUBLIC, Audience.ADHERENTS)
        }
        write_letters(content, staging, {a: staging / d for a, d in SITE_DIRS.items()}, letter_settings(project))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    swap_in(staging, output)
    return BuildResult(output, pages)


def federation_identity(project: Path) -> Identity:
    """Return the federation's name, contact and links from mkdocs.yml."""
    config = site_config(project, Audience.PUBLIC, project / "site")
    federation = config.extra.get("federation", {})
    public_url = config.plugins["federation"].config.public_site_url or config.site_url or "/"
    join = federation.get("join_url", "")
    return Identity(
        name=config.site_name,
        email=federation.get("email", ""),
        join_url=join if "://" in join else public_url.rstrip("/") + "/" + join.lstrip("/"),
        public_url=public_url,
    )


def privacy_settings(project: Path) -> PrivacySettings:
    """Return the federation's privacy answers from mkdocs.yml; raise ValueError (French) if they are wrong."""
    config = site_config(project, Audience.PUBLIC, project / "site")
    return PrivacySettings.from_settings(config.extra.get("federation", {}) or {}, config.site_name)


def membership_settings(project: Path) -> MembershipSettings | None:
    """Return the federation's membership settings from mkdocs.yml (None if absent); raise ValueError (French) if wrong."""
    config = site_config(project, Audience.PUBLIC, project / "site")
    return MembershipSettings.from_settings(config.extra.get("federation", {}) or {})


def map_tiles(project: Path) -> str:
    """Return the URL template of the map's base layer (extra.federation.map.tiles), '' if none."""
    federation = site_config(project, Audience.PUBLIC, project / "site").extra.get("federation", {}) or {}
    return str((federation.get("map") or {}).get("tiles", ""))


def letter_settings(project: Path) -> LetterSettings:
    """Return the letters' identity, links and sender from mkdocs.yml."""
    config = site_config(project, Audience.PUBLIC, project / "site")
    federation = config.extra.get("federation", {})
    plugin = config.plugins["federation"].config
    public_url = (plugin.public_site_url or config.site_url or "/").rstrip("/") + "/"
    colors = federation.get("colors", {})
    social = tuple((s.get("name", ""), s["link"]) for s in config.extra.get("social", []) if s.get("link"))
    letters = federation.get("letters", {})
    return LetterSettings(
        identity=RenderIdentity(
            config.site_name,
            federation.get("address", ""),
            federation.get("email", ""),
            colors.get("primary", "#0b6e69"),
            colors.get("link", "#0a5f5b"),
            social,
            privacy_url=f"{public_url}{PRIVACY_PAGE}/",
        ),
        public_url=public_url,
        members_url=(plugin.members_site_url or public_url).rstrip("/") + "/",
        unsubscribe_url=letters.get("unsubscribe_url") or public_url + "lettres/desinscription/",
        sender_name=federation.get("sender_name", config.site_name),
        sender_email=federation["sender_email"],
    )


def quiet_mkdocs() -> None:
    """Keep MkDocs' English progress lines out of the editors' terminal; warnings stay."""
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
