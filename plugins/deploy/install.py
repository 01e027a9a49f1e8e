"""`build.py installer`: a fresh Debian 12 server to both sites online, in one command, and the same command again
changes nothing.

Run as root from a clone of the repository, it creates the `federation` user and its folders, a
links' key and a DKIM key (once, never overwritten), the repository the editors push to (with
its hooks, `plugins/deploy/hooks.py`) and its published work tree, Python's packages, the first
build, nginx's configuration with a certificate from Let's Encrypt (certbot, webroot), and the
systemd units and timers of the service, the nightly build, the letters, the bounces and the
backups. A run after a code update takes a backup before the stores are migrated.

With `--racine DIR` it installs under DIR as if DIR were « / », paths inside the written files
included, without touching the rest of the machine: no user, no package, no systemctl, certbot
printed and not run. The tests push to that repository and read those sites.

Each step says « créé », « modifié » or « inchangé »; a run where every step is unchanged says so.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import os
import pwd
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

import bcrypt

from plugins.base import environment
from plugins.base.french_cli import speak_french
from plugins.deploy.backup import BackupError, take_backup
from plugins.deploy.layout import ENGINE_MARKER, PERSON, USER, Installation, InstallationMissing, Layout, engine_fingerprint
from plugins.deploy.nginx import nginx_group
from plugins.deploy.units import UNITS, unit_files
from plugins.mail.ledger import SendLedger
from plugins.records.accounts import AccountStore
from plugins.records.applications import ApplicationBook
from plugins.records.outbox import Outbox
from plugins.records.password_file import hash_secret
from plugins.records.readers import ReaderStore
from plugins.records.registrations import RegistrationBook
from plugins.settings.federation import SettingsError, read_mkdocs_yml

# As root, git refuses a repository another user owns (an operator's clone, the federation user's repository).
GIT = ("git", "-c", "safe.directory=*")
PACKAGES = ("nginx", "certbot", "git", "python3-venv", "openssl", "sqlite3")
SMTP = ("SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USER", "SMTP_PASSWORD")
IMAP = ("IMAP_HOST", "IMAP_PORT", "IMAP_USER", "IMAP_PASSWORD", "IMAP_FOLDER")
DKIM_SELECTOR = "federation"
PREVIEWS_LOGIN = "equipe"


class InstallError(Exception):
    """The installation cannot go on as asked: said in French; what was done so far is said too."""


class Steps:
    """The French account of a run: one line per step, and whether anything changed."""

    def __init__(self) -> None:
        self.changed = 0

    def say(self, what: str, state: str) -> None:
        if state != "inchangé":
            self.changed += 1
        print(f"  {what} : {state}", flush=True)

    def note(self, line: str) -> None:
        print(line, flush=True)


def run(command: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), text=True, capture_output=True, check=False, **kwargs)


def must(command: Sequence[str], why: str, **kwargs) -> str:
    done = run(command, **kwargs)
    if done.returncode != 0:
        shown = " ".join(shlex.quote(c) for c in command)
        raise InstallError(f"{why} : « {shown} » a échoué.\n{(done.stderr or done.stdout).strip()}")
    return done.stdout


class Machine:
    """What the installer changes on the machine, and how: for real as root, or under a root folder for the tests."""

    def __init__(self, layout: Layout, real: bool) -> None:
        self.layout, self.real = layout, real

    def owner(self, path: Path, user: str | None, group: str | None = None) -> None:
        if self.real and user:
            shutil.chown(path, user, group or user)
        elif self.real and group:
            shutil.chown(path, group=group)

    def folder(self, path: Path, mode: int, user: str | None = USER, group: str | None = None) -> str:
        state = "inchangé"
        if not path.is_dir():
            path.mkdir(parents=True, mode=mode)
            state = "créé"
        if path.stat().st_mode & 0o7777 != mode:
            os.chmod(path, mode)
            state = "modifié" if state == "inchangé" else state
        self.owner(path, user, group or user)
        return state

    def file(self, path: Path, text: str, mode: int, user: str | None = None, group: str | None = None) -> str:
        """Write text into path in one rename if it differs; return « créé », « modifié » or « inchangé »."""
        data = text.encode("utf-8")
        if path.is_file() and path.read_bytes() == data:
            state = "inchangé"
            if path.stat().st_mode & 0o7777 != mode:
                os.chmod(path, mode)
                state = "modifié"
            self.owner(path, user, group or user)
            return state
        state = "modifié" if path.exists() else "créé"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.installation")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(partial, mode)
        self.owner(partial, user, group or user)
        os.replace(partial, path)
        return state

    def as_user(self, command: Sequence[str], **kwargs) -> subprocess.CompletedProcess[str]:
        """Run a command as the federation user (for real), or as oneself under --racine."""
        prefix = ["runuser", "-u", USER, "--"] if self.real else []
        return run([*prefix, *command], **kwargs)


# --- the environment file: secrets and settings the units, the hooks and the commands read -----------------------


def read_env_file(path: Path) -> dict[str, str]:
    """Read the KEY="value" lines this module writes (systemd's EnvironmentFile syntax, double-quoted)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[key] = value
    return values


def env_file_text(values: Mapping[str, str]) -> str:
    lines = [
        "# Écrit par « build.py installer » : les réglages et secrets des services de la fédération.",
        "# Lisible par le seul utilisateur federation. Changer SMTP_* ou IMAP_* ici, puis relancer l'installateur.",
    ]
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise InstallError(f"{key} : une valeur sur plusieurs lignes n'est pas acceptée")
        quoted = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
        lines.append(f'{key}="{quoted}"')
    return "\n".join(lines) + "\n"


def ask(name: str, what: str, secret: bool = False, default: str = "") -> str:
    """Ask a missing setting on a terminal; fail closed without one."""
    if not sys.stdin.isatty():
        raise InstallError(
            f"{name} manquant ({what}) : donnez-le dans l'environnement (par exemple « {name}=… build.py installer ») ; "
            "rien n'a été installé au-delà de ce qui est dit plus haut."
        )
    prompt = f"{what} ({name})" + (f" [{default}]" if default else "") + " : "
    answer = getpass.getpass(prompt) if secret else input(prompt)
    return answer.strip() or default


def settings_values(layout: Layout, given: Mapping[str, str], sender_domain: str) -> dict[str, str]:
    """The environment file's values: kept from the last run, completed from the environment or a question.

    LETTER_SECRET is made once and never replaced; SMTP_* and IMAP_* given in the environment replace
    the file's; the paths are the layout's.
    """
    kept = read_env_file(layout.env_file)
    values = {
        "LETTER_SECRET": kept.get("LETTER_SECRET") or secrets.token_urlsafe(32),
        "LETTER_DB": str(layout.db),
        "LETTER_LEDGER": str(layout.ledger),
        "BACKUP_DIR": str(layout.backups),
        "DKIM_SELECTOR": kept.get("DKIM_SELECTOR") or DKIM_SELECTOR,
        "DKIM_DOMAIN": sender_domain,
        "DKIM_KEY_FILE": str(layout.dkim_key),
        "FEDERATION_AUDIENCE_LOG": str(layout.audience_log),
    }
    for name in (*SMTP, *IMAP):
        if given.get(name):
            values[name] = given[name]
        elif kept.get(name):
            values[name] = kept[name]
    if not values.get("SMTP_HOST"):
        values["SMTP_HOST"] = ask("SMTP_HOST", "relais SMTP qui envoie les lettres et les messages du service")
        values["SMTP_PORT"] = ask("SMTP_PORT", "son port", default="587")
        values["SMTP_SECURITY"] = ask("SMTP_SECURITY", "none, starttls ou tls", default="starttls")
        values["SMTP_USER"] = ask("SMTP_USER", "identifiant SMTP (vide : aucun)")
        if values["SMTP_USER"]:
            values["SMTP_PASSWORD"] = ask("SMTP_PASSWORD", "mot de passe SMTP", secret=True)
    return {k: v for k, v in values.items() if v != ""}


# --- the steps ------------------------------------------------------------------------------------------------------


def packages(machine: Machine, steps: Steps) -> None:
    if not machine.real:
        steps.note(f"  paquets Debian ({', '.join(PACKAGES)}) : non installés (--racine)")
        return
    missing = [p for p in PACKAGES if run(["dpkg-query", "-W", "-f=${Status}", p]).stdout != "install ok installed"]
    if not missing:
        steps.say("paquets Debian", "inchangé")
        return
    must(
        ["apt-get", "install", "-y", "-q", *missing],
        "Installation des paquets Debian",
        env={**environment.current(), "DEBIAN_FRONTEND": "noninteractive"},
    )
    steps.say(f"paquets Debian ({', '.join(missing)})", "créé")


def system_user(machine: Machine, steps: Steps) -> None:
    if not machine.real:
        steps.note(f"  utilisateur {USER} : non créé (--racine : tout appartient à {getpass.getuser()})")
        return
    try:
        pwd.getpwnam(USER)
        steps.say(f"utilisateur {USER}", "inchangé")
    except KeyError:
        # /bin/sh, not git-shell: each SSH key runs a forced command (git-shell, tagged with its person), so no key
        # opens a shell; the forced command itself needs a shell that runs it.
        must(
            ["adduser", "--system", "--group", "--home", str(machine.layout.home), "--shell", "/bin/sh", USER],
            f"Création de l'utilisateur {USER}",
        )
        steps.say(f"utilisateur {USER}", "créé")


def folders(machine: Machine, steps: Steps) -> None:
    layout = machine.layout
    steps.say(f"dossier {layout.home}", machine.folder(layout.home, 0o755))
    steps.say(f"dossier privé {layout.private}", machine.folder(layout.private, 0o700))
    steps.say(f"dossier des sauvegardes {layout.backups}", machine.folder(layout.backups, 0o700))
    steps.say(f"journal des publications {layout.journal}", machine.folder(layout.journal, 0o750))
    steps.say(f"aperçus {layout.previews}", machine.folder(layout.previews, 0o755))
    steps.say(f"défis ACME {layout.acme}", machine.folder(layout.acme, 0o755, user=None))
    steps.say(f"aperçus servis {layout.previews / 'www'}", machine.folder(layout.previews / "www", 0o755))
    machine.folder(layout.nginx, 0o755, user=None)
    machine.folder(layout.record.parent, 0o755, user=None)
    machine.folder(layout.units, 0o755, user=None)
    machine.folder(layout.access_log.parent, 0o755, user=None)
    machine.folder(layout.audience_log.parent, 0o755, user=None)


def dkim_key(machine: Machine, steps: Steps) -> str:
    """Make the DKIM key once (never replaced: the published record would stop matching); return the DNS value."""
    key = machine.layout.dkim_key
    if not key.is_file():
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        must(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key)], "Clé DKIM")
        os.chmod(key, 0o600)
        machine.owner(key, USER)
        steps.say(f"clé DKIM {key}", "créé")
    else:
        steps.say(f"clé DKIM {key}", "inchangé")
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], capture_output=True, check=True)
    return base64.b64encode(der.stdout).decode()


def previews_password(machine: Machine, steps: Steps) -> None:
    """The staff's password for the branches' previews: made once, kept where only federation reads it."""
    layout = machine.layout
    kept, htpasswd = layout.private / "apercus.txt", layout.nginx / "apercus.htpasswd"
    if kept.is_file():
        password = kept.read_text(encoding="utf-8").split()[1]
    else:
        password = secrets.token_urlsafe(12)
        machine.file(kept, f"{PREVIEWS_LOGIN} {password}\n", 0o600, USER)
        steps.say(f"mot de passe des aperçus ({PREVIEWS_LOGIN}, dans {kept})", "créé")
    line = htpasswd.read_text(encoding="utf-8").strip() if htpasswd.is_file() else ""
    login, _, digest = line.partition(":")
    if login == PREVIEWS_LOGIN and digest and bcrypt.checkpw(password.encode(), digest.encode()):
        steps.say(f"mots de passe des aperçus {htpasswd}", "inchangé")
        return
    group = nginx_group() if machine.real else None
    state = machine.file(htpasswd, f"{PREVIEWS_LOGIN}:{hash_secret(password)}\n", 0o640 if machine.real else 0o644, None, group)
    steps.say(f"mots de passe des aperçus {htpasswd}", state)


def repository(machine: Machine, steps: Steps, source: Path) -> None:
    """The bare repository the editors push to, seeded once with the clone's commit, and the published work tree."""
    layout = machine.layout
    if not (layout.depot / "HEAD").is_file():
        must([*GIT, "init", "-q", "--bare", "--initial-branch=main", str(layout.depot)], "Création du dépôt")
        must([*GIT, "config", "receive.denyNonFastForwards", "true"], "Réglage du dépôt", cwd=layout.depot)
        head = must([*GIT, "rev-parse", "HEAD"], f"{source} n'est pas un clone git du projet", cwd=source).strip()
        must(
            [*GIT, "push", "-q", "--no-verify", str(layout.depot), f"{head}:refs/heads/main"],
            "Premier envoi au dépôt",
            cwd=source,
        )
        steps.say(f"dépôt des rédacteurs {layout.depot}", "créé")
    else:
        steps.say(f"dépôt des rédacteurs {layout.depot}", "inchangé")
    if not (layout.work / ".git").is_dir():
        must([*GIT, "clone", "-q", "--branch", "main", str(layout.depot), str(layout.work)], "Copie de travail publiée")
        steps.say(f"copie publiée {layout.work}", "créé")
    else:
        steps.say(f"copie publiée {layout.work}", "inchangé")
    if machine.real:
        must(["chown", "-R", f"{USER}:{USER}", str(layout.depot), str(layout.work)], "Propriétaire du dépôt")


def hooks(machine: Machine, steps: Steps, installation: Installation) -> None:
    layout = machine.layout
    for hook, action in (("pre-receive", "avant"), ("post-receive", "apres")):
        text = (
            "#!/bin/sh\n"
            f"# Écrit par « build.py installer » : {'vérifie chaque envoi' if action == 'avant' else 'publie ce qui a été accepté'}.\n"
            f"exec {shlex.quote(installation.python)} -m plugins.deploy.hooks {action} {shlex.quote(str(layout.record))}\n"
        )
        steps.say(f"crochet {hook}", machine.file(layout.depot / "hooks" / hook, text, 0o755, USER))


def authorized_keys(machine: Machine, steps: Steps, installation: Installation) -> None:
    """One line per person, tagged with their name: a push over SSH runs git-shell, knowing who pushes."""
    lines = ["# Écrit par « build.py installer » (--cle NOM=FICHIER.pub) : une clé par personne."]
    for person, key in sorted(installation.keys.items()):
        command = f"FEDERATION_PUSHER='{person}' exec git-shell -c \\\"$SSH_ORIGINAL_COMMAND\\\""
        lines.append(f'command="{command}",restrict {key}')
    machine.folder(machine.layout.authorized_keys.parent, 0o700)
    steps.say(
        f"clés SSH des rédacteurs ({len(installation.keys)})",
        machine.file(machine.layout.authorized_keys, "\n".join(lines) + "\n", 0o600, USER),
    )


def python_packages(machine: Machine, steps: Steps, installation: Installation, source: Path, fingerprint: str) -> None:
    """A virtual environment with the engine and its pinned packages (for real), reinstalled when the code changed."""
    if not machine.real:
        steps.note(f"  environnement Python : celui qui lance l'installateur ({installation.python})")
        return
    venv = machine.layout.venv
    marker = venv / ENGINE_MARKER
    if (venv / "bin" / "python").exists() and marker.is_file() and marker.read_text(encoding="utf-8") == fingerprint:
        steps.say(f"paquets Python ({venv})", "inchangé")
        return
    if not (venv / "bin" / "python").exists():
        must(["python3", "-m", "venv", str(venv)], "Création de l'environnement Python")
    must(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(source)], "Paquets Python"
    )
    marker.write_text(fingerprint, encoding="utf-8")
    steps.say(f"paquets Python ({venv})", "modifié" if installation.code else "créé")


def migrate(machine: Machine, steps: Steps, installation: Installation, values: Mapping[str, str], fingerprint: str) -> None:
    """After a code update, take a backup, then open every store with the new code (which migrates it in a transaction)."""
    layout = machine.layout
    stores = [p for p in (layout.db, layout.ledger) if p.is_file()]
    if not stores:
        return
    if installation.code and installation.code != fingerprint:
        try:
            archive = take_backup(layout.backups, values, datetime.now().astimezone(), say=lambda line: None)
        except BackupError as exc:
            raise InstallError(
                f"Sauvegarde avant la mise à jour des bases impossible : {exc} ; les bases n'ont pas été touchées."
            ) from None
        steps.say(f"sauvegarde avant mise à jour ({archive.name})", "créé")
    try:
        if layout.db.is_file():
            for store in (ReaderStore, RegistrationBook, ApplicationBook, AccountStore):
                store(layout.db)
            Outbox(layout.db)
        if layout.ledger.is_file():
            SendLedger(layout.ledger).close()
    except Exception as exc:  # noqa: BLE001 - any failure leaves the stores as the backup has them
        raise InstallError(
            f"La mise à jour des bases a échoué ({exc}) : chaque migration se fait en une transaction, les bases sont "
            f"restées comme avant ; la sauvegarde prise juste avant est dans {layout.backups}."
        ) from None
    steps.say("bases du service (à jour pour ce code)", "inchangé" if installation.code == fingerprint else "modifié")


def first_build(machine: Machine, steps: Steps, installation: Installation) -> None:
    layout = machine.layout
    if (layout.sites / "public" / "index.html").is_file() and (layout.sites / "adherents" / "index.html").is_file():
        steps.say("sites construits", "inchangé")
        return
    built = machine.as_user(
        [installation.python, str(layout.work / "build.py"), "--project", str(layout.work), "build"], cwd=layout.work
    )
    if built.returncode != 0:
        raise InstallError(f"La première construction a échoué :\n{built.stderr.strip()}")
    steps.say(f"sites construits dans {layout.sites}", "créé")


def nginx(machine: Machine, steps: Steps, installation: Installation, values: Mapping[str, str]) -> bool:
    """Write nginx's configuration through `build.py server`, with the certificate if there is one; return whether TLS is on."""
    layout = machine.layout
    certificate, key = layout.certificate(installation.public_name)
    https = certificate.is_file() and key.is_file()
    before = {p.name: p.read_bytes() for p in layout.nginx.glob("*") if p.is_file()} if layout.nginx.is_dir() else {}
    listen = installation.https_listen if https else installation.http_listen
    command = [
        installation.python,
        str(layout.work / "build.py"),
        "--project",
        str(layout.work),
        "server",
        "--db",
        str(layout.db),
        "--dest",
        str(layout.nginx),
        "--site",
        str(layout.sites),
        "--public-name",
        installation.public_name,
        "--members-name",
        installation.members_name,
        "--service",
        f"127.0.0.1:{installation.service_port}",
        "--public-listen",
        listen,
        "--members-listen",
        listen,
        "--acme-root",
        str(layout.acme),
        "--access-log",
        str(layout.access_log),
        "--journal-audience",
        str(layout.audience_log),
        "--apercus",
        str(layout.previews / "www"),
        "--apercus-htpasswd",
        str(layout.nginx / "apercus.htpasswd"),
    ]
    if https:
        command += ["--certificate", str(certificate), "--certificate-key", str(key)]
        command += ["--public-http-listen", installation.http_listen, "--members-http-listen", installation.http_listen]
    written = run(command, env={**environment.current(), **values}, cwd=layout.work)
    if written.returncode != 0:
        raise InstallError(f"La configuration nginx n'a pas pu être écrite :\n{written.stderr.strip()}")
    if machine.real:  # `server --db` may have made the service's base, as root: it is the service's
        must(["chown", "-R", f"{USER}:{USER}", str(layout.private)], "Propriétaire du dossier privé")
    after = {p.name: p.read_bytes() for p in layout.nginx.glob("*") if p.is_file()}
    steps.say(f"configuration nginx {layout.nginx}", "inchangé" if before == after else ("modifié" if before else "créé"))
    rotation = (
        f"# Écrit par « build.py installer » : le journal des pages lues (sans adresse), gardé deux mois.\n"
        f"{layout.audience_log} {{\n    daily\n    rotate 62\n    missingok\n    notifempty\n    compress\n"
        "    delaycompress\n    postrotate\n        invoke-rc.d nginx rotate >/dev/null 2>&1 || true\n    endscript\n}\n"
    )
    steps.say(f"rotation du journal des pages {layout.logrotate}", machine.file(layout.logrotate, rotation, 0o644))
    include = f"# Écrit par « build.py installer ».\ninclude {layout.nginx / 'nginx.conf'};\n"
    steps.say(f"inclusion {layout.nginx_include}", machine.file(layout.nginx_include, include, 0o644))
    if machine.real:
        tested = run(["nginx", "-t"])
        if tested.returncode != 0:
            for name, data in before.items():
                (layout.nginx / name).write_bytes(data)
            raise InstallError(f"nginx refuse la configuration (l'ancienne est remise) :\n{tested.stderr.strip()}")
        must(["systemctl", "reload-or-restart", "nginx"], "Rechargement de nginx")
    return https


def certbot_command(installation: Installation) -> list[str]:
    layout = installation.layout
    command = ["certbot", "certonly", "--webroot", "-w", str(layout.acme)]
    command += ["-d", installation.public_name, "-d", installation.members_name, "--cert-name", installation.public_name]
    command += ["--email", installation.staff_email, "--agree-tos", "--no-eff-email", "-n", "--keep-until-expiring"]
    command += ["--deploy-hook", "systemctl reload nginx"]
    if installation.acme_server:
        command += ["--server", installation.acme_server]
    if layout.root != Path("/"):
        for option, folder in (
            ("--config-dir", "/etc/letsencrypt"),
            ("--work-dir", "/var/lib/letsencrypt"),
            ("--logs-dir", "/var/log/letsencrypt"),
        ):
            command += [option, str(layout.at(folder))]
    return command


def tls(machine: Machine, steps: Steps, installation: Installation, values: Mapping[str, str], https: bool) -> None:
    if https:
        steps.say(f"certificat TLS de {installation.public_name}", "inchangé")
        return
    command = certbot_command(installation)
    shown = " ".join(shlex.quote(c) for c in command)
    if not machine.real:
        steps.note(f"  certificat TLS : non demandé (--racine) ; la commande serait :\n    {shown}")
        return
    got = run(command)
    if got.returncode != 0:
        raise InstallError(
            "Le certificat n'a pas pu être obtenu (les deux noms pointent-ils vers ce serveur, le port 80 est-il ouvert ?) ;"
            f" les sites restent servis en HTTP. Relancez l'installateur une fois corrigé.\n{got.stderr.strip()}"
        )
    steps.say(f"certificat TLS de {installation.public_name}", "créé")
    nginx(machine, steps, installation, values)
    # certbot's own timer (certbot.timer, enabled by Debian's package) renews; its deploy hook reloads nginx.


def units(machine: Machine, steps: Steps, installation: Installation, values: Mapping[str, str]) -> list[str]:
    """Write the units and timers; return those that changed."""
    layout = machine.layout
    changed = []
    for name, text in unit_files(installation, imap=bool(values.get("IMAP_HOST"))).items():
        state = machine.file(layout.units / name, text, 0o644)
        steps.say(f"unité {name}", state)
        if state != "inchangé":
            changed.append(name)
    if machine.real:
        verified = run(["systemd-analyze", "verify", *(str(layout.units / n) for n in UNITS)])
        if verified.returncode != 0:
            raise InstallError(f"systemd-analyze verify refuse les unités :\n{verified.stderr.strip()}")
    return changed


def start(machine: Machine, steps: Steps, installation: Installation, restart: bool, imap: bool) -> None:
    timers = ["federation-build.timer", "federation-lettres.timer", "federation-sauvegarde.timer"]
    timers += ["federation-retours.timer"] if imap else []
    if not machine.real:
        steps.note("  systemctl : non lancé (--racine) ; en vrai : daemon-reload, enable --now du service et des minuteurs")
        return
    must(["systemctl", "daemon-reload"], "systemctl daemon-reload")
    must(["systemctl", "enable", "--now", "federation-service.service", *timers], "Démarrage des services")
    if restart:
        must(["systemctl", "restart", "federation-service.service"], "Redémarrage du service")
        steps.say("service des lecteurs (redémarré)", "modifié")


def dns_records(installation: Installation, values: Mapping[str, str], public_key: str) -> list[str]:
    domain = values["DKIM_DOMAIN"]
    relay = values.get("SMTP_HOST", "")
    return [
        "À publier dans le DNS du domaine d'envoi (une fois ; vérifiez avec « build.py diagnostic ») :",
        f'  SPF   {domain}. TXT "v=spf1 a:{relay} -all"   (ou l\'« include: » que donne votre prestataire SMTP)',
        f'  DKIM  {values["DKIM_SELECTOR"]}._domainkey.{domain}. TXT "v=DKIM1; k=rsa; p={public_key}"',
        f'  DMARC _dmarc.{domain}. TXT "v=DMARC1; p=none; rua=mailto:{installation.staff_email}"',
    ]


# --- the command ----------------------------------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> argparse.Namespace:
    speak_french()
    p = argparse.ArgumentParser(
        prog="build.py installer",
        description="Installe la fédération sur ce serveur Debian (à lancer en root depuis un clone du dépôt) ; relancée, "
        "ne change que ce qui doit l'être.",
    )
    p.add_argument(
        "--racine", type=Path, help="installe sous ce dossier comme s'il était « / » (essais : rien d'autre n'est touché)"
    )
    p.add_argument(
        "--email-equipe", help="adresse de l'équipe pour Let's Encrypt et les rapports DMARC (défaut : extra.federation.email)"
    )
    p.add_argument(
        "--exploitant",
        action="append",
        default=None,
        metavar="NOM",
        help="personne autorisée à changer le code par un envoi (répétable)",
    )
    p.add_argument(
        "--cle", action="append", default=[], metavar="NOM=FICHIER.pub", help="clé SSH publique d'une personne (répétable)"
    )
    p.add_argument("--retirer-cle", action="append", default=[], metavar="NOM", help="retire la clé de cette personne")
    p.add_argument("--ecoute-http", default=None, metavar="[HÔTE:]PORT", help="écoute HTTP des deux sites (défaut : 80)")
    p.add_argument("--ecoute-https", default=None, metavar="[HÔTE:]PORT", help="écoute HTTPS des deux sites (défaut : 443)")
    p.add_argument("--port-service", type=int, default=None, help="port du service des lecteurs sur 127.0.0.1 (défaut : 8025)")
    p.add_argument("--acme-serveur", default=None, metavar="URL", help="serveur ACME (défaut : celui de Let's Encrypt)")
    return p.parse_args(list(argv))


def read_keys(given: Sequence[str], removed: Sequence[str], keys: dict[str, str]) -> dict[str, str]:
    keys = dict(keys)
    for item in given:
        person, _, file = item.partition("=")
        person = person.strip()
        if not file or not PERSON.fullmatch(person):
            raise InstallError(f"--cle « {item} » : attendu NOM=FICHIER.pub, NOM en lettres, chiffres, espaces, points ou tirets")
        try:
            key = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InstallError(f"--cle {person} : {file} illisible ({exc.strerror})") from None
        if "\n" in key or not re.match(
            r"(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh.com) [A-Za-z0-9+/=]+( |\Z)", key
        ):
            raise InstallError(f"--cle {person} : {file} n'est pas une clé publique SSH d'une ligne (ssh-ed25519 AAAA…)")
        keys[person] = " ".join(key.split()[:2]) + f" {person.replace(' ', '_')}"
    for person in removed:
        if person not in keys:
            raise InstallError(f"--retirer-cle {person} : aucune clé à ce nom ({', '.join(sorted(keys)) or 'aucune'})")
        del keys[person]
    return keys


def main(argv: Sequence[str], source: Path) -> int:
    args = parse(argv)
    real = args.racine is None
    if real and os.geteuid() != 0:
        print(
            "L'installation se lance en root (sudo) ; « --racine DOSSIER » installe sous un dossier, pour essayer.",
            file=sys.stderr,
        )
        return 1
    root = Path("/") if real else args.racine.resolve()
    if not real and not root.is_dir():
        print(f"--racine : {root} n'existe pas (créez-le, vide, pour un essai).", file=sys.stderr)
        return 1
    layout = Layout(root)
    try:
        previous: Installation | None = Installation.load(layout.record) if layout.record.exists() else None
    except InstallationMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        settings = read_mkdocs_yml(layout.work if (layout.work / "mkdocs.yml").is_file() else source)
    except SettingsError as exc:
        print(f"{exc}\nRien n'a été installé.", file=sys.stderr)
        return 1
    public, members = (re.sub(r"^https?://([^/:]+).*", r"\1", u) for u in (settings.public_url, settings.members_url))
    staff = args.email_equipe or (previous.staff_email if previous else "") or settings.email
    if not staff or "@" not in staff:
        print(
            "Adresse de l'équipe introuvable : donnez --email-equipe (ou extra.federation.email dans mkdocs.yml).",
            file=sys.stderr,
        )
        return 1
    python = str(layout.venv / "bin" / "python") if real else sys.executable
    installation = Installation(
        root=str(root),
        python=python,
        public_name=public,
        members_name=members,
        staff_email=staff,
        http_listen=args.ecoute_http or (previous.http_listen if previous else "80"),
        https_listen=args.ecoute_https or (previous.https_listen if previous else "443"),
        service_port=args.port_service or (previous.service_port if previous else 8025),
        acme_server=args.acme_serveur if args.acme_serveur is not None else (previous.acme_server if previous else ""),
        operators=args.exploitant if args.exploitant is not None else (previous.operators if previous else []),
        keys=previous.keys if previous else {},
        code=previous.code if previous else "",
    )
    machine = Machine(layout, real)
    steps = Steps()
    fingerprint = engine_fingerprint(source)
    print(f"Installation de « {settings.site_name} » sous {root} ({public}, {members}) :", flush=True)
    try:
        for person in installation.operators:
            if not PERSON.fullmatch(person):
                raise InstallError(f"--exploitant « {person} » : un nom en lettres, chiffres, espaces, points ou tirets")
        installation.keys = read_keys(args.cle, args.retirer_cle, installation.keys)
        packages(machine, steps)
        system_user(machine, steps)
        folders(machine, steps)
        sender_domain = settings.sender_email.rpartition("@")[2] or public
        values = settings_values(layout, environment.current(), sender_domain)
        env_state = machine.file(layout.env_file, env_file_text(values), 0o600, USER)
        steps.say(f"réglages et secrets {layout.env_file}", env_state)
        public_key = dkim_key(machine, steps)
        previews_password(machine, steps)
        repository(machine, steps, source)
        hooks(machine, steps, installation)
        authorized_keys(machine, steps, installation)
        python_packages(machine, steps, installation, source, fingerprint)
        migrate(machine, steps, installation, values, fingerprint)
        first_build(machine, steps, installation)
        https = nginx(machine, steps, installation, values)
        tls(machine, steps, installation, values, https)
        changed_units = units(machine, steps, installation, values)
        code_changed = installation.code != fingerprint
        installation.code = fingerprint
        steps.say(f"description de l'installation {layout.record}", machine.file(layout.record, installation.text(), 0o644))
        start(
            machine,
            steps,
            installation,
            restart=bool(previous) and (code_changed or env_state != "inchangé" or bool(changed_units)),
            imap=bool(values.get("IMAP_HOST")),
        )
    except InstallError as exc:
        print(f"\nÀ CORRIGER : {exc}", file=sys.stderr)
        return 1
    if source.resolve() != layout.work.resolve() and engine_fingerprint(layout.work) != fingerprint:
        print(
            f"\nAttention : le code de {source} n'est pas celui de la copie publiée ({layout.work}), que font tourner le "
            "service et les constructions. Envoyez-le au dépôt (git push, par un·e exploitant·e), puis relancez "
            f"l'installateur depuis {layout.work}."
        )
    print()
    for line in dns_records(installation, values, public_key):
        print(line)
    print()
    if steps.changed == 0:
        print("Rien n'a changé : l'installation était déjà à jour.")
    else:
        print(f"Installation terminée ({steps.changed} changement{'s' if steps.changed > 1 else ''}).")
    print(f"Dépôt des rédacteurs : {USER}@{public}:{layout.depot}  —  vérifiez tout avec « build.py diagnostic ».")
    return 0
