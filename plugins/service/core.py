"""The shared core of the readers service: settings, French pages, request bodies, the Starlette app and its server.

Each purpose (letters, event registrations, membership requests, the members' passwords) is a
module that returns its routes from the Service it is given; nothing here knows about letters.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from plugins.records.outbox import Caps, Outbox
from plugins.records.readers import ReaderStore
from plugins.service import tokens
from plugins.service.emails import Mail, Postman
from plugins.service.sending import Worker
from plugins.settings.federation import FederationSettings
from plugins.settings.paths import FORM_TOKEN, MEMBER_HEADER

TEMPLATES = Path(__file__).parent / "templates"
SITE_PARTIALS = Path(__file__).parent.parent / "render" / "templates" / "partials"  # forms the sites' pages show too
BODY_LIMIT = 8 * 1024  # a form of this service never needs more
# Set by the nginx configuration that `build.py server` writes, overwriting whatever the client sent.
SPACE_HEADER = "x-federation-space"
HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    # The origin only, never the path and query (tokens); and not "no-referrer", with which browsers
    # send « Origin: null » on the pages' own forms, which the service would then refuse.
    "Referrer-Policy": "strict-origin",
    "X-Content-Type-Options": "nosniff",
    # No script at all; the one stylesheet is inline; forms post to this service only.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'",
}


class Linked(NamedTuple):
    """A line of a page or an email that ends with an address: a link in HTML, the address itself in text."""

    before: str
    url: str


@dataclass
class Service:
    """Everything a purpose module needs: the store, the mail, the key, the pages, the clock."""

    federation: FederationSettings
    store: ReaderStore
    postman: Postman
    secret: bytes
    confirm_max_age: timedelta = timedelta(hours=48)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    caps: Caps = field(default_factory=Caps)
    env: Environment = field(init=False)
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.store.path, self.caps)
        # Escaped by default; only the text parts of emails (.txt.j2) are plain text.
        self.env = Environment(
            loader=FileSystemLoader([TEMPLATES, SITE_PARTIALS]),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html.j2",), disabled_extensions=("txt.j2",), default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def page(self, template: str, status: int = 200, request: Request | None = None, **values: Any) -> HTMLResponse:
        """Return a French page of the service (escaped by default); with the request, its form carries its token."""
        action = values.get("action") or values.get("join_action") or ""
        token = form_token(self, request, action) if request is not None and action else ""
        body = self.env.get_template(template).render(federation=self.federation, form_token=token, **values)
        return HTMLResponse(body, status_code=status, headers=HEADERS)

    def message(
        self, title: str, lines: Sequence[str | Linked], status: int = 200, link: tuple[str, str] | None = None
    ) -> HTMLResponse:
        """Return a French page that says something in a few lines, with an optional link onward."""
        return self.page("message.html.j2", status, title=title, lines=lines, link=link)

    def owe(self, db: sqlite3.Connection | None, purpose: str, mail: Mail, unproven: bool) -> bool:
        """Queue an email in the outbox (inside the caller's transaction db, or in one of its own); the worker sends it.

        unproven: the address was typed on a form and nobody has proven it yet (the outbox's caps apply).
        Return False if a cap dropped it.
        """
        now = self.clock()
        data = self.postman.message(mail, now)
        if db is None:
            return self.outbox.queue(purpose, mail.to, data, now, unproven)
        return self.outbox.add(db, purpose, mail.to, data, now, unproven)

    def worker(self) -> Worker:
        """Return the thread that sends the outbox (started by serve)."""
        return Worker(self.outbox, self.postman, self.clock)

    def text(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(federation=self.federation, **values)

    def mail(
        self,
        to: str,
        subject: str,
        greeting: str,
        paragraphs: Sequence[str | Linked],
        facts: list[tuple[str, str]] | None = None,
        link: tuple[str, str] | None = None,
        after: list[str] | None = None,
        reply_to: str = "",
    ) -> Mail:
        """Return a French email in a few paragraphs, facts and one link (a button in HTML), as text and HTML."""
        values = {
            "subject": subject,
            "greeting": greeting,
            "paragraphs": paragraphs,
            "facts": facts or [],
            "link": link,
            "after": after or [],
        }
        text = self.text("courriel.txt.j2", **values)
        return Mail(to, subject, text, self.text("courriel.html.j2", **values), reply_to=reply_to)


class BodyTooLarge(Exception):
    """The request body is larger than any form of the service."""


class ForeignOrigin(Exception):
    """A state-changing request that does not come from the federation's own pages (cross-site request forgery)."""


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def from_own_pages(request: Request, federation: FederationSettings) -> bool:
    """Return whether a POST comes from a page of the federation's sites, as the browser tells it.

    Browsers send Origin with every POST (Sec-Fetch-Site and Referer too, unless told not to) and
    a page of another site cannot change them: a form that another site submits through a member's
    browser, with the member's cached password, is refused here. The hosts are the federation's
    two sites and the host the request came to (nginx passes it on); no header at all is refused.
    """
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    own = {origin_of(federation.public_url), origin_of(federation.members_url), f"{scheme}://{host}".lower()} - {""}
    origin = request.headers.get("origin")
    if origin is not None:
        return origin.strip().lower() in own  # « null » (a sandboxed frame, a data: page) is no one's
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    referer = request.headers.get("referer")
    return referer is not None and origin_of(referer) in own


FORM_TOKEN_PURPOSE = "formulaire"
FORM_TOKEN_MAX_AGE = timedelta(days=1)  # a form left open a while still posts


def form_token(service: Service, request: Request, action: str) -> str:
    """Return the token a form of the service carries: signed for its action's path, the time and the member.

    The member is the login nginx found (members' host), so that a page of one member cannot make
    a token for another's browser.
    """
    member = request.headers.get(MEMBER_HEADER, "")
    signed = tokens.sign(service.secret, FORM_TOKEN_PURPOSE, (urlsplit(action).path, member), service.clock())
    return f"{signed.issued}.{signed.signature}"


def form_token_valid(service: Service, request: Request, value: str) -> bool:
    issued, _, signature = value.partition(".")
    member = request.headers.get(MEMBER_HEADER, "")
    state = tokens.check(
        service.secret,
        FORM_TOKEN_PURPOSE,
        (request.url.path, member),
        issued,
        signature,
        FORM_TOKEN_MAX_AGE,
        service.clock(),
    )
    return state == "ok"


async def posted(request: Request, service: Service, token: bool = True) -> dict[str, str]:
    """Return a POSTed form's fields; raise ForeignOrigin unless it comes from the federation's own pages.

    token: the form is one only the service shows, so it must carry its token (FORM_TOKEN); the
    forms the static sites show too (a letter's subscription, the membership request) cannot carry
    one (their pages are built once for everyone), and their token is checked only when present.
    """
    fields = await form_fields(request)
    vouch(request, service, fields, token)
    return fields


def vouch(request: Request, service: Service, fields: dict[str, str], token: bool = True) -> None:
    """Raise ForeignOrigin unless these POSTed fields come from the federation's own pages (see posted)."""
    if not from_own_pages(request, service.federation):
        raise ForeignOrigin
    carried = fields.get(FORM_TOKEN, "")
    if (token or carried) and not form_token_valid(service, request, carried):
        raise ForeignOrigin


async def form_fields(request: Request, limit: int = BODY_LIMIT) -> dict[str, str]:
    """Return a urlencoded form's fields (first value of each); raise BodyTooLarge beyond limit bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return {}
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[0] for key, values in fields.items()}


def space(request: Request) -> str:
    """Return the site the request came through: "adherents" only when nginx's authenticated location says so."""
    return "adherents" if request.headers.get(SPACE_HEADER, "") == "adherents" else "public"


def create_app(service: Service, purposes: list[Callable[[Service], list[BaseRoute]]]) -> Starlette:
    """Return the service's application: every purpose's routes, French error pages."""
    routes = [route for purpose in purposes for route in purpose(service)]

    async def not_found(request: Request, exc: Exception) -> Response:
        return service.message("Page introuvable", ["Cette adresse ne correspond à aucune page du service."], 404)

    async def too_large(request: Request, exc: Exception) -> Response:
        return service.message(
            "Envoi trop volumineux", ["Le formulaire envoyé est bien plus long que prévu : rien n'a été enregistré."], 413
        )

    async def foreign(request: Request, exc: Exception) -> Response:
        return service.message(
            "Formulaire refusé",
            [
                "Ce formulaire n'a pas été envoyé depuis une page de la fédération : rien n'a été enregistré, aucun message"
                " n'est parti.",
                "Si vous l'avez rempli vous-même, ouvrez la page du formulaire sur le site de la fédération et envoyez-le"
                " de nouveau.",
            ],
            403,
        )

    async def failure(request: Request, exc: Exception) -> Response:
        # 5xx on our side only: a mail provider retries a one-click unsubscription that got one.
        return service.message(
            "Le service a rencontré un problème",
            [
                "Rien n'a été perdu de ce qui était déjà enregistré. Réessayez dans quelques minutes ;"
                " si le problème continue, écrivez-nous."
            ],
            500,
        )

    handlers: dict[Any, Callable] = {
        404: not_found,
        405: not_found,
        BodyTooLarge: too_large,
        ForeignOrigin: foreign,
        500: failure,
        Exception: failure,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.service = service
    return app


def serve(app: Starlette, host: str, port: int, ready: Callable[[str], None] = print, worker: Worker | None = None) -> None:
    """Serve with uvicorn until SIGTERM or Ctrl+C (both finish the requests under way); worker sends the outbox meanwhile."""
    import uvicorn  # deferred on purpose: only `build.py service` runs a server

    if worker is not None:
        worker.start()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                ready(f"Service des lecteurs à l'écoute sur http://{host}:{port}/ (Ctrl+C pour arrêter).")

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # uvicorn raises the signal again once stopped; a clean stop asked by systemd exits 0 instead.
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, server_header=False, proxy_headers=False, lifespan="off"
    )
    try:
        Server(config).run()
    finally:
        if worker is not None:
            worker.stop()
