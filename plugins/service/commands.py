"""The operators' commands on the readers' store and the service's start, in French (called by build.py)."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, date, datetime
from email.headerregistry import Address
from pathlib import Path
from urllib.parse import urlsplit

from plugins.base import environment
from plugins.base.locking import private_text
from plugins.base.spreadsheet import cell, rows
from plugins.letters.bounces import understood
from plugins.mail.ledger import LedgerBusy, SendLedger
from plugins.mail.transport import LostDuringData, PermanentFailure, SmtpSettings, TemporaryFailure
from plugins.model import ContentError, load_content
from plugins.model.fields import ADDRESS, PARIS
from plugins.model.tables import table
from plugins.records.accounts import AccountConflict, AccountStore
from plugins.records.applications import LABELS as APPLICATION_LABELS
from plugins.records.applications import ApplicationBook
from plugins.records.outbox import Caps
from plugins.records.password_file import LOGIN, AccountsSummary
from plugins.records.readers import AUDIENCES, LEFT, MAILTO, ReaderStore, event_label, label
from plugins.records.registrations import RegistrationBook
from plugins.service import events, joining, links, passwords, subscriptions
from plugins.service.core import Service, create_app
from plugins.service.emails import Postman
from plugins.service.events import export_rows, send_reminders
from plugins.service.joining import request_facts
from plugins.settings.federation import SettingsError, read_mkdocs_yml


class OperatorError(Exception):
    """A missing or wrong operator input: the message says which, in French."""


def store_path(option: Path | None, project: Path) -> Path:
    """Return the store's path from --db or LETTER_DB, refusing one inside the built sites (nginx would serve it)."""
    value = option or environment.path("LETTER_DB")
    if value is None:
        raise OperatorError("Indiquez la base des lecteurs : --db FICHIER.sqlite ou la variable LETTER_DB.")
    value = value.resolve()
    if value.is_relative_to(project.resolve() / "site"):
        raise OperatorError(f"{value} est dans le dossier des sites publiés : la base des lecteurs ne doit jamais y être.")
    return value


def open_store(option: Path | None, project: Path, create: bool) -> ReaderStore:
    """Open the store; a store that does not exist is created only where a command is meant to create it."""
    path = store_path(option, project)
    if not path.parent.is_dir():
        raise OperatorError(f"Le dossier {path.parent} n'existe pas : vérifiez le chemin de la base des lecteurs.")
    if not create and not path.is_file():
        raise OperatorError(
            f"Base des lecteurs introuvable : {path} (créée par « build.py service » ou « build.py abonnes importer »)."
        )
    return ReaderStore(path)


def read_import(path: Path, default_audience: str | None) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Return the rows of an import CSV (email, name, audience) and its problems, one French line each."""
    if not path.is_file():
        raise OperatorError(f"Fichier introuvable : {path}")
    reader = table(path.read_text(encoding="utf-8-sig"))
    reader.fieldnames = list(reader.fieldnames or [])
    if "email" not in reader.fieldnames or ("audience" not in reader.fieldnames and not default_audience):
        raise OperatorError(
            f"{path.name}:1: en-tête: colonnes attendues email, name, audience (ou --audience) ; trouvé : {', '.join(reader.fieldnames)}"
        )
    rows, problems = [], []
    for row in reader:
        email = (row.get("email") or "").strip()
        audience = (row.get("audience") or "").strip() or default_audience or ""
        if not ADDRESS.match(email):
            problems.append(f"{path.name}:{reader.line_num}: email: « {email[:80]} » n'est pas une adresse valide")
        elif audience not in AUDIENCES:
            problems.append(f"{path.name}:{reader.line_num}: audience: « {audience[:40]} » inconnue, attendu public ou adherents")
        else:
            rows.append((email, (row.get("name") or "").strip(), audience))
    return rows, problems


def import_csv(store: ReaderStore, path: Path, audience: str | None) -> int:
    rows, problems = read_import(path, audience)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{len(problems)} ligne(s) à corriger : rien n'a été importé.", file=sys.stderr)
        return 1
    outcomes = store.import_rows(rows, f"import {path.name}", datetime.now(UTC))
    for email, outcome in outcomes:
        print(f"{email} : {outcome}")
    added = sum(1 for _, outcome in outcomes if outcome.startswith("ajoutée"))
    print(f"Import terminé : {added} adresse(s) ajoutée(s) sur {len(outcomes)} ligne(s).")
    return 0


def export_csv(store: ReaderStore, audience: str | None, out) -> int:
    """Write the readers as CSV to out; return how many."""
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["email", "name", "audience", "etat", "source", "cree", "consentement", "formulaire", "confirme"])
    readers = store.export(audience)
    for r in readers:
        values: list[str | None] = [
            r.email,
            r.name,
            r.audience,
            label(r.state),
            label(r.source),
            r.created,
            r.consent_at,
            r.consent_form,
        ]
        values.append(r.confirmed_at)
        writer.writerow([cell(value or "") for value in values])  # typed by readers: never a formula in the staff's sheet
    return len(readers)


def export_readers(store: ReaderStore, audience: str | None, output: Path | None) -> int:
    """`abonnes exporter`: the CSV to the standard output, or to a file readable by its owner only (personal data)."""
    if output is None:
        export_csv(store, audience, sys.stdout)
        return 0
    out = io.StringIO()
    count = export_csv(store, audience, out)
    private_text(output, out.getvalue())
    what = "lecteur écrit" if count == 1 else "lecteurs écrits"
    print(f"{count} {what} dans {output} (lisible par vous seul·e : il contient des adresses).", file=sys.stderr)
    return 0


def show_history(store: ReaderStore, email: str) -> int:
    rows, events = store.history(email)
    if not rows and not events:
        erased = " (effacée à sa demande : seule son empreinte est gardée)" if store.is_erased(email) else ""
        print(f"Aucune donnée pour {email}{erased}.")
        return 0
    for r in rows:
        print(
            f"{r.audience} : {label(r.state)} (source {label(r.source)}, créée le {r.created}"
            + (f", consentement le {r.consent_at} via {r.consent_form}" if r.consent_at else "")
            + (f", confirmée le {r.confirmed_at}" if r.confirmed_at else "")
            + ")"
        )
    for at, audience, event, detail in events:
        detail = label(detail) if event == LEFT else detail
        print(f"{at} {audience or '-'} {event_label(event)}" + (f" : {detail}" if detail else ""))
    return 0


def erase(store: ReaderStore, email: str) -> int:
    removed = store.erase(email, datetime.now(UTC))
    print(
        f"{email} effacée ({removed} enregistrement(s) supprimé(s)) ; son empreinte reste dans la liste de suppression :"
        " aucun import ne la réinscrira."
    )
    return 0


def process_replies(store: ReaderStore, mailbox, secret: bytes, content) -> int:
    """Apply the bounces and mailto unsubscriptions of a mailbox to the store; print each; leave the rest."""

    letters = sorted(content.letters, key=lambda lt: (lt.date, lt.slug))
    audience_of = {lt.slug: lt.audience.value for lt in letters}
    now = datetime.now(UTC)
    handled = 0
    for key, notices in understood(mailbox, secret):
        for notice in notices:
            if notice.kind == "unsubscribe":
                changed = store.unsubscribe(notice.email, notice.audience or "public", MAILTO, now)
                print(f"{notice.email} : désinscrit·e de {notice.audience} par courriel" + ("" if changed else " (déjà fait)"))
                continue
            letter = notice.letter or "lettre inconnue"
            audience = audience_of.get(letter)
            recent = [lt.slug for lt in letters if lt.audience.value == audience and lt.slug <= letter] if audience else []
            marked = store.bounce(notice.email, letter, notice.kind == "hard", notice.status, now, recent)
            kind = "définitif" if notice.kind == "hard" else "temporaire"
            print(f"{notice.email} : rebond {kind} {notice.status} ({letter})" + (" → adresse en erreur" if marked else ""))
        mailbox.done(key)
        handled += 1
    mailbox.close()
    print(f"{handled} message(s) traité(s) ; les messages non reconnus restent dans la boîte, à lire par une personne.")
    return 0


def remind(db: Path | None, project: Path, ledger_path: Path | None, outbox: Path | None, now: datetime | None) -> int:
    """Send the reminders of the events starting within two days, once each (the daily timer's job)."""

    ledger_path = ledger_path or environment.path("LETTER_LEDGER")
    if ledger_path is None:
        raise OperatorError("Indiquez le registre des envois : --ledger FICHIER.sqlite ou la variable LETTER_LEDGER.")
    try:
        events = load_content(project).events
    except ContentError as exc:
        raise OperatorError(exc.report("aucun rappel n'a été envoyé")) from exc
    service = make_service(project, db, outbox, create=False)
    ledger = SendLedger(ledger_path)
    try:
        ledger.hold()
    except LedgerBusy:
        ledger.close()
        raise OperatorError(
            f"Un autre envoi occupe le registre {ledger_path} : aucun rappel envoyé, relancez plus tard."
        ) from None
    try:
        when = (now.replace(tzinfo=PARIS) if now.tzinfo is None else now) if now else datetime.now(UTC)
        left = send_reminders(service, events, ledger, when, print)
    finally:
        ledger.close()
    return 1 if left else 0


def export_registrations(db: Path | None, project: Path, slug: str, output: Path | None) -> int:
    """Write an event's registrants as CSV for the federation's spreadsheet (UTF-8 with BOM, « ; »); print the counts."""

    path = store_path(db, project)
    if not path.is_file():
        raise OperatorError(f"Base introuvable : {path} (créée par « build.py service »).")
    try:
        events = {e.slug: e for e in load_content(project).events if e.sign_up}
    except ContentError as exc:
        raise OperatorError(exc.report("rien n'a été exporté")) from exc
    if slug not in events:
        raise OperatorError(
            f"Événement « {slug} » inconnu ou sans inscriptions sur le service ; connus : {', '.join(sorted(events)) or 'aucun'}"
        )
    table, counts = export_rows(RegistrationBook(path), events[slug])
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows(table))  # typed by registrants: no formula
    data = "\ufeff" + out.getvalue()
    if output:
        private_text(output, data)
        print(f"Inscrits à « {events[slug].title} » écrits dans {output} (lisible par vous seul·e).", file=sys.stderr)
    else:
        sys.stdout.write(data)
    summary = ", ".join(f"{n} {status}" for status, n in counts.items()) or "aucune inscription"
    print(f"{summary} ; {events[slug].sign_up.places} places.", file=sys.stderr)  # type: ignore[union-attr]
    return 0


def make_service(project: Path, db: Path | None, outbox: Path | None, create: bool = True):
    """Return the service's shared core (store, mail, key, pages) from the project's settings and the environment."""

    secret = environment.text("LETTER_SECRET")
    if len(secret) < 16:
        raise OperatorError(
            "LETTER_SECRET manquant ou trop court (16 caractères au moins) : c'est la clé des liens signés, "
            "la même que pour « build.py send »."
        )
    federation = settings_of(project)
    try:
        smtp = SmtpSettings.from_env()
        sender = Address(display_name=federation.sender_name, addr_spec=federation.sender_email)
        postman = Postman(sender, smtp, outbox)
    except ValueError as exc:
        raise OperatorError(f"Envoi des messages impossible : {exc}.") from exc

    try:
        caps = Caps.from_env(environment.text("SERVICE_MAIL_CAPS"))
    except ValueError as exc:
        raise OperatorError(str(exc)) from exc
    return Service(federation, open_store(db, project, create=create), postman, secret.encode(), caps=caps)


def settings_of(project: Path):
    """Return the federation's settings; a mistake in them stops the command (French message)."""

    try:
        return read_mkdocs_yml(project)  # no MkDocs: the service does not boot by importing the build
    except SettingsError as exc:
        raise OperatorError(str(exc)) from exc


def htpasswd_path(option: Path | None) -> Path | None:
    """Return the htpasswd nginx reads, from --htpasswd or FEDERATION_HTPASSWD (None: passwords wait for `server`)."""
    value = option or environment.path("FEDERATION_HTPASSWD")
    if value is None:
        return None
    if not value.is_file():
        raise OperatorError(
            f"Fichier des mots de passe introuvable : {value} (écrit par « build.py server --db … » dans son dossier --dest)."
        )
    return value.resolve()


def service_app(project: Path, db: Path | None, outbox: Path | None, htpasswd: Path | None = None):
    """Return the readers service's application from the project's settings and the environment."""

    service = make_service(project, db, outbox)
    settings = service.federation
    purposes = [
        subscriptions.purpose(urlsplit(settings.unsubscribe_url).path or "/"),
        events.purpose(project, settings.privacy.registrations_months),
        passwords.purpose(htpasswd_path(htpasswd)),
        links.purpose(),
    ]
    if settings.membership:
        purposes.append(joining.purpose(settings.membership))
    return create_app(service, purposes)


def membership_requests(
    project: Path,
    db: Path | None,
    outbox: Path | None,
    action: str,
    number: int | None = None,
    login: str | None = None,
    end: date | None = None,
    reason: str = "",
    status: str | None = None,
) -> int:
    """The staff's commands on membership requests: lister, voir, accepter, refuser, payee."""

    settings = settings_of(project).membership
    if settings is None:
        raise OperatorError("mkdocs.yml : extra.federation.membership absent : les demandes d'adhésion ne sont pas ouvertes.")
    path = store_path(db, project)
    if not path.is_file():
        raise OperatorError(f"Base introuvable : {path} (créée par « build.py service »).")
    book = ApplicationBook(path)
    book.forget(datetime.now(UTC))
    if action == "lister":  # the state asked in French (--etat reçue)
        return list_requests(
            book, next((c for c, said in APPLICATION_LABELS.items() if said == status), None) if status else None
        )
    assert number is not None
    if action == "voir":
        return show_request(book, number)
    if action == "payee":
        application = book.mark_paid(number, datetime.now(UTC))
        if application is None:
            raise OperatorError(f"Aucune demande n° {number}.")
        print(f"Demande n° {number} ({application.request.team}) : cotisation payée, notée le {application.paid}.")
        return 0
    if login is not None and not LOGIN.match(login):
        raise OperatorError(f"Identifiant « {login} » invalide : 2 à 100 caractères parmi lettres, chiffres et . _ @ + -")
    service = make_service(project, db, outbox, create=False)
    try:
        if action == "accepter":
            application, renewed = joining.accept(service, AccountStore(path), book, settings, number, login, end)
            what = "adhésion renouvelée, identifiants inchangés" if renewed else "compte ouvert, lien du mot de passe envoyé"
            print(
                f"Demande n° {number} ({application.request.team}) acceptée : identifiant « {application.login} »,"
                f" valable jusqu'au {application.membership_end} ; {what} à {application.request.email}."
            )
        else:
            application = joining.refuse(service, settings, book, number, reason)
            print(f"Demande n° {number} ({application.request.team}) refusée ; {application.request.email} en est informé·e.")
    except joining.StaffError as exc:
        raise OperatorError(str(exc)) from exc
    except (OSError, TemporaryFailure, PermanentFailure, LostDuringData) as exc:  # the decision is stored, not the message
        raise OperatorError(
            f"Décision enregistrée, mais le message n'a pas pu partir : {exc}. Prévenez la personne vous-même ;"
            " après une acceptation, elle obtient son lien sur la page « Mot de passe oublié » de l'espace adhérents"
            " (une heure après cette commande)."
        ) from exc
    return 0


def list_requests(book, status: str | None) -> int:
    applications = book.list(status)
    for a in applications:
        paid = f"payée le {a.paid[:10]}" if a.paid else "non payée"
        until = f"jusqu'au {a.membership_end}" if a.membership_end else ""
        r = a.request
        print(
            f"n° {a.id}  {a.created[:10]}  {APPLICATION_LABELS[a.status]:<8}  {paid:<19}  {until:<20}  {r.team} ({r.commune}, {r.department})"
            f"  {r.contact} <{r.email}>"
        )
    print(f"{len(applications)} demande(s).")
    waiting = len(book.list(status, unconfirmed=True)) - len(applications)
    if waiting:
        print(f"Et {waiting} demande(s) que l'adresse de leur contact n'a pas encore confirmée(s) (effacées après 30 jours).")
    return 0


def show_request(book, number: int) -> int:

    application = book.get(number)
    if application is None:
        raise OperatorError(f"Aucune demande n° {number}.")
    unconfirmed = "" if application.confirmed else " (pas encore confirmée par l'adresse de son contact)"
    print(f"Demande n° {number}, reçue le {application.created} : {APPLICATION_LABELS[application.status]}{unconfirmed}")
    for fact, value in request_facts(application.request):
        print(f"  {fact} : {value}")
    if application.login:
        print(f"  Identifiant : {application.login}, adhésion jusqu'au {application.membership_end}")
    if application.reason:
        print(f"  Motif du refus : {application.reason}")
    print(f"  Cotisation : {'payée le ' + application.paid if application.paid else 'non payée'}")
    return 0


def htpasswd_from_store(
    project: Path, db: Path, accounts: list | None, htpasswd: Path, today: date, cost: int, group: str | None
):
    """Copy the accounts CSV (None: none given) into the service's base, then write nginx's htpasswd from the base."""

    store = AccountStore(open_store(db, project, create=True).path)
    if accounts is not None:
        try:
            synced = store.sync_csv(accounts, datetime.now(UTC), cost)
        except AccountConflict as exc:
            raise OperatorError(f"Comptes du CSV : {exc} ; aucun fichier n'a été modifié.") from None
        print(
            f"Comptes du CSV copiés dans la base : {synced.added} ajouté(s), {synced.changed} modifié(s), {synced.removed} retiré(s)."
        )
    store.forget_expired(today)
    everyone = store.all()
    written = store.write_htpasswd(htpasswd, today, group)
    waiting = [a.login for a in everyone if not a.hash]
    if waiting:
        print(f"Comptes sans mot de passe choisi pour l'instant : {len(waiting)} ({', '.join(waiting)}).")
    return AccountsSummary(written, [a.login for a in everyone if a.hash and not a.is_valid_on(today)])
