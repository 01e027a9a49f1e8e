"""TLS end to end against a real ACME server on 127.0.0.1: Debian's pebble (Let's Encrypt's test server), Debian's certbot.

The installation under --racine prints the certbot command it would run; the test runs it (with
its own reload hook instead of systemctl) against pebble, whose mock DNS resolves every name to
127.0.0.1 and which validates the HTTP-01 challenge through the nginx the installer configured.
The installer run again finds the certificate and writes the HTTPS configuration: both hosts are
served with the issued chain, HTTP redirects to HTTPS, and a renewal reloads nginx.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shlex
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.deploy.install import certbot_command, read_env_file
from plugins.deploy.layout import Installation, Layout
from plugins.deploy.nginx import LocalNginx
from tests.support import NGINX, clean_env, free_port, http_request, make_clone


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, check=True)


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} ne répond pas")


@contextlib.contextmanager
def pebble(work: Path, http_port: int) -> Iterator[tuple[str, Path, int]]:
    """Run pebble and its mock DNS on 127.0.0.1; yield the ACME directory URL, the CA of its API and its management port."""
    pki = work / "pki"
    pki.mkdir(parents=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=API de pebble", "-days", "2", cwd=pki)
    openssl("req", *ec, "-keyout", "wfe.key", "-out", "wfe.csr", "-subj", "/CN=localhost", cwd=pki)
    (pki / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "wfe.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "wfe.pem",
            "-days", "2", "-extfile", "san.ext", cwd=pki)  # fmt: skip
    dns, dns_management, acme, management = (free_port() for _ in range(4))
    config = {
        "pebble": {
            "listenAddress": f"127.0.0.1:{acme}",
            "managementListenAddress": f"127.0.0.1:{management}",
            "certificate": str(pki / "wfe.pem"),
            "privateKey": str(pki / "wfe.key"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
    }
    (work / "pebble.json").write_text(json.dumps(config))
    resolver = subprocess.Popen(
        ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", f"127.0.0.1:{dns}",
         "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", f"127.0.0.1:{dns_management}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = {**clean_env(), "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
    server = subprocess.Popen(
        ["pebble", "-config", str(work / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns}"],
        env=env,
        stdout=(work / "pebble.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(acme)
        wait_port(dns_management)
        yield f"https://127.0.0.1:{acme}/dir", pki / "ca.pem", management
    finally:
        for process in (server, resolver):
            process.terminate()
            process.wait(timeout=10)


class PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, with SNI and the certificate checked for the given host name."""

    def __init__(self, name: str, port: int, context: ssl.SSLContext) -> None:
        super().__init__(name, port, context=context, timeout=10)
        self.name = name

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.name)  # type: ignore[attr-defined]


def https_get(name: str, port: int, root: Path, path: str = "/") -> tuple[int, bytes, bytes]:
    """GET over HTTPS as a browser trusting only pebble's root would; return the status, the body and the leaf certificate."""
    context = ssl.create_default_context(cafile=str(root))
    connection = PinnedHTTPS(name, port, context)
    try:
        connection.connect()
        leaf = connection.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        connection.request("GET", path, headers={"Host": name})
        response = connection.getresponse()
        return response.status, response.read(), leaf
    finally:
        connection.close()


def test_a_certificate_from_acme_serves_both_hosts_over_https_and_a_renewal_reloads_nginx(tmp_path: Path) -> None:
    source = make_clone(tmp_path / "clone")
    root = tmp_path / "racine"
    root.mkdir()
    http_port, https_port = free_port(), free_port()
    with pebble(tmp_path / "pebble", http_port) as (directory, api_ca, management):
        install = [
            sys.executable, str(source / "build.py"), "installer", "--racine", str(root),
            "--ecoute-http", f"127.0.0.1:{http_port}", "--ecoute-https", f"127.0.0.1:{https_port}",
            "--port-service", str(free_port()), "--acme-serveur", directory,
        ]  # fmt: skip
        smtp = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "25", "SMTP_SECURITY": "none"}
        first = subprocess.run(
            install, cwd=source, env=clean_env(**smtp), capture_output=True, text=True, timeout=900, check=False
        )
        assert first.returncode == 0, first.stdout + first.stderr
        layout = Layout(root)
        installation = Installation.load(layout.record)
        command = certbot_command(installation)
        assert shlex.join(command) in first.stdout  # the command printed is the one run here

        nginx = LocalNginx(tmp_path / "nginx", layout.nginx / "nginx.conf", NGINX)
        nginx.start(f"http://127.0.0.1:{http_port}/")
        try:
            hook_log = tmp_path / "rechargements.log"
            hook = tmp_path / "recharger.sh"
            reload = " ".join(nginx.command("-s", "reload"))
            hook.write_text(f'#!/bin/sh\necho "$RENEWED_DOMAINS" >> {hook_log}\n{reload}\n')
            hook.chmod(0o755)
            hooked = [str(hook) if word == "systemctl reload nginx" else word for word in command]
            certbot_env = clean_env(REQUESTS_CA_BUNDLE=str(api_ca))
            issued = subprocess.run(hooked, env=certbot_env, capture_output=True, text=True, timeout=300, check=False)
            assert issued.returncode == 0, issued.stdout + issued.stderr
            certificate, key = layout.certificate(installation.public_name)
            assert certificate.is_file() and key.is_file()
            assert set(hook_log.read_text().split()) == {installation.public_name, installation.members_name}

            again = subprocess.run(install, cwd=source, env=clean_env(), capture_output=True, text=True, timeout=600, check=False)
            assert again.returncode == 0, again.stdout + again.stderr
            assert f"certificat TLS de {installation.public_name} : inchangé" in again.stdout
            assert "ssl_certificate " in (layout.nginx / "nginx.conf").read_text()
            nginx.reload()

            context = ssl.create_default_context(cafile=str(api_ca))
            pebble_root = tmp_path / "racine-pebble.pem"
            with urllib.request.urlopen(f"https://127.0.0.1:{management}/roots/0", context=context, timeout=10) as answer:
                pebble_root.write_bytes(answer.read())
            status, body, leaf = https_get(installation.public_name, https_port, pebble_root)
            assert status == 200 and body == (layout.sites / "public" / "index.html").read_bytes()
            env = {**clean_env(), **read_env_file(layout.env_file)}
            service = subprocess.Popen(
                [sys.executable, str(layout.work / "build.py"), "--project", str(layout.work), "service",
                 "--port", str(installation.service_port)],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            try:
                assert service.stdout is not None and service.stdout.readline()  # its ready line
                status, _, _ = https_get(installation.members_name, https_port, pebble_root)
                assert status == 401  # the service asks for the password, over HTTPS
            finally:
                service.terminate()
                service.wait(timeout=30)
            with pytest.raises(ssl.SSLCertVerificationError):
                https_get("autre.example.org", https_port, pebble_root)
            status, _, headers = http_request(
                "GET", f"http://127.0.0.1:{http_port}/offres/", headers={"Host": installation.public_name}
            )
            assert status == 301 and headers["Location"] == f"https://{installation.public_name}:{https_port}/offres/"

            renewed = subprocess.run(
                [
                    "certbot",
                    "renew",
                    "--force-renewal",
                    "--no-random-sleep-on-renew",
                    "-n",
                    *command[command.index("--config-dir") :],
                ],
                env=certbot_env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert renewed.returncode == 0, renewed.stdout + renewed.stderr
            assert len(hook_log.read_text().splitlines()) == 2  # the deploy hook ran again: nginx reloaded
            for _ in range(100):
                if https_get(installation.public_name, https_port, pebble_root)[2] != leaf:
                    break
                time.sleep(0.1)
            else:
                served = ssl.DER_cert_to_PEM_cert(leaf)
                pytest.fail(
                    f"nginx sert encore l'ancien certificat après le renouvellement : {renewed.stdout} {renewed.stderr} "
                    f"{hook_log.read_text()} {served[:80]} / {certificate.read_text()[:200]} "
                    f"{(tmp_path / 'nginx' / 'error.log').read_text()[-800:]}"
                )

            diagnosis = subprocess.run(
                [sys.executable, str(layout.work / "build.py"), "diagnostic", "--racine", str(root)],
                env=clean_env(),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert "OK          certificat valable jusqu'au" in diagnosis.stdout, diagnosis.stdout
            assert "ne couvre pas" not in diagnosis.stdout
        finally:
            nginx.stop()
