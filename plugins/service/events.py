"""Event registrations on the federation's service: the form of an event that opens them (registration block in
its front matter), places and waiting list, the address's confirmation, the event as .ics, cancellation by signed link.

A request holds a place for 30 minutes and mails its address a link to confirm it; the form's
answer is the same whatever the store holds (what differs goes by email, to the address). Once
confirmed, the place is the person's: the confirmation with the .ics, reminders, cancellation.
GET shows; only POST changes something. Members' events register from the members' site only: the
service trusts the space that nginx tells it, never the browser.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route

from plugins.letters.message import message_id
from plugins.mail.ledger import SendLedger
from plugins.mail.transport import LostDuringData, PermanentFailure, TemporaryFailure
from plugins.model import Audience, ContentError, Event, load_content
from plugins.model.fields import ADDRESS, CONTROL
from plugins.model.french import when_fr
from plugins.outputs.calendar import location, render_calendar
from plugins.records.registrations import (
    ALREADY,
    CANCELLED,
    CONFIRMED,
    FULL,
    HOLD,
    WAITING,
    Outcome,
    Registration,
    RegistrationBook,
)
from plugins.service import tokens
from plugins.service.core import Service, form_fields, posted, space, vouch
from plugins.service.emails import Attachment, Mail
from plugins.settings.paths import EVENTS_PATH, HONEYPOT

CANCEL_PATH = EVENTS_PATH + "annuler"
CANCEL = "annulation d'inscription"
CANCEL_MAX_AGE = timedelta(days=400)  # a cancellation link works until well after the event
CONFIRM_PATH = EVENTS_PATH + "confirmer"
CONFIRM = "confirmation d'inscription à un événement"
CONFIRM_MAX_AGE = timedelta(days=2)  # past the hold, a late confirmation takes what is left


class EventCalendar:
    """The events that open registrations, from the content model, reloaded when the agenda or settings change."""

    def __init__(self, project: Path):
        self.project = project
        self.signature: tuple = ()
        self.events: dict[str, Event] = {}
        self.lock = threading.Lock()  # one reload at a time: a burst of requests does not read the content 40 times

    def _signature(self) -> tuple:
        files = [self.project / "mkdocs.yml", *sorted((self.project / "content" / "agenda").glob("*.md"))]
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())

    def event(self, slug: str) -> Event | None:
        signature = self._signature()
        if signature != self.signature:
            with self.lock:
                if signature != self.signature:
                    try:
                        content = load_content(self.project)
                    except ContentError:
                        return self.events.get(slug)  # a broken edit keeps the events as they were; `check` tells the editor
                    self.events = {e.slug: e for e in content.events if e.sign_up}
                    self.signature = signature
        return self.events.get(slug)


def site_of(service: Service, event: Event) -> str:
    """Return the site an event is shown on: the members' site for a members' event."""
    return service.federation.members_url if event.access is Audience.ADHERENTS else service.federation.public_url


def registration_link(service: Service, event: Event, registration: Registration, purpose: str, path: str) -> str:
    """Return a signed link bound to this one registration (not to a later one of the same address)."""
    values = (event.slug, registration.email.lower(), str(registration.id))
    signed = tokens.sign(service.secret, purpose, values, service.clock())
    query = urlencode({"evenement": event.slug, "adresse": values[1], "inscription": values[2]}) + "&" + signed.query()
    return site_of(service, event).rstrip("/") + path + "?" + query


def cancel_link(service: Service, event: Event, registration: Registration) -> str:
    return registration_link(service, event, registration, CANCEL, CANCEL_PATH)


def confirm_link(service: Service, event: Event, registration: Registration) -> str:
    return registration_link(service, event, registration, CONFIRM, CONFIRM_PATH)


def request_mail(service: Service, event: Event, outcome: Outcome, email: str) -> Mail:
    """Return what a registration request tells its address; none of what was typed on the form is in it.

    The address has not proven it wants anything yet: the name typed with it is not repeated.
    """
    facts = [("Quand", when_fr(event)), *([("Où", location(event))] if location(event) else [])]
    after = ["Vous n'avez rien demandé ? Ignorez ce message : sans confirmation, rien n'est enregistré."]
    subject = f"Confirmez votre inscription : {event.title}"
    if outcome.status == FULL:
        subject = f"Complet : {event.title}"
        lines = [f"Une inscription à « {event.title} » a été demandée avec cette adresse, mais il ne reste plus de place."]
        return service.mail(email, subject, "Bonjour,", lines, facts, after=["Vous n'avez rien demandé ? Ignorez ce message."])
    assert outcome.registration is not None
    registration = outcome.registration
    if outcome.status == ALREADY and registration.is_confirmed:
        return service.mail(
            email,
            f"Déjà inscrit·e : {event.title}",
            "Bonjour,",
            [
                f"Une nouvelle inscription à « {event.title} » a été demandée avec cette adresse, qui y est déjà inscrite :"
                " rien n'a changé.",
                "Le message reçu lors de la confirmation permet d'annuler l'inscription.",
            ],
            facts,
            after=["Vous n'avez rien demandé ? Ignorez ce message."],
        )
    waiting = registration.status == WAITING
    hold = int(HOLD.total_seconds() // 60)
    lines = [
        f"Une inscription à « {event.title} » a été demandée avec cette adresse.",
        (
            "L'événement est complet : confirmez pour prendre rang sur la liste d'attente."
            if waiting
            else f"Une place vous est réservée pendant {hold} minutes : confirmez-la par le lien ci-dessous."
            " Passé ce délai, elle est libérée pour une autre personne."
        ),
    ]
    return service.mail(
        email, subject, "Bonjour,", lines, facts, link=(confirm_link(service, event, registration), "Confirmer"), after=after
    )


def answers_of(event: Event, fields: dict[str, str]) -> tuple[dict[str, str], str]:
    """Return the answers to the event's questions and the first problem, in French ('' if none)."""
    assert event.sign_up
    answers: dict[str, str] = {}
    for q in event.sign_up.questions:
        value = fields.get(f"question-{q.id}", "").strip()
        if not value:
            if q.required:
                return answers, f"Répondez à la question « {q.label} »."
            continue
        allowed = q.choices if q.kind == "choix" else ("oui", "non") if q.kind == "oui-non" else None
        if (allowed and value not in allowed) or len(value) > 200 or CONTROL.search(value):
            return answers, f"Réponse non valide à la question « {q.label} »."
        answers[q.id] = value
    return answers, ""


def routes(service: Service, calendar: EventCalendar, months: int = 12) -> list[BaseRoute]:
    """Return the event registrations' routes; registrants are erased months after their event."""
    book = RegistrationBook(service.store.path)
    book.forget_past(months, service.clock())
    forgotten = [service.clock()]

    def forget_past(now: datetime) -> None:
        """Erase the registrants of past events, at most once an hour (not a write per request)."""
        if now - forgotten[0] >= timedelta(hours=1):
            forgotten[0] = now
            book.forget_past(months, now)

    def refusal(request: Request, event: Event | None) -> HTMLResponse | None:
        """Return the page that refuses this request, or None when registrations are open to it."""
        if event is None or event.sign_up is None or (event.access is Audience.ADHERENTS and space(request) != "adherents"):
            # A members' event is unknown on the public host: the same answer as a slug that exists nowhere.
            return service.message("Inscriptions introuvables", ["Cet événement n'ouvre pas d'inscriptions ici."], 404)
        now = service.clock()
        if now > event.sign_up.closes or now > event.start:
            return service.message(
                "Les inscriptions sont closes",
                [
                    f"Les inscriptions à « {event.title} » sont closes.",
                    f"Pour toute question, écrivez à {service.federation.email}.",
                ],
                410,
            )
        if event.sign_up.audience is Audience.ADHERENTS and space(request) != "adherents":
            return service.message(
                "Inscriptions réservées aux adhérents",
                ["Cet événement est réservé aux équipes adhérentes : inscrivez-vous depuis l'espace adhérents."],
                403,
                link=(
                    service.federation.members_url.rstrip("/") + EVENTS_PATH + event.slug + "/",
                    "S'inscrire depuis l'espace adhérents",
                ),
            )
        return None

    def form(request: Request, event: Event, status: int = 200, error: str = "") -> HTMLResponse:
        assert event.sign_up
        left = book.places_left(event.slug, event.sign_up.places, service.clock(), promote(event))
        return service.page(
            "evenements/formulaire.html.j2",
            status,
            request,
            title=f"S'inscrire : {event.title}",
            event=event,
            when=when_fr(event),
            where=location(event),
            left=left,
            error=error,
            months=months,
            action=f"{EVENTS_PATH}{event.slug}/",
        )

    def notice_mail(event: Event, registration: Registration, state: str, rank: int = 0) -> Mail:
        values = {
            "event": event,
            "when": when_fr(event),
            "where": location(event),
            "state": state,
            "rank": rank,
            "name": registration.name,
            "cancel": cancel_link(service, event, registration),
        }
        subject = {"confirmé": "Inscription confirmée", "promu": "Une place s'est libérée", "attente": "Liste d'attente"}[state]
        ics = render_calendar([event], event.title, site_of(service, event))
        attachments = (
            ()
            if state == "attente"
            else (Attachment("evenement.ics", "text/calendar", ics, (("method", "PUBLISH"), ("charset", "utf-8"))),)
        )
        return Mail(
            registration.email,
            f"{subject} : {event.title}",
            service.text("evenements/message.txt.j2", **values),
            service.text("evenements/message.html.j2", **values),
            attachments,
        )

    def promote(event: Event) -> Callable[[sqlite3.Connection, Registration], object]:
        """Queue the notice of whoever a freed place goes to (their address is proven: they confirmed it)."""
        return lambda db, registration: service.owe(db, f"event:{event.slug}", notice_mail(event, registration, "promu"), False)

    def ask(event: Event, email: str, name: str, answers: dict[str, str]) -> None:
        """Hold a place, then queue what the address is told, both before the answer.

        Two transactions, so that the email is made outside the store's lock (a burst of requests for
        one event is served one after the other there). Should the service stop between the two, the
        request had no answer: sent again, it finds its hold (« déjà ») and queues the link then.
        """
        assert event.sign_up
        now = service.clock()
        forget_past(now)
        outcome = book.register(
            event.slug, event.start, email, name, answers, event.sign_up.places, event.sign_up.waiting_list, now, promote(event)
        )
        service.owe(None, f"event:{event.slug}", request_mail(service, event, outcome, email), unproven=True)

    async def form_page(request: Request) -> HTMLResponse:
        event = await run_in_threadpool(calendar.event, request.path_params["slug"])
        return refusal(request, event) or form(request, event)  # type: ignore[arg-type]

    def asked(event: Event) -> HTMLResponse:
        # The same page whatever the store holds (a place, the waiting list, full, already registered).
        hold = int(HOLD.total_seconds() // 60)
        return service.message(
            "Vérifiez votre messagerie",
            [
                f"Un message part à l'adresse indiquée, au sujet de « {event.title} ». S'il contient un lien de confirmation,"
                f" suivez-le dans les {hold} minutes : une place n'est retenue que jusque-là.",
                "Rien n'est enregistré à votre nom tant que l'adresse n'a pas confirmé. Pas de message ? Regardez dans les"
                " indésirables.",
            ],
            200,
        )

    async def submit(request: Request) -> HTMLResponse:
        fields = await form_fields(request)
        event = await run_in_threadpool(calendar.event, request.path_params["slug"])
        refused = refusal(request, event)
        if refused or event is None:
            return refused or service.message("Inscriptions introuvables", [], 404)
        vouch(request, service, fields)  # after the refusals: a closed or unknown event says so, whoever asks
        if fields.get(HONEYPOT):
            return asked(event)
        name, email = fields.get("nom", "").strip(), fields.get("adresse", "").strip()
        if not name or len(name) > 100 or CONTROL.search(name):
            return form(request, event, 400, "Indiquez vos prénom et nom (100 caractères au plus).")
        if len(email) > 254 or not ADDRESS.match(email):
            return form(
                request,
                event,
                400,
                "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr).",
            )
        answers, problem = answers_of(event, fields)
        if problem:
            return form(request, event, 400, problem)
        await run_in_threadpool(ask, event, email, name, answers)
        return asked(event)

    def linked(request: Request, purpose: str, max_age: timedelta) -> tuple[Event | None, str, int]:
        """Return the event, address and registration number of a registration_link; no event if it is not one."""
        q = request.query_params
        slug, email, number = q.get("evenement", ""), q.get("adresse", "").lower(), q.get("inscription", "")
        state = tokens.check(
            service.secret, purpose, (slug, email, number), q.get("t", ""), q.get("jeton", ""), max_age, service.clock()
        )
        if state != "ok" or not (number.isascii() and number.isdigit()):
            return None, email, 0
        return calendar.event(slug), email, int(number)

    def confirmation(request: Request) -> tuple[Event | None, str, int]:
        return linked(request, CONFIRM, CONFIRM_MAX_AGE)

    def stale() -> HTMLResponse:
        return service.message(
            "Ce lien ne vaut plus",
            [
                "Il a expiré, a été coupé par votre messagerie, ou la demande qu'il confirmait n'est plus en cours.",
                "Inscrivez-vous de nouveau depuis la page de l'événement si vous le souhaitez.",
            ],
            400,
        )

    async def confirm_page(request: Request) -> HTMLResponse:
        event, email, number = await run_in_threadpool(confirmation, request)
        if event is None:
            return stale()
        return service.page(
            "evenements/confirmer.html.j2",
            request=request,
            title="Confirmer l'inscription",
            event=event,
            when=when_fr(event),
            where=location(event),
            email=email,
            action=f"{CONFIRM_PATH}?{request.url.query}",
        )

    def confirm_and_tell(event: Event, email: str, number: int) -> Outcome | None:
        assert event.sign_up
        outcome = book.confirm(number, email, event.sign_up.places, event.sign_up.waiting_list, service.clock(), promote(event))
        if outcome is not None and outcome.status in (CONFIRMED, WAITING) and outcome.registration is not None:
            state = "confirmé" if outcome.status == CONFIRMED else "attente"
            service.owe(None, f"event:{event.slug}", notice_mail(event, outcome.registration, state, outcome.rank), False)
        return outcome

    async def confirm(request: Request) -> HTMLResponse:
        await posted(request, service)
        event, email, number = await run_in_threadpool(confirmation, request)
        if event is None or event.sign_up is None:
            return stale()
        outcome = await run_in_threadpool(confirm_and_tell, event, email, number)
        if outcome is None:
            return stale()
        if outcome.status == CONFIRMED:
            return service.message(
                "Inscription confirmée",
                [
                    f"Votre place à « {event.title} » ({when_fr(event)}) est réservée.",
                    "Un message vous est envoyé avec l'événement à ajouter à votre agenda et un lien pour annuler.",
                ],
            )
        if outcome.status == WAITING:
            return service.message(
                "Inscription sur liste d'attente",
                [
                    f"« {event.title} » est complet : vous êtes n° {outcome.rank} sur la liste d'attente.",
                    "Si une place se libère, elle vous est attribuée dans l'ordre d'arrivée et un message vous prévient.",
                ],
            )
        if outcome.status == ALREADY:
            return service.message("Inscription déjà confirmée", [f"Cette inscription à « {event.title} » est confirmée."])
        return service.message(
            "Complet",
            [
                f"Le délai pour confirmer était passé, et il ne reste plus de place pour « {event.title} » :"
                " rien n'est enregistré."
            ],
            409,
        )

    def cancellation(request: Request) -> tuple[Event | None, str, int]:
        return linked(request, CANCEL, CANCEL_MAX_AGE)

    def bad_link() -> HTMLResponse:
        return service.message(
            "Ce lien d'annulation n'est pas valide",
            ["Il a peut-être été coupé par votre messagerie : copiez le lien complet depuis le message reçu."],
            400,
        )

    async def cancel_page(request: Request) -> HTMLResponse:
        event, email, number = await run_in_threadpool(cancellation, request)
        if event is None:
            return bad_link()
        active = await run_in_threadpool(book.active, event.slug, email)
        if active is None or active.id != number:
            return service.message(
                "Inscription annulée", [f"Aucune inscription de {email} n'est en cours pour « {event.title} »."], 200
            )
        return service.page(
            "evenements/annuler.html.j2",
            request=request,
            title="Annuler l'inscription",
            event=event,
            when=when_fr(event),
            email=email,
            action=f"{CANCEL_PATH}?{request.url.query}",
        )

    def cancel_and_promote(event: Event, email: str, number: int) -> bool:
        assert event.sign_up
        cancelled, _ = book.cancel(event.slug, email, event.sign_up.places, service.clock(), number, promote(event))
        return cancelled is not None

    async def cancel(request: Request) -> HTMLResponse:
        await posted(request, service)
        event, email, number = await run_in_threadpool(cancellation, request)
        if event is None:
            return bad_link()
        if not await run_in_threadpool(cancel_and_promote, event, email, number):
            return service.message(
                "Inscription annulée", [f"Aucune inscription de {email} n'est en cours pour « {event.title} »."], 200
            )
        return service.message(
            "Inscription annulée",
            [f"L'inscription de {email} à « {event.title} » est annulée.", "Merci d'avoir libéré votre place."],
            200,
        )

    return [
        Route(CONFIRM_PATH, confirm_page, methods=["GET"]),
        Route(CONFIRM_PATH, confirm, methods=["POST"]),
        Route(CANCEL_PATH, cancel_page, methods=["GET"]),
        Route(CANCEL_PATH, cancel, methods=["POST"]),
        Route(EVENTS_PATH + "{slug}/", form_page, methods=["GET"]),
        Route(EVENTS_PATH + "{slug}/", submit, methods=["POST"]),
    ]


REMIND_BEFORE = timedelta(days=2)


def due_reminders(events: list[Event], now: datetime) -> list[Event]:
    """Return the events with registrations on the service that start within the next two days."""
    return [e for e in events if e.sign_up and now < e.start <= now + REMIND_BEFORE]


def send_reminders(service: Service, events: list[Event], ledger: SendLedger, now: datetime, say: Callable[[str], None]) -> int:
    """Remind each confirmed registrant of the events starting within two days, once, with the letters' ledger.

    Return how many reminders are left to send (a temporary failure: the next run sends them).
    """
    book = RegistrationBook(service.store.path)
    left = 0
    for event in due_reminders(events, now):
        run = f"rappel-{event.slug}"
        confirmed = [r for r in book.registrants(event.slug) if r.status == CONFIRMED and r.is_confirmed]
        domain = service.postman.sender.domain
        ledger.enlist(run, [(r.email, r.name, message_id(run, r.email, domain)) for r in confirmed])
        ledger.recover(run)
        for delivery in ledger.to_send(run):
            registration = book.active(event.slug, delivery.email)
            if registration is None or registration.status != CONFIRMED or not registration.is_confirmed:
                ledger.mark(run, delivery.email, "skipped", "inscription annulée avant le rappel")
                continue
            mail = reminder(service, event, registration, delivery.message_id)
            try:
                service.postman.send(mail, now, functools.partial(ledger.mark, run, delivery.email, "inflight", attempt=True))
            except TemporaryFailure as exc:
                ledger.mark(run, delivery.email, "pending", str(exc))
                left += 1
                continue
            except PermanentFailure as exc:
                ledger.mark(run, delivery.email, "failed", str(exc))
                continue
            except LostDuringData as exc:
                ledger.mark(run, delivery.email, "unknown", str(exc))
                continue
            ledger.mark(run, delivery.email, "sent")
        counts = ledger.counts(run)
        say(f"Rappel de « {event.title} » : {counts.get('sent', 0)} envoyé(s) en tout, {counts.get('pending', 0)} en attente.")
    return left


def reminder(service: Service, event: Event, registration: Registration, msg_id: str) -> Mail:
    """Return the reminder of an event for one registrant, with its cancellation link."""
    values = {
        "event": event,
        "when": when_fr(event),
        "where": location(event),
        "state": "rappel",
        "rank": 0,
        "name": registration.name,
        "cancel": cancel_link(service, event, registration),
    }
    return Mail(
        registration.email,
        f"Rappel : {event.title}",
        service.text("evenements/message.txt.j2", **values),
        service.text("evenements/message.html.j2", **values),
        message_id=msg_id,
    )


def purpose(project: Path, months: int) -> Callable[[Service], list[BaseRoute]]:
    """Return the event registrations' purpose for create_app, reading the events of this project."""
    return functools.partial(routes, calendar=EventCalendar(project), months=months)


def export_rows(book: RegistrationBook, event: Event) -> tuple[list[list[str]], dict[str, int]]:
    """Return the CSV rows of an event's registrants (header first) and the count by status."""
    questions = event.sign_up.questions if event.sign_up else ()
    rows = [["statut", "rang", "nom", "adresse", "inscription", *[q.label for q in questions]]]
    counts: dict[str, int] = {}
    for r in book.registrants(event.slug):
        status = r.shown_status()
        counts[status] = counts.get(status, 0) + 1
        rank = str(counts[status]) if r.status != CANCELLED else ""
        stamp = datetime.fromisoformat(r.created).astimezone(event.start.tzinfo).strftime("%d/%m/%Y %H:%M")
        rows.append([status, rank, r.name, r.email, stamp, *[r.answers.get(q.id, "") for q in questions]])
    return rows, counts
