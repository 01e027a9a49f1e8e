"""The « Données personnelles » page (RGPD art. 13): on both sites, linked from every page, form and letter,
and naming every field that any form collects."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from plugins.model import load_content
from plugins.model.french import when_fr
from plugins.outputs.calendar import location
from plugins.records.accounts import MemberAccount
from plugins.records.readers import ReaderStore
from plugins.service.core import Service
from plugins.service.emails import Postman
from plugins.service.subscriptions import LETTER_NAMES
from plugins.settings.federation import FederationSettings
from plugins.settings.membership import CONSENT, PROFESSIONS, STRUCTURES, MembershipSettings
from plugins.settings.paths import FORGOT_PATH, FORM_TOKEN, HONEYPOT, JOIN_PATH, PASSWORD_PATH, SUBSCRIBE_PATH
from plugins.settings.privacy import PAGE, field_family, form_fields
from tests.support import REPO


class Forms(HTMLParser):
    """The POST forms of a page: the names of their fields and the links inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, list[str]]] = []
        self.current: dict[str, list[str]] | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.current = {"fields": [], "links": [], "action": [a.get("action") or ""]}
            self.forms.append(self.current)
        elif self.current is not None and tag in ("input", "select", "textarea") and a.get("name"):
            self.current["fields"].append(a["name"] or "")
        elif self.current is not None and tag == "a":
            self.current["links"].append(a.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None


def parsed(html: str) -> Forms:
    forms = Forms()
    forms.feed(html)
    return forms


def service_form_pages(tmp_path: Path) -> list[str]:
    federation = FederationSettings(
        "Fédération", "https://example.org/", "https://adherents.example.org/", email="contact@example.org"
    )
    service = Service(federation, ReaderStore(tmp_path / "l.sqlite"), Postman(None, None, tmp_path), b"cle")  # type: ignore[arg-type]
    pages = []
    for audiences in (["public"], ["public", "adherents"]):
        page = service.page(
            "lettres/formulaire.html.j2",
            title="S'inscrire",
            error="",
            audiences=audiences,
            letter_names=LETTER_NAMES,
            action=SUBSCRIBE_PATH,
        )
        pages.append(page.body.decode())
    events = [e for e in load_content(REPO).events if e.sign_up and e.sign_up.questions]
    assert events, "the sample has an event with a registration form"
    for event in events:
        page = service.page(
            "evenements/formulaire.html.j2",
            title="S'inscrire",
            event=event,
            when=when_fr(event),
            where=location(event),
            left=10,
            error="",
            months=12,
            action="/agenda/inscription/x/",
        )
        pages.append(page.body.decode())
    settings = MembershipSettings.from_settings(
        {"email": "a@example.org", "membership": {"fees": [{"label": "MSP", "amount": 1}], "transfer": "virement"}}
    )
    pages.append(
        service.page(
            "adhesion/formulaire.html.j2",
            title="Demander l'adhésion",
            join_action=JOIN_PATH,
            join_problems={},
            join_values={},
            join_structures=STRUCTURES,
            join_professions=PROFESSIONS,
            join_consent=CONSENT,
            join_privacy=federation.privacy_url,
            settings=settings,
        ).body.decode()
    )
    pages.append(service.page("acces/oubli.html.j2", title="Mot de passe oublié", error="", action=FORGOT_PATH).body.decode())
    account = MemberAccount("msp-x", "a@example.org", "", None, None, "membership", "", None, "", "")
    pages.append(
        service.page(
            "acces/mot-de-passe.html.j2", title="Choisir", account=account, error="", minimum=12, action=PASSWORD_PATH
        ).body.decode()
    )
    return pages


def test_both_sites_have_the_page_and_every_page_links_to_it(sample_site: Path) -> None:
    for site in ("public", "adherents"):
        root = sample_site / site
        page = (root / PAGE / "index.html").read_text("utf-8")
        assert "Responsable des traitements" in page and "donnees-personnelles@msp-pdl.example.org" in page
        missing = [p for p in root.rglob("index.html") if f"{PAGE}/" not in p.read_text("utf-8")]
        assert missing == []


def test_no_form_collects_a_field_the_page_does_not_name(sample_site: Path, tmp_path: Path) -> None:
    named = form_fields()
    page = (sample_site / "public" / PAGE / "index.html").read_text("utf-8")
    assert all(f'data-champ="{name}"' in page for name in named)
    pages = [
        p.read_text("utf-8")
        for site in ("public", "adherents")
        for p in (sample_site / site).rglob("*.html")
        if p.parent.name != PAGE
    ]  # on the page itself, the link is "./"
    pages += service_form_pages(tmp_path)
    forms = [form for html in pages for form in parsed(html).forms]
    assert len(forms) > 300  # the footer of every page, the letters pages, the service's form
    collected = {field_family(name) for form in forms for name in form["fields"]} - {HONEYPOT, FORM_TOKEN}
    assert collected, "no form found"
    assert collected <= named, f"champs collectés sans être nommés sur la page {PAGE} : {sorted(collected - named)}"
    assert all(any(PAGE in link for link in form["links"]) for form in forms)


def test_every_letter_links_to_the_page(sample_site: Path) -> None:
    letters = sorted(p for p in (sample_site / "lettres").glob("*.*") if not p.name.startswith("."))  # not the build's cache
    assert len(letters) >= 6
    for letter in letters:
        assert f"https://msp-pdl.example.org/{PAGE}/" in letter.read_text("utf-8"), letter.name
