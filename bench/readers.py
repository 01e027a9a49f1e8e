"""Benchmark the readers service through nginx, against nginx serving a static page in the same run.

    .venv/bin/python bench/readers.py [--seconds 8] [--clients 8] [--one-clicks 1000] [--places 500 --registrants 600]

Builds the sample sites, starts aiosmtpd on 127.0.0.1 (confirmation emails), `build.py service`
and nginx with the configuration `build.py server` writes (the per-IP limit and the service's
per-domain email caps raised: one client address and one domain send everything here), then
measures with keep-alive HTTP clients in threads, each POST with the site's own Origin as a browser sends it:
- subscription POSTs per second (distinct addresses; each queues a confirmation email, which the
  service's outbox sends after the answer), against GETs per second of a static page of the same
  nginx (the baseline);
- the RFC 8058 one-click POST's median and 99th-percentile latency, one at a time, against the
  static GET's, for addresses already subscribed;
- a letter's counted link (/l/…, a redirect counted by the service): its median and 99th-percentile
  latency, one at a time, against the static GET's;
- event registrations: --registrants clients at once (one thread, connection and loopback address
  each) for one event of --places places with a waiting list, requests per second and
  over-booking (must be 0); each request holds a place until its address confirms it.
"""

from __future__ import annotations

import argparse
import html
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402

from plugins.build.sites import build_all  # noqa: E402
from plugins.deploy.nginx import LocalNginx, ServerSettings, write_server_files  # noqa: E402
from plugins.letters.links import counted_url  # noqa: E402
from plugins.letters.message import token  # noqa: E402
from plugins.records.clicks import ClickBook  # noqa: E402
from plugins.records.readers import ReaderStore  # noqa: E402
from plugins.records.registrations import RegistrationBook  # noqa: E402
from plugins.settings.federation import FederationSettings  # noqa: E402
from tests.support import free_port  # noqa: E402

SECRET = "secret-du-banc-d-essai-des-lecteurs"
TODAY = date(2026, 11, 23)


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def load(
    port: int, requests: Sequence[tuple[str, str, bytes | None]], clients: int, seconds: float
) -> tuple[int, float, list[int]]:
    """Send requests (method, path, body) from threads on keep-alive connections for some seconds; return count, time, statuses."""
    done, statuses, lock, stop = [0], [], threading.Lock(), time.monotonic() + seconds
    cursor = iter(range(len(requests)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            with lock:
                n = next(cursor, None)
            if n is None:
                return
            method, path, body = requests[n]
            conn.request(method, path, body=body, headers=form_headers(port) if body is not None else {})
            response = conn.getresponse()
            response.read()
            with lock:
                done[0] += 1
                statuses.append(response.status)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0], time.perf_counter() - start, statuses


def form_headers(port: int) -> dict[str, str]:
    """A browser's form POST on the public site: its own Origin (the service refuses any other)."""
    return {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"http://127.0.0.1:{port}"}


def latencies(port: int, requests: Sequence[tuple[str, str, bytes | None]], expected: int = 200) -> list[float]:
    """Return each request's latency in ms, one at a time on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = []
    for method, path, body in requests:
        # The one-click POST of a mail provider carries no Origin: the service takes it all the same.
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - start) * 1000)
        assert response.status == expected, response.status
    return out


def fresh_clients(port: int, path: str, count: int, expected: int) -> list[float]:
    """Each request's latency in ms from a client of its own (a new connection from another loopback address)."""
    out = []
    for i in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(f"127.4.{i // 250}.{i % 250 + 1}", 0))
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - start) * 1000)
        conn.close()
        assert response.status == expected, response.status
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


EVENT = """---
title: Journée du banc d'essai
start: 2027-06-10T09:30
commune: Nantes
registration:
  places: {places}
  waiting_list: true
---

Le programme.
"""


def project_with_event(work: Path, places: int) -> Path:
    """Copy the sample project with one more event, of places places, that registers on the service."""
    project = work / "projet"
    for name in ("content", "toolbox", "newsletters"):
        shutil.copytree(ROOT / name, project / name)
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    (project / "content" / "agenda" / "banc-d-essai.md").write_text(EVENT.format(places=places), encoding="utf-8")
    return project


def register_all(port: int, people: int) -> tuple[float, list[int]]:
    """Send people registrations at once, one thread and connection each; return the seconds taken and the statuses.

    Each person has the form's page open first (its token, FORM_TOKEN): the time counts from the moment
    all of them send it.
    """
    gate = threading.Barrier(people + 1)
    statuses: list[int] = []
    lock = threading.Lock()
    path = "/agenda/inscription/banc-d-essai/"

    def one(n: int) -> None:
        # One loopback address per person, as on the Internet: nginx's per-address limit applies to each.
        source = (f"127.0.{2 + n // 250}.{2 + n % 250}", 0)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=source)
        conn.request("GET", path)
        page = conn.getresponse().read().decode()
        found = re.search(r'name="jeton-formulaire" value="([^"]+)"', page)
        token = html.unescape(found.group(1)) if found else ""
        body = urlencode({"nom": f"Personne {n}", "adresse": f"inscrit{n}@example.org", "jeton-formulaire": token}).encode()
        gate.wait()
        conn.request("POST", path, body=body, headers=form_headers(port))
        response = conn.getresponse()
        response.read()
        with lock:
            statuses.append(response.status)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(people)]
    for t in threads:
        t.start()
    gate.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - start, statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--one-clicks", type=int, default=1000)
    parser.add_argument("--places", type=int, default=500)
    parser.add_argument("--registrants", type=int, default=600)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="banc-lecteurs-"))
    project = project_with_event(work, args.places)
    build_all(project, work / "site", TODAY)
    db = work / "lecteurs.sqlite"
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    service_port, public_port = free_port(), free_port()
    env = {
        **os.environ,
        "LETTER_SECRET": SECRET,
        "LETTER_DB": str(db),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "SERVICE_MAIL_CAPS": "1,3,100000000,100000000",  # every address here is @example.org
    }
    service = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "--project", str(project), "service", "--port", str(service_port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert "à l'écoute" in (service.stdout.readline() if service.stdout else "")
    settings = ServerSettings(
        work / "site/public",
        work / "site/adherents",
        work / "htpasswd",
        f"127.0.0.1:{public_port}",
        f"127.0.0.1:{free_port()}",
        service=f"127.0.0.1:{service_port}",
        subscribe_rate="100000r/s",
        access_log=str(work / "access.log"),
    )
    (work / "htpasswd").write_text("", encoding="utf-8")
    conf = write_server_files(work / "conf", settings, FederationSettings("Banc", "/", "/", email="a@example.org"), TODAY)
    nginx = LocalNginx(work / "nginx", conf, connections=4 * args.registrants)
    nginx.start(f"http://127.0.0.1:{public_port}/")
    try:
        static = [("GET", "/offres/", None)] * 10_000_000
        n, t, codes = load(public_port, static, args.clients, args.seconds)
        static_rate = n / t
        forms = [
            ("POST", "/lettres/inscription/", urlencode({"adresse": f"banc{i}@example.org", "lettre": "public"}).encode())
            for i in range(1_000_000)
        ]
        n, t, codes = load(public_port, forms, args.clients, args.seconds)
        assert set(codes) == {200}, set(codes)
        subscribe_rate = n / t
        answered, drained = n, time.monotonic()
        while sink.count < answered and time.monotonic() - drained < 120:  # the outbox sends after the answers
            time.sleep(0.1)
        drain_seconds = time.monotonic() - drained
        readers = [f"clic{i}@example.org" for i in range(args.one_clicks)]
        ReaderStore(db).import_rows([(r, "", "public") for r in readers], "banc", datetime.now(UTC))
        clicks = [
            (
                "POST",
                f"/lettres/desinscription/?jeton={token(SECRET.encode(), 'public', r)}&adresse={quote(r)}",
                b"List-Unsubscribe=One-Click",
            )
            for r in readers
        ]
        click_ms = latencies(public_port, clicks)
        static_ms = latencies(public_port, [("GET", "/offres/", None)] * args.one_clicks)
        store = ReaderStore(db)
        gone = sum(1 for r in readers if (reader := store.reader(r, "public")) is not None and reader.state == "unsubscribed")
        # A letter's counted link (plugins/service/links.py): the redirect, counted once per client in ten minutes.
        numbers = ClickBook(db).number_links("banc-lettre", ["https://journee.example.org/programme"])
        link = counted_url(
            "",
            SECRET.encode(),
            "banc-lettre",
            numbers["https://journee.example.org/programme"],
            "https://journee.example.org/programme",
        )
        redirect_ms = latencies(public_port, [("GET", link, None)] * args.one_clicks, expected=302)
        counted_ms = fresh_clients(public_port, link, 500, 302)  # each one counted: a write to the base
        fresh_static_ms = fresh_clients(public_port, "/offres/", 500, 200)
        register_seconds, register_codes = register_all(public_port, args.registrants)
        registrants = RegistrationBook(db).registrants("banc-d-essai")
    finally:
        nginx.stop()
        service.terminate()
        service.wait(timeout=10)
        smtp.stop()
    print(f"Machine : {os.cpu_count()} cœurs ; {args.clients} clients HTTP, {args.seconds:.0f} s par mesure, nginx à 2 processus")
    print(f"Page statique (base)         : {static_rate:8.0f} requêtes/s")
    print(
        f"Inscription (POST, courriel en file) : {subscribe_rate:8.0f} requêtes/s  = {subscribe_rate / static_rate:.3f} × la base"
        f"  ({answered} réponses ; les messages de confirmation reçus {drain_seconds:.1f} s après la dernière)"
    )
    print(
        f"Un clic (RFC 8058), médiane  : {statistics.median(click_ms):6.2f} ms  (base {statistics.median(static_ms):.2f} ms,"
        f" {statistics.median(click_ms) / statistics.median(static_ms):.1f} ×)"
    )
    print(
        f"Un clic (RFC 8058), 99e cent.: {p(click_ms, 99):6.2f} ms  (base {p(static_ms, 99):.2f} ms,"
        f" {p(click_ms, 99) / p(static_ms, 99):.1f} ×) ; {gone}/{len(readers)} désabonnés dans la base"
    )
    print(
        f"Lien compté d'une lettre (302), médiane : {statistics.median(redirect_ms):6.2f} ms  (base "
        f"{statistics.median(static_ms):.2f} ms, {statistics.median(redirect_ms) / statistics.median(static_ms):.1f} ×) ; "
        f"99e cent. {p(redirect_ms, 99):.2f} ms (un même client : compté une fois, puis seulement redirigé)"
    )
    print(
        f"Lien compté, 500 clients différents (chacun compté), médiane : {statistics.median(counted_ms):6.2f} ms  (base "
        f"{statistics.median(fresh_static_ms):.2f} ms, {statistics.median(counted_ms) / statistics.median(fresh_static_ms):.1f} ×) ;"
        f" 99e cent. {p(counted_ms, 99):.2f} ms (base {p(fresh_static_ms, 99):.2f} ms)"
    )
    confirmed = sum(1 for r in registrants if r.status == "confirmed")  # places held (to confirm by email)
    waiting = sum(1 for r in registrants if r.status == "waiting")
    print(
        f"Inscriptions à un événement : {args.registrants} clients à la fois pour {args.places} places : "
        f"{args.registrants / register_seconds:.0f} inscriptions/s ({register_seconds:.1f} s, "
        f"{args.registrants / register_seconds / static_rate:.3f} × la base) ; "
        f"{confirmed} places retenues, {waiting} en attente, surréservation {max(0, confirmed - args.places)} ; "
        f"réponses {sorted(set(register_codes))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
