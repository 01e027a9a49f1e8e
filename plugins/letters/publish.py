"""Write every letter's email parts for operators and into the site that archives it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plugins.letters.compose import compose
from plugins.letters.render import Identity, RenderedLetter, render_letter
from plugins.model import Audience, Content, Letter
from plugins.website.plan import item_uri, page_url

OPERATOR_DIR = "lettres"
ARCHIVE_NAMES = ("lettre.html", "lettre.txt")
NOINDEX = '<head><meta name="robots" content="noindex, nofollow">'


@dataclass(frozen=True)
class LetterSettings:
    """Where letters link to and how they are signed, from mkdocs.yml."""

    identity: Identity
    public_url: str
    members_url: str
    unsubscribe_url: str
    sender_name: str
    sender_email: str

    def site_url(self, audience: Audience) -> str:
        return self.members_url if audience is Audience.ADHERENTS else self.public_url


def rendered(content: Content, letter: Letter, settings: LetterSettings) -> RenderedLetter:
    """Compose and render a letter; members' letters link to the members' site."""
    return render_letter(compose(content, letter, settings.site_url(letter.audience)), settings.identity)


def write_letters(content: Content, output: Path, site_dirs: dict[Audience, Path], settings: LetterSettings) -> list[Path]:
    """Write output/lettres/<slug>.html|.txt and each letter's archive copy in the sites that show it."""
    written = []
    operator = output / OPERATOR_DIR
    operator.mkdir(parents=True, exist_ok=True)
    for letter in content.letters:
        archived = rendered(content, letter, settings).for_recipient(settings.unsubscribe_url)
        for suffix, text in ((".html", archived.html), (".txt", archived.text)):
            target = operator / f"{letter.slug}{suffix}"
            target.write_text(text, encoding="utf-8")
            written.append(target)
        for audience, site in site_dirs.items():
            if letter.visible_to(audience):
                folder = site / page_url(item_uri(letter))
                folder.mkdir(parents=True, exist_ok=True)
                html = archived.html if audience is Audience.PUBLIC else archived.html.replace("<head>", NOINDEX, 1)
                for name, text in zip(ARCHIVE_NAMES, (html, archived.text), strict=True):
                    (folder / name).write_text(text, encoding="utf-8")
    return written
