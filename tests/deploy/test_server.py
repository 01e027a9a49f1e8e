"""The members' site behind a real nginx on 127.0.0.1, with the config and htpasswd that build.py writes."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from plugins.deploy.nginx import LocalNginx
from plugins.render.incremental import CACHE_FILE
from tests.support import REPO, TODAY, free_port, http_request, make_project

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")

ACCOUNTS = """login;password;expires;name
msp-loire;correct-cheval-pile-agrafe;2027-12-31;MSP de la Loire
msp-ancienne;ancien-secret-bien-long;2026-10-31;MSP ancienne
federation;mot-de-passe-equipe-2026;;Équipe de la fédération
"""
VALID = ("msp-loire", "correct-cheval-pile-agrafe")
SHEET_URL = "boite-a-outils/fiches/fiche-rcp/"
ATTACHMENT_URL = "boite-a-outils/fiches/files/modele.pdf"


@dataclass
class Nginx:
    public: str
    members: str
    project: Path
    dest: Path
    accounts: Path
    prefix: Path
    server: LocalNginx | None = None

    def write_config(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(REPO / "build.py"),
                "--project",
                str(self.project),
                "--today",
                TODAY.isoformat(),
                "server",
                "--accounts",
                str(self.accounts),
                "--dest",
                str(self.dest),
                "--public-listen",
                f"127.0.0.1:{self.public.rsplit(':', 1)[1].strip('/')}",
                "--members-listen",
                f"127.0.0.1:{self.members.rsplit(':', 1)[1].strip('/')}",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def reload(self) -> None:
        assert self.server is not None
        self.server.reload()


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    project = make_project(tmp_path_factory.mktemp("projet"))
    build_all(project, project / "site", TODAY)
    prefix = tmp_path_factory.mktemp("nginx")
    accounts = prefix / "comptes.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    server = Nginx(
        f"http://127.0.0.1:{free_port()}/", f"http://127.0.0.1:{free_port()}/", project, prefix / "conf", accounts, prefix
    )
    written = server.write_config()
    assert written.returncode == 0, written.stderr
    server.server = LocalNginx(prefix, server.dest / "nginx.conf", NGINX)
    try:
        server.server.start(server.public)
        yield server
    finally:
        server.server.stop()


def get(url: str, login: tuple[str, str] | None = None, source: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()} if login else {}
    return http_request("GET", url, None, headers, source)


def members_urls(nginx: Nginx) -> list[str]:
    root = nginx.project / "site" / "adherents"
    return sorted(
        nginx.members + p.relative_to(root).as_posix().removesuffix("index.html") for p in root.rglob("*") if p.is_file()
    )


def test_public_pages_are_open(nginx: Nginx) -> None:
    for path in ("", "offres/", "offres/medecin-nantes/", "boite-a-outils/", SHEET_URL):
        status, body, headers = get(nginx.public + path)
        assert status == 200, path
        assert "X-Robots-Tag" not in headers
    status, _, _ = get(nginx.public + "nulle-part/")
    assert status == 404


@pytest.mark.parametrize(
    "login",
    [
        None,
        ("msp-loire", "mauvais-mot-de-passe"),
        ("msp-ancienne", "ancien-secret-bien-long"),
        ("inconnu", "quelque-chose-de-long"),
    ],
    ids=["sans identifiants", "mauvais mot de passe", "compte expiré", "compte inconnu"],
)
def test_every_members_url_refuses_without_a_valid_account(nginx: Nginx, login: tuple[str, str] | None) -> None:
    urls = members_urls(nginx)
    assert len(urls) > 30
    refused = {url: get(url, login)[0] for url in urls}
    assert {u: s for u, s in refused.items() if s != 401} == {}


def test_the_build_cache_is_never_served(nginx: Nginx) -> None:
    """Each built site keeps the fingerprints of its pages for the next build (a dot file): nginx refuses it."""
    assert (nginx.project / "site/public" / CACHE_FILE).is_file()
    assert get(nginx.public + CACHE_FILE)[0] == 404
    assert get(nginx.members + CACHE_FILE, VALID)[0] == 404


def test_the_refusal_asks_for_credentials_in_french(nginx: Nginx) -> None:
    status, body, headers = get(nginx.members)
    assert status == 401
    assert headers.get("WWW-Authenticate", "").startswith("Basic")
    page = body.decode("utf-8")
    assert "Espace adhérents" in page and "adhésion" in page
    assert "Texte réservé aux adhérents" not in page


def test_a_valid_account_reads_the_members_site(nginx: Nginx) -> None:
    status, body, headers = get(nginx.members + SHEET_URL, VALID)
    assert status == 200
    assert "Texte réservé aux adhérents" in body.decode("utf-8")
    assert headers["X-Robots-Tag"] == "noindex, nofollow"
    status, data, _ = get(nginx.members + ATTACHMENT_URL, VALID)
    assert status == 200 and data == (nginx.project / "toolbox/files/modele.pdf").read_bytes()
    assert get(nginx.members + ATTACHMENT_URL)[0] == 401
    assert get(nginx.members + SHEET_URL, ("federation", "mot-de-passe-equipe-2026"))[0] == 200
    css = next((nginx.project / "site/adherents/assets/stylesheets").glob("main.*.min.css")).name
    status, _, headers = get(nginx.members + "assets/stylesheets/" + css, VALID)
    assert status == 200 and headers["Cache-Control"] == "private, max-age=86400"
    assert headers["X-Robots-Tag"] == "noindex, nofollow"


def test_a_removed_account_is_refused_after_the_next_run(nginx: Nginx) -> None:
    federation = ("federation", "mot-de-passe-equipe-2026")
    assert get(nginx.members, federation)[0] == 200
    original = nginx.accounts.read_text("utf-8")
    try:
        nginx.accounts.write_text(
            "\n".join(line for line in original.splitlines() if not line.startswith("federation;")) + "\n", "utf-8"
        )
        assert nginx.write_config().returncode == 0
        nginx.reload()
        assert get(nginx.members, federation)[0] == 401
        assert get(nginx.members, VALID)[0] == 200
    finally:
        nginx.accounts.write_text(original, "utf-8")
        nginx.write_config()
        nginx.reload()


def test_a_bad_accounts_file_changes_nothing(nginx: Nginx, tmp_path: Path) -> None:
    before = (nginx.dest / "htpasswd").read_bytes()
    bad = tmp_path / "comptes.csv"
    bad.write_text("login;password;expires\nmsp-loire;court;2027-01-01\nmsp-loire;un-autre-secret-long;31/12/2027\n", "utf-8")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "build.py"),
            "--project",
            str(nginx.project),
            "server",
            "--accounts",
            str(bad),
            "--dest",
            str(nginx.dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "comptes.csv:2: password: mot de passe trop court (5 caractères), attendu au moins 12 caractères" in result.stderr
    assert "comptes.csv:3: expires:" in result.stderr
    assert "aucun fichier n'a été modifié" in result.stderr
    assert (nginx.dest / "htpasswd").read_bytes() == before


def test_a_member_reads_a_sheet_and_downloads_its_attachment_in_the_browser(nginx: Nginx, browser) -> None:
    anonymous = browser.new_context()
    # Headless chromium shows no login prompt: a 401 ends navigation, so ask through the context.
    response = anonymous.request.get(nginx.members + SHEET_URL)
    assert response.status == 401
    assert "Texte réservé aux adhérents" not in response.text()
    assert anonymous.request.get(nginx.members + ATTACHMENT_URL).status == 401
    anonymous.close()

    context = browser.new_context(http_credentials={"username": VALID[0], "password": VALID[1]}, accept_downloads=True)
    page = context.new_page()
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    response = page.goto(nginx.members + SHEET_URL)
    assert response.status == 200
    assert page.get_by_text("Texte réservé aux adhérents").is_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="modele.pdf").first.click()
    path = info.value.path()
    assert Path(path).read_bytes() == (nginx.project / "toolbox/files/modele.pdf").read_bytes()
    assert failed == []
    context.close()


def test_hashes_are_bcrypt_2y(nginx: Nginx) -> None:
    lines = (nginx.dest / "htpasswd").read_text("ascii").splitlines()
    assert sorted(line.split(":")[0] for line in lines) == ["federation", "msp-loire"]
    assert all(line.split(":", 1)[1].startswith("$2y$08$") for line in lines)


def test_accounts_never_live_in_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert not [t for t in tracked if t.endswith((".csv", "htpasswd", ".sqlite", ".eml"))]
