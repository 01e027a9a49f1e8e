"""Membership requests and members' passwords, with the real parts: the « Adhérer » page in chromium behind the
nginx that `build.py server --db` writes, `build.py service --htpasswd`, aiosmtpd for the emails, the staff's
commands, and a real login on the members' site with the password chosen through the link."""

from __future__ import annotations

import base64
import html
import os
import re
import stat
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from plugins.build.sites import build_all
from plugins.records.accounts import AccountStore
from plugins.records.applications import Application, ApplicationBook
from plugins.records.password_file import hash_secret
from plugins.service import tokens
from plugins.settings.membership import CONSENT, MembershipRequest
from tests.support import (
    MEMBER,
    NGINX,
    SECRET,
    STAFF,
    TODAY,
    Mailbox,
    build_py,
    check_page,
    free_port,
    http_request,
    link_in,
    make_project,
    post,
    request_fields,
    served_sites,
    service_env,
    start_service,
    wait_for,
)

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")

FILES = {
    "content/pages/adherer.md": """\
        ---
        title: Adhérer
        summary: Comment adhérer.
        order: 10
        ---

        L'adhésion est ouverte aux équipes de soins primaires.
        """,
}


class World:
    def __init__(self, root: Path, project: Path, db: Path, mailbox: Mailbox, smtp_port: int, htpasswd: Path):
        self.root, self.project, self.db, self.mailbox, self.smtp_port, self.htpasswd = (
            root,
            project,
            db,
            mailbox,
            smtp_port,
            htpasswd,
        )
        self.public = self.members = ""

    def env(self) -> dict[str, str]:
        return service_env(self.smtp_port, self.db)

    def staff(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a staff command (`build.py adhesions …`) against the world's base and SMTP server."""
        return subprocess.run(
            build_py("--project", str(self.project), "adhesions", *args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def local(self, url: str) -> str:
        """The link of an email (the federation's addresses) on the local nginx."""
        parts = urlsplit(url)
        base = self.members if parts.netloc.startswith("adherents.") else self.public
        return f"{base}{parts.path}?{parts.query}"

    def requests(self) -> int:
        return len(ApplicationBook(self.db).list())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("adhesions")
    (root / "projet").mkdir()
    project = make_project(root / "projet", FILES)  # type: ignore[arg-type]
    build_all(project, project / "site", TODAY)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    (root / "prive").mkdir()
    world = World(root, project, root / "prive" / "service.sqlite", mailbox, smtp.port, root / "conf" / "htpasswd")
    service_port = free_port()
    service = None
    try:
        # `server --db` copies the accounts CSV into the base and writes the htpasswd from it; the service rewrites it.
        with served_sites(project, root, service_port, ("--db", str(world.db))) as (world.public, world.members):
            service = start_service(world.env(), project, service_port, "--htpasswd", str(world.htpasswd))
            yield world
    finally:
        if service:
            service.terminate()
            service.wait(timeout=10)
        smtp.stop()


def login(world: World, user: str, password: str, path: str = "/") -> int:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return http_request("GET", world.members + path, headers={"Authorization": f"Basic {token}"})[0]


def submit(world: World, team: str, email: str, **changes: str) -> Application:
    """Send the « Adhérer » form, then confirm the request from its contact's mailbox; return the stored request."""
    assert post(world.public + "/adherer/demande", request_fields(team, email, **changes))[0] == 200
    wait_for(lambda: world.mailbox.to(email, "Confirmez votre demande d'adhésion"))
    link = world.local(link_in(world.mailbox.to(email, "Confirmez votre demande d'adhésion")[-1], "/adherer/confirmer"))
    status, body = post(link, b"")
    assert status == 200 and "Demande d" in body, body
    [application] = [a for a in ApplicationBook(world.db).list() if a.request.team == team]
    return application


def test_request_in_the_browser_accept_choose_the_password_and_log_in_at_once(world: World, browser) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(world.public + "/adherer/")
    assert "150 €" in page.locator(".fed-fees").inner_text()  # the fee grid of mkdocs.yml
    assert (
        page.get_by_role("link", name="la page de paiement de la fédération")
        .get_attribute("href", timeout=5000)
        .startswith("https://www.helloasso.com/")
    )
    form = page.locator("form.fed-adhesion")
    form.get_by_label("Nom de l'équipe ou de la structure").fill("MSP des Coteaux")
    form.get_by_label("Maison de santé pluriprofessionnelle (MSP)").check()
    form.get_by_label("Commune").fill("Clisson")
    form.get_by_label("Département (numéro)").fill("44")
    form.get_by_label("Médecins généralistes").fill("4")
    form.get_by_label("Infirmier·es").fill("3")
    form.get_by_label("Prénom et nom").fill("Claire Dupont")
    form.get_by_label("Adresse électronique").fill("claire@example.org")
    form.get_by_label("Téléphone").fill("02 40 11 22 33")
    form.get_by_label(CONSENT).check()
    form.get_by_role("button", name="Envoyer la demande d'adhésion").click()
    page.wait_for_selector("h1:text('Vérifiez votre messagerie')")
    check_page(page)
    # Nothing reaches the staff before the contact address confirms; its email repeats nothing typed on the form.
    assert [a for a in ApplicationBook(world.db).list() if a.request.team == "MSP des Coteaux"] == []
    wait_for(lambda: world.mailbox.to("claire@example.org", "Confirmez votre demande d'adhésion"))
    asking = world.mailbox.to("claire@example.org", "Confirmez votre demande d'adhésion")[0]
    for typed in ("Claire", "Dupont", "Coteaux", "Clisson", "02 40"):
        assert typed not in asking.get_body(("plain",)).get_content() and typed not in asking.get_body(("html",)).get_content()
    assert world.mailbox.to(STAFF) == [] or not any("Coteaux" in m["Subject"] for m in world.mailbox.to(STAFF))
    page.goto(world.local(link_in(asking, "/adherer/confirmer")))
    page.get_by_role("button", name="Confirmer ma demande").click()
    page.wait_for_selector("h1:text('Demande d\\'adhésion envoyée')")
    check_page(page)
    [application] = [a for a in ApplicationBook(world.db).list() if a.request.team == "MSP des Coteaux"]
    assert application.request.professionals_text() == "4 Médecins généralistes, 3 Infirmier·es"
    wait_for(lambda: world.mailbox.to(STAFF, f"Demande d'adhésion n° {application.id}"))
    notice = world.mailbox.to(STAFF, f"Demande d'adhésion n° {application.id}")[0]
    assert notice["Reply-To"] == "claire@example.org"
    assert f"adhesions accepter {application.id}" in notice.get_body(("plain",)).get_content()
    wait_for(lambda: world.mailbox.to("claire@example.org", "Votre demande d'adhésion est bien reçue"))

    # The commands as the staff can run them on the server, with the folder and the settings they need.
    commands = [line for line in notice.get_body(("plain",)).get_content().splitlines() if "build.py adhesions" in line]
    assert commands and all("« python build.py" not in line and " python build.py" not in line for line in commands)
    printed = commands[0].split(" : ", 1)[1].split(" build.py", 1)[0]
    assert Path(printed).is_absolute() or (Path(os.getcwd()) / printed).exists(), printed  # the interpreter exists
    assert "LETTER_DB" in notice.get_body(("plain",)).get_content()
    listed = world.staff("lister", "--etat", "reçue")
    assert listed.returncode == 0 and "MSP des Coteaux (Clisson, 44)" in listed.stdout, listed.stderr
    accepted = world.staff("accepter", str(application.id))
    assert accepted.returncode == 0, accepted.stderr
    assert "identifiant « msp-des-coteaux »" in accepted.stdout
    end = ApplicationBook(world.db).get(application.id).membership_end  # type: ignore[union-attr]
    assert end and f"jusqu'au {end}" in world.staff("lister").stdout  # the staff see when each membership ends
    wait_for(lambda: world.mailbox.to("claire@example.org", "Bienvenue"))
    link = link_in(world.mailbox.to("claire@example.org", "Bienvenue")[0], "/acces/mot-de-passe")
    assert link.startswith("https://adherents.msp-pdl.example.org/acces/mot-de-passe?")
    assert login(world, "msp-des-coteaux", "pommes-vertes-du-verger") == 401  # no password before the team chooses it

    page.goto(world.local(link))  # no credentials: the link is the proof
    assert page.locator("h1").inner_text() == "Choisir votre mot de passe"
    check_page(page)
    page.get_by_label("Nouveau mot de passe (12 caractères au moins)").fill("pommes-vertes-du-verger")
    page.get_by_label("Le même, une seconde fois").fill("pommes-vertes-du-verger")
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    page.wait_for_selector("h1:text('Mot de passe enregistré')")
    assert context.cookies() == []
    context.close()

    # nginx reads the rewritten htpasswd on the next request: no build, no reload.
    assert login(world, "msp-des-coteaux", "pommes-vertes-du-verger") == 200
    assert login(world, "msp-des-coteaux", "pommes-vertes-du-verge") == 401
    assert login(world, *MEMBER) == 200  # the CSV's account is still there
    assert stat.S_IMODE(world.htpasswd.stat().st_mode) == 0o640
    assert "pommes" not in world.htpasswd.read_text() and "pommes" not in world.db.read_bytes().decode("latin-1")
    # The link worked once: its page now says so, and a post with it is refused.
    status, body, _ = http_request("GET", world.local(link))
    assert status == 400 and "pas valide" in body.decode()
    status, body = post(world.local(link), {"mot-de-passe": "autre-mot-de-passe-long", "confirmation": "autre-mot-de-passe-long"})
    assert status in (400, 403)
    assert login(world, "msp-des-coteaux", "pommes-vertes-du-verger") == 200


def test_an_altered_link_changes_nothing(world: World) -> None:
    application = submit(world, "MSP du Marais", "marais@example.org")
    assert world.staff("accepter", str(application.id), "--identifiant", "msp-marais").returncode == 0
    wait_for(lambda: world.mailbox.to("marais@example.org", "Bienvenue"))
    link = world.local(link_in(world.mailbox.to("marais@example.org", "Bienvenue")[0], "/acces/mot-de-passe"))
    fields = {"mot-de-passe": "un-mot-de-passe-solide", "confirmation": "un-mot-de-passe-solide"}
    for altered in (
        link.replace("compte=msp-marais", "compte=msp-loire"),
        link.replace("compte=msp-marais", "compte=msp-des-coteaux"),
        link[:-1] + ("0" if link[-1] != "0" else "1"),
        re.sub(r"t=(\d+)", lambda m: f"t={int(m.group(1)) + 1}", link),
    ):
        assert http_request("GET", altered)[0] == 400, altered
        status, body = post(altered, fields)
        assert status in (400, 403), altered
    accounts = AccountStore(world.db)
    # A link of the right shape signed with the service's key, but 73 hours ago: expired.
    old = tokens.sign(SECRET.encode(), "mot de passe", ("msp-marais", ""), datetime.now(UTC) - timedelta(hours=73))
    expired = f"{world.members}/acces/mot-de-passe?compte=msp-marais&{old.query()}"
    status, body, _ = http_request("GET", expired)
    assert status == 400 and "expiré" in body.decode()
    assert post(expired, fields)[0] in (400, 403)
    assert accounts.get("msp-marais").hash is None  # type: ignore[union-attr]
    assert login(world, *MEMBER) == 200 and login(world, "msp-des-coteaux", "un-mot-de-passe-solide") == 401
    # Too short, or two different entries: the form says so and nothing is set.
    assert post(link, {"mot-de-passe": "court", "confirmation": "court"})[0] == 400
    assert post(link, {"mot-de-passe": "un-mot-de-passe-solide", "confirmation": "un-autre-mot-de-passe"})[0] == 400
    assert accounts.get("msp-marais").hash is None  # type: ignore[union-attr]


def test_forgotten_password_from_the_401_page_same_answer_for_any_address(world: World, browser) -> None:
    status, body, _ = http_request("GET", world.members + "/boite-a-outils/")
    assert status == 401 and 'href="/acces/oubli"' in body.decode()
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 800}, bypass_csp=True)
    page = context.new_page()
    response = page.goto(world.members + "/acces/oubli")  # open without a password
    assert response is not None and response.status == 200
    check_page(page)
    page.get_by_label("Adresse électronique").fill("claire@example.org")
    page.get_by_role("button", name="Recevoir un lien").click()
    page.wait_for_selector("h1:text('Demande envoyée')")
    context.close()
    wait_for(lambda: world.mailbox.to("claire@example.org", "Choisir un nouveau mot de passe"))
    # The same answer, word for word, for a known address (asked again: one link an hour, nothing more is sent)
    # and for an unknown one.
    known = post(world.members + "/acces/oubli", {"adresse": "claire@example.org"})
    unknown = post(world.members + "/acces/oubli", {"adresse": "inconnue@example.org"})
    assert known[0] == unknown[0] == 200
    assert known[1].replace("claire@example.org", "@") == unknown[1].replace("inconnue@example.org", "@")
    assert world.mailbox.to("inconnue@example.org") == []
    link = link_in(world.mailbox.to("claire@example.org", "Choisir un nouveau mot de passe")[0], "/acces/mot-de-passe")
    status, _ = post(world.local(link), {"mot-de-passe": "nouvelle-phrase-de-passe", "confirmation": "nouvelle-phrase-de-passe"})
    assert status == 200
    assert login(world, "msp-des-coteaux", "nouvelle-phrase-de-passe") == 200
    assert login(world, "msp-des-coteaux", "pommes-vertes-du-verger") == 401
    assert len(world.mailbox.to("claire@example.org", "Choisir un nouveau mot de passe")) == 1


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"adresse": "pas-une-adresse"}, "adresse électronique n'est pas valide"),
        ({"equipe": "MSP\r\nBcc: x@example.org"}, "caractère non permis"),
        ({"departement": "99"}, "numéro du département"),
        ({"structure": "clinique"}, "type de structure"),
        ({"pro-medecin": "0", "pro-infirmier": "0"}, "au moins un"),
        ({"pro-medecin": "-3"}, "nombre entier"),
        ({"consentement": ""}, "consentement"),
    ],
)
def test_bad_input_gets_a_french_answer_and_stores_nothing(world: World, changes: dict[str, str], why: str) -> None:
    before = world.requests()
    status, body = post(world.public + "/adherer/demande", request_fields("MSP Erreur", "erreur@example.org", **changes))
    assert status == 400 and why in body.replace("&#39;", "'")
    assert 'value="MSP Erreur"' in body or "equipe" in changes  # what was typed is kept
    assert world.requests() == before


def test_a_huge_body_or_a_filled_honeypot_stores_nothing(world: World) -> None:
    before = world.requests()
    status, _ = post(world.public + "/adherer/demande", b"equipe=" + b"x" * 1_000_000)
    assert status == 413
    status, body = post(world.public + "/adherer/demande", request_fields("MSP Robot", "robot@example.org", site="http://spam"))
    assert status == 200
    assert world.requests() == before
    assert world.mailbox.to("robot@example.org") == []


def test_refuse_mark_paid_and_answer_once(world: World) -> None:
    by_team = {team: submit(world, team, email).id for team, email in (("Équipe Hors Région", "hors@example.org"),)}
    by_team["MSP Payante"] = submit(world, "MSP Payante", "payante@example.org").id
    refused = world.staff("refuser", str(by_team["Équipe Hors Région"]), "--motif", "structure hors de la région")
    assert refused.returncode == 0, refused.stderr
    wait_for(lambda: world.mailbox.to("hors@example.org", "Votre demande d'adhésion"))
    text = world.mailbox.to("hors@example.org", "Votre demande d'adhésion")[-1].get_body(("plain",)).get_content()
    assert "Motif : structure hors de la région" in text
    again = world.staff("accepter", str(by_team["Équipe Hors Région"]))
    assert again.returncode == 1 and "déjà refusée" in again.stderr
    assert AccountStore(world.db).get("equipe-hors-region") is None
    paid = world.staff("payee", str(by_team["MSP Payante"]))
    assert paid.returncode == 0 and "cotisation payée" in paid.stdout
    assert "payée le" in world.staff("voir", str(by_team["MSP Payante"])).stdout
    unknown = world.staff("accepter", "9999")
    assert unknown.returncode == 1 and "Aucune demande n° 9999" in unknown.stderr


def test_an_ended_membership_cannot_set_a_password(world: World) -> None:
    number = submit(world, "MSP Ancienne Année", "ancienne@example.org").id
    assert world.staff("accepter", str(number), "--fin", "2026-06-30").returncode == 0
    wait_for(lambda: world.mailbox.to("ancienne@example.org", "Bienvenue"))
    link = world.local(link_in(world.mailbox.to("ancienne@example.org", "Bienvenue")[0], "/acces/mot-de-passe"))
    status, body = post(link, {"mot-de-passe": "phrase-de-passe-valide", "confirmation": "phrase-de-passe-valide"})
    assert status == 403 and "pris fin" in body
    assert "msp-ancienne-annee" not in world.htpasswd.read_text()


def test_an_answer_whose_email_cannot_leave_is_kept_and_the_staff_are_told(world: World) -> None:
    number = submit(world, "MSP Sans Courriel", "sans@example.org").id
    env = {**world.env(), "SMTP_PORT": str(free_port())}  # nobody listens there
    accepted = subprocess.run(
        build_py("--project", str(world.project), "adhesions", "accepter", str(number)),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert accepted.returncode == 1 and "Décision enregistrée" in accepted.stderr and "Mot de passe oublié" in accepted.stderr
    assert ApplicationBook(world.db).get(number).status == "accepted"  # type: ignore[union-attr]
    assert AccountStore(world.db).get("msp-sans-courriel") is not None


def test_server_keeps_the_csv_and_refuses_a_login_a_membership_holds(world: World, tmp_path: Path) -> None:
    accounts = AccountStore(world.db)  # a membership's account, its password chosen
    accounts.open_for("msp-conflit", "conflit@example.org", "MSP Conflit", date(2099, 12, 31), datetime.now(UTC))
    assert accounts.set_hash("msp-conflit", hash_secret("phrase-de-passe-du-conflit"), None, datetime.now(UTC))
    csv = tmp_path / "comptes.csv"
    csv.write_text(f"login;password;expires\n{MEMBER[0]};{MEMBER[1]};2027-12-31\nmsp-conflit;un-autre-secret-long;\n")
    dest = tmp_path / "conf"
    args = ["--project", str(world.project), "server", "--accounts", str(csv), "--dest", str(dest), "--db", str(world.db)]
    refused = subprocess.run(build_py(*args), env=world.env(), capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "msp-conflit" in refused.stderr and "aucun fichier" in refused.stderr
    assert not (dest / "htpasswd").exists()
    csv.write_text(f"login;password;expires\n{MEMBER[0]};{MEMBER[1]};2027-12-31\nancienne;secret-expire-long;2025-12-31\n")
    written = subprocess.run(build_py(*args), env=world.env(), capture_output=True, text=True, timeout=120, check=False)
    assert written.returncode == 0, written.stderr
    logins = {line.split(":", 1)[0] for line in (dest / "htpasswd").read_text().splitlines()}
    assert {MEMBER[0], "msp-conflit"} <= logins  # the CSV's and the membership's, whose password the team chose
    assert "ancienne" not in logins and "msp-marais" not in logins  # expired; no password chosen yet
    assert oct(os.stat(dest / "htpasswd").st_mode & 0o777) == "0o640"


def test_the_join_form_works_with_the_keyboard_alone(world: World, browser) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 800})
    page = context.new_page()
    page.goto(world.public + "/adherer/")
    page.locator("#fed-adhesion-equipe").focus()
    page.keyboard.type("MSP au Clavier")
    page.keyboard.press("Tab")  # the first kind of structure
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # radios are one stop: on to the commune
    page.keyboard.type("Vertou")
    page.keyboard.press("Tab")
    page.keyboard.type("44")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")
    for _ in range(7):  # the other professions keep 0
        page.keyboard.press("Tab")
    page.keyboard.type("Paul Martin")
    page.keyboard.press("Tab")
    page.keyboard.type("clavier@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("02 40 00 00 01")
    page.keyboard.press("Tab")  # the honeypot is out of the tab order: on to the consent
    assert page.evaluate("document.activeElement.name") == "consentement"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # the privacy link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Envoyer la demande d'adhésion"
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text('Vérifiez votre messagerie')")
    context.close()
    wait_for(lambda: world.mailbox.to("clavier@example.org", "Confirmez votre demande d'adhésion"))
    link = world.local(
        link_in(world.mailbox.to("clavier@example.org", "Confirmez votre demande d'adhésion")[0], "/adherer/confirmer")
    )
    assert post(link, b"")[0] == 200
    [application] = [a for a in ApplicationBook(world.db).list() if a.request.team == "MSP au Clavier"]
    assert application.request.professionals == {**dict.fromkeys(application.request.professionals, 0), "medecin": 2}


def test_what_a_form_sends_back_is_escaped(world: World) -> None:
    hostile = '"><script>alert(1)</script>'
    status, body = post(world.public + "/adherer/demande", request_fields(hostile, "pas-une-adresse"))
    assert status == 400
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    status, body = post(world.members + "/acces/oubli", {"adresse": hostile})
    assert status == 400 and "<script>alert" not in body


def test_nginx_slows_down_a_flood_of_requests_and_password_resets(world: World) -> None:
    for source, path in (("127.0.0.91", "/adherer/demande"), ("127.0.0.92", "/acces/oubli")):
        base = world.members if path.startswith("/acces/") else world.public
        codes = [post(base + path, {"adresse": "x", "site": "robot"}, source=source, token=False)[0] for _ in range(12)]
        assert 429 not in codes[:5] and 429 in codes, (path, codes)  # a person's few attempts pass


def test_every_wrong_field_is_named_at_once_beside_its_field(world: World) -> None:
    before = world.requests()
    fields = request_fields(
        "", "pas-une-adresse", departement="999", **{"pro-medecin": "0", "pro-infirmier": "0"}, telephone="x", consentement=""
    )
    status, body = post(world.public + "/adherer/demande", fields)
    assert status == 400 and world.requests() == before
    page = html.unescape(body)
    wrong = {"equipe", "departement", "pro", "adresse", "telephone", "consentement"}
    assert f"{len(wrong)} champs à corriger" in page
    for name in wrong:
        assert f'id="fed-adhesion-{name}-erreur"' in body, name
        assert f'aria-describedby="fed-adhesion-{name}-erreur"' in body, name
    assert 'id="fed-adhesion-commune-erreur"' not in body  # a right field is left alone
    assert 'value="Clisson"' in body  # and what was typed is kept


def test_the_fee_that_applies_and_the_payment_link(world: World) -> None:
    email = "cotisation@example.org"
    assert post(world.public + "/adherer/demande", request_fields("MSP Sept Pros", email))[0] == 200  # 4 + 3 professionals
    wait_for(lambda: world.mailbox.to(email, "Confirmez votre demande d'adhésion"))
    link = world.local(link_in(world.mailbox.to(email, "Confirmez votre demande d'adhésion")[-1], "/adherer/confirmer"))
    status, body = post(link, b"")
    page = html.unescape(body)
    assert status == 200 and "Cotisation annuelle : 150 € (MSP ou centre de santé de moins de 15 professionnels)." in page
    assert "300 €" not in page and "50 €" not in page.replace("150 €", "")
    assert '<a href="https://www.helloasso.com/' in body
    wait_for(lambda: world.mailbox.to(email, "bien reçue"))
    ack = world.mailbox.to(email, "bien reçue")[0]
    assert '<a href="https://www.helloasso.com/' in ack.get_body(("html",)).get_content()
    text = ack.get_body(("plain",)).get_content()
    assert "Paiement en ligne : https://www.helloasso.com/" in text and "150 € (MSP" in text and "300 €" not in text


def test_the_whole_grid_in_french_typography_when_it_cannot_tell() -> None:
    from plugins.service.joining import payment_lines
    from plugins.settings.membership import MembershipSettings

    settings = MembershipSettings.from_settings(
        {
            "email": "a@example.org",
            "membership": {
                "fees": [{"label": "Équipe en projet", "amount": 50}, {"label": "MSP", "amount": "150 €"}],
                "transfer": "par virement",
            },
        }
    )
    assert settings is not None
    request = MembershipRequest("MSP X", "msp", "Clisson", "44", {"medecin": 3}, "Claire", "c@example.org", "0240")
    assert payment_lines(settings, request)[0] == "Cotisation annuelle : Équipe en projet : 50 € ; MSP : 150 €."
    with pytest.raises(ValueError, match="professionals « 15-3 »"):
        MembershipSettings.from_settings(
            {
                "email": "a@example.org",
                "membership": {"fees": [{"label": "x", "amount": 1, "professionals": "15-3"}], "transfer": "v"},
            }
        )


def test_an_acceptance_that_would_give_less_than_three_months_asks_for_the_end(tmp_path: Path) -> None:
    """Without renewal_from, a team accepted on 7 December would be a member until 31 December, for a year's fee."""
    from email.headerregistry import Address

    from plugins.records.readers import ReaderStore
    from plugins.service import joining as membership
    from plugins.service.core import Service
    from plugins.service.emails import Postman
    from plugins.settings.federation import FederationSettings
    from plugins.settings.membership import MembershipSettings

    settings = MembershipSettings.from_settings(
        {"email": "a@example.org", "membership": {"fees": [{"label": "MSP", "amount": 150}], "transfer": "virement"}}
    )
    assert settings is not None
    december = datetime(2026, 12, 7, 10, tzinfo=UTC)
    service = Service(
        FederationSettings("Fédération", "https://f.example.org/", "https://adherents.f.example.org/", email="a@example.org"),
        ReaderStore(tmp_path / "service.sqlite"),
        Postman(Address("Fédération", "f", "example.org"), None, tmp_path / "outbox"),
        b"cle-de-seize-caracteres",
        clock=lambda: december,
    )
    book = ApplicationBook(tmp_path / "service.sqlite")
    request = MembershipRequest("MSP Tardive", "msp", "Clisson", "44", {"medecin": 2}, "Claire", "t@example.org", "0240")
    application = book.add(request, CONSENT, december)
    book.confirm(application.id, "t@example.org", application.created, december, lambda db, a: None)
    accounts = AccountStore(tmp_path / "service.sqlite")
    with pytest.raises(membership.StaffError, match="--fin 2027-12-31"):
        membership.accept(service, accounts, book, settings, application.id, None, None)
    assert book.get(application.id).status == "received" and accounts.get("msp-tardive") is None  # type: ignore[union-attr]
    accepted, _ = membership.accept(service, accounts, book, settings, application.id, None, date(2027, 12, 31))
    assert accepted.membership_end == "2027-12-31"
