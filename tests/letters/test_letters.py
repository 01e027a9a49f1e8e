"""Letters composed from the sample content, rendered with MJML, archived in the right site, readable in chromium."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from plugins.model import Audience, load_content
from tests.support import REPO


@pytest.fixture(scope="module")
def content():
    return load_content(REPO)


def test_every_letter_has_its_email_parts_and_archive(sample_site: Path, content) -> None:
    for letter in content.letters:
        html = unescape((sample_site / "lettres" / f"{letter.slug}.html").read_text("utf-8"))
        text = (sample_site / "lettres" / f"{letter.slug}.txt").read_text("utf-8")
        assert '<html lang="fr"' in html and f"<title>{letter.subject}</title>" in html
        assert "<mj-" not in html and "googleapis" not in html
        assert letter.subject in text
        public_copy = sample_site / "public/lettres" / letter.slug / "lettre.html"
        assert public_copy.exists() == (letter.audience is Audience.PUBLIC)
        assert (sample_site / "adherents/lettres" / letter.slug / "lettre.txt").exists()


def test_the_preheader_is_hidden_in_html_and_absent_from_text(sample_site: Path, content) -> None:
    letter = next(lt for lt in content.letters if lt.slug == "2026-11-adherents")
    html = (sample_site / "lettres/2026-11-adherents.html").read_text("utf-8")
    hidden = re.search(r'<div style="display:none;[^"]*">([^<]*)', html)
    assert hidden and letter.preheader in unescape(hidden.group(1))
    assert letter.preheader not in (sample_site / "lettres/2026-11-adherents.txt").read_text("utf-8")


def test_pins_drops_and_links_to_the_right_site(sample_site: Path) -> None:
    members = (sample_site / "lettres/2026-11-adherents.txt").read_text("utf-8")
    assert "Assurances et responsabilité en exercice coordonné" in members  # pinned sheet
    assert "Assemblée générale de la fédération" in members  # pinned event, beyond the agenda horizon
    assert "plus de 60 offres" not in members and "Postes à pourvoir : plus de 60" not in members  # dropped news
    assert "https://adherents.msp-pdl.example.org/actualites/compte-rendu-ca-octobre/" in members
    public = (sample_site / "lettres/2026-11-public.txt").read_text("utf-8")
    assert "https://msp-pdl.example.org/agenda/forum-installation-2027/" in public
    assert "adherents.msp-pdl.example.org" not in public
    for members_only in ("Compte rendu du conseil d'administration", "Rencontre des coordinateurs", "Assemblée générale"):
        assert members_only not in public


def test_the_text_part_is_readable(sample_site: Path) -> None:
    text = (sample_site / "lettres/2026-11-public.txt").read_text("utf-8")
    assert "<" not in text and "&nbsp;" not in text and "{" not in text
    assert "Postes à pourvoir\n-----------------" in text
    assert not re.search(r"\n{4,}", text)


@pytest.mark.browser
@pytest.mark.parametrize("width", [600, 375])
def test_letters_fit_the_screen_in_chromium(sample_site: Path, content, browser, width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    for letter in content.letters:
        page.goto((sample_site / "lettres" / f"{letter.slug}.html").as_uri())
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], (letter.slug, widths)
        assert page.get_by_role("link", name="Se désinscrire").is_visible()
    page.close()
