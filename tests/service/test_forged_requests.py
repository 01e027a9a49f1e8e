"""Acting for another, tried as an attacker would: forms posted from another site through a member's browser (CSRF),
the members' letter confirmed by a stranger, signed links replayed after their purpose, members' events probed from
the public host. Through the nginx that `build.py server --service` writes, the service, aiosmtpd and chromium.
"""

from __future__ import annotations

import base64
import html
import http.client
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from plugins.build.sites import build_all
from plugins.records.readers import ReaderStore
from plugins.records.registrations import RegistrationBook
from tests.support import (
    EVENTS,
    LETTERS,
    MEMBER,
    NGINX,
    TODAY,
    Mailbox,
    free_port,
    http_request,
    link_in,
    make_project,
    post,
    request_fields,
    served_sites,
    service_env,
    start_service,
    static_server,
    wait_for,
)

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")

ATTACKER = "attaquant@evil.example"
CREDENTIALS = {"Authorization": "Basic " + base64.b64encode(f"{MEMBER[0]}:{MEMBER[1]}".encode()).decode()}


@dataclass
class World:
    root: Path
    project: Path
    db: Path
    mailbox: Mailbox
    public: str = ""
    members: str = ""

    def local(self, url: str) -> str:
        """The same link on the local nginx (emails carry the federation's real host names)."""
        parts = urlsplit(url)
        base = self.members if parts.netloc.startswith("adherents.") else self.public
        return f"{base}{parts.path}?{parts.query}"

    def stored(self) -> dict[str, int]:
        """How many rows each store of the service holds."""
        with sqlite3.connect(self.db) as db:
            tables = ("readers", "registrations", "membership_requests")
            return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("falsifications")
    (root / "projet").mkdir()
    project = make_project(root / "projet", {**LETTERS, **EVENTS})
    build_all(project, project / "site", TODAY)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    (root / "prive").mkdir()
    world = World(root, project, root / "prive" / "service.sqlite", mailbox)
    port = free_port()
    service = start_service(service_env(smtp.port, world.db), project, port)
    try:
        with served_sites(project, root, port, ("--db", str(world.db))) as (world.public, world.members):
            RegistrationBook(world.db)  # every table exists before the first count
            yield world
    finally:
        service.kill()
        service.wait(timeout=10)
        smtp.stop()


def forms(world: World) -> list[tuple[str, dict[str, str]]]:
    """Every state-changing form of the service, at both hosts, filled by an attacker."""
    event = {"nom": "Victime Un", "adresse": ATTACKER, "question-profession": "Autre"}
    return [
        (world.public + "/lettres/inscription/", {"adresse": ATTACKER, "lettre": "public"}),
        (world.members + "/lettres/inscription/", {"adresse": ATTACKER, "lettre": "adherents"}),
        (world.public + "/agenda/inscription/atelier/", event),
        (world.members + "/agenda/inscription/atelier/", event),
        (world.members + "/agenda/inscription/reserve/", {"nom": "Victime Un", "adresse": ATTACKER}),
        (world.public + "/adherer/demande", request_fields("MSP Piégée", ATTACKER)),
        (world.members + "/acces/oubli", {"adresse": ATTACKER}),
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": None, "Referer": "https://evil.example/piege.html"},
        {"Origin": None, "Sec-Fetch-Site": "cross-site"},
        {"Origin": None, "Sec-Fetch-Site": "same-site"},
        {"Origin": None},
    ],
    ids=["autre-origine", "origine-nulle", "referent", "fetch-cross-site", "fetch-same-site", "sans-en-tete"],
)
def test_a_form_posted_from_another_site_stores_and_mails_nothing(world: World, headers: dict[str, str | None]) -> None:
    before, mails = world.stored(), len(world.mailbox.messages)
    for url, fields in forms(world):
        status, body = post(url, fields, {**CREDENTIALS, **headers})
        assert status == 403 and "Formulaire refusé" in body, (url, status, body[:300])
    assert world.stored() == before
    assert len(world.mailbox.messages) == mails and not world.mailbox.to(ATTACKER)


def test_the_same_forms_from_the_sites_own_pages_are_taken(world: World) -> None:
    """The control: with the browser's own Origin (or only Sec-Fetch-Site: same-origin) the same requests go through."""
    friend = "amie@example.org"
    assert post(world.public + "/lettres/inscription/", {"adresse": friend, "lettre": "public"})[0] == 200
    fetch_only = {"Origin": None, "Sec-Fetch-Site": "same-origin"}
    assert post(world.members + "/acces/oubli", {"adresse": friend}, {**CREDENTIALS, **fetch_only})[0] == 200
    wait_for(lambda: world.mailbox.to(friend, "Confirmez"))


def evil_page(folder: Path, name: str, action: str, fields: dict[str, str]) -> None:
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    folder.joinpath(name).write_text(
        f'<!doctype html><meta charset="utf-8"><title>Gagnez un voyage</title>'
        f'<form method="post" action="{action}">{inputs}</form><script>document.forms[0].submit()</script>',
        encoding="utf-8",
    )


def test_another_origin_auto_submits_every_form_through_a_logged_in_browser(world: World, browser, tmp_path: Path) -> None:
    targets = forms(world)
    for n, (url, fields) in enumerate(targets):
        evil_page(tmp_path, f"piege-{n}.html", url, fields)
    before, mails = world.stored(), len(world.mailbox.messages)
    context = browser.new_context(locale="fr-FR", http_credentials={"username": MEMBER[0], "password": MEMBER[1]})
    page = context.new_page()
    assert page.goto(world.members + "/").status == 200  # the member is logged in: the browser keeps the password
    answers = []
    with static_server(tmp_path) as evil:  # another origin: another port of 127.0.0.1
        for n, (url, _) in enumerate(targets):
            with page.expect_navigation(url=re.compile(re.escape(urlsplit(url).path))) as landed:
                page.goto(f"{evil}piege-{n}.html")
            response = landed.value
            assert response is not None
            answers.append(response.status)
            # chromium posts from 127.0.0.1 every time: past nginx's burst for one address (5), 429 refuses first.
            words = "Formulaire refusé" if response.status == 403 else "Demande non traitée"
            assert response.status in (403, 429) and words in page.content(), (url, response.status)
    context.close()
    assert answers.count(403) >= 5, answers
    assert world.stored() == before
    assert len(world.mailbox.messages) == mails


def only_mail(world: World, address: str, subject: str) -> EmailMessage:
    wait_for(lambda: world.mailbox.to(address, subject))
    (message,) = world.mailbox.to(address, subject)
    return message


def test_the_members_letter_is_confirmed_only_inside_the_members_space(world: World) -> None:
    reader = "inconnu@example.org"
    assert post(world.members + "/lettres/inscription/", {"adresse": reader, "lettre": "adherents"}, CREDENTIALS)[0] == 200
    link = link_in(only_mail(world, reader, "Confirmez"), "/lettres/inscription/confirmer")
    assert urlsplit(link).netloc.startswith("adherents."), link  # the link leads to the members' host
    on_members = world.local(link)
    on_public = world.public + on_members.removeprefix(world.members)
    # A stranger who typed an address and got the link: the public host refuses, the members' host asks a password.
    status, body, _ = http_request("GET", on_public)
    assert status == 403 and "Confirmation depuis" in body.decode()
    assert post(on_public, b"")[0] == 403
    assert http_request("GET", on_members)[0] == 401
    assert post(on_members, b"", {"Authorization": "Basic " + base64.b64encode(b"msp-loire:faux").decode()})[0] == 401
    assert ReaderStore(world.db).reader(reader, "adherents").state == "pending"  # type: ignore[union-attr]
    # A member follows it: subscribed, and the history says from which account.
    assert post(on_members, b"", CREDENTIALS)[0] == 200
    store = ReaderStore(world.db)
    assert store.reader(reader, "adherents").state == "subscribed"  # type: ignore[union-attr]
    assert any(f"compte {MEMBER[0]}" in detail for _, _, event, detail in store.history(reader)[1] if event == "confirmed")


def test_a_confirmation_link_subscribes_nobody_after_its_request_was_undone(world: World) -> None:
    reader = "partie@example.org"
    assert post(world.public + "/lettres/inscription/", {"adresse": reader, "lettre": "public"})[0] == 200
    confirm = world.local(link_in(only_mail(world, reader, "Confirmez"), "/lettres/inscription/confirmer"))
    assert post(confirm, b"")[0] == 200
    assert post(confirm, b"")[0] == 200  # the same click twice: still « confirmée », nothing changed
    store = ReaderStore(world.db)
    assert store.reader(reader, "public").state == "subscribed"  # type: ignore[union-attr]
    # One-click from a mail provider (no Origin), then the old confirmation link again.
    from plugins.letters.message import token
    from tests.support import SECRET

    one_click = f"{world.public}/lettres/desinscription/?jeton={token(SECRET.encode(), 'public', reader)}&adresse={reader}"
    assert post(one_click, b"List-Unsubscribe=One-Click", {"Origin": None})[0] == 200
    assert store.reader(reader, "public").state == "unsubscribed"  # type: ignore[union-attr]
    status, body = post(confirm, b"")
    assert status == 410 and "ne vaut plus" in body
    assert store.reader(reader, "public").state == "unsubscribed"  # type: ignore[union-attr]
    # The unsubscribe page's own button, posted from another site, changes nothing.
    assert post(one_click, b"", {"Origin": "https://evil.example"})[0] == 403


def confirm_event(world: World, address: str) -> None:
    link = world.local(link_in(only_mail(world, address, "Confirmez votre inscription"), "/agenda/inscription/confirmer"))
    assert post(link, b"")[0] == 200


def test_a_cancellation_link_cancels_only_the_registration_it_was_sent_for(world: World) -> None:
    person = {"nom": "Aline Martin", "adresse": "aline@example.org", "question-profession": "Autre"}
    url = world.public + "/agenda/inscription/atelier/"
    assert post(url, person)[0] == 200
    confirm_event(world, person["adresse"])
    first = world.local(link_in(only_mail(world, person["adresse"], "Inscription confirmée"), "/agenda/inscription/annuler"))
    assert post(first, b"")[0] == 200
    book = RegistrationBook(world.db)
    assert book.active("atelier", person["adresse"]) is None
    with sqlite3.connect(world.db) as db:  # an hour later (one request's email per mailbox and event per hour)
        db.execute("UPDATE outbox SET created = '2000-01-01T00:00:00+00:00'")
    world.mailbox.messages.clear()
    assert post(url, person)[0] == 200  # she registers again
    confirm_event(world, person["adresse"])
    wait_for(lambda: len(world.mailbox.to(person["adresse"], "Inscription confirmée")) == 1)
    again = book.active("atelier", person["adresse"])
    assert again is not None and again.is_confirmed
    status, body, _ = http_request("GET", first)  # the first link, replayed: its page says so, with no button
    assert status == 200 and "Aucune inscription" in body.decode() and "<form" not in body.decode()
    assert post(first, b"")[0] in (200, 403)  # posted anyway (no page token to carry): nothing cancelled
    assert book.active("atelier", person["adresse"]) == again


def test_a_members_event_is_unknown_on_the_public_host(world: World) -> None:
    unknown = http_request("GET", world.public + "/agenda/inscription/nulle-part/")
    members_only = http_request("GET", world.public + "/agenda/inscription/reserve/")
    assert members_only[0] == unknown[0] == 404
    assert members_only[1] == unknown[1]
    assert b"coordinateurs" not in members_only[1]
    fields = {"nom": "Curieux", "adresse": "curieux@example.org"}
    assert (
        post(world.public + "/agenda/inscription/reserve/", fields)[:2]
        == post(world.public + "/agenda/inscription/nulle-part/", fields)[:2]
    )
    assert http_request("GET", world.members + "/agenda/inscription/reserve/", headers=CREDENTIALS)[0] == 200


def raw(method: str, url: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=("127.0.33.3", 0))
    connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_one_of_each_security_header_on_every_kind_of_answer(world: World) -> None:
    answers = {
        "page du service (site public)": raw("GET", world.public + "/lettres/inscription/"),
        "page du service (espace adhérents)": raw("GET", world.members + "/lettres/inscription/", CREDENTIALS),
        "page ouverte de l'espace adhérents": raw("GET", world.members + "/acces/oubli"),
        "page statique publique": raw("GET", world.public + "/offres/"),
        "page de l'espace adhérents": raw("GET", world.members + "/offres/", CREDENTIALS),
        "ressource de l'espace adhérents": raw("GET", world.members + "/pagefind/pagefind.js", CREDENTIALS),
        "refus de l'espace adhérents": raw("GET", world.members + "/offres/"),
    }
    for kind, response in answers.items():
        for name in ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"):
            values = response.headers.get_all(name) or []
            assert len(values) == (0 if name == "Cache-Control" and kind == "page statique publique" else 1), (
                kind,
                name,
                values,
            )
    service = answers["page du service (site public)"].headers
    assert service["Content-Security-Policy"].startswith("default-src 'none'")  # the service's own, stricter policy
    assert service["Referrer-Policy"] == "strict-origin"


def test_a_forged_host_is_never_echoed_into_a_redirect(world: World) -> None:
    for base, headers in ((world.public, {}), (world.members, CREDENTIALS)):
        response = raw("GET", base + "/offres", {**headers, "Host": "evil.example"})
        assert response.status == 301
        assert response.headers["Location"] == "/offres/", response.headers["Location"]


def test_the_logs_keep_no_token_of_the_signed_links(world: World) -> None:
    """After the module's confirmations, cancellations and unsubscriptions, through nginx."""
    access = (world.root / "access.log").read_text(encoding="utf-8")
    errors = (world.root / "nginx" / "error.log").read_text(encoding="utf-8")
    assert "/lettres/inscription/confirmer" in access and "/agenda/inscription/annuler" in access
    for log in (access, errors):
        assert "jeton=" not in log and "adresse=" not in log and "@example.org" not in log


def test_an_event_confirmation_link_confirms_nothing_once_its_registration_is_cancelled(world: World) -> None:
    person = {"nom": "Bruno Petit", "adresse": "bruno@example.org", "question-profession": "Autre"}
    assert post(world.public + "/agenda/inscription/atelier/", person)[0] == 200
    link = world.local(
        link_in(only_mail(world, person["adresse"], "Confirmez votre inscription"), "/agenda/inscription/confirmer")
    )
    assert post(link, b"")[0] == 200
    cancel = world.local(link_in(only_mail(world, person["adresse"], "Inscription confirmée"), "/agenda/inscription/annuler"))
    assert post(cancel, b"")[0] == 200
    status, body = post(link, b"")  # the confirmation link, replayed after the cancellation
    assert status == 400 and "ne vaut plus" in body
    assert RegistrationBook(world.db).active("atelier", person["adresse"]) is None


def test_a_membership_confirmation_link_tells_the_staff_once(world: World) -> None:
    from tests.support import STAFF

    email = "une-fois@example.org"
    assert post(world.public + "/adherer/demande", request_fields("MSP Une Fois", email))[0] == 200
    link = world.local(link_in(only_mail(world, email, "Confirmez votre demande"), "/adherer/confirmer"))
    assert post(link, b"")[0] == 200
    assert post(link, b"")[0] == 200  # followed twice
    altered = link.replace("une-fois%40example.org", "autre%40example.org")
    assert http_request("GET", altered)[0] == 400 and post(altered, b"")[0] in (400, 403)
    wait_for(lambda: [m for m in world.mailbox.to(STAFF) if "MSP Une Fois" in m["Subject"]])
    time.sleep(0.5)
    assert len([m for m in world.mailbox.to(STAFF) if "MSP Une Fois" in m["Subject"]]) == 1
    assert len(world.mailbox.to(email, "bien reçue")) == 1


def test_a_form_only_the_service_shows_needs_the_token_of_its_own_page(world: World) -> None:
    """The second wall: the service's own forms carry a token signed for their path, the time and the member."""
    from tests.support import TOKEN

    event = world.public + "/agenda/inscription/atelier/"
    fields = {"nom": "Sans Jeton", "adresse": "sans-jeton@example.org", "question-profession": "Autre"}
    before = world.stored()
    assert post(event, fields, token=False)[0] == 403  # own Origin, no token
    forgot_token = html.unescape(TOKEN.search(http_request("GET", world.members + "/acces/oubli")[1].decode()).group(1))  # type: ignore[union-attr]
    assert post(event, {**fields, "jeton-formulaire": forgot_token}, token=False)[0] == 403  # another form's token
    # The members' event form, with a token its page gave on the public host (no member) or to nobody.
    members_event = world.members + "/agenda/inscription/reserve/"
    assert (
        post(members_event, {"nom": "A", "adresse": "a@example.org", "jeton-formulaire": forgot_token}, CREDENTIALS, token=False)[
            0
        ]
        == 403
    )
    assert (
        post(members_event, {"nom": "A", "adresse": "a@example.org", "jeton-formulaire": "1.abc"}, CREDENTIALS, token=False)[0]
        == 403
    )
    assert world.stored() == before
    assert post(event, fields)[0] == 200  # the page's own token: taken
