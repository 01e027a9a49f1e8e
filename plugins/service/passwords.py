"""The members' passwords on the federation's service: the signed link to choose one (after a membership is
accepted, or from « Mot de passe oublié »), and nginx's htpasswd rewritten at once, with no build and no reload.

These pages are on the members' host but open without a password (nginx's `/acces/` location): the
signed link is the proof. A link is made for the account's current hash, so it works once.
The staff never see a password; only its bcrypt hash is kept.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import bcrypt
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from plugins.model import ContentError
from plugins.model.fields import ADDRESS, CONTROL, PARIS
from plugins.model.french import date_fr
from plugins.records.accounts import AccountStore, MemberAccount
from plugins.records.password_file import DEFAULT_COST, MIN_SECRET_LENGTH, hash_secret
from plugins.service import tokens
from plugins.service.core import Service, posted
from plugins.service.guard import Guard, Limits, network_of
from plugins.settings.paths import CLIENT_HEADER, FORGOT_PATH, HONEYPOT, MEMBER_HEADER, PASSWORD_PATH, VERIFY_PATH

PURPOSE = "mot de passe"
LINK_MAX_AGE = timedelta(hours=72)
MAX_SECRET_BYTES = 72  # bcrypt reads no further


def password_link(service: Service, account: MemberAccount) -> str:
    """Return the signed link that sets this account's password, valid 72 hours and once."""
    signed = tokens.sign(service.secret, PURPOSE, (account.login, account.hash or ""), service.clock())
    query = urlencode({"compte": account.login}) + "&" + signed.query()
    return service.federation.members_url.rstrip("/") + PASSWORD_PATH + "?" + query


def forgot_url(service: Service) -> str:
    return service.federation.members_url.rstrip("/") + FORGOT_PATH


def secret_problem(secret: str, again: str) -> str:
    """Return what is wrong with a chosen password, in French ('' if nothing)."""
    if len(secret) < MIN_SECRET_LENGTH:
        return (
            f"Choisissez un mot de passe d'au moins {MIN_SECRET_LENGTH} caractères (une phrase de quelques mots convient bien)."
        )
    if len(secret.encode("utf-8")) > MAX_SECRET_BYTES or CONTROL.search(secret):
        return "Choisissez un mot de passe de 64 caractères au plus, sans retour à la ligne."
    if secret != again:
        return "Les deux mots de passe saisis diffèrent : saisissez deux fois le même."
    return ""


class Passwords:
    """Set a password from a signed link and rewrite the htpasswd that nginx reads."""

    def __init__(self, service: Service, htpasswd: Path | None, cost: int = DEFAULT_COST):
        self.service, self.htpasswd, self.cost = service, htpasswd, cost
        self.accounts = AccountStore(service.store.path)

    def today(self) -> date:
        return self.service.clock().astimezone(PARIS).date()

    def checked(self, request: Request) -> tuple[str, MemberAccount | None]:
        """Return the link's state (« ok », « expiré », « invalide ») and its account."""
        q = request.query_params
        account = self.accounts.get(q.get("compte", ""))
        values = (q.get("compte", ""), account.hash or "" if account else "")
        state = tokens.check(
            self.service.secret, PURPOSE, values, q.get("t", ""), q.get("jeton", ""), LINK_MAX_AGE, self.service.clock()
        )
        return state, account if state == "ok" else None

    def set(self, account: MemberAccount, secret: str) -> tuple[bool, bool]:
        """Store the new hash if the link is still unused, then rewrite the htpasswd.

        Return whether it was set, and whether it already works (False until the next `build.py server`
        when the service has no htpasswd or may not rewrite it).
        """
        if not self.accounts.set_hash(account.login, hash_secret(secret, self.cost), account.hash, self.service.clock()):
            return False, False
        return True, self.write()

    def write(self) -> bool:
        """Rewrite nginx's htpasswd from the accounts; say on stderr why not if it cannot (the hashes are kept)."""
        if self.htpasswd is None:
            return False
        try:
            self.accounts.write_htpasswd(self.htpasswd, self.today())
        except (ContentError, OSError) as exc:
            detail = exc.report() if isinstance(exc, ContentError) else str(exc)
            print(f"Mots de passe : {self.htpasswd} n'a pas pu être réécrit ({detail}).", file=sys.stderr, flush=True)
            return False
        return True

    def send_links(self, email: str) -> None:
        """Email each account of this address a link (or, if it expired, how to renew); at most once an hour each."""
        now = self.service.clock()
        for account in self.accounts.by_email(email):

            def owe(db: sqlite3.Connection, account: MemberAccount = account) -> None:
                self.service.owe(db, "password", self.reset_mail(account), unproven=True)

            self.accounts.claim_link(account.login, now, owe)  # claimed and queued in one transaction

    def reset_mail(self, account: MemberAccount):
        service = self.service
        if not account.is_valid_on(self.today()):
            return service.mail(
                account.email,
                "Votre accès à l'espace adhérents a expiré",
                "Bonjour,",
                [
                    f"Un nouveau mot de passe a été demandé pour l'identifiant « {account.login} », dont l'adhésion a pris fin"
                    f" le {date_fr(date.fromisoformat(account.expires or '2000-01-01'))}.",
                    f"Pour renouveler l'adhésion, écrivez à {service.federation.email} ou remplissez la demande sur le site.",
                ],
                after=["Vous n'avez rien demandé ? Ignorez ce message : rien n'a changé."],
            )
        return service.mail(
            account.email,
            "Choisir un nouveau mot de passe",
            "Bonjour,",
            [
                "Un nouveau mot de passe a été demandé pour l'espace adhérents. Le lien ci-dessous vaut 72 heures et sert une fois.",
            ],
            [("Identifiant", account.login)],
            link=(password_link(service, account), "Choisir mon mot de passe"),
            after=["Vous n'avez rien demandé ? Ignorez ce message : votre mot de passe actuel reste valable."],
        )


REALM = 'Basic realm="Espace adherents", charset="UTF-8"'


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    """Return the login and password of a Basic Authorization header, or None if it is not one."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 1024:
        return None
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    login, colon, secret = text.partition(":")
    return (login, secret) if colon and login else None


class MembersGate:
    """Check the members' passwords for nginx (`auth_request`), with the wrong-password limits of Guard.

    The accounts are the service's own (the base that `build.py server --db` fills and the
    htpasswd is written from): an account past its end date is refused at once, with no rewrite.
    """

    def __init__(self, service: Service, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic):
        self.service, self.clock = service, clock
        self.accounts = AccountStore(service.store.path)
        self.guard = Guard(service.secret, limits)
        # Unknown logins cost one bcrypt check too: the answer's delay does not tell which logins exist.
        self.decoy = bcrypt.hashpw(b"-", bcrypt.gensalt(rounds=DEFAULT_COST))

    def today(self) -> date:
        return self.service.clock().astimezone(PARIS).date()

    def check(self, login: str, secret: str) -> bool:
        """Return whether this password is the account's and the account is valid today (bcrypt: slow on purpose)."""
        account = self.accounts.get(login)
        valid = account is not None and account.hash is not None and account.is_valid_on(self.today())
        stored = account.hash.encode() if valid and account and account.hash else self.decoy
        try:
            right = bcrypt.checkpw(secret.encode("utf-8")[:MAX_SECRET_BYTES], stored)  # nginx's crypt() reads 72 bytes too
        except ValueError:
            return False
        return valid and right

    async def answer(self, request: Request) -> Response:
        """200 with the login for a right password, 401 for a wrong one, 403 while the client or account is refused."""
        authorization = request.headers.get("authorization", "")
        network = network_of(request.headers.get(CLIENT_HEADER, ""))
        login = self.guard.remembered(network, authorization, self.clock())
        if login is not None:
            return Response(status_code=200, headers={MEMBER_HEADER: login})
        claimed = basic_credentials(authorization)
        if claimed is None:
            return Response(status_code=401, headers={"WWW-Authenticate": REALM})  # the browser's first request: ask
        if self.guard.refused(network, claimed[0], self.clock()):
            return Response(status_code=403)
        # Counted before the check, forgiven if right: many guesses sent at once cannot all slip under the limit.
        self.guard.failed(network, claimed[0], self.clock())
        if not await run_in_threadpool(self.check, *claimed):
            return Response(status_code=401, headers={"WWW-Authenticate": REALM})
        self.guard.forgive(network, claimed[0])
        self.guard.succeeded(network, authorization, claimed[0], self.clock())
        return Response(status_code=200, headers={MEMBER_HEADER: claimed[0]})


def routes(service: Service, passwords: Passwords, gate: MembersGate | None = None) -> list[BaseRoute]:
    """Return the routes of the password pages (members' host, open without a password) and nginx's check."""
    gate = gate or MembersGate(service)

    def bad_link(state: str) -> HTMLResponse:
        title = "Ce lien a expiré" if state == "expiré" else "Ce lien n'est pas valide"
        why = (
            "Il valait 72 heures."
            if state == "expiré"
            else "Il a déjà servi, ou il a été coupé par votre messagerie : copiez le lien complet depuis le message reçu."
        )
        return service.message(
            title,
            [why, "Demandez un nouveau lien : il arrive en quelques minutes."],
            400,
            (forgot_url(service), "Recevoir un nouveau lien"),
        )

    def form(request: Request, account: MemberAccount, status: int = 200, error: str = "") -> HTMLResponse:
        return service.page(
            "acces/mot-de-passe.html.j2",
            status,
            request,
            title="Choisir votre mot de passe",
            account=account,
            error=error,
            minimum=MIN_SECRET_LENGTH,
            action=f"{PASSWORD_PATH}?{request.url.query}",
        )

    async def show(request: Request) -> HTMLResponse:
        state, account = await run_in_threadpool(passwords.checked, request)
        return form(request, account) if account else bad_link(state)

    async def choose(request: Request) -> HTMLResponse:
        fields = await posted(request, service)
        state, account = await run_in_threadpool(passwords.checked, request)
        if account is None:
            return bad_link(state)
        if not account.is_valid_on(passwords.today()):
            return service.message(
                "Adhésion expirée",
                [f"L'adhésion de « {account.login} » a pris fin : écrivez à {service.federation.email} pour la renouveler."],
                403,
            )
        secret, again = fields.get("mot-de-passe", ""), fields.get("confirmation", "")
        problem = secret_problem(secret, again)
        if problem:
            return form(request, account, 400, problem)
        stored, active = await run_in_threadpool(passwords.set, account, secret)
        if not stored:
            return bad_link("invalide")
        when = "il vaut dès maintenant" if active else "il vaudra dès la prochaine mise à jour du site, au plus tard demain"
        return service.message(
            "Mot de passe enregistré",
            [
                f"Le mot de passe de l'identifiant « {account.login} » est enregistré : {when}.",
                "Gardez-le dans un gestionnaire de mots de passe ; partagez-le seulement avec votre équipe.",
            ],
            200,
            (service.federation.members_url, "Entrer dans l'espace adhérents"),
        )

    def forgot_form(request: Request, status: int = 200, error: str = "") -> HTMLResponse:
        return service.page("acces/oubli.html.j2", status, request, title="Mot de passe oublié", error=error, action=FORGOT_PATH)

    async def forgot_page(request: Request) -> HTMLResponse:
        return forgot_form(request)

    async def forgot(request: Request) -> HTMLResponse:
        fields = await posted(request, service)
        email = fields.get("adresse", "").strip()
        if len(email) > 254 or not ADDRESS.match(email):
            return forgot_form(
                request, 400, "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr)."
            )
        response = service.message(
            "Demande envoyée",
            [
                f"Si un compte de l'espace adhérents correspond à {email}, un message vient d'y partir avec un lien pour choisir"
                " un nouveau mot de passe (valable 72 heures).",
                f"Rien reçu dans quelques minutes ? Regardez dans les indésirables, ou écrivez à {service.federation.email}.",
            ],
        )
        if not fields.get(HONEYPOT):
            # After the answer: its content and its delay are the same whether the address is known or not.
            response.background = BackgroundTask(passwords.send_links, email)
        return response

    return [
        Route(PASSWORD_PATH, show, methods=["GET"]),
        Route(PASSWORD_PATH, choose, methods=["POST"]),
        Route(FORGOT_PATH, forgot_page, methods=["GET"]),
        Route(FORGOT_PATH, forgot, methods=["POST"]),
        Route(VERIFY_PATH, gate.answer, methods=["GET"]),
    ]


def purpose(htpasswd: Path | None) -> Callable[[Service], list[BaseRoute]]:
    """Return the passwords' purpose for create_app; htpasswd is the file nginx reads (None: next `build.py server`)."""

    def make(service: Service) -> list[BaseRoute]:
        return routes(service, Passwords(service, htpasswd))

    return make
