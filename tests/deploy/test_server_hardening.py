"""nginx as production runs it: workers as an unprivileged user, a request limit on the members' site, TLS.

Each server here is the real nginx on 127.0.0.1 with the configuration `build.py server` writes.
"""

from __future__ import annotations

import base64
import grp
import http.client
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from plugins.build.sites import build_all
from plugins.deploy.nginx import LocalNginx
from tests.support import REPO, TODAY, free_port, http_request, make_project

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")
MEMBER = ("msp-loire", "correct-cheval-pile-agrafe")
ACCOUNTS = f"login;password;expires\n{MEMBER[0]};{MEMBER[1]};2027-12-31\n"


def auth(login: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode()}


def server_command(project: Path, dest: Path, accounts: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "build.py"),
            "--project",
            str(project),
            "--today",
            TODAY.isoformat(),
            "server",
            "--accounts",
            str(accounts),
            "--dest",
            str(dest),
            "--access-log",
            str(dest.parent / f"{dest.name}-access.log"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def world() -> Iterator[Path]:
    """A folder that nginx's unprivileged workers can traverse (pytest's own are private to root)."""
    root = Path(tempfile.mkdtemp(prefix="nginx-production-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def project(world: Path) -> Path:
    (world / "projet").mkdir()
    project = make_project(world / "projet")
    build_all(project, project / "site", TODAY)
    accounts = world / "comptes.csv"
    accounts.write_text(ACCOUNTS, encoding="utf-8")
    return project


@pytest.mark.skipif(os.geteuid() != 0, reason="nginx ne change d'utilisateur que lancé par root")
def test_members_still_read_after_the_accounts_change_with_workers_as_an_unprivileged_user(world: Path, project: Path) -> None:
    dest, public, members = world / "conf", free_port(), free_port()
    args = ("--public-listen", f"127.0.0.1:{public}", "--members-listen", f"127.0.0.1:{members}")
    assert server_command(project, dest, world / "comptes.csv", *args).returncode == 0
    nogroup = grp.getgrnam("nogroup").gr_gid
    os.chown(dest / "htpasswd", -1, nogroup)  # the README's set-up, once (chgrp www-data on Debian)
    nginx = LocalNginx(world / "nginx-nobody", dest / "nginx.conf", NGINX, user="nobody nogroup")
    nginx.start(f"http://127.0.0.1:{public}/")
    try:
        url = f"http://127.0.0.1:{members}/"
        assert http_request("GET", url, headers=auth(MEMBER))[0] == 200
        again = server_command(project, dest, world / "comptes.csv", *args)  # the accounts change
        assert again.returncode == 0, again.stderr
        nginx.reload()
        assert (dest / "htpasswd").stat().st_gid == nogroup
        assert oct((dest / "htpasswd").stat().st_mode & 0o777) == "0o640"
        assert http_request("GET", url, headers=auth(MEMBER))[0] == 200
        assert http_request("GET", url)[0] == 401
    finally:
        nginx.stop()
    other = world / "conf-groupe"
    assert server_command(project, other, world / "comptes.csv", "--group", "nogroup").returncode == 0
    assert (other / "htpasswd").stat().st_gid == nogroup
    unknown = server_command(project, world / "conf-x", world / "comptes.csv", "--group", "groupe-inexistant")
    assert unknown.returncode == 1 and "groupe « groupe-inexistant » inconnu" in unknown.stderr


def assets_of(page: str, base: str) -> list[str]:
    """Return the same-site URLs a browser fetches to show a page: stylesheets, scripts, images."""
    links = re.findall(r'<(?:script[^>]+src|img[^>]+src)="([^"]+)"', page)
    links += [
        re.search(r'href="([^"]+)"', tag).group(1)
        for tag in re.findall(r"<link[^>]+>", page)
        if re.search(r'rel="(stylesheet|icon|shortcut icon|manifest|preload|modulepreload)"', tag) and "href=" in tag
    ]
    urls = [urljoin(base, u) for u in links]
    return sorted({u for u in urls if urlsplit(u).netloc == urlsplit(base).netloc})


def test_password_guessing_is_slowed_but_a_member_browsing_never_is(world: Path, project: Path) -> None:
    dest, public, members = world / "conf-limite", free_port(), free_port()
    result = server_command(
        project, dest, world / "comptes.csv", "--public-listen", f"127.0.0.1:{public}", "--members-listen", f"127.0.0.1:{members}"
    )
    assert result.returncode == 0, result.stderr
    nginx = LocalNginx(world / "nginx-limite", dest / "nginx.conf", NGINX)
    nginx.start(f"http://127.0.0.1:{public}/")
    try:
        base = f"http://127.0.0.1:{members}/"
        guesses = [http_request("GET", base, headers=auth((MEMBER[0], f"essai-{n}")), source="127.0.9.9")[0] for n in range(60)]
        assert set(guesses) <= {401, 429} and guesses.count(429) >= 30, guesses
        status, body, _ = http_request("GET", base, headers=auth(MEMBER), source="127.0.9.9")
        assert status == 429 and "Demande non traitée" in body.decode()
        member = "127.0.8.8"
        for path in ("", "boite-a-outils/", "offres/", "boite-a-outils/fiches/fiche-rcp/", "agenda/"):
            status, page, _ = http_request("GET", base + path, headers=auth(MEMBER), source=member)
            assert status == 200, path
            assets = assets_of(page.decode(), base + path)
            assert len(assets) > 3
            assert {a: http_request("GET", a, headers=auth(MEMBER), source=member)[0] for a in assets} == dict.fromkeys(
                assets, 200
            )
    finally:
        nginx.stop()


@pytest.fixture(scope="module")
def certificate(world: Path) -> tuple[Path, Path]:
    cert, key = world / "cert.pem", world / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def https_get(url: str, cafile: Path, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection(
        parts.hostname, parts.port, timeout=30, context=ssl.create_default_context(cafile=str(cafile))
    )
    try:
        connection.request("GET", parts.path or "/", headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.headers)
    finally:
        connection.close()


def test_both_sites_over_tls_with_redirects_hsts_and_acme_renewal(
    world: Path, project: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    dest = world / "conf-tls"
    ports = {name: free_port() for name in ("public", "members", "public_http", "members_http")}
    result = server_command(
        project,
        dest,
        world / "comptes.csv",
        "--certificate",
        str(cert),
        "--certificate-key",
        str(key),
        "--public-listen",
        f"127.0.0.1:{ports['public']}",
        "--members-listen",
        f"127.0.0.1:{ports['members']}",
        "--public-http-listen",
        f"127.0.0.1:{ports['public_http']}",
        "--members-http-listen",
        f"127.0.0.1:{ports['members_http']}",
    )
    assert result.returncode == 0, result.stderr
    assert "en clair" not in result.stdout
    challenge = dest / "acme" / ".well-known" / "acme-challenge" / "jeton-de-test"
    challenge.write_text("preuve-acme", encoding="utf-8")
    nginx = LocalNginx(world / "nginx-tls", dest / "nginx.conf", NGINX)
    nginx.start(f"http://127.0.0.1:{ports['public_http']}/.well-known/acme-challenge/jeton-de-test")
    try:
        members = f"https://127.0.0.1:{ports['members']}/boite-a-outils/"
        status, headers = https_get(members, cert, auth(MEMBER))
        assert status == 200 and headers["Strict-Transport-Security"] == "max-age=31536000"
        assert https_get(members, cert)[0] == 401
        status, headers = https_get(f"https://127.0.0.1:{ports['public']}/offres/", cert)
        assert status == 200 and "Strict-Transport-Security" in headers
        for name, https_port in (("public_http", ports["public"]), ("members_http", ports["members"])):
            status, _, headers = http_request("GET", f"http://127.0.0.1:{ports[name]}/offres/?page=2")
            assert status == 301 and headers["Location"] == f"https://127.0.0.1:{https_port}/offres/?page=2"
        status, body, _ = http_request(
            "GET", f"http://127.0.0.1:{ports['members_http']}/.well-known/acme-challenge/jeton-de-test"
        )
        assert status == 200 and body == b"preuve-acme"
    finally:
        nginx.stop()


def test_tls_options_are_checked_before_anything_is_written(world: Path, project: Path, certificate: tuple[Path, Path]) -> None:
    dest = world / "conf-tls-erreur"
    half = server_command(project, dest, world / "comptes.csv", "--certificate", str(certificate[0]))
    assert half.returncode == 1 and "ensemble --certificate et --certificate-key" in half.stderr
    missing = server_command(
        project, dest, world / "comptes.csv", "--certificate", str(world / "absent.pem"), "--certificate-key", str(certificate[1])
    )
    assert missing.returncode == 1 and "Fichier introuvable" in missing.stderr
    assert not dest.exists()
    plain = server_command(project, dest, world / "comptes.csv")
    assert plain.returncode == 0 and "en clair" in plain.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="nginx ne change d'utilisateur que lancé par root")
def test_the_readmes_server_example_serves_members_with_debian_s_www_data_workers(world: Path, project: Path) -> None:
    """As the README writes it (no --group), run by root, Debian's defaults: nginx's workers as www-data, umask 022."""
    dest, public, members = world / "conf-readme", free_port(), free_port()
    previous = os.umask(0o022)
    try:
        written = server_command(
            project,
            dest,
            world / "comptes.csv",
            "--public-listen",
            f"127.0.0.1:{public}",
            "--members-listen",
            f"127.0.0.1:{members}",
        )
    finally:
        os.umask(previous)
    assert written.returncode == 0, written.stderr
    nginx = LocalNginx(world / "nginx-www-data", dest / "nginx.conf", NGINX, user="www-data www-data")
    nginx.start(f"http://127.0.0.1:{public}/")
    try:
        assert http_request("GET", f"http://127.0.0.1:{members}/", headers=auth(MEMBER))[0] == 200  # not nginx's 500
        assert http_request("GET", f"http://127.0.0.1:{members}/")[0] == 401
    finally:
        nginx.stop()
