"""Write the nginx server blocks that serve the public site openly and the members' site behind auth."""

from __future__ import annotations

import grp
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from plugins.settings.federation import FederationSettings
from plugins.settings.paths import CLIENT_HEADER, FORGOT_PATH, MEMBER_HEADER, VERIFY_PATH

TEMPLATES = Path(__file__).parent


@dataclass(frozen=True)
class ServerSettings:
    """Where the two sites are, and how nginx should listen for them."""

    public_root: Path
    members_root: Path
    htpasswd: Path
    public_listen: str = "80"
    members_listen: str = "80"
    public_name: str = "_"
    members_name: str = "_"
    service: str = ""  # host:port of `build.py service`; empty: no forms, no unsubscribe page
    unsubscribe_path: str = "/lettres/desinscription/"  # the path of the letters' unsubscribe links
    subscribe_rate: str = "10r/m"  # per client IP: slows bots without hindering a person
    members_rate: str = "2r/s"  # per client IP on the members' pages
    members_assets_rate: str = "20r/s"  # per client IP on their assets and search index (a search fetches many)
    certificate: str = ""  # TLS certificate and key (both or neither): HTTPS, HTTP redirects, HSTS
    certificate_key: str = ""
    public_http_listen: str = "80"  # with TLS: plain HTTP, redirects and ACME challenges only
    members_http_listen: str = "80"
    acme_root: str = ""  # with TLS: folder of certbot's webroot challenges
    csp: str = ""  # Content-Security-Policy of both sites' pages (see csp.py)
    access_log: str = "/var/log/nginx/access.log"  # both sites' requests, without query strings (see the template)
    audience_log: str = ""  # the pages' audience log, without client addresses (see the template); empty: none
    previews: str = ""  # folder of the branches' previews, served at /apercu/ on the public host
    previews_htpasswd: str = ""  # the staff's password for them


NGINX_CONF = Path("/etc/nginx/nginx.conf")
USER_LINE = re.compile(r"^\s*user\s+([^\s;]+)(?:\s+([^\s;]+))?\s*;", re.M)


def nginx_group(conf: Path = NGINX_CONF) -> str | None:
    """Return the group nginx's workers run as, from its main configuration (None if it says nothing readable).

    nginx: « user www-data; » runs the workers as www-data and its group of the same name.
    """
    try:
        found = USER_LINE.search(conf.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    if found is None:
        return None
    group = found.group(2) or found.group(1)
    try:
        grp.getgrnam(group)
    except KeyError:
        return None
    return group


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    )


def _write(target: Path, text: str) -> None:
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return  # unchanged: a second installation leaves the file, its date included, as it was
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def write_server_files(dest: Path, settings: ServerSettings, federation: FederationSettings, today: date) -> Path:
    """Write dest/nginx.conf (server blocks for an http context) and dest/401.html; return the conf."""
    dest.mkdir(parents=True, exist_ok=True)
    env = _env()
    page = dest / "401.html"
    # The service answers « Mot de passe oublié » on the members' host, without a password.
    forgot = FORGOT_PATH if settings.service else ""
    identity = {"name": federation.site_name, "email": federation.email, "join_url": federation.join_url}
    identity["public_url"] = federation.public_url
    _write(page, env.get_template("unauthorized.html.j2").render(**identity, forgot=forgot))
    refused = dest / "refus.html"
    _write(refused, env.get_template("refused.html.j2").render(**identity))
    locked, unavailable = dest / "suspendu.html", dest / "indisponible.html"
    _write(locked, env.get_template("locked.html.j2").render(**identity, forgot=forgot))
    _write(unavailable, env.get_template("unavailable.html.j2").render(**identity))
    members_pages = [("401.html", page), ("403.html", locked), ("429.html", refused), ("indisponible.html", unavailable)]
    conf = dest / "nginx.conf"
    values = {k: str(v) for k, v in vars(settings).items()}
    values["acme_root"] = settings.acme_root or str(dest / "acme")
    http_challenges = bool(settings.acme_root) and not settings.certificate  # the first certificate, over HTTP
    if settings.certificate:
        Path(values["acme_root"], ".well-known", "acme-challenge").mkdir(parents=True, exist_ok=True)
    _write(
        conf,
        env.get_template("nginx.conf.j2").render(
            **values,
            acme_http=http_challenges,
            unauthorized_page=page,
            refused_page=refused,
            members_pages=members_pages,
            verify_path=VERIFY_PATH,
            client_header=CLIENT_HEADER,
            member_header=MEMBER_HEADER,
            today=today.isoformat(),
        ),
    )
    return conf


def local_main_conf(prefix: Path, include: Path, workers: int = 2, user: str | None = None, connections: int = 256) -> str:
    """Return a whole nginx.conf with its files under prefix that includes the server blocks.

    user: the workers' user and group ("nobody nogroup"), as Debian runs them (needs root);
    by default they run as the current user.
    """
    user = f"user {user};\n" if user else ("user root;\n" if os.geteuid() == 0 else "")
    temps = "\n".join(f"  {k}_temp_path {prefix / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}daemon off;
worker_processes {workers};
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections {connections}; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
{temps}
  include {include};
}}
"""


class LocalNginx:
    """nginx started in the foreground with a config under prefix (tests, benchmarks, local checks)."""

    def __init__(
        self,
        prefix: Path,
        include: Path,
        binary: str = "/usr/sbin/nginx",
        workers: int = 2,
        user: str | None = None,
        connections: int = 256,
    ):
        self.prefix, self.binary = prefix, binary
        self.conf = prefix / "main.conf"
        prefix.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(local_main_conf(prefix, include, workers, user, connections), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [self.binary, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.prefix / "error.log"), *args]

    def start(self, url: str) -> None:
        """Check the config, start nginx and wait until url answers."""
        subprocess.run(self.command("-t", "-q"), check=True, capture_output=True)
        self.process = subprocess.Popen(self.command())
        for _ in range(200):
            try:
                urllib.request.urlopen(url, timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx ne répond pas sur {url}")

    def reload(self) -> None:
        subprocess.run(self.command("-s", "reload"), check=True)
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
