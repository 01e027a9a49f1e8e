"""Tiny projects in tmp_path: the repo's mkdocs.yml and identity with a few content files."""

from __future__ import annotations

import contextlib
import functools
import http.client
import http.server
import random
import shutil
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


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


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright, headless."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


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


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both sites built once from the sample content shipped in the repository."""
    from plugins.build.sites import build_all

    output = tmp_path_factory.mktemp("echantillon") / "site"
    build_all(REPO, output, TODAY, strict=True)
    return output
