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
    registration,
    slug_ref,
    text,
    url,
    year,
)

TOOLBOX_DIR = "toolbox"
THEMES_FILE = "toolbox/themes.yml"
# Ends the hint of an optional field: what `check` expects when `new` left it to fill.
OPTIONAL = " (facultatif : sinon supprimez la ligne)"


def toolbox_fields(themes: dict[str, str]) -> list[Field]:
    """Return the toolbox schema, whose themes come from toolbox/themes.yml."""
    return [
        Field("title", text, True, "un titre"),
        Field("type", choice(v.SHEET_TYPES), True, "l'un de : " + ", ".join(v.SHEET_TYPES)),
        Field("themes", list_of(choice(themes), 1), True, "au moins un thème de toolbox/themes.yml"),
        Field("keywords", list_of(text)),
        Field("stage", choice(v.STAGES), hint="l'un de : " + ", ".join(v.STAGES) + OPTIONAL),
        Field("date", day, True, "la date de publication AAAA-MM-JJ"),
        Field("updated", day),
        Field("access", choice(v.ACCESS)),
        Field("summary", text, hint="le résumé affiché au public, obligatoire pour une fiche réservée aux adhérents"),
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
    Field("contract", text, hint="le contrat : CDI, CDD, libéral…" + OPTIONAL),
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
        Field("msp", text, hint="l'identifiant d'une MSP de content/msp/" + OPTIONAL),
        Field("authors", list_of(person), hint="les auteurs, chacun avec name et profession" + OPTIONAL),
        Field("video", url),
        Field("themes", list_of(choice(themes))),
        Field("summary", text, hint="une phrase qui donne envie de lire" + OPTIONAL),
    ]


NEWS_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("date", day, True, "la date de publication AAAA-MM-JJ"),
    Field("tags", list_of(text)),
    Field("summary", text, hint="une phrase de résumé" + OPTIONAL),
    Field("access", choice(v.ACCESS)),
]

EVENT_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("start", moment, True, "la date et l'heure de début AAAA-MM-JJTHH:MM"),
    Field("end", moment, hint="la date et l'heure de fin AAAA-MM-JJTHH:MM" + OPTIONAL),
    Field("place", text, hint="le lieu (salle, adresse), ou online: true pour un événement en ligne"),
    Field("commune", text, hint="la commune, ou online: true pour un événement en ligne"),
    Field("department", department, hint="un code de département comme 44" + OPTIONAL),
    Field("online", boolean),
    Field("registration", registration, hint="l'adresse d'inscription, ou un bloc places/closes/… (voir le README)" + OPTIONAL),
    Field("audience", choice(v.ACCESS)),
    Field("summary", text, hint="une phrase de présentation" + OPTIONAL),
]

LETTER_FIELDS = [
    Field("subject", text, True, "l'objet de la lettre"),
    Field("audience", choice(v.ACCESS), True, "adherents ou public"),
    Field("date", day, True, "la date de parution AAAA-MM-JJ"),
    Field("send_at", instant, hint="la date et l'heure de l'envoi automatique AAAA-MM-JJTHH:MM" + OPTIONAL),
    Field("preheader", text, hint="la phrase d'accroche affichée dans la boîte de réception" + OPTIONAL),
    Field("pin", list_of(slug_ref)),
    Field("drop", list_of(slug_ref)),
]

PAGE_FIELDS = [
    Field("title", text, True, "un titre"),
    Field("summary", text, hint="une phrase de présentation" + OPTIONAL),
    Field("access", choice(v.ACCESS)),
    Field("order", number_between(0, 1000)),
]
