"""Event registrations on the service, with the real parts: `build.py service` behind the nginx that
`build.py server` writes, aiosmtpd for the confirmations, chromium for the form, icalendar for the .ics."""

from __future__ import annotations

import concurrent.futures
import csv
import html
import io
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from plugins.build.sites import build_all
from plugins.model import ContentError, load_content
from plugins.records.registrations import RegistrationBook
from tests.support import (
    EVENTS,
    MEMBER,
    NGINX,
    TODAY,
    TOKEN,
    Mailbox,
    build_py,
    free_port,
    get,
    make_project,
    post,
    served_sites,
    service_env,
    start_service,
    wait_for,
)

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")


class World:
    def __init__(
        self, root: Path, project: Path, public: str, members: str, service: str, db: Path, mailbox: Mailbox, smtp_port: int
    ):
        self.root, self.project, self.public, self.members, self.service_url = root, project, public, members, service
        self.db, self.mailbox, self.smtp_port = db, mailbox, smtp_port

    def env(self) -> dict[str, str]:
        return service_env(self.smtp_port, self.db)

    def book(self) -> RegistrationBook:
        return RegistrationBook(self.db)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("inscriptions")
    (root / "projet").mkdir()
    project = make_project(root / "projet", EVENTS)  # type: ignore[arg-type]
    build_all(project, project / "site", TODAY)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    service_port = free_port()
    (root / "prive").mkdir()
    world = World(
        root,
        project,
        "",
        "",
        f"http://127.0.0.1:{service_port}",
        root / "prive" / "service.sqlite",
        mailbox,
        smtp.port,
    )
    service = start_service(world.env(), project, service_port)
    try:
        with served_sites(project, root, service_port, ("--db", str(world.db))) as (world.public, world.members):
            yield world
    finally:
        service.terminate()
        service.wait(timeout=10)
        smtp.stop()


def local(world: World, url: str) -> str:
    parts = urlsplit(url)
    base = world.members if parts.netloc.startswith("adherents.") else world.public
    return f"{base}{parts.path}?{parts.query}"


def link_of(world: World, address: str, subject: str, path: str, index: int = -1) -> str:
    """Return the local form of the link to path in the email with this subject sent to address (the last by default)."""
    wait_for(lambda: world.mailbox.to(address, subject))
    text = world.mailbox.to(address, subject)[index].get_body(("plain",)).get_content()
    return local(world, re.search(rf"https?://\S+{re.escape(path)}\?\S+", text).group(0))  # type: ignore[union-attr]


def confirm(world: World, address: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Follow the confirmation link mailed to address, as the person does: the link, then its button."""
    return post(link_of(world, address, "Confirmez votre inscription", "/agenda/inscription/confirmer"), b"", headers)


def test_register_in_the_browser_confirm_receive_the_ics_and_cancel(world: World, browser) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(world.public + "/agenda/inscription/atelier/")
    assert page.locator("h1").inner_text() == "S'inscrire : Atelier projet de santé"
    assert "50 places restantes sur 50" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.get_by_label("Prénom et nom").fill("Anne Martin")
    page.get_by_label("Adresse électronique").fill("anne@example.org")
    page.get_by_label("Infirmier·e").check()
    page.get_by_label("oui").check()
    page.get_by_role("button", name="S'inscrire").click()
    page.wait_for_selector("h1:text('Vérifiez votre messagerie')")
    # The place is held, not given: the address must confirm it. The request's email repeats nothing typed.
    [row] = [r for r in world.book().registrants("atelier") if r.email == "anne@example.org"]
    assert (row.status, row.is_confirmed, row.answers) == ("confirmed", False, {"profession": "Infirmier·e", "repas": "oui"})
    link = link_of(world, "anne@example.org", "Confirmez votre inscription", "/agenda/inscription/confirmer")
    asking = world.mailbox.to("anne@example.org", "Confirmez votre inscription")[0]
    assert "Anne" not in asking.get_body(("plain",)).get_content() and "Anne" not in asking.get_body(("html",)).get_content()
    assert world.mailbox.to("anne@example.org", "Inscription confirmée") == []
    page.goto(link)
    assert page.locator("h1").inner_text() == "Confirmer l'inscription"
    assert not world.book().active("atelier", "anne@example.org").is_confirmed  # type: ignore[union-attr]  # GET: nothing
    page.get_by_role("button", name="Confirmer mon inscription").click()
    page.wait_for_selector("h1:text('Inscription confirmée')")
    wait_for(lambda: world.mailbox.to("anne@example.org", "Inscription confirmée"))
    message = world.mailbox.to("anne@example.org", "Inscription confirmée")[0]
    [ics] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert ics.get_content_charset() == "utf-8" and "Atelier projet de santé" in ics.get_content()  # read as mail clients do
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Atelier projet de santé"
    assert event.decoded("DTSTART").isoformat() == "2027-01-21T09:30:00+01:00"
    assert calendar.walk("VTIMEZONE"), "the event's time zone travels with it"
    assert world.book().active("atelier", "anne@example.org").is_confirmed  # type: ignore[union-attr]
    cancel = link_of(world, "anne@example.org", "Inscription confirmée", "/agenda/inscription/annuler")
    page.goto(cancel)
    assert page.locator("h1").inner_text() == "Annuler l'inscription"
    assert world.book().active("atelier", "anne@example.org") is not None  # GET changes nothing
    page.get_by_role("button", name="Annuler mon inscription").click()
    page.wait_for_selector("h1:text('Inscription annulée')")
    assert world.book().active("atelier", "anne@example.org") is None
    assert context.cookies() == []
    context.close()
    altered = cancel.replace("anne%40example.org", "autre%40example.org")
    assert get(altered)[0] == 400 and post(altered, b"")[0] in (400, 403)  # its page has no button; posted anyway: refused


def test_sixty_at_once_for_fifty_places_confirmed_then_a_cancellation_promotes_the_first_waiting(world: World) -> None:
    url = world.service_url + "/agenda/inscription/atelier/"
    people = [{"nom": f"Personne {n}", "adresse": f"p{n:02d}@example.org", "question-profession": "Autre"} for n in range(60)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=60) as pool:
        pages = list(pool.map(lambda fields: post(url, fields), people))
    assert {status for status, _ in pages} == {200} and len({body for _, body in pages}) == 1  # one answer for all
    registrants = [r for r in world.book().registrants("atelier") if r.email.startswith("p")]
    held = [r for r in registrants if r.status == "confirmed"]
    waiting = [r for r in registrants if r.status == "waiting"]
    assert (len(held), len(waiting)) == (50, 10) and not any(r.is_confirmed for r in registrants)
    assert max(r.id for r in held) < min(r.id for r in waiting)  # places went in arrival order
    assert (
        "il ne reste plus de place" in get(world.public + "/agenda/inscription/atelier/")[1]
        or "Complet" in get(world.public + "/agenda/inscription/atelier/")[1]
    )  # the holds count: no place is shown free
    # Each address confirms its own request.
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda r: confirm(world, r.email), held + waiting))
    assert [status for status, _ in answers] == [200] * 60
    assert sum("Inscription confirmée" in body for _, body in answers[:50]) == 50
    ranks = sorted(int(re.search(r"n° (\d+) sur la liste", body).group(1)) for _, body in answers[50:])  # type: ignore[union-attr]
    assert ranks == list(range(1, 11))
    confirmed = [r for r in world.book().registrants("atelier") if r.email.startswith("p") and r.status == "confirmed"]
    assert len(confirmed) == 50 and all(r.is_confirmed for r in confirmed)
    wait_for(lambda: len(world.mailbox.to(waiting[0].email, "Liste d'attente")) == 1)
    assert world.mailbox.to(waiting[0].email, "Liste d'attente")[0].get_content_type() == "multipart/alternative"  # no .ics yet
    # Asking again with a registered address: the same answer as anyone; what differs goes to the address.
    once = post(url, {"nom": "Encore", "adresse": confirmed[0].email, "question-profession": "Autre"})
    assert once == pages[0]
    # Its email (« Déjà inscrit·e ») is one more unproven message for that mailbox and event within the hour: capped.
    with sqlite3.connect(world.db) as db:
        assert db.execute("SELECT status FROM outbox ORDER BY id DESC LIMIT 1").fetchone() == ("dropped",)
    assert sum(1 for r in world.book().registrants("atelier") if r.email == confirmed[0].email) == 1
    cancel = link_of(world, confirmed[3].email, "Inscription confirmée", "/agenda/inscription/annuler")
    assert post(cancel, b"")[0] == 200
    assert world.book().active("atelier", waiting[0].email).status == "confirmed"  # type: ignore[union-attr]
    wait_for(lambda: world.mailbox.to(waiting[0].email, "Une place s'est libérée"))
    promoted = world.mailbox.to(waiting[0].email, "Une place s'est libérée")[0]
    assert any(p.get_content_type() == "text/calendar" for p in promoted.iter_attachments())
    assert world.book().active("atelier", waiting[1].email).status == "waiting"  # type: ignore[union-attr]


def test_an_unconfirmed_hold_lapses_and_its_place_goes_to_the_first_waiting(world: World) -> None:
    """Three holds on an event of two places with a waiting list: the holds lapse (time moved on in the store)."""
    url = world.service_url + "/agenda/inscription/attente/"
    for who in ("h1", "h2", "h3"):
        assert post(url, {"nom": who.upper(), "adresse": f"{who}@example.org"})[0] == 200
    assert [r.status for r in world.book().registrants("attente")] == ["confirmed", "confirmed", "waiting"]
    assert confirm(world, "h3@example.org")[0] == 200  # h3 confirms its rank; h1 and h2 never confirm
    assert (
        "0 place restante" in get(world.public + "/agenda/inscription/attente/")[1]
        or "Complet" in get(world.public + "/agenda/inscription/attente/")[1]
    )
    with sqlite3.connect(world.db) as db:  # half an hour later
        db.execute(
            "UPDATE registrations SET held_until = '2000-01-01T00:00:00+00:00' WHERE email IN ('h1@example.org', 'h2@example.org')"
        )
    status, body = get(world.public + "/agenda/inscription/attente/")
    assert status == 200 and "1 place restante sur 2" in body  # h1's and h2's places: one to h3, one free
    assert world.book().active("attente", "h3@example.org").status == "confirmed"  # type: ignore[union-attr]
    assert world.book().active("attente", "h1@example.org") is None
    wait_for(lambda: world.mailbox.to("h3@example.org", "Une place s'est libérée"))
    # h1 confirms too late: it takes what is left now, the one free place.
    status, body = confirm(world, "h1@example.org")
    assert status == 200 and "Inscription confirmée" in body
    # h2 confirms even later: no place, the waiting list then.
    status, body = confirm(world, "h2@example.org")
    assert status == 200 and "liste d" in body


def test_full_closed_unknown_and_members_only(world: World) -> None:
    url = world.service_url + "/agenda/inscription/petit-groupe/"
    # Three people who opened the form while places were left (its token), then sent it.
    token = TOKEN.search(get(url)[1]).group(1)  # type: ignore[union-attr]
    answers = [
        post(url, {"nom": f"N {n}", "adresse": f"g{n}@example.org", "jeton-formulaire": html.unescape(token)}, token=False)
        for n in range(3)
    ]
    assert len(set(answers)) == 1 and answers[0][0] == 200  # the same page whether a place was left or not
    wait_for(lambda: world.mailbox.to("g2@example.org", "Complet"))
    assert world.mailbox.to("g2@example.org", "Confirmez") == [] and world.mailbox.to("g1@example.org", "Confirmez")
    status, body = get(world.public + "/agenda/inscription/petit-groupe/")
    assert status == 200 and "il ne reste plus de place" in body
    assert get(world.public + "/agenda/inscription/clos/")[0] == 410
    assert post(world.public + "/agenda/inscription/clos/", {"nom": "A", "adresse": "a@example.org"})[0] == 410
    assert get(world.public + "/agenda/inscription/inconnu/")[0] == 404
    status, body = get(world.public + "/agenda/inscription/reserve/")
    assert status == 404 and "Réunion des coordinateurs" not in body  # a members' event is unknown on the public host
    spoofed = post(
        world.public + "/agenda/inscription/reserve/",
        {"nom": "A", "adresse": "a@example.org"},
        {"X-Federation-Space": "adherents"},
    )
    assert spoofed[0] == 404
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"{MEMBER[0]}:{MEMBER[1]}".encode()).decode()}
    assert get(world.members + "/agenda/inscription/reserve/")[0] == 401
    assert get(world.members + "/agenda/inscription/reserve/", auth)[0] == 200
    assert post(world.members + "/agenda/inscription/reserve/", {"nom": "Membre", "adresse": "m@msp-exemple.org"}, auth)[0] == 200
    assert world.book().active("reserve", "m@msp-exemple.org") is not None
    link = link_of(world, "m@msp-exemple.org", "Confirmez votre inscription", "/agenda/inscription/confirmer")
    assert link.startswith(world.members)  # a members' event is confirmed on the members' host
    assert post(link, b"", auth)[0] == 200
    assert world.book().active("reserve", "m@msp-exemple.org").is_confirmed  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"nom": "A", "adresse": "a@example.org"}, "Répondez à la question"),
        ({"nom": "A", "adresse": "a@example.org", "question-profession": "Astronaute"}, "Réponse non valide"),
        ({"nom": "A\r\nBcc: x@example.org", "adresse": "a@example.org", "question-profession": "Autre"}, "prénom et nom"),
        ({"nom": "A", "adresse": "pas-une-adresse", "question-profession": "Autre"}, "pas valide"),
    ],
)
def test_bad_input_is_refused_in_french_and_stores_nothing(world: World, fields: dict[str, str], words: str) -> None:
    before = world.book().registrants("atelier")
    status, body = post(world.service_url + "/agenda/inscription/atelier/", fields)
    assert status == 400 and words in body.replace("&#39;", "'")
    assert world.book().registrants("atelier") == before


def test_staff_export_opens_in_the_spreadsheet(world: World, tmp_path: Path) -> None:
    output = tmp_path / "inscrits.csv"
    result = subprocess.run(
        build_py("--project", str(world.project), "inscriptions", "exporter", "atelier", "--sortie", str(output)),
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = output.read_bytes()
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["statut", "rang", "nom", "adresse", "inscription", "Votre profession", "Déjeunerez-vous sur place ?"]
    assert [r[0] for r in rows[1:]].count("confirmé") == 50
    assert "50 confirmé" in result.stderr and "9 en attente" in result.stderr and "places" in result.stderr
    assert "(à confirmer)" not in result.stderr  # every request of the sixty was confirmed
    unknown = subprocess.run(
        build_py("--project", str(world.project), "inscriptions", "exporter", "inexistant"),
        env=world.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 1 and "inconnu" in unknown.stderr


@pytest.mark.parametrize(
    "block, words",
    [
        ("registration:\n  places: 0", "places"),
        ("registration:\n  places: 10\n  couleur: bleu", "couleur"),
        (
            "registration:\n  places: 10\n  questions:\n    - id: repas\n      label: Repas\n      kind: choix",
            "choices va avec kind: choix",
        ),
        ("registration:\n  places: 10\n  closes: 2027-05-01T00:00", "closes après le début"),
        ("audience: adherents\nregistration:\n  places: 10\n  audience: public", "audience: public pour un événement réservé"),
        ("registration: pas-une-adresse", "ni une adresse web"),
    ],
)
def test_check_explains_a_wrong_registration_block(tmp_path: Path, block: str, words: str) -> None:
    event = f"---\ntitle: Essai\nstart: 2027-04-01T14:00\nonline: true\n{block}\n---\n\nTexte.\n"
    project = make_project(tmp_path, {"content/agenda/essai.md": event})
    with pytest.raises(ContentError) as caught:
        load_content(project)
    report = caught.value.report()
    assert "content/agenda/essai.md:" in report and "registration" in report and words in report, report


def test_registrants_are_erased_the_stated_months_after_the_event(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    book = RegistrationBook(tmp_path / "service.sqlite")
    now = datetime.now(UTC)
    book.register("ancien", now - timedelta(days=400), "a@example.org", "A", {}, 10, False, now - timedelta(days=420))
    book.register("recent", now - timedelta(days=100), "b@example.org", "B", {}, 10, False, now - timedelta(days=120))
    assert book.forget_past(12, now) == 1
    assert book.registrants("ancien") == [] and len(book.registrants("recent")) == 1


def test_the_event_page_leads_to_the_form(world: World, browser) -> None:
    page = browser.new_page()
    page.goto(world.public + "/agenda/atelier/")
    assert "50 places, puis liste d'attente" in page.locator("article").inner_text()
    page.get_by_role("link", name="S'inscrire à « Atelier projet de santé »").click()
    page.wait_for_selector('h1:text("S\'inscrire : Atelier projet de santé")')
    page.goto(world.public + "/agenda/clos/")
    assert "Inscriptions closes." in page.locator("article").inner_text()
    assert page.get_by_role("link", name="S'inscrire à « Inscriptions closes »").count() == 0
    page.close()


def test_a_reminder_goes_two_days_before_once_to_each_confirmed_registrant(world: World) -> None:
    url = world.service_url + "/agenda/inscription/rappel/"
    for who in ("r1", "r2", "r3", "r4"):
        assert post(url, {"nom": who.upper(), "adresse": f"{who}@example.org"})[0] == 200
    for who in ("r1", "r2", "r3"):  # r4 never confirms: no reminder
        assert confirm(world, f"{who}@example.org")[0] == 200
    cancel = link_of(world, "r3@example.org", "Inscription confirmée", "/agenda/inscription/annuler")
    assert post(cancel, b"")[0] == 200

    def remind(now: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            build_py(
                "--project",
                str(world.project),
                "inscriptions",
                "rappels",
                "--ledger",
                str(world.root / "prive" / "envois.sqlite"),
                "--now",
                now,
            ),
            env=world.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    early = remind("2027-03-07T10:00")  # three days before: nothing yet
    assert early.returncode == 0, early.stderr
    assert world.mailbox.to("r1@example.org", "Rappel") == []
    for _ in range(2):  # the daily timer, and a second run the same day: one reminder each
        run = remind("2027-03-08T19:00")
        assert run.returncode == 0, run.stdout + run.stderr
    assert "Rappel de « Soirée des coordinateurs » : 2 envoyé(s) en tout" in run.stdout
    wait_for(lambda: len(world.mailbox.to("r2@example.org", "Rappel")) == 1)
    assert [len(world.mailbox.to(f"{w}@example.org", "Rappel")) for w in ("r1", "r2", "r3", "r4")] == [1, 1, 0, 0]
    reminder = world.mailbox.to("r1@example.org", "Rappel")[0]
    assert "/agenda/inscription/annuler?" in reminder.get_body(("plain",)).get_content()
    assert reminder["Message-ID"].startswith("<rappel-rappel.")
