"""What each folder holds: its front-matter schema and how a file becomes an entity."""

from __future__ import annotations

from plugins.model import vocabulary as v
from plugins.model.fields import (
    Field,
    boolean,
    choice,
    day,
    department,
    email,
    instant,
    list_of,
    mapping,
    moment,
    number_between,
    person,
    slug_ref,
    text,
    url,
    year,
)

TOOLBOX_DIR = "toolbox"
THEMES_FILE = "toolbox/themes.yml"


def toolbox_fields(themes: dict[str, str]) -> list[Field]:
    """Return the toolbox schema, whose themes come from toolbox/themes.yml."""
    return [
        Field("title", text, True, "un titre"),
        Field("type", choice(v.SHEET_TYPES), True, "l'un de : " + ", ".join(v.SHEET_TYPES)),
        Field("themes", list_of(choice(themes), 1), True, "au moins un thème de toolbox/themes.yml"),
        Field("keywords", list_of(text)),
        Field("stage", choice(v.STAGES)),
        Field("date", day, True, "la date de publication AAAA-MM-JJ"),
        Field("updated", day),
        Field("access", choice(v.ACCESS)),
        Field("summary", text),
        Field("attachments", list_of(text)),
    ]


MSP_FIELDS = [
    Field("name", text, True, "le nom de la MSP"),
    Field("department", department, True, "un code de département (ex. 44)"),
    Field("communes", list_of(text, 1), True, "la liste des communes"),
    Field("lat", number_between(-90, 90)),
    Field("lon", number_between(-180, 180)),
    Field("sites", choice(v.MSP_SITES)),
    Field("member", boolean),
    Field("since", year),
    Field("website", url),
]

CONTACT = mapping([Field("email", email), Field("phone", text), Field("url", url)], at_least_one=True)

OFFER_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("msp", text, True, "l'identifiant d'une MSP adhérente de content/msp/"),
    Field("kind", choice(v.OFFER_KINDS), True, "l'un de : " + ", ".join(v.OFFER_KINDS)),
    Field("professions", list_of(choice(v.PROFESSIONS), 1), True, "au moins une profession"),
    Field("contract", text),
    Field("commune", text, True, "la commune du poste"),
    Field("department", department, True, "un code de département (ex. 44)"),
    Field("date", day, True, "la date de publication AAAA-MM-JJ"),
    Field("expires", day, True, "la date de fin de publication AAAA-MM-JJ"),
    Field("start", day),
    Field("contact", CONTACT, True, "au moins un de : email, phone, url"),
]

def story_fields(themes: dict[str, str]) -> list[Field]:
    """Return the stories' schema, whose themes come from toolbox/themes.yml."""
    return [
        Field("title", text, True, "un titre"),
        Field("date", day, True, "la date de publication AAAA-MM-JJ"),
        Field("series", choice(v.STORY_SERIES), True, "inspir-cafe ou talents"),
        Field("msp", text),
        Field("authors", list_of(person)),
        Field("video", url),
        Field("themes", list_of(choice(themes))),
        Field("summary", text),
    ]

NEWS_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("date", day, True, "la date de publication AAAA-MM-JJ"),
    Field("tags", list_of(text)),
    Field("summary", text),
    Field("access", choice(v.ACCESS)),
]

EVENT_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("start", moment, True, "la date et l'heure de début AAAA-MM-JJTHH:MM"),
    Field("end", moment),
    Field("place", text),
    Field("commune", text),
    Field("department", department),
    Field("online", boolean),
    Field("registration", url),
    Field("audience", choice(v.ACCESS)),
    Field("summary", text),
]

LETTER_FIELDS = [
    Field("subject", text, True, "l'objet de la lettre"),
    Field("audience", choice(v.ACCESS), True, "adherents ou public"),
    Field("date", day, True, "la date de parution AAAA-MM-JJ"),
    Field("send_at", instant),
    Field("preheader", text),
    Field("pin", list_of(slug_ref)),
    Field("drop", list_of(slug_ref)),
]

PAGE_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("summary", text),
    Field("access", choice(v.ACCESS)),
    Field("order", number_between(0, 1000)),
]
