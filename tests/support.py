"""What the tests share: the sample project, servers on 127.0.0.1, a mailbox, requests and pages to check.

Fixtures are in conftest.py; everything else two test files need is here, once.
"""

from __future__ import annotations

import contextlib
import email
import functools
import html
import http.client
import http.server
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage, Message
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parent.parent


TODAY = date(2026, 11, 23)


THEMES = 'coordination: "Coordination d\'équipe"\nprevention: "Prévention"\n'


# A minimal valid file for each collection; tests overwrite or add files.
BASE_FILES = {
    "toolbox/themes.yml": THEMES,
    "toolbox/files/modele.pdf": "%PDF-1.4 modele\n",
    "toolbox/fiche-rcp.md": """\
        ---
        title: Organiser une RCP
        type: fiche-pratique
        themes: [coordination]
        keywords: [RCP, réunion]
        stage: fonctionnement
        date: 2026-03-02
        summary: Comment préparer et animer une réunion de concertation.
        attachments: [files/modele.pdf]
        ---

        ## Préparer la réunion

        Texte réservé aux adhérents.
        """,
    "toolbox/guide-prevention.md": """\
        ---
        title: Guide prévention
        type: guide
        themes: [prevention]
        date: 2026-01-10
        access: public
        summary: Un guide ouvert à tous.
        ---

        Texte public du guide.
        """,
    "content/msp/msp-loire.md": """\
        ---
        name: MSP de la Loire
        department: "44"
        communes: [Nantes]
        lat: 47.21
        lon: -1.55
        ---

        Présentation de l'équipe.
        """,
    "content/msp/msp-ancienne.md": """\
        ---
        name: MSP Ancienne
        department: "49"
        communes: [Angers]
        member: false
        ---

        Ancienne adhérente.
        """,
    "content/offres/medecin-nantes.md": """\
        ---
        title: Médecin généraliste à Nantes
        msp: msp-loire
        kind: recrutement
        professions: [medecin-generaliste]
        commune: Nantes
        department: "44"
        date: 2026-10-01
        expires: 2027-02-01
        contact:
          email: recrutement@example.org
        ---

        Rejoignez notre équipe.
        """,
    "content/inspir-cafe/recit-equipe.md": """\
        ---
        title: Une équipe qui se parle
        date: 2026-05-04
        series: inspir-cafe
        msp: msp-loire
        authors:
          - name: Anne Martin
            profession: Infirmière
        themes: [coordination]
        summary: Récit d'équipe.
        ---

        Le récit.
        """,
    "content/actualites/nouvelle-convention.md": """\
        ---
        title: Nouvelle convention
        date: 2026-09-15
        tags: [Partenariat]
        summary: Une convention signée.
        ---

        Texte de l'actualité.
        """,
    "content/agenda/journee-regionale.md": """\
        ---
        title: Journée régionale
        start: 2026-12-04T09:30
        end: 2026-12-04T17:00
        place: Cité des congrès
        commune: Nantes
        department: "44"
        summary: La journée de l'exercice coordonné.
        ---

        Programme.
        """,
    "newsletters/2026-11-public.md": """\
        ---
        subject: La lettre de novembre
        audience: public
        date: 2026-11-02
        ---

        Édito.
        """,
}


def write_files(root: Path, files: dict[str, str | bytes | None]) -> None:
    """Write files under root (dedented text, raw bytes); None deletes a file."""
    for rel, data in files.items():
        path = root / rel
        if data is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(textwrap.dedent(data), encoding="utf-8")


def make_project(root: Path, files: dict[str, str | bytes | None] | None = None) -> Path:
    """Create a tiny valid project under root, with files added or replaced."""
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    shutil.copytree(REPO / "content" / "medias", root / "content" / "medias")
    write_files(root, {**BASE_FILES, **(files or {})})
    return root


CHROMIUM = "/usr/bin/chromium"


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


def http_request(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None, source: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """Send one request from an address of the loopback network (a new random one unless given).

    nginx limits requests per client address: tests that are not about those limits come from
    addresses of their own, as distinct people would.
    """
    parts = urlsplit(url)
    source = source or f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30, source_address=(source, 0))
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), dict(response.headers)
    finally:
        connection.close()


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


MEMBER = ("msp-loire", "correct-cheval-pile-agrafe")  # the account of the sites served by served_sites()


@contextlib.contextmanager
def served_sites(
    project: Path, root: Path, service_port: int | None = None, server_args: tuple[str, ...] = ()
) -> Iterator[tuple[str, str]]:
    """Serve the built sites of project with the real nginx and the configuration `build.py server` writes.

    Yields the public and members' base URLs (no trailing slash); MEMBER may read the members' site;
    with service_port, the readers service's addresses are proxied to it; server_args go to `server`.
    """
    import subprocess
    import sys

    from plugins.deploy.nginx import LocalNginx

    accounts = root / "comptes.csv"
    accounts.write_text(f"login;password;expires\n{MEMBER[0]};{MEMBER[1]};2027-12-31\n", encoding="utf-8")
    public, members = free_port(), free_port()
    args = ["--public-listen", f"127.0.0.1:{public}", "--members-listen", f"127.0.0.1:{members}"]
    args += ["--service", f"127.0.0.1:{service_port}"] if service_port else []
    args += ["--access-log", str(root / "access.log")]
    written = subprocess.run(
        [
            sys.executable,
            str(REPO / "build.py"),
            "--project",
            str(project),
            "server",
            "--accounts",
            str(accounts),
            "--dest",
            str(root / "conf"),
            *args,
            *server_args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    server = LocalNginx(root / "nginx", root / "conf" / "nginx.conf", NGINX)
    server.start(f"http://127.0.0.1:{public}/")
    try:
        yield f"http://127.0.0.1:{public}", f"http://127.0.0.1:{members}"
    finally:
        server.stop()


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def static_server(root: Path, slow: tuple[str, float] | None = None) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (a free port) for the duration of the block; yield its base URL.

    slow=(prefix, seconds) answers the paths starting with prefix that much later, as a slow network would.
    """
    handler = (
        functools.partial(_SlowHandler, slow, directory=str(root))
        if slow
        else functools.partial(_QuietHandler, directory=str(root))
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


class _SlowHandler(_QuietHandler):
    def __init__(self, slow: tuple[str, float], *args: Any, **kwargs: Any) -> None:
        self.slow = slow
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        prefix, seconds = self.slow
        if self.path.startswith(prefix):
            time.sleep(seconds)
        super().do_GET()


PUBLIC = {
    "accueil": "",
    "liste des offres": "offres/",
    "offre": "offres/medecin-generaliste-clisson/",
    "offre expirée": "offres/pharmacien-gorron/",
    "boîte à outils": "boite-a-outils/",
    "fiche publique": "boite-a-outils/fiches/projet-de-sante/ecrire-son-projet-de-sante/",
    "aperçu verrouillé": "boite-a-outils/fiches/protocoles/protocole-avk/",
    "facette thème": "boite-a-outils/theme/coordination/",
    "actualités": "actualites/",
    "actualité": "actualites/avenant-aci-2026/",
    "agenda": "agenda/",
    "événement": "agenda/forum-installation-2027/",
    "récits": "inspir-cafe/",
    "récit vidéo": "inspir-cafe/talents-atelier-activite-physique/",
    "carte des MSP": "msp/",
    "MSP": "msp/msp-clisson/",
    "lettres": "lettres/",
    "lettre": "lettres/2026-11-public/",
    "recherche": "recherche/?q=protocole",
    "page": "a-propos/",
    "adhérer (grille et formulaire)": "adherer/",
    "404": "404.html",
}


MEMBERS = {
    "accueil": "",
    "boîte à outils": "boite-a-outils/",
    "fiche réservée": "boite-a-outils/fiches/protocoles/protocole-avk/",
    "actualité réservée": "actualites/compte-rendu-ca-octobre/",
    "événement réservé": "agenda/assemblee-generale-2027/",
    "lettre aux adhérents": "lettres/2026-11-adherents/",
    "recherche": "recherche/?q=protocole",
    "carte des MSP": "msp/",
}


# Opens a site's search as its search page does: the module its interface uses (assets/recherche/pagefind.js),
# over the bundles its « data-bundles » names (once per page load). Prefix of a JS function body; gives `pagefind`.
OPEN_SEARCH = """
  if (!window.__fedSearch) {
    window.__fedSearch = (async () => {
      const html = await (await fetch('/recherche/')).text();
      const found = new DOMParser().parseFromString(html, 'text/html').getElementById('recherche');
      // The module the search page's interface uses (assets/recherche/pagefind.js): what readers get.
      if (!document.getElementById('recherche')) {
        const holder = document.createElement('div');
        holder.id = 'recherche';
        holder.dataset.bundles = found.dataset.bundles.split(' ').filter(Boolean)
          .map((p) => new URL(p, location.origin + '/recherche/').pathname).join(' ');
        document.body.appendChild(holder);
      }
      return await import(new URL('assets/recherche/pagefind.js', location.origin + '/').pathname);
    })();
  }
  const pagefind = await window.__fedSearch;
"""


AXE = REPO / ".venv/axe/node_modules/axe-core/axe.min.js"


SECRET = "secret-de-test-des-lecteurs-2026"


LETTERS = {
    "newsletters/2026-12-public.md": "---\nsubject: La lettre de décembre\naudience: public\ndate: 2026-12-01\n---\n\nÉdito de décembre.\n",
    "newsletters/2027-01-public.md": "---\nsubject: La lettre de janvier\naudience: public\ndate: 2027-01-05\n---\n\nÉdito de janvier.\n",
    "newsletters/2026-11-adherents.md": "---\nsubject: La lettre des adhérents\naudience: adherents\ndate: 2026-11-10\n---\n\nÉdito.\n",
}


class Mailbox:
    """aiosmtpd handler keeping every message; on_data may act when a message arrives (a reader leaving mid-send)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.on_data = None

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=default)
        self.messages.append(msg)
        if self.on_data:
            self.on_data(msg)
        return "250 OK"

    def to(self, address: str, subject: str = "") -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address and subject in m["Subject"]]


def service_env(smtp_port: int, db: Path) -> dict[str, str]:
    """Return the environment of the service and the commands: the local SMTP server, the key, the store."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "LETTER_"))}
    return {
        **clean,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SECURITY": "none",
        "LETTER_SECRET": SECRET,
        "LETTER_DB": str(db),
        # Tests write to hundreds of @example.org addresses within the hour: the per-domain and overall caps
        # are raised here; the caps per mailbox stay the defaults (tests/service/test_service_mail.py tries all four).
        "SERVICE_MAIL_CAPS": "1,3,100000,100000",
    }


def build_py(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "build.py"), "--today", TODAY.isoformat(), *args]


def start_service(setup_env: dict[str, str], project: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        build_py("--project", str(project), "service", "--port", str(port), *extra),
        env=setup_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    assert "à l'écoute sur http://127.0.0.1:" in line, line + (
        process.stderr.read() if process.poll() is not None and process.stderr else ""
    )
    return process


# The forms only the service shows (plugins/settings/paths.py FORM_TOKEN): a browser loads the page, then posts it.
SERVICE_ONLY = re.compile(
    r"/(lettres/inscription/confirmer|lettres/desinscription/|agenda/inscription/(confirmer|annuler|[a-z0-9-]+/)"
    r"|adherer/confirmer|acces/(oubli|mot-de-passe))"
)


TOKEN = re.compile(r'name="jeton-formulaire" value="([^"]+)"')


def post(
    url: str,
    fields: dict[str, str] | bytes,
    headers: dict[str, str | None] | None = None,
    source: str | None = None,
    token: bool = True,
) -> tuple[int, str]:
    """POST a form as a browser on that site does: with the page's own Origin (headers may replace or drop it) and,
    for a form only the service shows, the token of the page loaded just before (token=False: without loading it)."""
    data = fields if isinstance(fields, bytes) else urlencode(fields).encode()
    parts = urlsplit(url)
    sent = {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"{parts.scheme}://{parts.netloc}", **(headers or {})}
    clean = {k: v for k, v in sent.items() if v is not None}
    one_click = data == b"List-Unsubscribe=One-Click"
    if token and not one_click and SERVICE_ONLY.search(parts.path):
        source = source or f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        auth = {k: v for k, v in clean.items() if k == "Authorization"}
        _, page, _ = http_request("GET", url, None, auth, source)
        found = TOKEN.search(page.decode())
        if found:
            data += (b"&" if data else b"") + urlencode({"jeton-formulaire": html.unescape(found.group(1))}).encode()
    status, body, _ = http_request("POST", url, data, clean, source)
    return status, body.decode()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    status, body, _ = http_request("GET", url, None, headers)
    return status, body.decode()


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "délai dépassé"
        time.sleep(0.05)


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => v.id)"
    )


def check_page(page) -> None:
    """The checks every service page passes: no axe violation, no overflow at 375 px, no cookie, French."""
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    if AXE.exists():
        assert axe_violations(page) == []


STAFF = "adhesions@msp-pdl.example.org"  # extra.federation.membership.staff_email of the sample mkdocs.yml


def link_in(message: EmailMessage, path: str) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    return re.search(rf"https?://\S+{re.escape(path)}\?\S+", text).group(0)  # type: ignore[union-attr]


def request_fields(team: str, email: str, **changes: str) -> dict[str, str]:
    fields = {
        "equipe": team,
        "structure": "msp",
        "commune": "Clisson",
        "departement": "44",
        "pro-medecin": "4",
        "pro-infirmier": "3",
        "nom": "Claire Dupont",
        "adresse": email,
        "telephone": "02 40 11 22 33",
        "consentement": "oui",
    }
    return {**fields, **changes}


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
    "content/agenda/attente.md": """\
        ---
        title: Deux places et une liste d'attente
        start: 2027-02-03T14:00
        online: true
        registration:
          places: 2
          waiting_list: true
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


SECRET_SHEET = {
    "toolbox/files/piece-jointe-canari.pdf": b"%PDF-1.4 contenu-canari-piece\n",
    "toolbox/coordination/fiche-canari.md": """\
        ---
        title: Fiche de coordination verrouillée
        type: modele
        themes: [coordination]
        keywords: [motcle-canari]
        stage: projet
        date: 2026-06-01
        summary: Résumé public de la fiche verrouillée.
        attachments: [../files/piece-jointe-canari.pdf]
        ---

        ## Titre-canari de section

        Corps-canari réservé aux adhérents.
        """,
    "content/actualites/reserve.md": """\
        ---
        title: Actualité-canari réservée
        date: 2026-10-20
        access: adherents
        summary: Résumé-canari réservé.
        ---

        Texte réservé.
        """,
    "content/actualites/plus-ancienne.md": """\
        ---
        title: Une actualité plus ancienne
        date: 2025-02-01
        ---

        Texte ancien.
        """,
    "content/agenda/reunion-reservee.md": """\
        ---
        title: Réunion-canari des adhérents
        start: 2026-12-10T18:00
        online: true
        audience: adherents
        ---

        Lien de connexion réservé.
        """,
    "content/offres/ancienne-offre.md": """\
        ---
        title: Offre-canari expirée
        msp: msp-loire
        kind: remplacement
        professions: [infirmier]
        commune: Nantes
        department: "44"
        date: 2026-01-05
        expires: 2026-03-01
        contact: {phone: 02 40 00 00 00}
        ---

        Remplacement d'été.
        """,
}


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


OFFER = "content/offres/medecin-nantes.md"


SHEET = "toolbox/fiche-rcp.md"


def offer(**changes: str) -> str:
    """Return the base offer with some front-matter lines replaced (key -> whole line)."""
    lines = {
        "title": "title: Médecin généraliste à Nantes",
        "msp": "msp: msp-loire",
        "kind": "kind: recrutement",
        "professions": "professions: [medecin-generaliste]",
        "commune": "commune: Nantes",
        "department": 'department: "44"',
        "date": "date: 2026-10-01",
        "expires": "expires: 2027-02-01",
        "contact": "contact: {email: recrutement@example.org}",
    }
    lines.update(changes)
    front = "\n".join(v for v in lines.values() if v)
    return f"---\n{front}\n---\n\nRejoignez-nous.\n"


DOMAIN = "federation.example.org"


MAILBOX = f"lettres@{DOMAIN}"


def status_block(fields: dict[str, str]) -> Message:
    block = Message()
    for name, value in fields.items():
        block[name] = value
    return block


def recipient(address: str, action: str, status: str, diagnostic: str | None = None, **extra: str) -> dict[str, str]:
    fields = {"Final-Recipient": f"rfc822; {address}", "Action": action, "Status": status}
    if diagnostic:
        fields["Diagnostic-Code"] = diagnostic
    return fields | {k.replace("_", "-"): v for k, v in extra.items()}


def unsubscription(sender: str, subject: str, **headers: str) -> bytes:
    """Return what a mail client sends when a reader clicks the mailto: link (or replies with it)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = MAILBOX
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Envoyé de mon téléphone\n")
    return msg.as_bytes()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the operator's settings (LETTER_*, SMTP_*…) nor git's, plus a committer and extra."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LETTER_", "SMTP_", "DKIM_", "FEDERATION_", "GIT_"))}
    committer = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.org"}
    committer |= {"GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return {**keep, **committer, **extra}


def git(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=600, check=False)


def make_clone(target: Path) -> Path:
    """A git clone of the project as it is in this checkout (its uncommitted changes included), as an operator has it."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    assert git("init", "-q", "-b", "main", cwd=target).returncode == 0
    assert git("add", "-A", cwd=target).returncode == 0
    assert git("commit", "-q", "-m", "La fédération", cwd=target).returncode == 0
    return target
