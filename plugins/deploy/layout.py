"""Where an installed federation keeps each thing, under a root that is « / » on a server and a folder in the tests.

The published work tree and its builds belong to the `federation` user; what cannot be rebuilt
(the stores, the secrets, the DKIM key) sits in a private folder only that user reads; the
backups beside it; nginx's own files under /etc/nginx/federation, owned by root.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

USER = "federation"
ENGINE_MARKER = "moteur-installe"  # in the virtual environment: the fingerprint of the engine pip installed there
EDITORS_FOLDERS = ("content/", "toolbox/", "newsletters/")
EDITORS_FILES = ("mkdocs.yml",)
PERSON = re.compile(r"[\w][\w .-]{0,62}\Z")  # a person's name as keys and the journal show it


@dataclass(frozen=True)
class Layout:
    root: Path

    def at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def home(self) -> Path:
        return self.at("/srv/federation")

    @property
    def depot(self) -> Path:
        return self.home / "depot.git"

    @property
    def work(self) -> Path:
        return self.home / "travail"

    @property
    def sites(self) -> Path:
        return self.work / "site"

    @property
    def previews(self) -> Path:
        return self.home / "apercus"

    @property
    def journal(self) -> Path:
        return self.home / "journal"

    @property
    def publications(self) -> Path:
        return self.journal / "publications.jsonl"

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def private(self) -> Path:
        return self.at("/var/lib/federation/prive")

    @property
    def acme(self) -> Path:
        return self.at("/var/lib/federation/acme")

    @property
    def backups(self) -> Path:
        return self.at("/var/backups/federation")

    @property
    def env_file(self) -> Path:
        return self.private / "federation.env"

    @property
    def db(self) -> Path:
        return self.private / "service.sqlite"

    @property
    def ledger(self) -> Path:
        return self.private / "envois.sqlite"

    @property
    def dkim_key(self) -> Path:
        return self.private / "dkim.pem"

    @property
    def nginx(self) -> Path:
        return self.at("/etc/nginx/federation")

    @property
    def nginx_include(self) -> Path:
        return self.at("/etc/nginx/conf.d/federation.conf")

    @property
    def access_log(self) -> Path:
        return self.at("/var/log/nginx/federation.log")

    @property
    def audience_log(self) -> Path:
        return self.at("/var/log/federation/audience.log")  # its own folder: rotated by its own rule, kept two months

    @property
    def logrotate(self) -> Path:
        return self.at("/etc/logrotate.d/federation")

    @property
    def units(self) -> Path:
        return self.at("/etc/systemd/system")

    @property
    def record(self) -> Path:
        return self.at("/etc/federation/installation.json")

    @property
    def authorized_keys(self) -> Path:
        return self.home / ".ssh" / "authorized_keys"

    def serves_https(self) -> bool:
        """Whether nginx was configured with the certificate (read from its configuration: the federation user
        cannot read /etc/letsencrypt/live, only root can)."""
        conf = self.nginx / "nginx.conf"
        return conf.is_file() and "ssl_certificate " in conf.read_text(encoding="utf-8")

    def certificate(self, name: str) -> tuple[Path, Path]:
        live = self.at(f"/etc/letsencrypt/live/{name}")
        return live / "fullchain.pem", live / "privkey.pem"


@dataclass
class Installation:
    """What the installer decided and the hooks, the timers and the diagnosis read back (no secret in it)."""

    root: str
    python: str
    public_name: str
    members_name: str
    staff_email: str
    http_listen: str = "80"
    https_listen: str = "443"
    service_port: int = 8025
    acme_server: str = ""
    operators: list[str] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # person -> public key line
    code: str = ""  # fingerprint of the engine the installer last set up

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.root))

    def text(self) -> str:
        return json.dumps(vars(self), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def load(cls, path: Path) -> Installation:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InstallationMissing(
                f"Installation introuvable : {path} n'existe pas (lancez d'abord « build.py installer »)."
            ) from None
        except ValueError as exc:
            raise InstallationMissing(f"{path} : illisible ({exc}) ; relancez « build.py installer ».") from None
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


class InstallationMissing(Exception):
    """The installation record is absent or unreadable: said in French."""


def editors_path(path: str) -> bool:
    """Whether a file of the repository is the editors' to change (their folders and mkdocs.yml)."""
    return path.startswith(EDITORS_FOLDERS) or path in EDITORS_FILES


def engine_fingerprint(source: Path) -> str:
    """A digest of the engine's files (build.py, pyproject.toml, plugins/): a code update changes it."""
    digest = hashlib.sha256()
    files = [source / "build.py", source / "pyproject.toml", *sorted((source / "plugins").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
