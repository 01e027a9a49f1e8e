"""Membership requests on the federation's service: the « Adhérer » form's answer, the staff's email, and what the
staff's commands do (accept: open the team's account and send it a link to choose its password; refuse; mark paid).

The fee is paid on the federation's own payment page or by transfer: no card data reaches the service.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from plugins.federation.filters import date_fr
from plugins.membership import CONSENT, PROFESSIONS, STRUCTURES, MembershipRequest, MembershipSettings, read_request
from plugins.readers.access import password_link
from plugins.readers.account_store import AccountConflict, AccountStore
from plugins.readers.applications import Answered, Application, ApplicationBook
from plugins.readers.core import Service, posted
from plugins.readers.mail import Mail
from plugins.readers.paths import HONEYPOT, JOIN_PATH


def payment_lines(settings: MembershipSettings) -> list[str]:
    """Return how to pay the fee, in French."""
    lines = [f"Cotisation annuelle : {'; '.join(f'{fee.label} : {fee.amount}' for fee in settings.fees)}."]
    if settings.payment_url:
        lines.append(f"Paiement en ligne : {settings.payment_url}")
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

    def form(status: int = 200, error: str = "", values: dict[str, str] | None = None) -> HTMLResponse:
        return service.page(
            "adhesion/formulaire.html.j2",
            status,
            title="Demander l'adhésion",
            join_action=JOIN_PATH,
            join_error=error,
            join_values=values or {},
            join_structures=STRUCTURES,
            join_professions=PROFESSIONS,
            join_consent=CONSENT,
            join_privacy=service.federation.privacy_url,
            settings=settings,
        )

    def receive(request: MembershipRequest) -> tuple[Application, bool]:
        application = book.add(request, CONSENT, service.clock())
        try:
            service.postman.send(staff_notice(service, settings, application))
            service.postman.send(acknowledgement(service, settings, application))
        except Exception:  # noqa: BLE001 - the request is stored; the staff's list shows it
            return application, False
        return application, True

    async def show(request: Request) -> HTMLResponse:
        return form()

    async def submit(request: Request) -> HTMLResponse:
        fields = await posted(request, service)
        if fields.get(HONEYPOT):
            return service.message("Demande envoyée", ["La fédération étudie votre demande et vous répond par courriel."])
        wanted, problem = read_request(fields)
        if wanted is None:
            kept = {k: v[:254] for k, v in fields.items() if k != HONEYPOT and k != "consentement"}
            return form(400, problem, kept)
        application, mailed = await run_in_threadpool(receive, wanted)
        return service.message(
            "Demande d'adhésion envoyée",
            [
                f"Merci : la demande de « {wanted.team} » est enregistrée sous le n° {application.id}.",
                "L'équipe de la fédération l'étudie et vous répond par courriel à l'adresse indiquée.",
                *payment_lines(settings),
                *(
                    []
                    if mailed
                    else ["Le message de confirmation n'a pas pu partir pour l'instant : la demande est bien enregistrée."]
                ),
            ],
        )

    return [Route(JOIN_PATH, show, methods=["GET"]), Route(JOIN_PATH, submit, methods=["POST"])]


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
            f"python build.py adhesions accepter {application.id}",
            f'Pour la refuser : python build.py adhesions refuser {application.id} --motif "…"',
            "Répondre à ce message écrit à la personne à contacter.",
        ],
        reply_to=r.email,
    )


def acknowledgement(service: Service, settings: MembershipSettings, application: Application) -> Mail:
    r = application.request
    return service.mail(
        r.email,
        "Votre demande d'adhésion est bien reçue",
        f"Bonjour {r.contact},",
        [
            f"La fédération a bien reçu la demande d'adhésion de « {r.team} » (n° {application.id}) et vous répond au plus vite.",
            *payment_lines(settings),
        ],
        request_facts(r),
        after=["Une information est inexacte ? Répondez simplement à ce message."],
        reply_to=settings.staff_email,
    )


def login_for(team: str) -> str:
    """Return a login made from the team's name: « MSP des Coteaux » → « msp-des-coteaux »."""
    plain = unicodedata.normalize("NFKD", team).encode("ascii", "ignore").decode().lower()
    login = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60].strip("-")
    return login if len(login) >= 2 else f"equipe-{login or 'adherente'}"


class StaffError(Exception):
    """What a staff command could not do, in French."""


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
    if application.status != "reçue":
        raise StaffError(f"La demande n° {number} est déjà {application.status} : rien n'a changé.")
    now = service.clock()
    login = login or login_for(application.request.team)
    end = end or settings.membership_end(now.date())
    r = application.request
    try:
        renewed = accounts.open_for(login, r.email, r.team, end, now)
    except AccountConflict as exc:
        raise StaffError(f"{exc} : choisissez-en un autre avec --identifiant ; rien n'a changé.") from None
    try:
        application = book.accept(number, login, end, now) or application
    except Answered as exc:
        raise StaffError(f"La demande n° {number} est déjà {exc.application.status} : rien n'a changé.") from None
    account = accounts.get(login)
    assert account is not None
    facts = [("Équipe", r.team), ("Identifiant", login), ("Adhésion valable jusqu'au", date_fr(end))]
    if renewed and account.hash:
        mail = service.mail(
            r.email,
            "Votre adhésion est renouvelée",
            f"Bonjour {r.contact},",
            ["La fédération a accepté votre demande : l'adhésion de votre équipe est renouvelée.", *payment_lines(settings)],
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
                *payment_lines(settings),
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
        raise StaffError(f"La demande n° {number} est déjà {exc.application.status} : rien n'a changé.") from None
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
