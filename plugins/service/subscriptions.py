"""The letters' readers: subscribe (double opt-in), confirm, unsubscribe (link and RFC 8058 one-click).

GET never changes anything: mail filters open links to scan them. Every change is a POST: the
button of a page, or the mail provider's one-click request on the reader's behalf.
"""

from __future__ import annotations

import functools
import hmac
import sqlite3
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from plugins.letters.message import token
from plugins.model.fields import ADDRESS
from plugins.records.readers import LINK, ONE_CLICK, UNSUBSCRIBED, request_stamp
from plugins.service import tokens
from plugins.service.core import ForeignOrigin, Service, form_fields, form_token_valid, from_own_pages, posted, space
from plugins.service.emails import Mail
from plugins.settings.paths import CONFIRM_PATH, FORM_TOKEN, HONEYPOT, MEMBER_HEADER, SUBSCRIBE_PATH

LETTER_NAMES = {"public": "la lettre d'information", "adherents": "la lettre des adhérents"}
CONFIRM = "confirmation d'inscription"


def audiences(request: Request) -> list[str]:
    """Return the letters one may subscribe to from the site the request came through."""
    return ["public", "adherents"] if space(request) == "adherents" else ["public"]


def audience_of(secret: bytes, email: str, tok: str) -> str | None:
    """Return the audience whose letters carried this unsubscribe token for this address, or None if forged."""
    for audience in LETTER_NAMES:
        if hmac.compare_digest(token(secret, audience, email), tok):
            return audience
    return None


def confirmation_mail(service: Service, email: str, audience: str, request: str, when: datetime) -> Mail:
    """Return the email whose signed link confirms this one request (request: its stamp in the store).

    The members' letter is confirmed on the members' host, behind the members' password: an
    address typed by anyone receives the link, only a member can follow it.
    """
    signed = tokens.sign(service.secret, CONFIRM, (email.lower(), audience, request), when)
    site = service.federation.members_url if audience == "adherents" else service.federation.public_url
    link = (
        site.rstrip("/")
        + CONFIRM_PATH
        + "?"
        + urlencode({"adresse": email.lower(), "lettre": audience, "demande": request})
        + "&"
        + signed.query()
    )
    values = {"letter": LETTER_NAMES[audience], "link": link, "hours": int(service.confirm_max_age.total_seconds() // 3600)}
    return Mail(
        email,
        f"Confirmez votre inscription à {LETTER_NAMES[audience]}",
        service.text("lettres/confirmation.txt.j2", **values),
        service.text("lettres/confirmation.html.j2", **values),
    )


def routes(service: Service, unsubscribe_path: str = "/lettres/desinscription/") -> list[BaseRoute]:
    """Return the letters' routes."""

    def form(request: Request, status: int = 200, error: str = "") -> HTMLResponse:
        return service.page(
            "lettres/formulaire.html.j2",
            status,
            request,
            title="S'inscrire à une lettre",
            error=error,
            audiences=audiences(request),
            letter_names=LETTER_NAMES,
            action=SUBSCRIBE_PATH,
        )

    def sent() -> HTMLResponse:
        # The same answer whatever the store holds: the page tells nobody who is subscribed.
        return service.message(
            "Vérifiez votre messagerie",
            [
                "Si l'adresse indiquée peut être inscrite, un message vient de lui être envoyé avec un lien de confirmation.",
                f"Ce lien est valable {int(service.confirm_max_age.total_seconds() // 3600)} heures. Rien n'est enregistré"
                " comme inscription tant qu'il n'a pas été suivi.",
                "Pas de message ? Regardez dans les indésirables, ou réessayez dans une heure.",
            ],
        )

    def request_subscription(email: str, audience: str, form_name: str) -> None:
        """Record the request and queue its confirmation in one transaction: the answer never waits for SMTP.

        The email is made before the transaction (outside the store's lock), whether it will be due or
        not: the answer takes the same time for an address the store knows and for a new one.
        """
        now = service.clock()
        asked = request_stamp(now)
        data = service.postman.message(confirmation_mail(service, email, audience, asked, now), now)

        def owe(db: sqlite3.Connection, stamp: str) -> None:
            assert stamp == asked
            service.outbox.add(db, f"letter:{audience}", email, data, now, unproven=True)

        service.store.request(email, audience, "", form_name, now, owe)

    async def subscribe_page(request: Request) -> HTMLResponse:
        return form(request)

    async def subscribe(request: Request) -> HTMLResponse:
        fields = await posted(request, service, token=False)  # the sites' footers show it too
        if fields.get(HONEYPOT):
            return sent()
        audience = fields.get("lettre", "public")
        if audience not in LETTER_NAMES:
            return form(request, 400, "Cette lettre n'existe pas : choisissez l'une de celles proposées.")
        if audience not in audiences(request):
            return form(request, 403, "La lettre des adhérents s'obtient depuis l'espace adhérents, une fois connecté.")
        email = fields.get("adresse", "").strip()
        if len(email) > 254 or not ADDRESS.match(email):
            return form(
                request, 400, "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr)."
            )
        where = "espace adhérents" if space(request) == "adherents" else "site public"
        await run_in_threadpool(request_subscription, email, audience, f"formulaire {SUBSCRIBE_PATH} ({where})")
        return sent()

    def confirmation_state(request: Request) -> tuple[str, str, str, str]:
        q = request.query_params
        email, audience, asked = q.get("adresse", "").lower(), q.get("lettre", ""), q.get("demande", "")
        state = tokens.check(
            service.secret,
            CONFIRM,
            (email, audience, asked),
            q.get("t", ""),
            q.get("jeton", ""),
            service.confirm_max_age,
            service.clock(),
        )
        if state == "ok" and audience not in LETTER_NAMES:
            state = "invalide"
        return state, email, audience, asked

    def members_only(request: Request, audience: str) -> HTMLResponse | None:
        """Refuse to confirm the members' letter outside the members' space: the password proves membership."""
        if audience != "adherents" or space(request) == "adherents":
            return None
        link = service.federation.members_url.rstrip("/") + CONFIRM_PATH + "?" + request.url.query
        return service.message(
            "Confirmation depuis l'espace adhérents",
            [
                "La lettre des adhérents est réservée aux équipes adhérentes : son inscription se confirme depuis l'espace"
                " adhérents, avec vos identifiants."
            ],
            403,
            link=(link, "Confirmer depuis l'espace adhérents"),
        )

    def link_problem(state: str) -> HTMLResponse:
        if state == "expiré":
            return service.message(
                "Ce lien de confirmation a expiré",
                ["Rien n'a été inscrit. Recommencez l'inscription : un nouveau lien vous sera envoyé."],
                410,
                link=(SUBSCRIBE_PATH, "S'inscrire à nouveau"),
            )
        return service.message(
            "Ce lien de confirmation n'est pas valide",
            ["Il a peut-être été coupé par votre messagerie : copiez le lien complet depuis le message reçu."],
            400,
        )

    async def confirm_page(request: Request) -> HTMLResponse:
        state, email, audience, _ = confirmation_state(request)
        if state != "ok":
            return link_problem(state)
        refused = members_only(request, audience)
        if refused:
            return refused
        return service.page(
            "lettres/confirmer.html.j2",
            request=request,
            title="Confirmer l'inscription",
            email=email,
            letter=LETTER_NAMES[audience],
            action=f"{CONFIRM_PATH}?{request.url.query}",
        )

    async def confirm(request: Request) -> HTMLResponse:
        await posted(request, service)
        state, email, audience, asked = confirmation_state(request)
        if state != "ok":
            return link_problem(state)
        refused = members_only(request, audience)
        if refused:
            return refused
        member = request.headers.get(MEMBER_HEADER, "")
        detail = f"depuis l'espace adhérents, compte {member}" if audience == "adherents" and member else ""
        if not await run_in_threadpool(service.store.confirm, email, audience, asked, service.clock(), detail):
            return service.message(
                "Ce lien ne vaut plus",
                [
                    "La demande qu'il confirmait n'est plus en cours : elle a été effacée, remplacée par une demande plus"
                    " récente, ou l'adresse s'est désinscrite depuis. Rien n'a changé.",
                    "Recommencez l'inscription si vous le souhaitez : un nouveau lien vous sera envoyé.",
                ],
                410,
                link=(SUBSCRIBE_PATH, "S'inscrire"),
            )
        return service.message(
            "Inscription confirmée",
            [
                f"L'adresse {email} recevra {LETTER_NAMES[audience]}.",
                "Chaque lettre contient un lien pour se désinscrire en un clic.",
            ],
        )

    def unsubscribe_state(request: Request) -> tuple[str | None, str, str]:
        q = request.query_params
        email, tok = q.get("adresse", "").strip(), q.get("jeton", "").strip()
        audience = audience_of(service.secret, email, tok) if ADDRESS.match(email) else None
        return audience, email, tok

    def bad_link(request: Request) -> HTMLResponse:
        if not request.query_params:
            return service.message(
                "Se désinscrire d'une lettre",
                [
                    "Utilisez le lien « Se désinscrire » en bas de la lettre reçue : il est propre à votre adresse.",
                    f"Vous pouvez aussi écrire à {service.federation.email} en indiquant l'adresse à désinscrire.",
                ],
            )
        return service.message(
            "Ce lien de désinscription n'est pas valide",
            [
                "Il a peut-être été coupé par votre messagerie. Copiez le lien complet depuis la lettre reçue,"
                f" ou écrivez à {service.federation.email} en indiquant l'adresse à désinscrire : nous nous en occupons."
            ],
            400,
        )

    def done(email: str, audience: str) -> HTMLResponse:
        return service.message(
            "Désinscription enregistrée",
            [
                f"L'adresse {email} ne recevra plus {LETTER_NAMES[audience]}.",
                "Un envoi déjà commencé peut encore vous parvenir dans les minutes qui viennent.",
            ],
            link=(SUBSCRIBE_PATH, "Vous réinscrire"),
        )

    async def unsubscribe_page(request: Request) -> HTMLResponse:
        audience, email, tok = unsubscribe_state(request)
        if audience is None:
            return bad_link(request)
        reader = await run_in_threadpool(service.store.reader, email, audience)
        if reader is not None and reader.state == UNSUBSCRIBED:
            return done(email, audience)
        return service.page(
            "lettres/desinscrire.html.j2",
            request=request,
            title="Se désinscrire",
            email=email,
            letter=LETTER_NAMES[audience],
            action=f"{unsubscribe_path}?jeton={quote(tok)}&adresse={quote(email)}",
        )

    async def unsubscribe(request: Request) -> HTMLResponse:
        fields = await form_fields(request)
        one_click = fields.get("List-Unsubscribe") == "One-Click"
        # The one exception to the own-pages rule: mail providers post RFC 8058's one-click with no Origin.
        # It changes nothing but the one subscription its signed link names.
        if not one_click and (
            not from_own_pages(request, service.federation) or not form_token_valid(service, request, fields.get(FORM_TOKEN, ""))
        ):
            raise ForeignOrigin
        audience, email, _ = unsubscribe_state(request)
        if audience is None:
            return bad_link(request)
        how = ONE_CLICK if one_click else LINK
        await run_in_threadpool(service.store.unsubscribe, email, audience, how, service.clock())
        return done(email, audience)

    return [
        Route(SUBSCRIBE_PATH, subscribe_page, methods=["GET"]),
        Route(SUBSCRIBE_PATH, subscribe, methods=["POST"]),
        Route(CONFIRM_PATH, confirm_page, methods=["GET"]),
        Route(CONFIRM_PATH, confirm, methods=["POST"]),
        Route(unsubscribe_path, unsubscribe_page, methods=["GET"]),
        Route(unsubscribe_path, unsubscribe, methods=["POST"]),
    ]


def purpose(unsubscribe_path: str) -> Callable[[Service], list[BaseRoute]]:
    """Return the letters' purpose for create_app, with the unsubscribe path of the letters' links."""
    return functools.partial(routes, unsubscribe_path=unsubscribe_path)
