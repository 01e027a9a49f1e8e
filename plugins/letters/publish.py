"""Write every letter's email parts for operators and into the site that archives it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from plugins.base.fingerprint import code_version, digest
from plugins.letters.compose import Catalogue, compose
from plugins.letters.render import RenderedLetter, render_letter
from plugins.model import Audience, Content, Letter
from plugins.plan.pages import item_uri, page_url
from plugins.settings.federation import LetterSettings

OPERATOR_DIR = "lettres"
ARCHIVE_NAMES = ("lettre.html", "lettre.txt")
NOINDEX = '<head><meta name="robots" content="noindex, nofollow">'
CACHE_FILE = ".lettres-cache.json"  # each letter's fingerprint, for the next build (beside the operators' copies)
CACHE_VERSION = 1


def rendered(content: Content, letter: Letter, settings: LetterSettings, catalogue: Catalogue | None = None) -> RenderedLetter:
    """Compose and render a letter; members' letters link to the members' site."""
    return render_letter(compose(content, letter, settings.site_url(letter.audience), catalogue), settings.identity)


def write_letters(
    content: Content, output: Path, site_dirs: dict[Audience, Path], settings: LetterSettings, previous: Path | None = None
) -> list[Path]:
    """Write output/lettres/<slug>.html|.txt and each letter's archive copy in the sites that show it.

    previous: the output folder of the previous build (site_dirs' folders at the same places in it).
    A letter composed as in that build, by the same code, is not rendered again: its files there
    are hard-linked (never written through: every file written here is a new one).
    """
    written = []
    operator = output / OPERATOR_DIR
    operator.mkdir(parents=True, exist_ok=True)
    catalogue = Catalogue(content)
    version = code_version()
    kept = _cache(previous / OPERATOR_DIR) if previous else {}
    fingerprints: dict[str, str] = {}
    for letter in content.letters:
        composed = compose(content, letter, settings.site_url(letter.audience), catalogue)
        archives = {a: site / page_url(item_uri(letter)) for a, site in site_dirs.items() if letter.visible_to(a)}
        targets = [operator / f"{letter.slug}{suffix}" for suffix in (".html", ".txt")]
        targets += [folder / name for folder in archives.values() for name in ARCHIVE_NAMES]
        fingerprint = fingerprints[letter.slug] = digest(
            version, composed, settings.identity, settings.unsubscribe_url, [t.relative_to(output).as_posix() for t in targets]
        )
        if previous and kept.get(letter.slug) == fingerprint and _link_all(previous, output, targets):
            written += targets[:2]
            continue
        archived = render_letter(composed, settings.identity).for_recipient(settings.unsubscribe_url)
        for suffix, text in ((".html", archived.html), (".txt", archived.text)):
            target = operator / f"{letter.slug}{suffix}"
            target.write_text(text, encoding="utf-8")
            written.append(target)
        for audience, folder in archives.items():
            folder.mkdir(parents=True, exist_ok=True)
            html = archived.html if audience is Audience.PUBLIC else archived.html.replace("<head>", NOINDEX, 1)
            for name, text in zip(ARCHIVE_NAMES, (html, archived.text), strict=True):
                (folder / name).write_text(text, encoding="utf-8")
    kept_now = {"version": CACHE_VERSION, "letters": fingerprints}
    (operator / CACHE_FILE).write_text(json.dumps(kept_now, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    return written


def _cache(folder: Path) -> dict[str, str]:
    """Return the letters' fingerprints kept by the previous build; none if it kept none or another version."""
    try:
        kept = json.loads((folder / CACHE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(kept, dict) or kept.get("version") != CACHE_VERSION or not isinstance(kept.get("letters"), dict):
        return {}
    return {str(slug): str(fingerprint) for slug, fingerprint in kept["letters"].items()}


def _link_all(previous: Path, output: Path, targets: list[Path]) -> bool:
    """Hard-link each target from the same place in the previous build; False (and nothing linked) if one is missing."""
    sources = [previous / target.relative_to(output) for target in targets]
    if not all(source.is_file() for source in sources):
        return False
    for source, target in zip(sources, targets, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
    return True
