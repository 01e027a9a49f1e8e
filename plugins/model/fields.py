"""Field checks: each turns a raw YAML value into a typed one or raises a French FieldError."""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from plugins.model.problems import FieldError, quote
from plugins.model.vocabulary import DEPARTMENTS

PARIS = ZoneInfo("Europe/Paris")

Check = Callable[[Any], Any]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?$")
# The one email rule of the project (content, forms, CSV files, accounts). Deliberately simple and ASCII only
# (no SMTPUTF8): local part, @, a domain with a dot. \Z, not $: « $ » also matches before a final newline.
ADDRESS = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\Z")
# No form field may hold a control character (a CRLF would split a header or a CSV line), nor NEL and the
# Unicode line and paragraph separators, which Python's email library refuses in a header.
CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


# What `build.py new` writes where the editor must write: `check` refuses it until it is replaced.
PLACEHOLDER = "À COMPLÉTER"


def holds_placeholder(value: Any) -> bool:
    """Return True when a value, or anything nested in it, still holds the placeholder."""
    if isinstance(value, str):
        return PLACEHOLDER in unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return any(holds_placeholder(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_placeholder(v) for v in value)
    return False


@dataclass(frozen=True)
class Field:
    """One front-matter key: its check and whether editors must give it."""

    name: str
    check: Check
    required: bool = False
    hint: str = ""


# Letters that Unicode does not decompose into an ASCII letter and an accent: without this table
# « vœux » would lose its « œ » (« vux ») and « Œdème » its first letters (« deme »).
LIGATURES = str.maketrans(
    {
        "œ": "oe",
        "Œ": "OE",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ẞ": "SS",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
    }
)


def ascii_letters(text: str) -> str:
    """Return text in ASCII letters, accents dropped and ligatures spelt out: 'Vœux d'été' -> 'Voeux d'ete'."""
    return unicodedata.normalize("NFKD", text.translate(LIGATURES)).encode("ascii", "ignore").decode()


@functools.lru_cache(maxsize=8192)  # the same keywords, tags and labels in thousands of files, at every load
def slugify(text: str) -> str:
    """Return an ASCII slug: 'Réunion d'équipe' -> 'reunion-d-equipe', 'Les vœux' -> 'les-voeux'."""
    return re.sub(r"[^a-z0-9]+", "-", ascii_letters(text).lower()).strip("-")


def text(value: Any) -> str:
    """Return a non-empty one-line text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise FieldError(f"{quote(value)} n'est pas un texte, attendu un texte simple")
    result = str(value).strip()
    if not result:
        raise FieldError("valeur vide, attendu un texte")
    return result


def choice(vocabulary: Mapping[str, str]) -> Check:
    """Return a check accepting one slug of the vocabulary."""

    def check(value: Any) -> str:
        slug = text(value)
        if slug in vocabulary:
            return slug
        near = difflib.get_close_matches(slug, list(vocabulary), n=1)
        hint = f" (vouliez-vous dire « {near[0]} » ?)" if near else ""
        raise FieldError(f"{quote(slug)} inconnu{hint}, attendu l'une de ces valeurs : {', '.join(vocabulary)}")

    return check


def list_of(item: Check, minimum: int = 0) -> Check:
    """Return a check for a YAML list (a single value counts as a list of one)."""

    def check(value: Any) -> list[Any]:
        values = value if isinstance(value, list) else [value]
        if len(values) < minimum:
            raise FieldError(f"liste vide, attendu au moins {minimum} valeur")
        return [item(v) for v in values]

    return check


def day(value: Any) -> date:
    """Return a real calendar date written YYYY-MM-DD."""
    raw = text(value)
    if not _DATE.match(raw):
        raise FieldError(f"{quote(raw)} n'est pas une date, attendu le format AAAA-MM-JJ (ex. 2026-03-12)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FieldError(f"la date {raw} n'existe pas, attendu une date réelle au format AAAA-MM-JJ") from None


def moment(value: Any) -> tuple[datetime, bool]:
    """Return (aware date-time, all_day); a bare date is an all-day moment."""
    raw = text(value)
    if _DATE.match(raw):
        return datetime.combine(day(raw), datetime.min.time(), PARIS), True
    match = _DATETIME.match(raw)
    if not match:
        raise FieldError(f"{quote(raw)} n'est pas une date-heure, attendu AAAA-MM-JJTHH:MM (ex. 2026-12-04T14:00)")
    try:
        parsed = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError:
        raise FieldError(f"la date-heure {raw} n'existe pas, attendu une date et une heure réelles") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=PARIS)), False


def instant(value: Any) -> datetime:
    """Return an aware date-time (Europe/Paris when no offset is given)."""
    return moment(value)[0]


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise FieldError(f"{quote(value)} n'est pas un booléen, attendu true ou false")


def year(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1900 <= value <= 2100:
        return value
    raise FieldError(f"{quote(value)} n'est pas une année, attendu une année sur 4 chiffres (ex. 2018)")


def number_between(low: float, high: float) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high:
            return float(value)
        raise FieldError(f"{quote(value)} hors limites, attendu un nombre décimal entre {low} et {high}")

    return check


def url(value: Any) -> str:
    raw = text(value)
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise FieldError(f"{quote(raw)} n'est pas une adresse web, attendu une URL commençant par https://")
    return raw


def email(value: Any) -> str:
    raw = text(value)
    if not ADDRESS.match(raw):
        raise FieldError(f"{quote(raw)} n'est pas une adresse e-mail, attendu nom@domaine.fr")
    return raw


def department(value: Any) -> str:
    """Return a French department code ('44', '2A', '974')."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:02d}"
    raw = text(value).upper()
    if raw in DEPARTMENTS:
        return raw
    raise FieldError(f"{quote(raw)} n'est pas un département, attendu un code comme 44, 2A ou 974")


def slug_ref(value: Any) -> str:
    raw = text(value)
    if not re.match(r"^[a-z-]+/(?:[a-z0-9-]+/)*[a-z0-9-]+$", raw):
        raise FieldError(f"{quote(raw)} mal formé, attendu « collection/nom-du-fichier » (ex. offres/ide-nantes)")
    return raw


def mapping(fields: list[Field], at_least_one: bool = False) -> Check:
    """Return a check for a nested mapping with its own keys."""
    names = [f.name for f in fields]

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise FieldError(f"{quote(value)} n'est pas une liste de champs, attendu {', '.join(names)}")
        unknown = [k for k in value if k not in names]
        if unknown:
            raise FieldError(f"clé {quote(unknown[0])} inconnue, attendu {', '.join(names)}")
        result = {}
        for f in fields:
            if value.get(f.name) is not None:
                try:
                    result[f.name] = f.check(value[f.name])
                except FieldError as exc:  # name the nested key: « places : « 0 » hors limites… »
                    raise FieldError(f"{f.name} : {exc}") from None
        missing = [f.name for f in fields if f.required and f.name not in result]
        if missing:
            raise FieldError(f"{missing[0]} manquant, attendu {', '.join(names)}")
        if at_least_one and not result:
            raise FieldError(f"aucune valeur, attendu au moins l'un de : {', '.join(names)}")
        return result

    return check


QUESTION_KINDS = {"choix": "une réponse parmi choices", "oui-non": "oui ou non", "texte": "un texte court"}


def question(value: Any) -> dict[str, Any]:
    """Return one registration question: {id, label, kind, choices, required}."""
    result = mapping(
        [
            Field("id", text, required=True),
            Field("label", text, required=True),
            Field("kind", choice(QUESTION_KINDS), required=True),
            Field("choices", list_of(text, 2)),
            Field("required", boolean),
        ]
    )(value)
    if not re.match(r"^[a-z][a-z0-9-]{0,30}$", result["id"]):
        raise FieldError(f"id {quote(result['id'])} mal formé, attendu des minuscules sans accent ni espace (ex. repas)")
    if (result["kind"] == "choix") != ("choices" in result):
        raise FieldError(f"question {result['id']} : choices va avec kind: choix, et seulement avec lui")
    return result


SIGN_UP_FIELDS = [
    Field("places", number_between(1, 5000), required=True),
    Field("closes", instant),
    Field("audience", choice({"public": "public", "adherents": "adherents"})),
    Field("waiting_list", boolean),
    Field("questions", list_of(question)),
]


def registration(value: Any) -> str | dict[str, Any]:
    """Return an external registration URL, or the mapping that opens registrations on the federation's service."""
    if isinstance(value, dict):
        result = mapping(SIGN_UP_FIELDS)(value)
        if result["places"] != int(result["places"]):
            raise FieldError(f"places {quote(result['places'])} n'est pas un nombre entier, attendu le nombre de places (ex. 50)")
        questions = result.get("questions", [])
        if len(questions) > 5 or len({q["id"] for q in questions}) != len(questions):
            raise FieldError("questions : 5 au plus, chacune avec un id différent")
        return result
    try:
        return url(value)
    except FieldError:
        raise FieldError(
            f"{quote(value)} n'est ni une adresse web (https://…) ni un bloc d'inscription "
            "(places, closes, audience, waiting_list, questions)"
        ) from None


def person(value: Any) -> dict[str, str]:
    """Return {name, profession}; a bare string is a name."""
    if isinstance(value, str):
        return {"name": text(value)}
    return mapping([Field("name", text, required=True), Field("profession", text)])(value)
