"""`build.py diagnostic`: what is wrong with an installed federation, in French, with the command that fixes it.

One line per check, « OK » or « À CORRIGER : … » followed by what to run. The exit status is 1
when something must be fixed. Under `--racine` the checks that need the real machine (systemctl,
certbot's timer) say so instead of pretending; everything else is checked the same way.
"""

from __future__ import annotations

import base64
import http.client
import shutil
import sqlite3
import ssl
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from plugins.deploy.backup import NAME
from plugins.deploy.hooks import last_publications
from plugins.deploy.install import read_env_file
from plugins.deploy.layout import Installation
from plugins.mail.transport import POLICY, LostDuringData, PermanentFailure, SmtpSettings, SmtpTransport, TemporaryFailure

CERTIFICATE_DAYS = 20
BACKUP_HOURS = 36
FREE_BYTES = 1_000_000_000


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""  # for a problem: the command or the step that fixes it

    def line(self) -> str:
        if self.ok:
            return f"OK          {self.what}"
        return f"À CORRIGER : {self.what}" + (f"\n             → {self.fix}" if self.fix else "")


def listen_address(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host or "127.0.0.1", int(port)


def fetch(installation: Installation, host: str, path: str, https: bool) -> tuple[int, bytes]:
    """GET a page from nginx as a browser would ask for that host; (0, reason) when nobody answers."""
    address, port = listen_address(installation.https_listen if https else installation.http_listen)
    if https:
        context = ssl.create_default_context()
        context.check_hostname = False  # the certificate is checked on its own, by name and date
        context.verify_mode = ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(address, port, timeout=10, context=context)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": "build.py diagnostic"})
        response = connection.getresponse()
        return response.status, response.read()
    except OSError as exc:
        return 0, str(exc).encode()
    finally:
        connection.close()


class Diagnosis:
    def __init__(self, installation: Installation, real: bool, test_to: str | None, now: datetime) -> None:
        self.installation, self.real, self.test_to, self.now = installation, real, test_to, now
        self.layout = installation.layout
        self.env: Mapping[str, str] = read_env_file(self.layout.env_file)

    def checks(self) -> Iterator[Callable[[], list[Finding]]]:
        yield self.nginx
        yield self.certificate
        yield self.sites_served
        yield self.service
        yield self.smtp
        yield self.dkim
        yield self.stores
        yield self.backup
        yield self.publications
        yield self.timers
        yield self.permissions
        yield self.disk

    def run(self, say: Callable[[str], None] = print) -> int:
        problems = 0
        for check in self.checks():
            try:
                findings = check()
            except Exception as exc:  # noqa: BLE001 - a check that breaks is itself a finding, the others still run
                findings = [Finding(False, f"{check.__name__} : la vérification a échoué ({exc})")]
            for finding in findings:
                say(finding.line())
                problems += not finding.ok
        say("")
        say("Rien à corriger." if problems == 0 else f"{problems} point{'s' if problems > 1 else ''} à corriger.")
        return 1 if problems else 0

    # --- nginx, TLS and what is served ---------------------------------------------------------------------------

    def nginx(self) -> list[Finding]:
        conf = self.layout.nginx / "nginx.conf"
        if not conf.is_file() or not self.layout.nginx_include.is_file():
            return [Finding(False, f"configuration nginx absente ({conf})", "relancez « build.py installer »")]
        if self.real:
            tested = subprocess.run(["nginx", "-t"], capture_output=True, text=True, check=False)
        else:
            with tempfile.TemporaryDirectory(prefix="diagnostic-nginx-") as tmp:
                main = Path(tmp) / "nginx.conf"
                main.write_text(
                    f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
                    f"http {{\n    include {self.layout.nginx_include};\n}}\n",
                    encoding="utf-8",
                )
                tested = subprocess.run(
                    ["nginx", "-t", "-q", "-p", tmp, "-c", str(main), "-e", f"{tmp}/error.log"],
                    capture_output=True,
                    text=True,
                    check=False,
                )
        if tested.returncode != 0:
            reason = (tested.stderr.strip().splitlines() or ["?"])[-1]
            return [
                Finding(False, f"nginx refuse sa configuration : {reason}", "relancez « build.py installer » (il la réécrit)")
            ]
        return [Finding(True, "configuration nginx valide (nginx -t)")]

    def certificate(self) -> list[Finding]:
        certificate, _key = self.layout.certificate(self.installation.public_name)
        if not certificate.is_file():
            if not self.real:
                return [Finding(True, "certificat : aucun sous --racine (servi en HTTP)")]
            return [Finding(False, f"aucun certificat pour {self.installation.public_name}", "relancez « build.py installer »")]
        end = subprocess.run(
            ["openssl", "x509", "-in", str(certificate), "-noout", "-enddate", "-ext", "subjectAltName"],
            capture_output=True,
            text=True,
            check=False,
        )
        if end.returncode != 0:
            return [Finding(False, f"certificat illisible : {certificate}", "relancez « build.py installer »")]
        date = end.stdout.split("notAfter=", 1)[1].splitlines()[0].strip()
        expires = datetime.strptime(date, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=UTC)
        findings = []
        left = expires - self.now
        renew = "certbot renew (puis vérifiez « systemctl status certbot.timer »)"
        if left < timedelta(days=CERTIFICATE_DAYS):
            state = "expiré" if left.total_seconds() < 0 else f"expire dans {left.days} jours"
            findings.append(Finding(False, f"certificat de {self.installation.public_name} {state} ({expires:%d/%m/%Y})", renew))
        else:
            findings.append(Finding(True, f"certificat valable jusqu'au {expires:%d/%m/%Y} ({left.days} jours)"))
        for name in (self.installation.public_name, self.installation.members_name):
            if f"DNS:{name}" not in end.stdout:
                findings.append(Finding(False, f"le certificat ne couvre pas {name}", "relancez « build.py installer »"))
        if self.real:
            enabled = subprocess.run(["systemctl", "is-enabled", "certbot.timer"], capture_output=True, text=True, check=False)
            if enabled.stdout.strip() != "enabled":
                findings.append(
                    Finding(
                        False,
                        "le minuteur de renouvellement certbot.timer n'est pas activé",
                        "systemctl enable --now certbot.timer",
                    )
                )
            else:
                findings.append(Finding(True, "renouvellement automatique activé (certbot.timer)"))
        return findings

    def https(self) -> bool:
        return self.layout.serves_https()

    def sites_served(self) -> list[Finding]:
        host = self.installation.public_name
        built = self.layout.sites / "public" / "index.html"
        status, body = fetch(self.installation, host, "/", self.https())
        if status == 0:
            reason = body.decode(errors="replace")
            return [
                Finding(False, f"nginx ne répond pas pour {host} ({reason})", "systemctl restart nginx ; journalctl -u nginx")
            ]
        if status != 200 or not built.is_file() or body != built.read_bytes():
            return [
                Finding(
                    False, f"{host} ne sert pas la dernière construction (réponse {status})", "relancez « build.py installer »"
                )
            ]
        return [Finding(True, f"{host} servi par nginx : la dernière construction")]

    def service(self) -> list[Finding]:
        """The members' site asks the service about each request (auth_request): a 401 without a password is its answer."""
        host = self.installation.members_name
        status, _ = fetch(self.installation, host, "/", self.https())
        if status == 401:
            return [Finding(True, f"{host} servi derrière un mot de passe vérifié par le service des lecteurs")]
        fix = (
            "systemctl restart federation-service ; journalctl -u federation-service"
            if self.real
            else "lancez « build.py service »"
        )
        return [Finding(False, f"{host} : le service des lecteurs ne répond pas par nginx (réponse {status or 'aucune'})", fix)]

    # --- mail -------------------------------------------------------------------------------------------------------

    def smtp(self) -> list[Finding]:
        """Connect, TLS and log in as `send` does (plugins/mail/transport.py); a real message only with --envoi-test."""
        fix = f"vérifiez SMTP_* dans {self.layout.env_file}, puis relancez « build.py installer »"
        try:
            settings = SmtpSettings.from_env(dict(self.env))
        except ValueError as exc:
            return [Finding(False, str(exc), fix)]
        if settings is None:
            return [Finding(False, "SMTP_HOST absent des réglages", f"relancez « build.py installer » (il le demande) ; {fix}")]
        where = f"relais SMTP {settings.host}:{settings.port}"
        transport = SmtpTransport(settings)
        try:
            transport.open()
            if self.test_to:
                sender = f"diagnostic@{self.env.get('DKIM_DOMAIN', 'localhost')}"
                message = EmailMessage(policy=POLICY)
                message["From"], message["To"] = sender, self.test_to
                message["Subject"] = "Message d'essai de build.py diagnostic"
                message["Date"] = formatdate(localtime=True)
                message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
                message.set_content(
                    "Ce message vérifie l'envoi depuis le serveur de la fédération. Il n'appelle pas de réponse.\n"
                )
                transport.send(sender, self.test_to, message.as_bytes(), lambda: None)
        except (TemporaryFailure, PermanentFailure, LostDuringData) as exc:
            return [Finding(False, f"{where} : {exc}", fix)]
        finally:
            transport.close()
        login = ", identifiant accepté" if settings.user else ""
        findings = [Finding(True, f"{where} joignable ({settings.security}{login})")]
        if self.test_to:
            findings.append(Finding(True, f"message d'essai remis au relais pour {self.test_to}"))
        return findings

    def dkim(self) -> list[Finding]:
        key = Path(self.env.get("DKIM_KEY_FILE", "") or self.layout.dkim_key)
        pub = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], capture_output=True, check=False)
        if pub.returncode != 0:
            return [
                Finding(
                    False,
                    f"clé DKIM illisible : {key}",
                    f"restaurez-la depuis une sauvegarde (« build.py restaurer ») ; sans elle, {self.env.get('DKIM_DOMAIN', '')} ne signe plus",
                )
            ]
        bits = subprocess.run(
            ["openssl", "pkey", "-in", str(key), "-noout", "-text"], capture_output=True, text=True, check=False
        ).stdout
        if "2048 bit" not in bits and "4096 bit" not in bits:
            return [Finding(False, f"clé DKIM trop courte : {key}", "une clé RSA de 2048 bits au moins")]
        record = f"{self.env.get('DKIM_SELECTOR', '')}._domainkey.{self.env.get('DKIM_DOMAIN', '')}"
        value = base64.b64encode(pub.stdout).decode()
        return [Finding(True, f'clé DKIM valable ; l\'enregistrement à publier : {record} TXT "v=DKIM1; k=rsa; p={value[:24]}…"')]

    # --- data -------------------------------------------------------------------------------------------------------

    def stores(self) -> list[Finding]:
        findings = []
        for path, what in ((self.layout.db, "base du service"), (self.layout.ledger, "registre des envois")):
            if not path.is_file():
                findings.append(Finding(True, f"{what} : pas encore créée ({path})"))
                continue
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
                try:
                    result = db.execute("PRAGMA integrity_check").fetchall()
                finally:
                    db.close()
            except sqlite3.DatabaseError as exc:
                result = [(str(exc),)]
            if result == [("ok",)]:
                findings.append(Finding(True, f"{what} intègre (integrity_check)"))
            else:
                latest = self.latest_backup()
                fix = (
                    f"build.py restaurer {latest}"
                    if latest
                    else "aucune sauvegarde : « build.py sauvegarde » ne peut rien pour elle"
                )
                findings.append(Finding(False, f"{what} abîmée ({path}) : {result[0][0]}", fix))
        return findings

    def latest_backup(self) -> Path | None:
        if not self.layout.backups.is_dir():
            return None
        archives = sorted((p for p in self.layout.backups.iterdir() if NAME.fullmatch(p.name)), key=lambda p: p.name)
        return archives[-1] if archives else None

    def backup(self) -> list[Finding]:
        latest = self.latest_backup()
        fix = "build.py sauvegarde" + (" ; puis systemctl status federation-sauvegarde.timer" if self.real else "")
        if latest is None:
            return [Finding(False, f"aucune sauvegarde dans {self.layout.backups}", fix)]
        made = datetime.strptime(NAME.fullmatch(latest.name)[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)  # type: ignore[index]
        age = self.now - made
        hours = int(age.total_seconds() // 3600)
        if age > timedelta(hours=BACKUP_HOURS):
            return [Finding(False, f"la dernière sauvegarde a {hours} heures ({latest.name})", fix)]
        return [Finding(True, f"dernière sauvegarde il y a {hours} h ({latest.name})")]

    def publications(self) -> list[Finding]:
        entries = last_publications(self.installation, 200)
        findings = []
        for label, mine in (
            ("dernière publication", lambda e: e.get("branche") == "main" and e.get("qui") != "minuteur"),
            ("dernière reconstruction de la nuit", lambda e: e.get("qui") == "minuteur"),
        ):
            found = [e for e in entries if mine(e)]
            if not found:
                findings.append(Finding(True, f"{label} : aucune encore"))
                continue
            last = found[-1]
            if last.get("resultat") == "publié":
                findings.append(Finding(True, f"{label} réussie ({last['quand']}, {last.get('qui')}, {last.get('duree_s')} s)"))
            else:
                reason = (last.get("erreur") or "").strip().splitlines()[-1:] or ["?"]
                findings.append(
                    Finding(False, f"{label} en échec ({last['quand']}) : {reason[0]}", f"lisez {self.layout.publications}")
                )
        return findings

    def timers(self) -> list[Finding]:
        if not self.real:
            return [Finding(True, "minuteurs : non vérifiés sous --racine (pas de systemctl)")]
        findings = []
        timers = ["federation-build", "federation-lettres", "federation-sauvegarde"]
        timers += ["federation-retours"] if self.env.get("IMAP_HOST") else []
        for name in timers:
            enabled = subprocess.run(
                ["systemctl", "is-enabled", f"{name}.timer"], capture_output=True, text=True, check=False
            ).stdout.strip()
            result = subprocess.run(
                ["systemctl", "show", "-p", "Result", "--value", f"{name}.service"], capture_output=True, text=True, check=False
            ).stdout.strip()
            if enabled != "enabled":
                findings.append(Finding(False, f"{name}.timer n'est pas activé", f"systemctl enable --now {name}.timer"))
            elif result not in ("success", ""):
                findings.append(
                    Finding(False, f"{name} : dernier lancement en échec ({result})", f"journalctl -u {name}.service")
                )
            else:
                findings.append(Finding(True, f"{name}.timer activé, dernier lancement réussi"))
        active = subprocess.run(
            ["systemctl", "is-active", "federation-service"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if active != "active":
            state = active or "injoignable (systemctl ne répond pas)"
            findings.append(Finding(False, f"federation-service est {state}", "systemctl restart federation-service"))
        return findings

    def permissions(self) -> list[Finding]:
        findings = []
        wanted = [
            (self.layout.private, 0o700),
            (self.layout.backups, 0o700),
            (self.layout.env_file, 0o600),
            (self.layout.dkim_key, 0o600),
        ]
        wanted += [(p, 0o600) for p in (self.layout.db, self.layout.ledger) if p.exists()]
        for path, mode in wanted:
            if not path.exists():
                findings.append(Finding(False, f"{path} manque", "relancez « build.py installer »"))
                continue
            have = stat.S_IMODE(path.stat().st_mode)
            if have & 0o077:
                findings.append(
                    Finding(False, f"{path} est lisible par d'autres (mode {have:o}, attendu {mode:o})", f"chmod {mode:o} {path}")
                )
        if not findings:
            findings.append(Finding(True, "secrets, bases et sauvegardes lisibles par federation seul"))
        return findings

    def disk(self) -> list[Finding]:
        usage = shutil.disk_usage(self.layout.home)
        free = usage.free
        shown = f"{free / 1e9:.1f} Go libres sur {usage.total / 1e9:.0f} Go".replace(".", ",")
        if free < FREE_BYTES or free < usage.total * 0.05:
            return [
                Finding(False, f"disque presque plein : {shown}", f"faites de la place (anciens journaux, {self.layout.backups})")
            ]
        return [Finding(True, f"disque : {shown}")]


def diagnose(installation: Installation, real: bool, test_to: str | None) -> int:
    return Diagnosis(installation, real, test_to, datetime.now(UTC)).run()
