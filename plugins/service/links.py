"""The letters' counted links: /l/<letter>/<number>/<signature> redirects to the link the letter carried, and counts it.

Counted per link and per day (plugins/records/clicks.py), with no subscriber, no address and no
cookie. A mail filter that follows every link of a message as it arrives, or a reader who clicks
twice, counts once: a client that already followed a link in the last ten minutes is not counted
again. That is known in memory only, by a digest of the client's address with a salt drawn at
random each day and never written (as Plausible does): yesterday's digests cannot be recomputed.
nginx does not log these requests (plugins/deploy/nginx.conf.j2).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from plugins.letters.links import LINK_PATH, OPEN_PATH, signature
from plugins.records.clicks import ClickBook
from plugins.service.core import Service
from plugins.settings.paths import CLIENT_HEADER

WINDOW = timedelta(minutes=10)
KEPT = 50_000
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)  # digests held at most; beyond, the oldest go first


class Seen:
    """Which client followed which link lately, as salted digests held in memory for one day."""

    def __init__(self, window: timedelta = WINDOW) -> None:
        self.window = window
        self.day: date | None = None
        self.salt = b""
        self.last: dict[bytes, datetime] = {}

    def first(self, client: str, letter: str, number: int, now: datetime) -> bool:
        """Whether this follow counts: not the same client on the same link within the window."""
        if now.date() != self.day:  # a new day: a new salt, and yesterday's digests forgotten
            self.day, self.salt, self.last = now.date(), secrets.token_bytes(32), {}
        key = hashlib.sha256(self.salt + f"{client}\0{letter}\0{number}".encode()).digest()
        seen = self.last.get(key)
        self.last[key] = now
        if len(self.last) > KEPT:
            for old in sorted(self.last, key=self.last.__getitem__)[: KEPT // 10]:
                del self.last[old]
        return seen is None or now - seen > self.window


def routes(service: Service, book: ClickBook, seen: Seen | None = None) -> list[BaseRoute]:
    seen = seen or Seen()

    async def follow(request: Request) -> Response:
        letter, number, sig = request.path_params["letter"], request.path_params["number"], request.path_params["sig"]
        url = book.url(letter, number)
        if url is None or not hmac.compare_digest(sig, signature(service.secret, letter, number, url)):
            return service.message("Lien inconnu", ["Ce lien ne correspond à aucun lien d'une lettre de la fédération."], 404)
        client = request.headers.get(CLIENT_HEADER) or (request.client.host if request.client else "")
        now = service.clock()
        if request.method == "GET" and seen.first(client, letter, number, now):  # a HEAD (a link checker) is not a read
            book.count(letter, number, now.date())
        return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    async def opened(request: Request) -> Response:
        letter, sig = request.path_params["letter"], request.path_params["sig"]
        if not hmac.compare_digest(sig, signature(service.secret, letter, 0, "ouverture")):
            return Response(status_code=404)
        client = request.headers.get(CLIENT_HEADER) or (request.client.host if request.client else "")
        now = service.clock()
        if request.method == "GET" and seen.first(client, letter, 0, now):
            book.opened(letter, now.date())
        return Response(PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    return [
        Route(LINK_PATH + "{letter}/{number:int}/{sig}", follow, methods=["GET", "HEAD"]),
        Route(OPEN_PATH + "{letter}/{sig}.gif", opened, methods=["GET", "HEAD"]),
    ]


def purpose() -> Callable[[Service], list[BaseRoute]]:
    """The counted links' purpose for create_app: their book is in the service's base."""
    return lambda service: routes(service, ClickBook(service.store.path))
