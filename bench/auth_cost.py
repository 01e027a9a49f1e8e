"""Measure what the members' password check adds to a page with its assets, through a real nginx.

    .venv/bin/python bench/auth_cost.py [--runs 15] [--costs 4,6,8,10,12]

Builds the sample content, serves the members' site twice from one nginx on 127.0.0.1 (the
public server block pointed at the same tree without auth is the baseline), and loads a
toolbox page plus every asset it references, with 6 parallel connections as a browser does:
- nginx checking an htpasswd itself (`auth_basic`, the configuration without --service), for
  each bcrypt cost;
- nginx asking the readers service (`auth_request`, the configuration with --service), which
  checks the bcrypt hash of cost 8 once and then remembers the right password a minute per
  client network: the first load (every request checked) and the following ones.
Prints the median time and the ratio to the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.build.site import quiet_mkdocs  # noqa: E402
from plugins.build.sites import build_all  # noqa: E402
from plugins.deploy.nginx import LocalNginx, ServerSettings, write_server_files  # noqa: E402
from plugins.records.accounts import AccountStore  # noqa: E402
from plugins.records.password_file import DEFAULT_COST, Account, write_htpasswd  # noqa: E402
from plugins.settings.federation import FederationSettings  # noqa: E402
from tests.support import free_port  # noqa: E402

LOGIN, SECRET = "msp-bench", "mot-de-passe-de-mesure"
PAGE = "boite-a-outils/"


def fetch(url: str, auth: bool) -> bytes:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{LOGIN}:{SECRET}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def assets_of(base: str, html: str) -> list[str]:
    refs = re.findall(r'(?:href|src)="([^"#]+\.(?:css|js|svg|png|ico|woff2?))"', html)
    return sorted({urljoin(base, r) for r in refs if "://" not in r})


def page_load(base: str, auth: bool, pool: ThreadPoolExecutor) -> tuple[float, int]:
    """Return the seconds to fetch the page then its assets in parallel, and the request count."""
    start = time.perf_counter()
    html = fetch(base + PAGE, auth).decode("utf-8")
    assets = assets_of(base + PAGE, html)
    list(pool.map(lambda u: fetch(u, auth), assets))
    return time.perf_counter() - start, 1 + len(assets)


def median_ms(base: str, auth: bool, runs: int, pool: ThreadPoolExecutor, warm: bool = True) -> tuple[float, int]:
    if warm:
        page_load(base, auth, pool)
    times = [page_load(base, auth, pool) for _ in range(runs)]
    return statistics.median(t for t, _ in times) * 1000, times[0][1]


def start_service(work: Path, port: int) -> subprocess.Popen[str]:
    """Start `build.py service` on 127.0.0.1:port with its base in work (messages to an outbox: none is sent here)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "LETTER_"))}
    env.update(LETTER_SECRET="secret-du-banc-d-essai-des-acces", LETTER_DB=str(work / "service.sqlite"))
    command = [sys.executable, str(ROOT / "build.py"), "--project", str(ROOT), "service", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--outbox", str(work / "outbox")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = process.stdout.readline() if process.stdout else ""
    if "à l'écoute" not in line:
        process.kill()
        raise RuntimeError(f"le service n'a pas démarré : {line}")
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--costs", default="4,6,8,10,12")
    args = parser.parse_args()
    quiet_mkdocs()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        work = Path(tmp)
        build_all(ROOT, work / "site", date(2026, 11, 23))
        members = work / "site" / "adherents"
        open_url, auth_url = f"http://127.0.0.1:{free_port()}/", f"http://127.0.0.1:{free_port()}/"
        settings = ServerSettings(
            members,
            members,
            work / "conf" / "htpasswd",
            f"127.0.0.1:{open_url.rsplit(':', 1)[1].strip('/')}",
            f"127.0.0.1:{auth_url.rsplit(':', 1)[1].strip('/')}",
            members_rate="1000r/s",
            members_assets_rate="1000r/s",  # one client loads the page again and again here: the check is measured, not the limit
            access_log=str(work / "access.log"),
        )
        account = Account(LOGIN, SECRET, None, None, 2)
        write_htpasswd([account], settings.htpasswd, date.today(), 4)
        conf = write_server_files(work / "conf", settings, FederationSettings("Fédération", "/", "/"), date.today())
        server = LocalNginx(work / "nginx", conf)
        server.start(open_url)
        try:
            with ThreadPoolExecutor(max_workers=6) as pool:
                baseline, requests = median_ms(open_url, False, args.runs, pool)
                print(f"Page {PAGE} + ressources : {requests} requêtes, nginx à 2 workers, {args.runs} chargements")
                print(f"{'coût':>6} {'médiane':>10} {'rapport':>8}")
                print(f"{'aucun':>6} {baseline:>8.1f} ms {1.0:>8.2f}")
                for cost in (int(c) for c in args.costs.split(",")):
                    write_htpasswd([account], settings.htpasswd, date.today(), cost)
                    server.reload()
                    ms, _ = median_ms(auth_url, True, args.runs, pool)
                    print(f"{cost:>6} {ms:>8.1f} ms {ms / baseline:>8.2f}  (nginx et htpasswd)")
                # The same page through the service's check (auth_request), as `build.py server --service` writes it.
                AccountStore(work / "service.sqlite").sync_csv([account], datetime.now(UTC), DEFAULT_COST)
                service_port = free_port()
                service = start_service(work, service_port)
                try:
                    with_service = replace(settings, service=f"127.0.0.1:{service_port}")
                    write_server_files(work / "conf", with_service, FederationSettings("Fédération", "/", "/"), date.today())
                    server.reload()
                    first = [page_load(auth_url, True, pool)[0] * 1000 for _ in range(1)]
                    ms, _ = median_ms(auth_url, True, args.runs, pool)
                    print(f"{'service':>6} {first[0]:>8.1f} ms {first[0] / baseline:>8.2f}  (1er chargement : tout est vérifié)")
                    print(f"{'service':>6} {ms:>8.1f} ms {ms / baseline:>8.2f}  (chargements suivants, coût {DEFAULT_COST})")
                finally:
                    service.terminate()
                    service.wait(timeout=10)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
