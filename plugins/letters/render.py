"""Render a composed letter: Jinja2 -> MJML -> HTML with mjml-python, and a text part from the same letter."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from mjml import mjml2html

from plugins.letters.compose import ComposedLetter
from plugins.model import Audience
from plugins.model.french import date_fr
from plugins.settings.federation import Identity

TEMPLATES = Path(__file__).parent / "templates"
# Replaced per recipient after rendering: MJML runs once per letter, not once per subscriber.
UNSUBSCRIBE_PLACEHOLDER = "https://desinscription.invalid/%%JETON%%"
AUDIENCE_LABELS = {Audience.ADHERENTS: "La lettre des adhérents", Audience.PUBLIC: "La lettre d'information"}


@dataclass(frozen=True)
class RenderedLetter:
    """The email's two parts, with the unsubscribe placeholder still in them."""

    html: str
    text: str

    def for_recipient(self, unsubscribe_url: str) -> RenderedLetter:
        return RenderedLetter(
            self.html.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
            self.text.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe_url),
        )


@functools.lru_cache(maxsize=2)
def _environment(autoescape: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=not autoescape,
        lstrip_blocks=not autoescape,
        keep_trailing_newline=True,
    )


def _context(composed: ComposedLetter, identity: Identity, html: bool) -> dict:

    letter = composed.letter
    return {
        "letter": letter,
        "sections": composed.sections,
        "site_url": composed.site_url,
        "archive_url": composed.archive_url,
        "site_name": identity.site_name,
        "address": identity.address,
        "email": identity.email,
        "colors": {"primary": identity.primary, "link": identity.link},
        "social": [{"name": n, "link": u} for n, u in identity.social],
        "audience_label": AUDIENCE_LABELS[letter.audience],
        "letter_date": date_fr(letter.date),
        "editorial_html": Markup(composed.editorial_html) if html else composed.editorial_html,
        "editorial_text": composed.editorial_text,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
        "privacy_url": identity.privacy_url,
    }


def render_mjml(composed: ComposedLetter, identity: Identity) -> str:
    """Return the letter's MJML source."""
    return _environment(True).get_template("letter.mjml.j2").render(_context(composed, identity, True))


def render_letter(composed: ComposedLetter, identity: Identity) -> RenderedLetter:
    """Return the responsive HTML (no web font) and the plain-text part of a letter."""
    html = mjml2html(render_mjml(composed, identity), fonts={})
    text = _environment(False).get_template("letter.txt.j2").render(_context(composed, identity, False))
    return RenderedLetter(html, text)
