"""The federation's content as plain value objects."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class Audience(enum.StrEnum):
    """Who may read a thing: everyone, or members of the federation only."""

    PUBLIC = "public"
    ADHERENTS = "adherents"

    @property
    def label(self) -> str:
        return "Public" if self is Audience.PUBLIC else "Adhérents"


@dataclass(frozen=True)
class Term:
    """A taxonomy term (theme, type, stage, keyword, tag...) with its slug and label."""

    kind: str
    slug: str
    label: str


@dataclass(kw_only=True)
class Item:
    """Something an editor committed as one Markdown file."""

    slug: str
    source: Path
    rel: str
    body: str = ""
    body_line: int = 1
    title: str = ""

    collection = ""

    @property
    def ref(self) -> str:
        """Return the reference editors use in letters: '<collection>/<slug>'."""
        return f"{self.collection}/{self.slug}"

    @property
    def audience(self) -> Audience:
        return Audience.PUBLIC

    def visible_to(self, audience: Audience) -> bool:
        """Return True when a reader of this audience may read the whole item."""
        return Audience(audience) is Audience.ADHERENTS or self.audience is Audience.PUBLIC


@dataclass(kw_only=True)
class ToolboxSheet(Item):
    type: Term
    themes: list[Term]
    date: dt.date
    keywords: list[Term] = field(default_factory=list)
    stage: Term | None = None
    updated: dt.date | None = None
    access: Audience = Audience.ADHERENTS
    summary: str = ""
    attachments: list[Path] = field(default_factory=list)
    folder: str = ""

    collection = "toolbox"

    @property
    def audience(self) -> Audience:
        return self.access


@dataclass(kw_only=True)
class Msp(Item):
    name: str
    department: str
    communes: list[str]
    lat: float | None = None
    lon: float | None = None
    sites: str | None = None
    member: bool = True
    since: int | None = None
    website: str | None = None

    collection = "msp"


@dataclass(kw_only=True)
class Contact:
    email: str | None = None
    phone: str | None = None
    url: str | None = None


@dataclass(kw_only=True)
class JobOffer(Item):
    msp: Msp
    kind: Term
    professions: list[Term]
    commune: str
    department: str
    date: dt.date
    expires: dt.date
    contact: Contact
    contract: str | None = None
    start: dt.date | None = None

    collection = "offres"

    def is_open(self, today: dt.date) -> bool:
        """Return True while the offer may be listed (through its expiry day)."""
        return self.date <= today <= self.expires


@dataclass(kw_only=True)
class Author:
    name: str
    profession: str = ""


@dataclass(kw_only=True)
class Story(Item):
    date: dt.date
    series: Term
    summary: str = ""
    msp: Msp | None = None
    authors: list[Author] = field(default_factory=list)
    video: str | None = None
    themes: list[Term] = field(default_factory=list)

    collection = "inspir-cafe"


@dataclass(kw_only=True)
class NewsItem(Item):
    date: dt.date
    summary: str = ""
    tags: list[Term] = field(default_factory=list)
    access: Audience = Audience.PUBLIC

    collection = "actualites"

    @property
    def audience(self) -> Audience:
        return self.access


@dataclass(frozen=True)
class Question:
    """One question of an event's registration form."""

    id: str
    label: str
    kind: str  # choix, oui-non, texte
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class SignUp:
    """Registrations opened on the federation's own service: places, closing time, who may register."""

    places: int
    closes: datetime
    audience: Audience
    waiting_list: bool = False
    questions: tuple[Question, ...] = ()


@dataclass(kw_only=True)
class Event(Item):
    start: datetime
    end: datetime | None = None
    all_day: bool = False
    place: str | None = None
    commune: str | None = None
    department: str | None = None
    online: bool = False
    registration: str | None = None  # an external registration page
    sign_up: SignUp | None = None  # or registrations on the federation's service
    access: Audience = Audience.PUBLIC
    summary: str = ""

    collection = "agenda"

    @property
    def audience(self) -> Audience:
        return self.access

    @property
    def date(self) -> dt.date:
        return self.start.date()

    def is_upcoming(self, today: dt.date) -> bool:
        """Return True until the event is over."""
        return (self.end or self.start).date() >= today


@dataclass(kw_only=True)
class Letter(Item):
    subject: str
    access: Audience
    date: dt.date
    send_at: datetime | None = None
    preheader: str = ""
    pin: list[str] = field(default_factory=list)
    drop: list[str] = field(default_factory=list)

    collection = "lettres"

    @property
    def audience(self) -> Audience:
        return self.access


@dataclass(kw_only=True)
class Page(Item):
    """A free page of the site (join, about, legal notice)."""

    summary: str = ""
    access: Audience = Audience.PUBLIC
    order: int = 100

    collection = "pages"

    @property
    def audience(self) -> Audience:
        return self.access
