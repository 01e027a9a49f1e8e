"""Write the nginx server blocks that serve the public site openly and the members' site behind auth."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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


@dataclass(frozen=True)
class Identity:
    """The federation's words for the 401 page."""

    name: str
    email: str
    join_url: str
    public_url: str


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    )


def _write(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def write_server_files(dest: Path, settings: ServerSettings, identity: Identity, today: date) -> Path:
    """Write dest/nginx.conf (server blocks for an http context) and dest/401.html; return the conf."""
    dest.mkdir(parents=True, exist_ok=True)
    env = _env()
    page = dest / "401.html"
    _write(page, env.get_template("unauthorized.html.j2").render(**vars(identity)))
    conf = dest / "nginx.conf"
    values = {k: str(v) for k, v in vars(settings).items()}
    _write(conf, env.get_template("nginx.conf.j2").render(**values, unauthorized_page=page, today=today.isoformat()))
    return conf
