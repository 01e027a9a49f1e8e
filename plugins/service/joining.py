"""Membership requests on the federation's service: the « Adhérer » form's answer, the staff's email, and what the
staff's commands do (accept: open the team's account and send it a link to choose its password; refuse; mark paid).

The fee is paid on the federation's own payment page or by transfer: no card data reaches the service.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from plugins.base.french_cli import typed_command
from plugins.model.fields import ascii_letters
from plugins.model.french import date_fr
from plugins.records.accounts import AccountConflict, AccountStore
from plugins.records.applications import LABELS, RECEIVED, Answered, Application, ApplicationBook, Unconfirmed
from plugins.service import tokens
from plugins.service.core import Linked, Service, posted
from plugins.service.emails import Mail
from plugins.service.passwords import password_link
from plugins.settings.membership import CONSENT, PROFESSIONS, STRUCTURES, MembershipRequest, MembershipSettings, request_problems
from plugins.settings.paths import HONEYPOT, JOIN_CONFIRM_PATH, JOIN_PATH

CONFIRM = "confirmation d'une demande d'adhésion"
CONFIRM_DAYS = 7
SHORT_MEMBERSHIP_DAYS = 92  # an acceptance that would give less than three months asks the staff for the end date


def payment_lines(settings: MembershipSettings, request: MembershipRequest | None = None) -> list[str | Linked]:
    """Return how to pay the fee, in French: the request's own fee when the grid tells it, else the whole grid."""
    fee = settings.fee_for(request) if request is not None else None
    if fee is not None:
        lines: list[str | Linked] = [f"Cotisation annuelle : {fee.amount} ({fee.label})."]
    else:
        lines = [f"Cotisation annuelle : {' ; '.join(f'{fee.label} : {fee.amount}' for fee in settings.fees)}."]
    if settings.payment_url:
        lines.append(Linked("Paiement en ligne :", settings.payment_url))
    if settings.transfer:
        lines.append(f"Ou bien : {settings.transfer}" if settings.payment_url else f"Règlement : {settings.transfer}")
    return lines


def request_facts(request: MembershipRequest) -> list[tuple[str, str]]:
    return [
        ("Équipe", request.team),
        ("Structure", request.structure_label),
        ("Commune", f"{request.commune} ({request.department})"),
        ("Professionnels", request.professionals_text()),
        ("Contact", request.contact),
        ("Adresse", request.email),
        ("Téléphone", request.phone),
    ]


def routes(service: Service, settings: MembershipSettings) -> list[BaseRoute]:
    """Return the membership request's routes (the public site's « Adhérer » form posts to them)."""
    book = ApplicationBook(service.store.path)

    def form(
        request: Request, status: int = 200, problems: dict[str, str] | None = None, values: dict[str, str] | None = None
    ) -> HTMLResponse:
        return service.page(
            "adhesion/formulaire.html.j2",
            status,
            request,
            title="Demander l'adhésion",
            join_action=JOIN_PATH,
            join_problems=problems or {},
            join_values=values or {},
            join_structures=STRUCTURES,
            join_professions=PROFESSIONS,
            join_consent=CONSENT,
            join_privacy=service.federation.privacy_url,
            settings=settings,
        )

    def receive(request: MembershipRequest) -> None:
        """Store the request and queue its confirmation email (none of the typed text in it) in one transaction."""

        def owe(db: sqlite3.Connection, application: Application) -> None:
            service.owe(db, "membership", confirmation_mail(service, application), unproven=True)

        book.add(request, CONSENT, service.clock(), owe)

    async def show(request: Request) -> HTMLResponse:
        return form(request)

    async def submit(request: Request) -> HTMLResponse:
        fields = await posted(request, service, token=False)  # the « Adhérer » page shows it too
        if fields.get(HONEYPOT):
            return asked()
        wanted, problems = request_problems(fields)
        if wanted is None:
            kept = {k: v[:254] for k, v in fields.items() if k != HONEYPOT and k != "consentement"}
            return form(request, 400, problems, kept)
        await run_in_threadpool(receive, wanted)
        return asked()

    def asked() -> HTMLResponse:
        return service.message(
            "Vérifiez votre messagerie",
            [
                "Un message vient de partir à l'adresse de la personne à contacter, avec un lien pour confirmer la demande"
                " d'adhésion. Elle n'est transmise à l'équipe de la fédération qu'une fois confirmée.",
                f"Le lien vaut {CONFIRM_DAYS} jours. Pas de message ? Regardez dans les indésirables.",
            ],
        )

    def confirmation(request: Request) -> tuple[str, int, str, str]:
        q = request.query_params
        number, email, created = q.get("demande", ""), q.get("adresse", "").lower(), q.get("depose", "")
        state = tokens.check(
            service.secret,
            CONFIRM,
            (number, email, created),
            q.get("t", ""),
            q.get("jeton", ""),
            timedelta(days=CONFIRM_DAYS),
            service.clock(),
        )
        if state == "ok" and not (number.isascii() and number.isdigit()):
            state = "invalide"
        return state, int(number) if state == "ok" else 0, email, created

    def bad_link(state: str) -> HTMLResponse:
        return service.message(
            "Ce lien a expiré" if state == "expiré" else "Ce lien n'est pas valide",
            [
                "La demande n'a pas été transmise. Remplissez de nouveau le formulaire de la page « Adhérer » si vous le"
                " souhaitez.",
            ],
            400,
        )

    async def confirm_page(request: Request) -> HTMLResponse:
        state, _, email, _ = confirmation(request)
        if state != "ok":
            return bad_link(state)
        return service.page(
            "adhesion/confirmer.html.j2",
            request=request,
            title="Confirmer la demande d'adhésion",
            email=email,
            action=f"{JOIN_CONFIRM_PATH}?{request.url.query}",
        )

    def confirm_and_tell(number: int, email: str, created: str) -> tuple[Application | None, bool]:
        def owe(db: sqlite3.Connection, application: Application) -> None:
            # The staff hear of it, and the contact (whose address is proven now) gets the acknowledgement.
            service.owe(db, "membership:staff", staff_notice(service, settings, application), unproven=False)
            service.owe(db, "membership:receipt", acknowledgement(service, settings, application), unproven=False)

        return book.confirm(number, email, created, service.clock(), owe)

    async def confirm(request: Request) -> HTMLResponse:
        await posted(request, service)
        state, number, email, created = confirmation(request)
        if state != "ok":
            return bad_link(state)
        application, _ = await run_in_threadpool(confirm_and_tell, number, email, created)
        if application is None:
            return bad_link("invalide")
        return service.message(
            "Demande d'adhésion envoyée",
            [
                f"Merci : la demande de « {application.request.team} » est transmise à l'équipe de la fédération sous le"
                f" n° {application.id}.",
                "L'équipe l'étudie et vous répond par courriel.",
                *payment_lines(settings, application.request),
            ],
        )

    return [
        Route(JOIN_PATH, show, methods=["GET"]),
        Route(JOIN_PATH, submit, methods=["POST"]),
        Route(JOIN_CONFIRM_PATH, confirm_page, methods=["GET"]),
        Route(JOIN_CONFIRM_PATH, confirm, methods=["POST"]),
    ]


def confirmation_mail(service: Service, application: Application) -> Mail:
    """Return the email that asks the contact address to confirm a request: none of the typed text is in it."""
    values = (str(application.id), application.request.email.lower(), application.created)
    signed = tokens.sign(service.secret, CONFIRM, values, service.clock())
    query = urlencode({"demande": values[0], "adresse": values[1], "depose": values[2]}) + "&" + signed.query()
    link = service.federation.public_url.rstrip("/") + JOIN_CONFIRM_PATH + "?" + query
    return service.mail(
        application.request.email,
        "Confirmez votre demande d'adhésion",
        "Bonjour,",
        [
            f"Une demande d'adhésion a été faite sur le site {service.federation.public_url} ({service.federation.site_name})"
            " avec cette adresse comme contact.",
            "Si c'est bien vous, confirmez-la par le lien ci-dessous : elle sera alors transmise à l'équipe de la fédération,"
            f" qui vous répondra. Le lien vaut {CONFIRM_DAYS} jours.",
        ],
        link=(link, "Confirmer ma demande"),
        after=["Vous n'avez rien demandé ? Ignorez ce message : la demande sera effacée sans suite."],
    )


def purpose(settings: MembershipSettings) -> Callable[[Service], list[BaseRoute]]:
    return functools.partial(routes, settings=settings)


def staff_notice(service: Service, settings: MembershipSettings, application: Application) -> Mail:
    r = application.request
    return service.mail(
        settings.staff_email,
        f"Demande d'adhésion n° {application.id} : {r.team}",
        "Bonjour,",
        [f"Une demande d'adhésion est arrivée par le site le {date_fr(datetime.fromisoformat(application.created))}."],
        request_facts(r),
        after=[
            f"Pour l'accepter (compte de l'espace adhérents et lien pour choisir le mot de passe) : "
            f"{typed_command('adhesions', 'accepter', str(application.id))}",
            f"Pour la refuser : {typed_command('adhesions', 'refuser', str(application.id), '--motif', '…')}",
            f"Ces commandes se lancent sur le serveur, dans le dossier {os.getcwd()}, avec les réglages du service"
            " (LETTER_DB, LETTER_SECRET et SMTP_*, par exemple « set -a; . /srv/prive/lettres.env; set +a » avant).",
            "Répondre à ce message écrit à la personne à contacter.",
        ],
        reply_to=r.email,
    )


def acknowledgement(service: Service, settings: MembershipSettings, application: Application) -> Mail:
    r = application.request
    return service.mail(
        r.email,
        "Votre demande d'adhésion est bien reçue",
        "Bonjour,",
        [
            f"La fédération a bien reçu la demande d'adhésion de « {r.team} » (n° {application.id}) et vous répond au plus vite.",
            *payment_lines(settings, r),
        ],
        request_facts(r),
        after=["Une information est inexacte ? Répondez simplement à ce message."],
        reply_to=settings.staff_email,
    )


def login_for(team: str) -> str:
    """Return a login made from the team's name: « MSP des Coteaux » → « msp-des-coteaux »."""
    plain = ascii_letters(team).lower()
    login = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60].strip("-")
    return login if len(login) >= 2 else f"equipe-{login or 'adherente'}"


class StaffError(Exception):
    """What a staff command could not do, in French."""


def unconfirmed(number: int) -> str:
    return (
        f"La demande n° {number} n'a pas été confirmée par l'adresse de son contact : personne ne sait encore si elle"
        " vient de lui. Rien n'a changé ; elle est effacée après 30 jours sans confirmation."
    )


def accept(
    service: Service,
    accounts: AccountStore,
    book: ApplicationBook,
    settings: MembershipSettings,
    number: int,
    login: str | None,
    end: date | None,
) -> tuple[Application, bool]:
    """Accept a request: open (or extend) the team's account and email the contact; return it and whether it renewed."""
    application = book.get(number)
    if application is None:
        raise StaffError(f"Aucune demande n° {number} : « build.py adhesions lister » montre les demandes.")
    if application.status != RECEIVED:
        raise StaffError(f"La demande n° {number} est déjà {LABELS[application.status]} : rien n'a changé.")
    if application.confirmed is None:
        raise StaffError(unconfirmed(number))
    now = service.clock()
    login = login or login_for(application.request.team)
    if end is None:
        end = settings.membership_end(now.date())
        if (end - now.date()).days < SHORT_MEMBERSHIP_DAYS:
            raise StaffError(
                f"Acceptée aujourd'hui, l'adhésion ne vaudrait que jusqu'au {date_fr(end)} ({(end - now.date()).days} jours)"
                " pour une cotisation annuelle. Relancez avec la fin voulue, par exemple "
                f"« {typed_command('adhesions', 'accepter', str(number), '--fin', date(end.year + 1, end.month, end.day).isoformat())} »"
                f" (ou --fin {end.isoformat()} pour garder cette date) ; pour que cela se fasse seul, réglez"
                ' extra.federation.membership.renewal_from dans mkdocs.yml (ex. "10-01"). Rien n\'a changé.'
            )
    r = application.request
    try:
        renewed = accounts.open_for(login, r.email, r.team, end, now)
    except AccountConflict as exc:
        raise StaffError(f"{exc} : choisissez-en un autre avec --identifiant ; rien n'a changé.") from None
    try:
        application = book.accept(number, login, end, now) or application
    except Answered as exc:
        raise StaffError(f"La demande n° {number} est déjà {LABELS[exc.application.status]} : rien n'a changé.") from None
    except Unconfirmed:
        raise StaffError(unconfirmed(number)) from None
    account = accounts.get(login)
    assert account is not None
    facts = [("Équipe", r.team), ("Identifiant", login), ("Adhésion valable jusqu'au", date_fr(end))]
    if renewed and account.hash:
        mail = service.mail(
            r.email,
            "Votre adhésion est renouvelée",
            f"Bonjour {r.contact},",
            ["La fédération a accepté votre demande : l'adhésion de votre équipe est renouvelée.", *payment_lines(settings, r)],
            facts,
            after=["Vos identifiants de l'espace adhérents restent les mêmes."],
        )
    else:
        accounts.claim_link(login, now)
        mail = service.mail(
            r.email,
            "Bienvenue : votre adhésion est acceptée",
            f"Bonjour {r.contact},",
            [
                "La fédération a accepté votre demande d'adhésion : bienvenue dans le réseau !",
                "Choisissez maintenant le mot de passe de l'espace adhérents de votre équipe ; le lien ci-dessous vaut 72 heures.",
                *payment_lines(settings, r),
            ],
            facts,
            link=(password_link(service, account), "Choisir mon mot de passe"),
            after=[
                f"Lien expiré ? Demandez-en un autre sur {service.federation.members_url.rstrip('/')}/acces/oubli "
                "avec cette adresse."
            ],
        )
    service.postman.send(mail)
    return application, renewed


def refuse(service: Service, settings: MembershipSettings, book: ApplicationBook, number: int, reason: str) -> Application:
    """Refuse a request and tell the contact, with the staff's reason if given."""
    try:
        application = book.refuse(number, reason, service.clock())
    except Answered as exc:
        raise StaffError(f"La demande n° {number} est déjà {LABELS[exc.application.status]} : rien n'a changé.") from None
    except Unconfirmed:
        raise StaffError(unconfirmed(number)) from None
    if application is None:
        raise StaffError(f"Aucune demande n° {number} : « build.py adhesions lister » montre les demandes.")
    r = application.request
    service.postman.send(
        service.mail(
            r.email,
            "Votre demande d'adhésion",
            f"Bonjour {r.contact},",
            [
                f"La fédération ne peut pas donner suite à la demande d'adhésion de « {r.team} ».",
                *([f"Motif : {reason}"] if reason else []),
            ],
            after=["Pour en parler, répondez simplement à ce message."],
            reply_to=settings.staff_email,
        )
    )
    return application
