"""The letters' readers, with the real parts: `build.py service` (uvicorn) behind the nginx that `build.py server`
writes, aiosmtpd on 127.0.0.1 for the confirmations and the letters, chromium for the pages, the SQLite store read back.

subscribe → confirmation email → its link → `send` delivers the next letter → one-click POST from that
message's own List-Unsubscribe → the next send skips the address.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from aiosmtpd.controller import Controller

from plugins.build.sites import build_all
from plugins.records.readers import ReaderStore
from plugins.service import tokens
from tests.support import (
    LETTERS,
    MEMBER,
    NGINX,
    SECRET,
    TODAY,
    Mailbox,
    build_py,
    check_page,
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


@dataclass
class Setup:
    root: Path
    project: Path
    public: str
    members: str
    service_url: str
    db: Path
    mailbox: Mailbox
    smtp_port: int
    service: subprocess.Popen[str]
    service_port: int

    def env(self) -> dict[str, str]:
        return service_env(self.smtp_port, self.db)

    def store(self) -> ReaderStore:
        return ReaderStore(self.db)

    def state(self, address: str, audience: str = "public") -> str | None:
        reader = self.store().reader(address, audience)
        return reader.state if reader else None


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("lecteurs")
    (root / "projet").mkdir()
    project = make_project(root / "projet", LETTERS)
    build_all(project, project / "site", TODAY)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    service_port = free_port()
    setup = Setup(
        root,
        project,
        "",
        "",
        f"http://127.0.0.1:{service_port}",
        root / "prive" / "lecteurs.sqlite",
        mailbox,
        smtp.port,
        None,
        service_port,
    )  # type: ignore[arg-type]
    setup.db.parent.mkdir()
    setup.service = start_service(setup.env(), project, service_port)
    try:
        with served_sites(project, root, service_port, ("--db", str(setup.db))) as (setup.public, setup.members):
            yield setup
    finally:
        setup.service.kill()
        setup.service.wait(timeout=10)
        smtp.stop()


def send(setup: Setup, letter: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        build_py(
            "--project",
            str(setup.project),
            "send",
            letter,
            "--ledger",
            str(setup.root / "prive" / "envois.sqlite"),
            "--rate",
            "0",
            *extra,
        ),
        env=setup.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def local(setup: Setup, url: str) -> str:
    """The same URL on the local nginx (the letters and emails carry the federation's public address)."""
    parts = urlsplit(url)
    return f"{setup.public}{parts.path}?{parts.query}"


def test_subscribe_confirm_receive_one_click_unsubscribe_and_skip(setup: Setup, browser) -> None:
    reader = "lectrice@example.org"
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 800}, bypass_csp=True)
    requests: list[str] = []
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(setup.public + "/lettres/inscription/")
    check_page(page)
    page.get_by_label("Adresse électronique").fill(reader)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text('Vérifiez votre messagerie')")
    check_page(page)
    wait_for(lambda: setup.mailbox.to(reader, "Confirmez"))
    assert setup.state(reader) == "pending"  # nothing subscribed before the click
    confirmation = setup.mailbox.to(reader, "Confirmez")[0]
    assert confirmation["Auto-Submitted"] == "auto-generated"
    text = confirmation.get_body(("plain",)).get_content()
    html = confirmation.get_body(("html",)).get_content()
    link = re.search(r"https?://\S+/lettres/inscription/confirmer\?\S+", text).group(0)
    assert link.replace("&", "&amp;") in html
    page.goto(local(setup, link))
    assert page.locator("h1").inner_text() == "Confirmer l'inscription"
    check_page(page)
    assert setup.state(reader) == "pending"  # opening the link (as a mail filter does) subscribes nobody
    page.get_by_role("button", name="Confirmer mon inscription").click()
    page.wait_for_selector("h1:text('Inscription confirmée')")
    check_page(page)
    assert setup.state(reader) == "subscribed"
    assert context.cookies() == []
    assert all(u.startswith(setup.public) for u in requests), [u for u in requests if not u.startswith(setup.public)]
    context.close()

    first = send(setup, "2026-12-public")
    assert first.returncode == 0, first.stdout + first.stderr
    letters = setup.mailbox.to(reader, "décembre")
    assert len(letters) == 1
    header = letters[0]["List-Unsubscribe"]
    assert letters[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https = re.search(r"<(https://[^>]+)>", header).group(1)
    one_click = browser.new_context()
    # What a mail provider does on the reader's behalf (RFC 8058): a POST, no cookie, no page.
    response = one_click.request.post(
        local(setup, https), data="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status == 200
    assert (
        one_click.request.post(
            local(setup, https), data="List-Unsubscribe=One-Click", headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status
        == 200
    )  # twice is fine
    one_click.close()
    assert setup.state(reader) == "unsubscribed"
    _, events = setup.store().history(reader)
    assert [e[2] for e in events] == ["asked", "confirmed", "unsubscribed"]
    assert events[-1][3] == "one-click"
    second = send(setup, "2027-01-public")
    assert second.returncode == 0, second.stdout
    assert setup.mailbox.to(reader, "janvier") == []


def test_the_sites_forms_reach_the_service_by_keyboard(setup: Setup, browser) -> None:
    for base, credentials, audience, reader in (
        (setup.public, None, "public", "clavier@example.org"),
        (setup.members, {"username": MEMBER[0], "password": MEMBER[1]}, "adherents", "clavier-membre@msp-exemple.org"),
    ):
        context = browser.new_context(locale="fr-FR", http_credentials=credentials)
        page = context.new_page()
        page.goto(base + "/lettres/")
        field = page.locator("#fed-subscribe-lettres")
        field.focus()
        page.keyboard.type(reader)
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused.strip() == "S'inscrire"  # the hidden trap field is not in the tab order
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:text('Vérifiez votre messagerie')")
        context.close()
        wait_for(lambda reader=reader: setup.mailbox.to(reader, "Confirmez"))
        assert setup.state(reader, audience) == "pending"


def test_the_unsubscribe_page_asks_before_it_acts(setup: Setup, browser) -> None:
    reader = "page@example.org"
    setup.store().import_rows([(reader, "", "public")], "test", datetime.now(UTC))
    assert send(setup, "2026-12-public").returncode == 0
    https = re.search(r"<(https://[^>]+)>", setup.mailbox.to(reader, "décembre")[0]["List-Unsubscribe"]).group(1)
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 800}, bypass_csp=True)
    page = context.new_page()
    page.goto(local(setup, https))
    assert page.locator("h1").inner_text() == "Se désinscrire"
    check_page(page)
    page.reload()
    assert setup.state(reader) == "subscribed"  # GET, twice: nothing changes
    page.get_by_role("button", name="Confirmer la désinscription").click()
    page.wait_for_selector("h1:text('Désinscription enregistrée')")
    check_page(page)
    context.close()
    assert setup.state(reader) == "unsubscribed"


def test_a_link_altered_by_one_character_changes_nothing(setup: Setup) -> None:
    reader = "intacte@example.org"
    setup.store().import_rows([(reader, "", "public")], "test", datetime.now(UTC))
    assert send(setup, "2026-12-public").returncode == 0
    https = local(setup, re.search(r"<(https://[^>]+)>", setup.mailbox.to(reader, "décembre")[0]["List-Unsubscribe"]).group(1))
    token = re.search(r"jeton=([0-9a-f]+)", https).group(1)
    altered = https.replace(token, token[:-1] + ("0" if token[-1] != "0" else "1"))
    other = https.replace("intacte%40example.org", "lectrice%40example.org")
    for url in (altered, other, https.split("&adresse=")[0]):
        status, body = post(url, b"List-Unsubscribe=One-Click")
        assert status == 400 and "pas valide" in body
        assert get(url)[0] == 400
    assert setup.state(reader) == "subscribed"
    status, body = get(https.split("?")[0])  # the archived letters' link, without a token
    assert status == 200 and "Utilisez le lien « Se désinscrire »" in body


def test_an_unsubscription_during_a_send_takes_effect_for_the_next_message(setup: Setup) -> None:
    readers = [f"encours{n}@example.org" for n in range(6)]
    setup.store().import_rows([(r, "", "adherents") for r in readers], "test", datetime.now(UTC))
    store = setup.store()

    def leave(msg: EmailMessage) -> None:  # the first message arrives: the last reader clicks one-click
        if msg["To"].addresses[0].addr_spec == readers[0]:
            store.unsubscribe(readers[-1], "adherents", "test", datetime.now(UTC))

    setup.mailbox.on_data = leave
    try:
        result = send(setup, "2026-11-adherents")
    finally:
        setup.mailbox.on_data = None
    assert result.returncode == 0, result.stdout
    assert "Non envoyés : 1 lecteur(s) désinscrit(s)" in result.stdout
    assert [len(setup.mailbox.to(r, "adhérents")) for r in readers] == [1, 1, 1, 1, 1, 0]
    with sqlite3.connect(setup.root / "prive" / "envois.sqlite") as db:
        assert db.execute("SELECT status FROM deliveries WHERE email = ?", (readers[-1],)).fetchone() == ("skipped",)


def test_a_csv_never_overrides_the_store(setup: Setup, tmp_path: Path) -> None:
    gone = "partie@example.org"
    setup.store().unsubscribe(gone, "public", "test", datetime.now(UTC))
    listing = tmp_path / "abonnes.csv"
    listing.write_text(f"email;name;audience\n{gone};Partie;public\nrestee@example.org;Restée;public\n", encoding="utf-8")
    result = send(setup, "2027-01-public", "--subscribers", str(listing), "--dry-run")
    assert ": 1 destinataire (1 adresse exclue" in result.stdout, result.stdout


def test_the_honeypot_and_bad_input_store_nothing(setup: Setup) -> None:
    url = setup.public + "/lettres/inscription/"
    before = setup.store().export()
    sent_before = len(setup.mailbox.messages)
    status, body = post(url, {"adresse": "robot@example.org", "lettre": "public", "site": "http://spam.example"})
    assert status == 200 and "Vérifiez votre messagerie" in body  # a bot learns nothing
    cases = [
        ({"adresse": "pas-une-adresse", "lettre": "public"}, 400, "pas valide"),
        ({"adresse": "a@example.org\r\nBcc: victime@example.org", "lettre": "public"}, 400, "pas valide"),
        ({"adresse": "a@example.org", "lettre": "inconnue"}, 400, "Cette lettre"),
        ({"adresse": "a@example.org", "lettre": "adherents"}, 403, "espace adhérents"),
    ]
    for fields, expected, words in cases:
        status, body = post(url, fields)
        assert (status, words in body) == (expected, True), body
    # A client cannot claim to come from the members' site: nginx overwrites the header.
    status, _ = post(url, {"adresse": "a@example.org", "lettre": "adherents"}, {"X-Federation-Space": "adherents"})
    assert status == 403
    status, body = post(url, b"adresse=" + b"a" * 1_000_000)
    assert status == 413 and "Demande non traitée" in body
    status, body = post(setup.service_url + "/lettres/inscription/", b"adresse=" + b"a" * 20_000)
    assert status == 413 and "Envoi trop volumineux" in body
    assert setup.store().export() == before
    assert len(setup.mailbox.messages) == sent_before


def test_an_expired_or_forged_confirmation_subscribes_nobody(setup: Setup) -> None:
    reader = "tardive@example.org"
    asked = setup.store().request(reader, "public", "", "test", datetime.now(UTC)).request
    old = tokens.sign(
        SECRET.encode(), "confirmation d'inscription", (reader, "public", asked), datetime.now(UTC) - timedelta(hours=49)
    )
    query = {"adresse": reader, "lettre": "public", "demande": asked}
    url = f"{setup.public}/lettres/inscription/confirmer?" + urlencode(query) + "&" + old.query()
    status, body = get(url)
    assert status == 410 and "a expiré" in body and "<form" not in body
    assert post(url, b"")[0] in (403, 410)  # posted anyway: refused
    fresh = tokens.sign(SECRET.encode(), "confirmation d'inscription", (reader, "public", asked), datetime.now(UTC))
    forged = f"{setup.public}/lettres/inscription/confirmer?" + urlencode({**query, "lettre": "adherents"}) + "&" + fresh.query()
    assert get(forged)[0] == 400 and post(forged, b"")[0] in (400, 403)
    assert setup.state(reader) == "pending"
    assert setup.state(reader, "adherents") is None


def test_one_confirmation_per_hour_for_one_address(setup: Setup) -> None:
    reader = "insistante@example.org"
    for _ in range(3):
        assert post(setup.public + "/lettres/inscription/", {"adresse": reader, "lettre": "public"})[0] == 200
    time.sleep(0.5)
    assert len(setup.mailbox.to(reader, "Confirmez")) == 1


def test_members_subscribe_to_their_letter_from_the_members_site_only(setup: Setup, browser) -> None:
    reader = "membre@msp-exemple.org"
    auth = base64.b64encode(f"{MEMBER[0]}:{MEMBER[1]}".encode()).decode()
    assert get(setup.members + "/lettres/inscription/")[0] == 401
    context = browser.new_context(
        locale="fr-FR", bypass_csp=True, http_credentials={"username": MEMBER[0], "password": MEMBER[1]}
    )
    page = context.new_page()
    page.goto(setup.members + "/lettres/inscription/")
    check_page(page)
    page.get_by_label("La lettre des adhérents").check()
    page.get_by_label("Adresse électronique").fill(reader)
    page.get_by_role("button", name="S'inscrire").click()
    page.wait_for_selector("h1:text('Vérifiez votre messagerie')")
    context.close()
    wait_for(lambda: setup.mailbox.to(reader, "Confirmez"))
    assert "la lettre des adhérents" in setup.mailbox.to(reader, "Confirmez")[0]["Subject"]
    assert setup.state(reader, "adherents") == "pending"
    assert "espace adhérents" in setup.store().reader(reader, "adherents").consent_form
    assert (
        post(
            setup.members + "/lettres/inscription/",
            {"adresse": "x@example.org", "lettre": "adherents"},
            {"Authorization": f"Basic {auth}"},
        )[0]
        == 200
    )


def test_nginx_slows_down_a_flood_of_subscriptions(setup: Setup) -> None:
    url = setup.public + "/lettres/inscription/"
    codes = [
        post(url, {"adresse": f"flot{n}@example.org", "lettre": "public", "site": "x"}, source="127.0.0.77")[0] for n in range(12)
    ]
    assert codes[:5] == [200] * 5  # a person's few attempts pass (burst)
    assert 429 in codes
    assert post(url, {"adresse": "voisin@example.org", "lettre": "public"}, source="127.0.0.78")[0] == 200  # others pass
    status, body = post(url, {"adresse": "flot@example.org", "lettre": "public"}, source="127.0.0.77")
    assert status == 429 and "Demande non traitée" in body


def test_concurrent_subscriptions_each_store_one_row(setup: Setup) -> None:
    # Straight to the service: nginx's per-IP limit would otherwise refuse a flood from one address.
    url = setup.service_url + "/lettres/inscription/"
    distinct = [{"adresse": f"simultane{n}@example.org", "lettre": "public"} for n in range(50)]
    same = [{"adresse": "unique@example.org", "lettre": "public"}] * 50
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        assert set(pool.map(lambda f: post(url, f)[0], distinct)) == {200}
        assert set(pool.map(lambda f: post(url, f)[0], same)) == {200}
    rows = {r.email for r in setup.store().export("public")}
    assert {f"simultane{n}@example.org" for n in range(50)} <= rows
    assert sum(1 for r in setup.store().export("public") if r.email == "unique@example.org") == 1
    wait_for(lambda: len(setup.mailbox.to("unique@example.org", "Confirmez")) >= 1)
    time.sleep(0.5)
    assert len(setup.mailbox.to("unique@example.org", "Confirmez")) == 1


def test_the_service_killed_mid_request_leaves_a_consistent_store(setup: Setup) -> None:
    url = setup.service_url + "/lettres/inscription/"
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(post, url, {"adresse": f"coupure{n}@example.org", "lettre": "public"}) for n in range(200)]
        time.sleep(0.3)
        setup.service.send_signal(signal.SIGKILL)
        answered = []
        for n, future in enumerate(futures):
            try:
                if future.result()[0] == 200:
                    answered.append(f"coupure{n}@example.org")
            except (OSError, http.client.HTTPException):  # refused, reset, or cut in the middle of the answer
                pass
    setup.service.wait(timeout=10)
    with sqlite3.connect(setup.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    stored = {r.email for r in setup.store().export("public") if r.email.startswith("coupure")}
    assert set(answered) <= stored  # every answered request was kept
    assert all(r.state == "pending" for r in setup.store().export("public") if r.email.startswith("coupure"))
    setup.service = start_service(setup.env(), setup.project, setup.service_port)
    assert get(setup.public + "/lettres/inscription/")[0] == 200


def test_operators_import_export_show_and_erase(setup: Setup, tmp_path: Path) -> None:
    def readers(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            build_py("--project", str(setup.project), "abonnes", *args),
            env=setup.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    bad = tmp_path / "import.csv"
    bad.write_text(
        "email;name;audience\nbonne@example.org;Bonne;public\npas-une-adresse;X;public\nautre@example.org;;mensuelle\n",
        encoding="utf-8",
    )
    result = readers("importer", str(bad))
    assert result.returncode == 1
    assert "import.csv:3: email: « pas-une-adresse » n'est pas une adresse valide" in result.stderr
    assert "import.csv:4: audience: « mensuelle » inconnue" in result.stderr
    assert "rien n'a été importé" in result.stderr and setup.state("bonne@example.org") is None
    good = tmp_path / "import2.csv"
    good.write_text("email;name;audience\nbonne@example.org;Bonne;public\npartie@example.org;;public\n", encoding="utf-8")
    result = readers("importer", str(good))
    assert result.returncode == 0, result.stderr
    assert "bonne@example.org : ajoutée" in result.stdout
    assert "partie@example.org : ignorée : désabonné" in result.stdout  # an import never brings a reader back
    exported = readers("exporter", "--audience", "public")
    assert "bonne@example.org;Bonne;public;abonné;import;" in exported.stdout
    shown = readers("historique", "bonne@example.org")
    assert "public : abonné (source import" in shown.stdout and "importée : import import2.csv" in shown.stdout
    erased = readers("effacer", "bonne@example.org")
    assert erased.returncode == 0 and "effacée" in erased.stdout
    assert "bonne@example.org" not in readers("exporter").stdout
    assert "effacée à sa demande" in readers("historique", "bonne@example.org").stdout
    again = readers("importer", str(good))
    assert "bonne@example.org : ignorée : adresse effacée à la demande de la personne" in again.stdout
    with sqlite3.connect(setup.db) as db:
        dump = "\n".join(db.iterdump())
    assert "bonne@example.org" not in dump
    missing = subprocess.run(
        build_py("--project", str(setup.project), "abonnes", "--db", str(tmp_path / "absente.sqlite"), "exporter"),
        env=setup.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1 and "Base des lecteurs introuvable" in missing.stderr


def test_the_service_refuses_to_start_without_its_key(setup: Setup) -> None:
    env = {k: v for k, v in setup.env().items() if k != "LETTER_SECRET"}
    result = subprocess.run(
        build_py("--project", str(setup.project), "service", "--port", str(free_port())),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "LETTER_SECRET" in result.stderr


def test_the_service_stops_on_sigterm(setup: Setup) -> None:
    # Last test of the module: systemd stops the service with SIGTERM.
    setup.service.send_signal(signal.SIGTERM)
    assert setup.service.wait(timeout=10) == 0


def test_requests_never_confirmed_are_erased_after_the_stated_delay(tmp_path: Path) -> None:
    from plugins.settings.privacy import PENDING_DAYS

    store = ReaderStore(tmp_path / "lecteurs.sqlite")
    long_ago = datetime.now(UTC) - timedelta(days=PENDING_DAYS + 1)
    store.request("oubliee@example.org", "public", "", "test", long_ago)
    store.request("recente@example.org", "public", "", "test", datetime.now(UTC) - timedelta(days=PENDING_DAYS - 1))
    store.request("autre@example.org", "public", "", "test", datetime.now(UTC))
    assert store.reader("oubliee@example.org", "public") is None
    assert store.history("oubliee@example.org") == ([], [])
    assert store.reader("recente@example.org", "public").state == "pending"
