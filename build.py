#!/usr/bin/env python3
"""Publish the federation's sites: build, check, new, serve (messages in French)."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import traceback
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from plugins.base import environment
from plugins.base.french_cli import counted, port_taken, speak_french, typed_command

try:
    from plugins.build.site import federation_settings, quiet_mkdocs
    from plugins.build.sites import build_all
    from plugins.model import ContentError, load_content
    from plugins.settings.federation import SettingsError, read_mkdocs_yml
except ModuleNotFoundError as missing:  # a fresh server: only `installer` runs before the Python packages are there
    MISSING: ModuleNotFoundError | None = missing
else:
    MISSING = None

PROJECT = Path(__file__).resolve().parent


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"« {value} » n'est pas une date AAAA-MM-JJ") from None


def command_build(args: argparse.Namespace) -> int:
    quiet_mkdocs()
    try:
        result = build_all(
            args.project,
            args.output,
            args.today,
            complete=getattr(args, "complet", False),
            on_wait=lambda: print(
                f"Une autre construction est en cours vers {args.output} : attente de sa fin…", file=sys.stderr, flush=True
            ),
        )
    except (ContentError, SettingsError) as exc:
        print(exc.report() if isinstance(exc, ContentError) else str(exc), file=sys.stderr)
        print(f"Le site précédent dans {args.output} est conservé.", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - any failure must keep the old site and say so
        traceback.print_exc()
        print(f"La construction a échoué : {exc}", file=sys.stderr)
        print(f"Le site précédent dans {args.output} est conservé.", file=sys.stderr)
        return 1
    if getattr(args, "bilan", None):  # for the publication hook: what this build rewrote
        args.bilan.write_text(json.dumps({"pages": result.pages, "rewritten": result.rewritten}), encoding="utf-8")
    for name, count in result.pages.items():
        rewritten = result.rewritten[name]
        written = counted(rewritten, "réécrite", "réécrites")
        again = "" if rewritten == count else f" ({written}, les autres reprises de la construction précédente)"
        label = {"public": "public", "adherents": "adhérents"}.get(name, name)
        print(f"Site {label} : {counted(count, 'page', 'pages')} dans {result.output / name}{again}")
    return 0


def command_check(args: argparse.Namespace) -> int:
    try:
        content = load_content(args.project)
        federation_settings(args.project)
    except (ContentError, SettingsError) as exc:
        print(exc.report() if isinstance(exc, ContentError) else str(exc), file=sys.stderr)
        return 1
    counts = {
        "fiches": len(content.sheets),
        "MSP": len(content.msps),
        "offres": len(content.offers),
        "récits": len(content.stories),
        "actualités": len(content.news),
        "événements": len(content.events),
        "lettres": len(content.letters),
        "pages": len(content.pages),
    }
    print("Aucun problème : " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")
    return 0


def command_new(args: argparse.Namespace) -> int:
    from plugins.model.scaffold import ScaffoldError, write_new

    try:
        path = write_new(args.project, args.kind, args.title, args.today, args.audience)
    except ScaffoldError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    own = args.project.resolve() == Path(__file__).resolve().parent  # build.py's default project: its own folder
    check = typed_command(*([] if own else ["--project", str(args.project)]), "check")
    print(f"Fichier créé : {path.relative_to(args.project)} — remplacez chaque « À COMPLÉTER » puis lancez « {check} ».")
    return 0


def command_server(args: argparse.Namespace) -> int:
    from plugins.deploy.csp import content_security_policy
    from plugins.deploy.nginx import NGINX_CONF, ServerSettings, nginx_group, write_server_files
    from plugins.records.password_file import read_accounts, write_htpasswd
    from plugins.service.commands import OperatorError, htpasswd_from_store

    accounts_file = args.accounts or environment.path("FEDERATION_ACCOUNTS")
    db = args.db or environment.path("LETTER_DB")
    if args.service and db is None:
        print(
            "Avec --service, les mots de passe de l'espace adhérents sont vérifiés par le service, dans sa base : "
            "indiquez-la avec --db BASE.sqlite (ou LETTER_DB), la même que celle de « build.py service ».",
            file=sys.stderr,
        )
        return 2
    if accounts_file is None and db is None:
        print(
            "Indiquez les comptes de l'espace adhérents : --accounts FICHIER.csv (ou FEDERATION_ACCOUNTS), "
            "--db BASE.sqlite, la base du service où sont les comptes des adhésions (ou LETTER_DB), ou les deux.",
            file=sys.stderr,
        )
        return 2
    try:
        accounts = read_accounts(accounts_file) if accounts_file else None
    except ContentError as exc:
        print(exc.report("aucun fichier n'a été modifié"), file=sys.stderr)
        return 1
    try:
        federation = federation_settings(args.project)
    except SettingsError as exc:
        print(f"{exc}\nAucun fichier n'a été modifié.", file=sys.stderr)
        return 1
    if bool(args.apercus) != bool(args.apercus_htpasswd) or (args.apercus_htpasswd and not args.apercus_htpasswd.is_file()):
        print(
            "Donnez ensemble --apercus DOSSIER et --apercus-htpasswd FICHIER (existant) ; aucun fichier n'a été modifié.",
            file=sys.stderr,
        )
        return 1
    tls = tls_problem(args)
    if tls:
        print(tls + " ; aucun fichier n'a été modifié.", file=sys.stderr)
        return 1
    site = (args.site or args.project / "site").resolve()
    if not (site / "public" / "index.html").is_file() or not (site / "adherents" / "index.html").is_file():
        print(
            f"Sites introuvables dans {site} : lancez d'abord « build.py » (ou --site) ; aucun fichier n'a été modifié.",
            file=sys.stderr,
        )
        return 1
    dest = args.dest.resolve()
    htpasswd = dest / "htpasswd"
    group = args.group
    if group is None and os.geteuid() == 0 and (not htpasswd.exists() or htpasswd.stat().st_gid == 0):
        # Written by root, the file would be root's: nginx's workers (www-data on Debian) could not read it,
        # and a right password would get nginx's English « 500 Internal Server Error ».
        group = nginx_group()
        if group is None:
            print(
                f"Indiquez le groupe des processus nginx, qui doivent lire {htpasswd} : --group www-data sous Debian "
                f"(aucune ligne « user » lisible dans {NGINX_CONF}) ; aucun fichier n'a été modifié.",
                file=sys.stderr,
            )
            return 1
        print(f"Groupe du fichier htpasswd : {group} (celui des processus nginx, lu dans {NGINX_CONF}).")
    try:
        if db is None:
            summary = write_htpasswd(accounts or [], htpasswd, args.today, args.cost, group)
        else:
            summary = htpasswd_from_store(args.project, db, accounts, htpasswd, args.today, args.cost, group)
    except ContentError as exc:
        print(exc.report("aucun fichier n'a été modifié"), file=sys.stderr)
        return 1
    except OperatorError as exc:
        print(exc, file=sys.stderr)
        return 1
    https = bool(args.certificate)
    settings = ServerSettings(
        site / "public",
        site / "adherents",
        htpasswd,
        args.public_listen or ("443" if https else "80"),
        args.members_listen or ("443" if https else "80"),
        args.public_name,
        args.members_name,
        args.service,
        urlsplit(federation.unsubscribe_url).path or "/",
        # Absolute, never resolved: certbot renews by pointing live/*.pem at new files; a resolved path would keep
        # nginx on the first certificate until it expires.
        certificate=str(args.certificate.absolute()) if https else "",
        certificate_key=str(args.certificate_key.absolute()) if https else "",
        public_http_listen=args.public_http_listen,
        members_http_listen=args.members_http_listen,
        acme_root=str(args.acme_root.resolve()) if args.acme_root else "",
        csp=content_security_policy([site / "public", site / "adherents"], federation.map.tiles),
        access_log=args.access_log,
        audience_log=args.journal_audience or "",
        previews=str(args.apercus.resolve()) if args.apercus else "",
        previews_htpasswd=str(args.apercus_htpasswd.resolve()) if args.apercus_htpasswd else "",
    )
    conf = write_server_files(dest, settings, federation, args.today)
    print(f"Comptes actifs écrits dans {htpasswd} : {summary.written}.")
    if summary.expired:
        print(f"Comptes expirés exclus : {len(summary.expired)} ({', '.join(summary.expired)}).")
    print(f"Configuration nginx écrite dans {conf} : incluez-la dans le bloc http, puis « nginx -s reload ».")
    if not https:
        print(
            "Sans --certificate, les deux sites sont servis en HTTP, en clair : pour un essai local seulement. "
            "En production, donnez --certificate et --certificate-key (mots de passe des adhérents chiffrés)."
        )
    if not args.service:
        print(
            "Sans --service, les formulaires d'inscription et les liens de désinscription des lettres ne répondent pas : "
            "lancez « build.py service » et indiquez son adresse."
        )
    return 0


def tls_problem(args: argparse.Namespace) -> str | None:
    """Return a French line if the TLS options are half given or name missing files."""
    if bool(args.certificate) != bool(args.certificate_key):
        return "Donnez ensemble --certificate et --certificate-key (certificat et clé privée TLS)"
    for path in (args.certificate, args.certificate_key):
        if path and not path.is_file():
            return f"Fichier introuvable : {path}"
    return None


def command_send(args: argparse.Namespace) -> int:
    from plugins.letters.send import RetryPolicy, SendRequest, run_send

    try:
        content = load_content(args.project)
    except ContentError as exc:
        print(exc.report("aucune lettre n'a été envoyée"), file=sys.stderr)
        return 1
    path = lambda value, name: Path(value) if value else environment.path(name)  # noqa: E731
    request = SendRequest(
        letter=args.letter,
        due=args.due,
        subscribers=path(args.subscribers, "LETTER_SUBSCRIBERS"),
        suppressed=path(args.suppressed, "LETTER_SUPPRESSED"),
        ledger=path(args.ledger, "LETTER_LEDGER"),
        store=path(args.db, "LETTER_DB"),
        outbox=path(args.outbox, "LETTER_OUTBOX") or args.project / "outbox",
        rate=args.rate if args.rate is not None else float(environment.text("LETTER_RATE", "10")),
        dry_run=args.dry_run,
        test_to=args.test_to,
        retry_unknown=args.retry_unknown,
        secret=environment.text("LETTER_SECRET"),
        now=args.now,
        retry=RetryPolicy(backoff=float(environment.text("LETTER_RETRY_BACKOFF", "2"))),
    )
    return run_send(content, read_mkdocs_yml(args.project).letters(), request)  # no MkDocs needed to send


def command_service(args: argparse.Namespace) -> int:
    from plugins.service.commands import OperatorError, service_app
    from plugins.service.core import serve

    taken = port_taken(args.host, args.port)
    if taken:
        print(taken, file=sys.stderr)
        return 1
    try:
        app = service_app(args.project, args.db, args.outbox, args.htpasswd)
    except OperatorError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        serve(app, args.host, args.port, ready=lambda line: print(line, flush=True), worker=app.state.service.worker())
    except OSError as exc:
        print(f"Impossible d'écouter sur {args.host}:{args.port} : {exc}", file=sys.stderr)
        return 1
    return 0


def command_readers(args: argparse.Namespace) -> int:
    from plugins.service import commands

    try:
        store = commands.open_store(args.db, args.project, create=args.action == "importer")
        if args.action == "importer":
            return commands.import_csv(store, args.fichier, args.audience)
        if args.action == "exporter":
            return commands.export_readers(store, args.audience, args.sortie)
        if args.action == "historique":
            return commands.show_history(store, args.adresse)
        if args.action == "retours":
            return command_replies(args, store)
        return commands.erase(store, args.adresse)
    except commands.OperatorError as exc:
        print(exc, file=sys.stderr)
        return 1


def command_replies(args: argparse.Namespace, store) -> int:
    from plugins.letters import bounces
    from plugins.letters.send import letter_secret
    from plugins.service import commands

    if args.dossier is not None and not args.dossier.is_dir():
        raise commands.OperatorError(f"Dossier introuvable : {args.dossier}")
    try:
        mailbox = bounces.FolderMailbox(args.dossier) if args.dossier else bounces.imap_from_env()
        content = load_content(args.project)
        secret = letter_secret(environment.text("LETTER_SECRET"), read_mkdocs_yml(args.project).letters())
        return commands.process_replies(store, mailbox, secret, content)
    except (ValueError, bounces.MailboxError) as exc:
        raise commands.OperatorError(str(exc)) from exc
    except ContentError as exc:
        raise commands.OperatorError(exc.report("aucun message n'a été traité")) from exc


def command_registrations(args: argparse.Namespace) -> int:
    from plugins.service import commands

    try:
        if args.action == "rappels":
            return commands.remind(args.db, args.project, args.ledger, args.outbox, args.now)
        return commands.export_registrations(args.db, args.project, args.evenement, args.sortie)
    except commands.OperatorError as exc:
        print(exc, file=sys.stderr)
        return 1


def command_membership(args: argparse.Namespace) -> int:
    from plugins.service import commands

    try:
        return commands.membership_requests(
            args.project,
            args.db,
            args.outbox,
            args.action,
            getattr(args, "numero", None),
            getattr(args, "identifiant", None),
            getattr(args, "fin", None),
            getattr(args, "motif", ""),
            getattr(args, "etat", None),
        )
    except commands.OperatorError as exc:
        print(exc, file=sys.stderr)
        return 1


def installed_environment() -> dict[str, str]:
    """The environment, completed by an installed server's settings file (the stores' places) when root reads it."""
    from plugins.deploy.install import read_env_file
    from plugins.deploy.layout import Layout

    try:
        installed = read_env_file(Layout(Path("/")).env_file)
    except PermissionError:
        installed = {}
    return {**installed, **environment.current()}


def command_backup(args: argparse.Namespace) -> int:
    from plugins.deploy.backup import BackupError, take_backup

    env = installed_environment()
    folder = args.dossier or (Path(env["BACKUP_DIR"]) if env.get("BACKUP_DIR") else None)
    if folder is None:
        print("Où écrire la sauvegarde ? Donnez --dossier DOSSIER ou BACKUP_DIR.", file=sys.stderr)
        return 1
    try:
        take_backup(folder, env, datetime.now().astimezone())
    except BackupError as exc:
        print(exc, file=sys.stderr)
        print("Aucune sauvegarde n'a été écrite.", file=sys.stderr)
        return 1
    return 0


def command_restore(args: argparse.Namespace) -> int:
    from plugins.deploy.backup import BackupError, restore
    from plugins.deploy.layout import Layout

    env = installed_environment()
    # On an installed server the service is stopped around the restore, then started again.
    service = Layout(Path("/")).record.is_file() and os.geteuid() == 0
    if service:
        subprocess.run(["systemctl", "stop", "federation-service"], check=False)
    try:
        print(f"Restauration de {args.archive} :")
        restore(args.archive, env)
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        if service:  # a store written again by root stays the service's
            subprocess.run(["chown", "-R", "federation:federation", env.get("LETTER_DB", "/nonexistent")], check=False)
            subprocess.run(["chown", "federation:federation", *(env[v] for v in ("LETTER_LEDGER",) if env.get(v))], check=False)
            subprocess.run(["systemctl", "start", "federation-service"], check=False)
    print("Restauration terminée : chaque base a passé la vérification d'intégrité.")
    return 0


def command_diagnostic(args: argparse.Namespace) -> int:
    from plugins.deploy.diagnostic import diagnose
    from plugins.deploy.layout import Installation, InstallationMissing, Layout

    real = args.racine is None
    try:
        installation = Installation.load(Layout(Path("/") if real else args.racine.resolve()).record)
    except InstallationMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    return diagnose(installation, real, args.envoi_test)


def command_letters(args: argparse.Namespace) -> int:
    from plugins.letters.report import as_csv, as_html, as_text, reports
    from plugins.mail.ledger import SendLedger
    from plugins.records.clicks import ClickBook
    from plugins.records.readers import ReaderStore

    env = installed_environment()
    if args.mois:
        return month_pages(args, env)
    ledger = args.ledger or (Path(env["LETTER_LEDGER"]) if env.get("LETTER_LEDGER") else None)
    db = args.db or (Path(env["LETTER_DB"]) if env.get("LETTER_DB") else None)
    if ledger is None or not ledger.is_file():
        print(f"Registre des envois introuvable ({ledger or 'ni --ledger ni LETTER_LEDGER'}) : rien à compter.", file=sys.stderr)
        return 1
    if db is not None and not db.is_file():
        print(f"Base du service introuvable : {db} (--db ou LETTER_DB).", file=sys.stderr)
        return 1
    if args.html and args.html.resolve().is_relative_to(args.project / "site"):
        print("Le bilan est pour l'équipe : écrivez-le hors des sites construits (--html).", file=sys.stderr)
        return 1
    found = reports(SendLedger(ledger), ReaderStore(db) if db else None, ClickBook(db) if db else None, args.lettre)
    if args.lettre and not found:
        print(f"Lettre {args.lettre} : aucun envoi dans {ledger}.", file=sys.stderr)
        return 1
    sys.stdout.write(as_csv(found) if args.csv else as_text(found))
    if args.html:
        args.html.write_text(as_html(found), encoding="utf-8")
        print(f"Bilan HTML écrit dans {args.html}.", file=sys.stderr)
    return 0


def month_pages(args: argparse.Namespace, env: dict[str, str]) -> int:
    from plugins.deploy.audience import as_csv, as_text, log_lines, month_audience

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.mois):
        print(f"--mois « {args.mois} » : attendu AAAA-MM, par exemple 2026-12.", file=sys.stderr)
        return 2
    log = args.journal or (Path(env["FEDERATION_AUDIENCE_LOG"]) if env.get("FEDERATION_AUDIENCE_LOG") else None)
    if log is None or not log.is_file():
        print(
            f"Journal des pages introuvable ({log or 'ni --journal ni FEDERATION_AUDIENCE_LOG'}) : "
            "« build.py server --journal-audience FICHIER » le fait écrire par nginx.",
            file=sys.stderr,
        )
        return 1
    try:
        federation = read_mkdocs_yml(args.project)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 1
    hosts = [urlsplit(u).hostname or "" for u in (federation.public_url, federation.members_url)]
    audience = month_audience(log_lines(log), args.mois, *hosts)
    sys.stdout.write(as_csv(audience) if args.csv else as_text(audience))
    return 0


def command_serve(args: argparse.Namespace) -> int:
    from plugins.build.preview import serve

    for port, what in ((args.port, "--port"), (args.port + 1, "--port (l'espace adhérents prend le port suivant)")):
        taken = port_taken(args.host, port, what)
        if taken:
            print(taken, file=sys.stderr)
            return 1
    quiet_mkdocs()
    serve(args.project, args.today, args.host, args.port)
    return 0


def parser() -> argparse.ArgumentParser:
    from plugins.model.scaffold import KINDS

    speak_french()
    p = argparse.ArgumentParser(prog="build.py", description="Construit et publie les sites de la fédération.")
    p.add_argument("--project", type=Path, default=PROJECT, help="dossier du projet (défaut : celui de build.py)")
    p.add_argument("--today", type=parse_day, default=date.today(), help="date du jour AAAA-MM-JJ (défaut : aujourd'hui)")
    sub = p.add_subparsers(dest="command", metavar="COMMANDE", title="commandes")
    b = sub.add_parser("build", help="construit les deux sites (commande par défaut)")
    b.add_argument("--output", type=Path, default=None, help="dossier de sortie (défaut : site/)")
    b.add_argument(
        "--complet",
        action="store_true",
        help="reconstruit chaque page et chaque index de recherche, sans reprendre ceux de la construction précédente",
    )
    b.add_argument("--bilan", type=Path, help=argparse.SUPPRESS)
    sub.add_parser("check", help="vérifie tous les fichiers sans rien construire")
    n = sub.add_parser("new", help="crée un fichier prêt à remplir")
    n.add_argument("kind", choices=sorted(KINDS), metavar="TYPE", help=f"type de contenu : {', '.join(sorted(KINDS))}")
    n.add_argument("title", metavar="TITRE", help="titre (entre guillemets)")
    n.add_argument("--audience", choices=("public", "adherents"), default="adherents", help="pour une lettre")
    a = sub.add_parser("server", help="écrit la configuration nginx et le fichier des comptes de l'espace adhérents")
    a.add_argument(
        "--accounts", type=Path, help="CSV des comptes (login, password ou hash, expires) ; défaut : $FEDERATION_ACCOUNTS"
    )
    a.add_argument(
        "--db", type=Path, help="base du service (SQLite) où sont les comptes des adhésions acceptées ; défaut : $LETTER_DB"
    )
    a.add_argument("--dest", type=Path, required=True, help="dossier où écrire nginx.conf, htpasswd et 401.html")
    a.add_argument("--site", type=Path, help="dossier des sites construits (défaut : site/)")
    a.add_argument("--public-listen", help="adresse d'écoute du site public (défaut : 80, ou 443 avec --certificate)")
    a.add_argument("--members-listen", help="adresse d'écoute de l'espace adhérents (défaut : 80, ou 443 avec --certificate)")
    a.add_argument("--certificate", type=Path, help="certificat TLS (PEM, chaîne complète) : HTTPS, redirection du HTTP, HSTS")
    a.add_argument("--certificate-key", type=Path, help="clé privée du certificat TLS")
    a.add_argument(
        "--public-http-listen", default="80", help="avec --certificate : écoute HTTP du site public (redirection) ; défaut : 80"
    )
    a.add_argument(
        "--members-http-listen", default="80", help="avec --certificate : écoute HTTP de l'espace adhérents ; défaut : 80"
    )
    a.add_argument(
        "--acme-root",
        type=Path,
        help="dossier des défis certbot --webroot (avec --certificate, défaut : DEST/acme ; "
        "sans, servi en HTTP pour obtenir le premier certificat)",
    )
    a.add_argument("--public-name", default="_", help="nom de domaine du site public")
    a.add_argument("--members-name", default="_", help="nom de domaine de l'espace adhérents")
    a.add_argument(
        "--group",
        help="groupe du fichier htpasswd, celui des processus nginx (ex. www-data) ; défaut : celui du fichier remplacé",
    )
    a.add_argument(
        "--service",
        metavar="HÔTE:PORT",
        default="",
        help="adresse du service des lecteurs (build.py service), ex. 127.0.0.1:8025",
    )
    a.add_argument("--cost", type=int, default=8, choices=range(4, 15), metavar="4-14", help="coût bcrypt (défaut : 8)")
    a.add_argument(
        "--access-log",
        default="/var/log/nginx/access.log",
        metavar="FICHIER",
        help="journal des requêtes des deux sites, sans leur partie « ?… » (défaut : /var/log/nginx/access.log)",
    )
    a.add_argument(
        "--journal-audience",
        metavar="FICHIER",
        help="journal des pages lues, sans adresse ni navigateur, pour « lettres bilan --mois » (défaut : aucun)",
    )
    a.add_argument("--apercus", type=Path, help="dossier des aperçus des branches, servis sous /apercu/ du site public")
    a.add_argument("--apercus-htpasswd", type=Path, help="mots de passe de l'équipe pour les aperçus (htpasswd)")
    e = sub.add_parser("send", help="envoie une lettre à ses abonnés, une seule fois chacun")
    e.add_argument("letter", nargs="?", help="la lettre, ex. 2026-11-adherents")
    e.add_argument(
        "--due", action="store_true", help="toutes les lettres dont send_at est passé et qui ne sont pas entièrement envoyées"
    )
    e.add_argument("--subscribers", help="CSV des abonnés (email, name, audience) ; défaut : $LETTER_SUBSCRIBERS")
    e.add_argument("--suppressed", help="adresses à ne jamais écrire (désinscriptions, rebonds) ; défaut : $LETTER_SUPPRESSED")
    e.add_argument("--ledger", help="registre des envois SQLite ; défaut : $LETTER_LEDGER")
    e.add_argument("--outbox", help="sans SMTP_HOST, dossier où écrire les messages .eml (défaut : outbox/)")
    e.add_argument("--rate", type=float, help="messages par seconde au plus (défaut : $LETTER_RATE ou 10 ; 0 = sans limite)")
    e.add_argument("--dry-run", action="store_true", help="prépare tout et affiche le bilan, sans rien envoyer")
    e.add_argument("--test-to", metavar="ADRESSE", help="envoie un seul exemplaire de test à cette adresse")
    e.add_argument("--retry-unknown", action="store_true", help="renvoie aussi les messages à l'état inconnu (même Message-ID)")
    e.add_argument("--db", type=Path, help="base des lecteurs (SQLite) ; défaut : $LETTER_DB")
    e.add_argument("--now", type=datetime.fromisoformat, default=None, help=argparse.SUPPRESS)
    v = sub.add_parser("service", help="service des lecteurs (inscriptions, désinscriptions), derrière nginx")
    v.add_argument("--host", default="127.0.0.1", help="adresse d'écoute (défaut : 127.0.0.1)")
    v.add_argument("--port", type=int, default=8025, help="port d'écoute (défaut : 8025)")
    v.add_argument("--db", type=Path, help="base des lecteurs (SQLite) ; défaut : $LETTER_DB")
    v.add_argument("--outbox", type=Path, help="sans SMTP_HOST, dossier où écrire les messages de confirmation")
    v.add_argument(
        "--htpasswd",
        type=Path,
        help="fichier des mots de passe que lit nginx (écrit par « server --db ») : un mot de passe choisi vaut aussitôt ;"
        " défaut : $FEDERATION_HTPASSWD",
    )
    r = sub.add_parser("abonnes", help="base des lecteurs des lettres : importer, exporter, historique, effacer")
    r.add_argument("--db", type=Path, help="base des lecteurs (SQLite) ; défaut : $LETTER_DB")
    ra = r.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    ri = ra.add_parser("importer", help="importe un CSV (email, name, audience) ; rien n'est importé si une ligne est fausse")
    ri.add_argument("fichier", type=Path)
    ri.add_argument("--audience", choices=("public", "adherents"), help="lettre des lignes sans colonne audience")
    rx = ra.add_parser("exporter", help="exporte la base en CSV")
    rx.add_argument("--audience", choices=("public", "adherents"))
    rx.add_argument("--sortie", type=Path, help="fichier CSV (défaut : la sortie standard)")
    rh = ra.add_parser("historique", help="affiche tout ce que la base sait d'une adresse")
    rh.add_argument("adresse")
    rr = ra.add_parser("retours", help="lit les rebonds et les désinscriptions par courriel (IMAP_* ou --dossier)")
    rr.add_argument("--dossier", type=Path, help="dossier de fichiers .eml au lieu de la boîte IMAP")
    re_ = ra.add_parser("effacer", help="efface une adresse (RGPD art. 17) ; seule son empreinte reste")
    re_.add_argument("adresse")
    g = sub.add_parser("inscriptions", help="inscriptions aux événements : exporter la liste d'un événement")
    g.add_argument("--db", type=Path, help="base du service (SQLite) ; défaut : $LETTER_DB")
    ga = g.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    gx = ga.add_parser("exporter", help="écrit les inscrits d'un événement en CSV (UTF-8, « ; »), et leur nombre par état")
    gx.add_argument("evenement", help="l'événement, ex. forum-installation-2027")
    gx.add_argument("--sortie", type=Path, help="fichier CSV (défaut : la sortie standard)")
    gr = ga.add_parser(
        "rappels", help="rappelle, une seule fois, leur événement aux inscrits deux jours avant (minuteur quotidien)"
    )
    gr.add_argument("--ledger", type=Path, help="registre des envois SQLite ; défaut : $LETTER_LEDGER")
    gr.add_argument("--outbox", type=Path, help="sans SMTP_HOST, dossier où écrire les messages")
    gr.add_argument("--now", type=datetime.fromisoformat, default=None, help=argparse.SUPPRESS)
    m = sub.add_parser("adhesions", help="demandes d'adhésion : lister, voir, accepter, refuser, noter payée")
    m.add_argument("--db", type=Path, help="base du service (SQLite) ; défaut : $LETTER_DB")
    m.add_argument("--outbox", type=Path, help="sans SMTP_HOST, dossier où écrire les messages")
    ma = m.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    ml = ma.add_parser("lister", help="liste les demandes, les plus anciennes d'abord")
    ml.add_argument("--etat", choices=("reçue", "acceptée", "refusée"), help="seulement les demandes dans cet état")
    for name, what in (("voir", "affiche une demande"), ("payee", "note la cotisation payée")):
        ma.add_parser(name, help=what).add_argument("numero", type=int, help="le n° de la demande")
    mc = ma.add_parser("accepter", help="accepte : ouvre le compte de l'équipe et lui envoie le lien du mot de passe")
    mc.add_argument("numero", type=int, help="le n° de la demande")
    mc.add_argument("--identifiant", help="identifiant du compte (défaut : tiré du nom de l'équipe)")
    mc.add_argument("--fin", type=parse_day, help="fin de l'adhésion AAAA-MM-JJ (défaut : fin de l'année d'adhésion)")
    mr = ma.add_parser("refuser", help="refuse et en informe la personne à contacter")
    mr.add_argument("numero", type=int, help="le n° de la demande")
    mr.add_argument("--motif", default="", help="motif, écrit dans le message (facultatif)")
    k = sub.add_parser("sauvegarde", help="sauvegarde les bases, les mots de passe et les clés dans une archive datée")
    k.add_argument("--dossier", type=Path, help="dossier des archives (défaut : $BACKUP_DIR)")
    rs = sub.add_parser("restaurer", help="remet les bases, mots de passe et clés d'une archive, après les avoir vérifiés")
    rs.add_argument("archive", type=Path, help="l'archive écrite par « sauvegarde »")
    lt = sub.add_parser("lettres", help="lettres envoyées : leur bilan, en nombres (aucune adresse)")
    lta = lt.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions")
    lb = lta.add_parser("bilan", help="destinataires, remis, rebonds, désinscriptions, nouveaux abonnés, clics par lien")
    lb.add_argument("lettre", nargs="?", help="une lettre (défaut : toutes celles du registre)")
    lb.add_argument(
        "--csv", action="store_true", help="les mêmes nombres en CSV (UTF-8, « ; »), une ligne par mesure et par lien"
    )
    lb.add_argument("--html", type=Path, metavar="FICHIER", help="écrit aussi le bilan en HTML pour l'équipe (hors des sites)")
    lb.add_argument(
        "--mois", metavar="AAAA-MM", help="les pages lues ce mois-là (journal de nginx sans adresse) au lieu des lettres"
    )
    lb.add_argument("--journal", type=Path, help="avec --mois : le journal des pages ; défaut : $FEDERATION_AUDIENCE_LOG")
    lb.add_argument("--ledger", type=Path, help="registre des envois ; défaut : $LETTER_LEDGER")
    lb.add_argument("--db", type=Path, help="base du service ; défaut : $LETTER_DB")
    sub.add_parser("installer", help="installe la fédération sur ce serveur Debian (en root ; « installer --help »)")
    d = sub.add_parser("diagnostic", help="vérifie l'installation : ce qui est à corriger, et comment")
    d.add_argument("--racine", type=Path, help="l'installation faite avec « installer --racine DOSSIER »")
    d.add_argument("--envoi-test", metavar="ADRESSE", help="envoie aussi un vrai message d'essai à cette adresse")
    s = sub.add_parser("serve", help="aperçu local des deux sites, rechargé à chaque modification")
    s.add_argument("--host", default="127.0.0.1", help="adresse d'écoute des deux aperçus (défaut : 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port du site public ; l'espace adhérents prend le suivant")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["installer"]:
        if MISSING is not None:  # the system's Python: put the packages in place, then run again with them
            from plugins.deploy.bootstrap import bootstrap

            return bootstrap(PROJECT, argv)
        from plugins.deploy.install import main as install

        return install(argv[1:], PROJECT)
    if MISSING is not None:
        print(
            f"Paquet Python absent ({MISSING.name}) : sur une machine de développement, « bash scripts/install.sh » puis "
            "« .venv/bin/python build.py … » ; sur un serveur, « sudo python3 build.py installer ».",
            file=sys.stderr,
        )
        return 1
    args = parser().parse_args(argv)
    args.project = args.project.resolve()
    command = args.command or "build"
    if command == "build":
        args.output = (getattr(args, "output", None) or args.project / "site").resolve()
    handlers = {
        "build": command_build,
        "check": command_check,
        "new": command_new,
        "serve": command_serve,
        "server": command_server,
        "send": command_send,
        "service": command_service,
        "abonnes": command_readers,
        "inscriptions": command_registrations,
        "adhesions": command_membership,
        "sauvegarde": command_backup,
        "restaurer": command_restore,
        "diagnostic": command_diagnostic,
        "lettres": command_letters,
    }
    return handlers[command](args)


if __name__ == "__main__":
    sys.exit(main())
