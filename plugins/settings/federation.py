"""The federation's settings (`extra.federation` of mkdocs.yml and the sites' addresses), checked once, typed.

Plain Python: the sites' templates, the letters, nginx's files and the service all read this one
object instead of the raw mapping. Every problem is reported at once, in French, naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plugins.model import Audience
from plugins.settings.membership import MembershipSettings
from plugins.settings.privacy import PAGE as PRIVACY_PAGE
from plugins.settings.privacy import PrivacySettings


@dataclass(frozen=True)
class Identity:
    """The sender's identity and look, from mkdocs.yml."""

    site_name: str
    address: str = ""
    email: str = ""
    primary: str = "#0b6e69"
    link: str = "#0a5f5b"
    social: tuple[tuple[str, str], ...] = ()
    privacy_url: str = ""


@dataclass(frozen=True)
class LetterSettings:
    """Where letters link to and how they are signed, from mkdocs.yml."""

    identity: Identity
    public_url: str
    members_url: str
    unsubscribe_url: str
    sender_name: str
    sender_email: str
    count_opens: bool = False

    def site_url(self, audience: Audience) -> str:
        return self.members_url if audience is Audience.ADHERENTS else self.public_url


WHERE = "mkdocs.yml : extra.federation"
COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
KNOWN = (
    "short_name",
    "join_url",
    "email",
    "phone",
    "address",
    "sender_name",
    "sender_email",
    "colors",
    "licences",
    "privacy",
    "membership",
    "letters",
    "map",
)


class SettingsError(ValueError):
    """What is wrong in the federation's settings, one French line per problem."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MapSettings:
    """The map's base layer, loaded only when a reader asks for it."""

    tiles: str = ""
    attribution: str = ""


@dataclass(frozen=True)
class FederationSettings:
    """Who the federation is, where its two sites are, and what its forms, letters and map need."""

    site_name: str
    public_url: str  # ends with "/"
    members_url: str  # ends with "/"
    short_name: str = ""
    join_url: str = ""  # absolute
    join_page: str = ""  # the slug of the « Adhérer » page of the public site, '' if join_url is elsewhere
    email: str = ""
    phone: str = ""
    address: str = ""
    sender_name: str = ""
    sender_email: str = ""
    primary: str = "#0b6e69"
    link: str = "#0a5f5b"
    licences: Mapping[str, str] = field(default_factory=dict)
    privacy: PrivacySettings = field(default_factory=lambda: PrivacySettings("", "", "", ""))
    membership: MembershipSettings | None = None
    unsubscribe_url: str = ""
    map: MapSettings = field(default_factory=MapSettings)
    social: tuple[tuple[str, str], ...] = ()  # (name, link) of extra.social

    def site_url(self, audience: Audience) -> str:
        return self.members_url if audience is Audience.ADHERENTS else self.public_url

    @property
    def privacy_url(self) -> str:
        return f"{self.public_url}{PRIVACY_PAGE}/"

    def identity(self) -> Identity:
        """Return what the letters show of the federation."""
        return Identity(self.site_name, self.address, self.email, self.primary, self.link, self.social, self.privacy_url)

    def letters(self) -> LetterSettings:
        return LetterSettings(
            self.identity(),
            self.public_url,
            self.members_url,
            self.unsubscribe_url,
            self.sender_name,
            self.sender_email,
            self.privacy.count_opens,
        )

    @classmethod
    def read(
        cls, site_name: str, site_url: str, extra: Mapping[str, Any], public_site_url: str = "", members_site_url: str = ""
    ) -> FederationSettings:
        """Check and return the settings; raise SettingsError with every problem found."""
        raw = extra.get("federation") or {}
        if not isinstance(raw, Mapping):
            raise SettingsError([f"{WHERE} doit être un ensemble de champs (email, address, colors…)"])
        problems = [
            f"{WHERE}.{name} : champ inconnu, attendu l'un de : {', '.join(KNOWN)}" for name in sorted(set(raw) - set(KNOWN))
        ]
        text = {name: _text(raw, name, problems) for name in ("short_name", "join_url", "email", "phone", "address")}
        public_url = (public_site_url or site_url or "/").rstrip("/") + "/"
        members_url = (members_site_url or public_url).rstrip("/") + "/"
        join = text["join_url"]
        colors = _mapping(raw, "colors", problems)
        for name in set(colors) - {"primary", "link"}:
            problems.append(f"{WHERE}.colors.{name} : champ inconnu, attendu primary ou link")
        for name in ("primary", "link"):
            if name in colors and not COLOR.match(str(colors[name])):
                problems.append(f"{WHERE}.colors.{name} « {colors[name]} » : attendu une couleur #RRVVBB entre guillemets")
        licences = _mapping(raw, "licences", problems)
        for name in set(licences) - {"public", "adherents"}:
            problems.append(f"{WHERE}.licences.{name} : champ inconnu, attendu public ou adherents")
        letters = _mapping(raw, "letters", problems)
        for name in set(letters) - {"unsubscribe_url", "count_opens"}:
            problems.append(f"{WHERE}.letters.{name} : champ inconnu, attendu unsubscribe_url ou count_opens")
        area = _mapping(raw, "map", problems)
        for name in set(area) - {"tiles", "attribution"}:
            problems.append(f"{WHERE}.map.{name} : champ inconnu, attendu tiles ou attribution")
        sender_email = _text(raw, "sender_email", problems)
        if not sender_email or "@" not in sender_email:
            problems.append(f"{WHERE}.sender_email manquant : l'adresse d'expédition des lettres et des messages")
        for name in ("email",):
            if text[name] and "@" not in text[name]:
                problems.append(f"{WHERE}.{name} « {text[name]} » : attendu une adresse électronique")
        privacy = membership = None
        try:
            privacy = PrivacySettings.from_settings(raw, site_name)
        except ValueError as exc:
            problems.append(str(exc))
        try:
            membership = MembershipSettings.from_settings(raw)
        except ValueError as exc:
            problems.append(str(exc))
        social = tuple(
            (str(s.get("name", "")), str(s["link"]))
            for s in extra.get("social") or []
            if isinstance(s, Mapping) and s.get("link")
        )
        if problems:
            raise SettingsError(problems)
        assert privacy is not None
        return cls(
            site_name=site_name,
            public_url=public_url,
            members_url=members_url,
            short_name=text["short_name"],
            join_url=join if "://" in join else public_url + join.lstrip("/"),
            join_page="" if "://" in join else join.strip("/").split("/")[-1],
            email=text["email"],
            phone=text["phone"],
            address=text["address"],
            sender_name=_text(raw, "sender_name", problems) or site_name,
            sender_email=sender_email,
            primary=str(colors.get("primary", "#0b6e69")),
            link=str(colors.get("link", "#0a5f5b")),
            licences={k: str(v) for k, v in licences.items()},
            privacy=privacy,
            membership=membership,
            unsubscribe_url=str(letters.get("unsubscribe_url") or public_url + "lettres/desinscription/"),
            map=MapSettings(str(area.get("tiles", "")), str(area.get("attribution", ""))),
            social=social,
        )


def _text(raw: Mapping[str, Any], name: str, problems: list[str]) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if isinstance(value, (Mapping, list, bool)):
        problems.append(f"{WHERE}.{name} : attendu un texte")
        return ""
    return str(value).strip()


def _mapping(raw: Mapping[str, Any], name: str, problems: list[str]) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{WHERE}.{name} : attendu un ensemble de champs")
        return {}
    return value


def read_mkdocs_yml(project: Path) -> FederationSettings:
    """Return the federation's settings from the project's mkdocs.yml, read as YAML: no MkDocs, no theme, no plugin.

    For the service and the commands that only need extra.federation and the sites' addresses;
    the build and `check` read the file through MkDocs, which also checks MkDocs' own settings.
    Raise SettingsError (French) when the file cannot be read or its settings are wrong.
    """
    path = project / "mkdocs.yml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SettingsError([f"{path} illisible : {exc.strerror or exc}"]) from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (ligne {where.line + 1})" if where is not None else ""
        raise SettingsError([f"mkdocs.yml{line} : YAML illisible, lancez « build.py check » pour le détail"]) from exc
    if not isinstance(raw, Mapping):
        raise SettingsError(["mkdocs.yml : attendu des réglages « nom: valeur »"])
    options: Mapping[str, Any] = {}
    for entry in raw.get("plugins") or []:
        if isinstance(entry, Mapping) and "federation" in entry:
            options = entry["federation"] or {}
    return FederationSettings.read(
        str(raw.get("site_name") or ""),
        str(raw.get("site_url") or ""),
        raw.get("extra") or {},
        str(options.get("public_site_url") or ""),
        str(options.get("members_site_url") or ""),
    )
