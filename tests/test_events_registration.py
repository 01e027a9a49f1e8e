"""Event registrations on the service, with the real parts: `build.py service` behind the nginx that
`build.py server` writes, aiosmtpd for the confirmations, chromium for the form, icalendar for the .ics."""

from __future__ import annotations

import concurrent.futures
import csv
import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from plugins.builder import build_all
from plugins.model import ContentError, load_content
from plugins.readers.registrations import RegistrationBook
from tests.conftest import MEMBER, NGINX, TODAY, free_port, make_project, served_sites
from tests.test_readers import Mailbox, build_py, get, post, service_env, start_service, wait_for

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")

EVENTS = {
    "content/agenda/atelier.md": """\
        ---
        title: Atelier projet de santé
        start: 2027-01-21T09:30
        end: 2027-01-21T16:30
        place: Locaux de la fédération
        commune: Nantes
        registration:
          places: 50
          waiting_list: true
          questions:
            - id: profession
              label: Votre profession
              kind: choix
              choices: [Médecin, Infirmier·e, Autre]
              required: true
            - id: repas
              label: Déjeunerez-vous sur place ?
              kind: oui-non
        summary: Une journée de travail.
        ---

        Programme.
        """,
    "content/agenda/petit-groupe.md": """\
        ---
        title: Petit groupe
        start: 2027-02-01T14:00
        online: true
        registration:
          places: 2
        ---

        Deux places.
        """,
    "content/agenda/reserve.md": """\
        ---
        title: Réunion des coordinateurs
        start: 2027-02-10T14:00
        online: true
        audience: adherents
        registration:
          places: 10
        ---

        Pour les adhérents.
        """,
    "content/agenda/rappel.md": """\
        ---
        title: Soirée des coordinateurs
        start: 2027-03-10T18:00
        commune: Angers
        registration:
          places: 5
        ---

        Soirée.
        """,
    "content/agenda/clos.md": """\
        ---
        title: Inscriptions closes
        start: 2027-03-01T14:00
        online: true
        registration:
          places: 10
          closes: 2026-11-01T00:00
        ---

        Trop tard.
        """,
}


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


def test_register_in_the_browser_receive_the_ics_and_cancel(world: World, browser) -> None:
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
    page.wait_for_selector("h1:text('Inscription confirmée')")
    wait_for(lambda: world.mailbox.to("anne@example.org", "Inscription confirmée"))
    message = world.mailbox.to("anne@example.org", "Inscription confirmée")[0]
    [ics] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(ics.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Atelier projet de santé"
    assert event.decoded("DTSTART").isoformat() == "2027-01-21T09:30:00+01:00"
    assert calendar.walk("VTIMEZONE"), "the event's time zone travels with it"
    text = message.get_body(("plain",)).get_content()
    cancel = re.search(r"https?://\S+/agenda/inscription/annuler\?\S+", text).group(0)
    [row] = [r for r in world.book().registrants("atelier") if r.email == "anne@example.org"]
    assert (row.status, row.answers) == ("confirmé", {"profession": "Infirmier·e", "repas": "oui"})
    page.goto(local(world, cancel))
    assert page.locator("h1").inner_text() == "Annuler l'inscription"
    assert world.book().active("atelier", "anne@example.org") is not None  # GET changes nothing
    page.get_by_role("button", name="Annuler mon inscription").click()
    page.wait_for_selector("h1:text('Inscription annulée')")
    assert world.book().active("atelier", "anne@example.org") is None
    assert context.cookies() == []
    context.close()
    altered = local(world, cancel).replace("anne%40example.org", "autre%40example.org")
    assert post(altered, b"")[0] == 400


def test_sixty_at_once_for_fifty_places_then_a_cancellation_promotes_the_first_waiting(world: World) -> None:
    url = world.service_url + "/agenda/inscription/atelier/"
    people = [{"nom": f"Personne {n}", "adresse": f"p{n:02d}@example.org", "question-profession": "Autre"} for n in range(60)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=60) as pool:
        pages = list(pool.map(lambda fields: post(url, fields), people))
    assert {status for status, _ in pages} == {200}
    registrants = [r for r in world.book().registrants("atelier") if r.email.startswith("p")]
    confirmed = [r for r in registrants if r.status == "confirmé"]
    waiting = [r for r in registrants if r.status == "en attente"]
    assert (len(confirmed), len(waiting)) == (50, 10)
    assert max(r.id for r in confirmed) < min(r.id for r in waiting)  # places went in arrival order
    ranks = sorted(
        int(re.search(r"n° (\d+) sur la liste", body).group(1))
        for _, body in pages
        if "liste d&#39;attente" in body or "liste d'attente" in body
    )
    assert ranks == list(range(1, 11))
    wait_for(lambda: len(world.mailbox.to(waiting[0].email, "Liste d'attente")) == 1)
    assert world.mailbox.to(waiting[0].email, "Liste d'attente")[0].get_content_type() == "multipart/alternative"  # no .ics yet
    once = post(url, {"nom": "Encore", "adresse": confirmed[0].email, "question-profession": "Autre"})
    assert once[0] == 200 and "Déjà inscrit" in once[1]
    assert sum(1 for r in world.book().registrants("atelier") if r.email == confirmed[0].email) == 1
    text = world.mailbox.to(confirmed[3].email, "Inscription confirmée")[0].get_body(("plain",)).get_content()
    cancel = re.search(r"https?://\S+/agenda/inscription/annuler\?\S+", text).group(0)
    assert post(local(world, cancel), b"")[0] == 200
    assert world.book().active("atelier", waiting[0].email).status == "confirmé"  # type: ignore[union-attr]
    wait_for(lambda: world.mailbox.to(waiting[0].email, "Une place s'est libérée"))
    promoted = world.mailbox.to(waiting[0].email, "Une place s'est libérée")[0]
    assert any(p.get_content_type() == "text/calendar" for p in promoted.iter_attachments())
    assert world.book().active("atelier", waiting[1].email).status == "en attente"  # type: ignore[union-attr]


def test_full_closed_unknown_and_members_only(world: World) -> None:
    url = world.service_url + "/agenda/inscription/petit-groupe/"
    assert [post(url, {"nom": f"N {n}", "adresse": f"g{n}@example.org"})[0] for n in range(3)] == [200, 200, 409]
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
    for who in ("r1", "r2", "r3"):
        assert post(url, {"nom": who.upper(), "adresse": f"{who}@example.org"})[0] == 200
    text = world.mailbox.to("r3@example.org", "Inscription confirmée")[0].get_body(("plain",)).get_content()
    cancel = re.search(r"https?://\S+/agenda/inscription/annuler\?\S+", text).group(0)  # type: ignore[union-attr]
    assert post(local(world, cancel), b"")[0] == 200

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
    assert [len(world.mailbox.to(f"{w}@example.org", "Rappel")) for w in ("r1", "r2", "r3")] == [1, 1, 0]
    reminder = world.mailbox.to("r1@example.org", "Rappel")[0]
    assert "/agenda/inscription/annuler?" in reminder.get_body(("plain",)).get_content()
    assert reminder["Message-ID"].startswith("<rappel-rappel.")
