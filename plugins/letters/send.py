"""Send a letter to each subscriber once, through SMTP (or an outbox folder), with the ledger as memory."""

from __future__ import annotations

import contextlib
import functools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from pathlib import Path

from plugins.base.french_cli import counted
from plugins.letters.links import count_links, open_url, with_open_image
from plugins.letters.message import build_message, message_id, token, unsubscribe_links
from plugins.letters.publish import rendered
from plugins.letters.render import RenderedLetter
from plugins.letters.subscribers import Subscriber, check_columns, read_subscribers, read_suppressed
from plugins.mail.dkim import DkimKey
from plugins.mail.ledger import Delivery, LedgerBusy, SendLedger
from plugins.mail.transport import (
    LostDuringData,
    OutboxTransport,
    PermanentFailure,
    SmtpSettings,
    SmtpTransport,
    TemporaryFailure,
)
from plugins.records.clicks import ClickBook
from plugins.records.readers import ReaderStore


@dataclass
class LetterEnvelope:
    """Everything about a letter that is the same for every recipient."""

    slug: str
    audience: str
    subject: str
    rendered: RenderedLetter
    sender: Address
    domain: str
    unsubscribe_url: str
    unsubscribe_mailbox: str
    list_id: str
    secret: bytes
    dkim: DkimKey | None = None


@dataclass
class SendReport:
    enlisted: int = 0
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    pending: int = 0
    recovered: int = 0
    skipped: int = 0

    @property
    def done(self) -> bool:
        return self.pending == 0


@dataclass
class RetryPolicy:
    attempts: int = 5
    backoff: float = 2.0  # seconds before the 2nd attempt; doubles each time
    connection_failures: int = 5


def message_bytes(envelope: LetterEnvelope, delivery: Delivery | Subscriber, msg_id: str) -> bytes:
    tok = token(envelope.secret, envelope.audience, delivery.email)
    https, mailto = unsubscribe_links(envelope.unsubscribe_url, envelope.unsubscribe_mailbox, tok, delivery.email)
    data = build_message(
        envelope.rendered,
        subject=envelope.subject,
        sender=envelope.sender,
        to_email=delivery.email,
        to_name=delivery.name,
        msg_id=msg_id,
        unsubscribe_https=https,
        unsubscribe_mailto=mailto,
        list_id=envelope.list_id,
        date=datetime.now(UTC),
    )
    return envelope.dkim.sign(data) if envelope.dkim else data


def send_letter(
    envelope: LetterEnvelope,
    recipients: list[Subscriber],
    ledger: SendLedger,
    transport,
    rate: float = 0.0,
    retry: RetryPolicy | None = None,
    retry_unknown: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    wanted: Callable[[str], bool] = lambda _: True,
) -> SendReport:
    """Send the letter to every recipient the ledger has not recorded as done.

    wanted(email) is asked right before each message: an unsubscription recorded while the
    send runs takes effect for the very next message.
    """
    retry = retry or RetryPolicy()
    report = SendReport()
    report.enlisted = ledger.enlist(
        envelope.slug, [(r.email, r.name, message_id(envelope.slug, r.email, envelope.domain)) for r in recipients]
    )
    report.recovered = ledger.recover(envelope.slug)
    queue = deque((d, 0.0) for d in ledger.to_send(envelope.slug, retry_unknown))
    attempts: dict[str, int] = {}
    interval = 1.0 / rate if rate > 0 else 0.0
    last = 0.0
    lost_connections = 0
    if queue:
        try:
            transport.open()
        except TemporaryFailure as exc:
            progress(f"Envoi impossible pour l'instant : {exc}")
    try:
        while queue:
            delivery, not_before = queue.popleft()
            wait = max(not_before - time.monotonic(), last + interval - time.monotonic())
            if wait > 0:
                time.sleep(wait)
            last = time.monotonic()
            email = delivery.email
            if not wanted(email):
                ledger.mark(envelope.slug, email, "skipped", "désinscrit ou en erreur avant l'envoi")
                report.skipped += 1
                continue
            data = message_bytes(envelope, delivery, delivery.message_id)
            try:
                transport.send(
                    envelope.sender.addr_spec,
                    email,
                    data,
                    functools.partial(ledger.mark, envelope.slug, email, "inflight", attempt=True),
                )
            except TemporaryFailure as exc:
                ledger.mark(envelope.slug, email, "pending", str(exc))
                attempts[email] = attempts.get(email, 0) + 1
                lost_connections = lost_connections + 1 if "connexion" in str(exc) else 0
                if lost_connections >= retry.connection_failures:
                    progress(f"Serveur injoignable après {lost_connections} tentatives : arrêt, reprise possible.")
                    break
                if attempts[email] < retry.attempts:
                    queue.append((delivery, time.monotonic() + retry.backoff * 2 ** (attempts[email] - 1)))
                else:
                    progress(f"{email} : échec temporaire répété ({exc}), laissé en attente")
                continue
            except PermanentFailure as exc:
                ledger.mark(envelope.slug, email, "failed", str(exc))
                report.failed.append((email, str(exc)))
                lost_connections = 0
                continue
            except LostDuringData as exc:
                ledger.mark(envelope.slug, email, "unknown", str(exc))
                report.unknown.append((email, str(exc)))
                continue
            ledger.mark(envelope.slug, email, "sent")
            report.sent += 1
            lost_connections = 0
    finally:
        transport.close()
    counts = ledger.counts(envelope.slug)
    report.pending = counts.get("pending", 0) + counts.get("inflight", 0)
    if report.done:
        ledger.complete(envelope.slug)
    return report


@dataclass
class SendRequest:
    """What `build.py send` was asked to do."""

    letter: str | None
    due: bool
    subscribers: Path | None
    suppressed: Path | None
    store: Path | None
    ledger: Path | None
    outbox: Path
    rate: float
    dry_run: bool = False
    test_to: str | None = None
    retry_unknown: bool = False
    secret: str = ""
    now: datetime | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def _say(text: str) -> None:
    print(text, flush=True)


def _envelope(content, letter, settings, secret: str) -> LetterEnvelope:

    domain = settings.sender_email.rsplit("@", 1)[1]
    return LetterEnvelope(
        slug=letter.slug,
        audience=letter.audience.value,
        subject=letter.subject,
        rendered=rendered(content, letter, settings),
        sender=Address(display_name=settings.sender_name, addr_spec=settings.sender_email),
        domain=domain,
        unsubscribe_url=settings.unsubscribe_url,
        unsubscribe_mailbox=settings.sender_email,
        list_id=f"{settings.identity.site_name} <{letter.audience.value}.{domain}>",
        secret=letter_secret(secret, settings),
        dkim=DkimKey.from_env(),
    )


def letter_secret(secret: str, settings) -> bytes:
    """Return the key of the unsubscribe tokens: LETTER_SECRET, or a predictable local one for outbox trials."""
    return (secret or f"cle-locale:{settings.sender_email}").encode()


def _transport(request: SendRequest, slug: str):
    smtp = SmtpSettings.from_env()
    return SmtpTransport(smtp) if smtp else OutboxTransport(request.outbox / slug)


def check_inputs(request: SendRequest) -> str | None:
    """Return a French line naming the first operator input that is missing or wrong, or None.

    Everything is checked before the first message: a typo must never send more than asked.
    """

    if not request.ledger:
        return "Indiquez le registre des envois : --ledger FICHIER.sqlite ou la variable LETTER_LEDGER."
    if not request.store and not request.subscribers:
        return (
            "Indiquez les destinataires : la base des lecteurs (--db ou LETTER_DB) "
            "ou un CSV d'abonnés (--subscribers ou LETTER_SUBSCRIBERS)."
        )
    named = [
        (request.store, "base des lecteurs (--db / LETTER_DB)"),
        (request.subscribers, "CSV des abonnés (--subscribers / LETTER_SUBSCRIBERS)"),
        (request.suppressed, "liste de suppression (--suppressed / LETTER_SUPPRESSED)"),
    ]
    for path, what in named:
        if path is not None and not path.is_file():
            return f"{what} introuvable : {path} ; rien n'a été envoyé."
    if request.subscribers:
        problem = check_columns(request.subscribers)
        if problem:
            return problem + " ; rien n'a été envoyé."
    try:
        smtp = SmtpSettings.from_env()
        DkimKey.from_env()
    except ValueError as exc:
        return f"{exc} ; rien n'a été envoyé."
    if smtp and not request.secret and not request.dry_run:
        return (
            "LETTER_SECRET n'est pas défini : les liens de désinscription seraient prévisibles et refusés par le service. "
            "Définissez-le (le même que pour « build.py service ») ; rien n'a été envoyé."
        )
    return None


def run_send(content, settings, request: SendRequest) -> int:
    """Run `build.py send`: return the exit code (1 when something is left to send or unknown)."""
    problem = check_inputs(request)
    if problem:
        _say(problem)
        return 1
    assert request.ledger is not None
    letters = {lt.slug: lt for lt in content.letters}
    ledger = SendLedger(request.ledger)
    try:
        if not request.dry_run and not request.test_to:
            try:
                ledger.hold()
            except LedgerBusy:
                _say(
                    f"Un autre envoi est en cours avec le registre {request.ledger} : cette commande n'a rien envoyé. "
                    "Relancez-la quand il sera terminé : elle ne reprendra que ce qui reste."
                )
                return 1
        if request.due:
            now = request.now or datetime.now(UTC)
            chosen = [lt for lt in content.letters if lt.send_at and lt.send_at <= now and not ledger.is_complete(lt.slug)]
            if not chosen:
                _say("Aucune lettre à envoyer pour l'instant.")
                return 0
        elif request.letter:
            slug = Path(request.letter).stem
            if slug not in letters:
                _say(
                    f"Lettre « {request.letter} » introuvable dans newsletters/ ; lettres connues : {', '.join(sorted(letters))}"
                )
                return 2
            chosen = [letters[slug]]
        else:
            _say("Indiquez une lettre (ex. 2026-11-adherents) ou --due.")
            return 2
        code = 0
        for letter in sorted(chosen, key=lambda lt: (lt.date, lt.slug)):
            code = max(code, _send_one(content, settings, request, letter, ledger))
        return code
    finally:
        ledger.close()


def _recipients(request: SendRequest, letter, store, blocked: Callable[[str], bool]) -> tuple[list[Subscriber], int]:
    """Return the letter's recipients and how many were left out: the store's subscribers, or the CSV filtered by the store."""

    suppressed = read_suppressed(request.suppressed)
    audience = letter.audience.value
    if request.subscribers:
        listed = read_subscribers(request.subscribers, letter.audience, suppressed)
        for line in listed.invalid:
            _say(line)
        kept = [r for r in listed.recipients if not blocked(r.email)]
        return kept, listed.suppressed + len(listed.recipients) - len(kept)
    rows = [Subscriber(email, name) for email, name in store.recipients(audience)]
    kept = [r for r in rows if r.email.lower() not in suppressed]
    return kept, len(rows) - len(kept) + store.excluded(audience)


def _send_one(content, settings, request, letter, ledger) -> int:

    store = ReaderStore(request.store) if request.store else None
    gate = store.gate(letter.audience.value) if store else contextlib.nullcontext(lambda _: False)
    with gate as blocked:
        return _send_with(content, settings, request, letter, ledger, store, blocked)


def _send_with(content, settings, request, letter, ledger, store, blocked: Callable[[str], bool]) -> int:
    recipients, left_out = _recipients(request, letter, store, blocked)
    envelope = _envelope(content, letter, settings, request.secret)
    if store is not None and not request.test_to and not request.dry_run:
        # Its links counted through the service (plugins/letters/links.py): the same in every copy.
        through = count_links(envelope.rendered, letter.slug, settings.public_url, envelope.secret, ClickBook(request.store))
        if settings.count_opens:  # off by default: an overall count, inflated by Apple Mail (README)
            through = with_open_image(through, open_url(settings.public_url, envelope.secret, letter.slug))
        envelope = LetterEnvelope(**{**envelope.__dict__, "rendered": through})
    _say(
        f"Lettre {letter.slug} « {letter.subject} » : {counted(len(recipients), 'destinataire', 'destinataires')} "
        f"({counted(left_out, 'adresse exclue', 'adresses exclues')} : désinscrites, en erreur ou sur la liste de suppression)."
    )
    if request.dry_run:
        done = ledger.done(letter.slug)
        left = sum(1 for r in recipients if r.email.lower() not in done)
        leaving = "message partirait" if left < 2 else "messages partiraient"
        _say(
            f"Essai à blanc : rien n'a été envoyé ; {left} {leaving}"
            f" ({counted(len(done), 'déjà traité', 'déjà traités')} selon le registre)."
        )
        return 0
    transport = _transport(request, letter.slug)
    if request.test_to:
        test = LetterEnvelope(**{**envelope.__dict__, "subject": "[TEST] " + envelope.subject})
        transport.open()
        try:
            transport.send(
                envelope.sender.addr_spec,
                request.test_to,
                message_bytes(
                    test, Subscriber(request.test_to, ""), message_id(letter.slug + "-test", request.test_to, envelope.domain)
                ),
                lambda: None,
            )
        finally:
            transport.close()
        _say(f"Exemplaire de test envoyé à {request.test_to} (non inscrit au registre).")
        return 0
    report = send_letter(
        envelope,
        recipients,
        ledger,
        transport,
        request.rate,
        request.retry,
        retry_unknown=request.retry_unknown,
        progress=_say,
        wanted=lambda email: not blocked(email),
    )
    if report.recovered:
        _say(f"Reprise : {report.recovered} message(s) en cours lors d'une interruption sont renvoyés, avec le même Message-ID.")
    _say(f"Envoyés maintenant : {report.sent}. Déjà faits : {ledger.counts(letter.slug).get('sent', 0) - report.sent}.")
    if report.skipped:
        _say(f"Non envoyés : {report.skipped} lecteur(s) désinscrit(s) ou en erreur pendant l'envoi.")
    for email, error in report.failed:
        _say(f"Refus définitif pour {email} : {error} (non renvoyé).")
    for email, error in ledger.failures(letter.slug, "unknown"):
        _say(f"État inconnu pour {email} : {error}. Relancez avec --retry-unknown pour le renvoyer (même Message-ID).")
    if report.pending:
        _say(f"Restent à envoyer : {report.pending}. Relancez la même commande : seuls ceux-là partiront.")
    return 1 if report.pending or ledger.failures(letter.slug, "unknown") else 0
