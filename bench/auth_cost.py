"""Measure what bcrypt's cost adds to a members' page with its assets, through a real nginx.

    .venv/bin/python bench/auth_cost.py [--runs 15]

Builds the sample content, serves the members' site twice from one nginx on 127.0.0.1 (the
public server block pointed at the same tree without auth is the baseline), and loads a
toolbox page plus every asset it references, with 6 parallel connections as a browser does,
for each bcrypt cost. Prints the median time and the ratio to the baseline measured in the
same run.
"""

from __future__ import annotations

import argparse
import base64
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plugins.access.accounts import Account, write_htpasswd  # noqa: E402
from plugins.access.nginx import LocalNginx, ServerSettings, write_server_files  # noqa: E402
from plugins.builder import build_all, quiet_mkdocs  # noqa: E402
from plugins.settings import FederationSettings  # noqa: E402
from tests.conftest import free_port  # noqa: E402

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


def median_ms(base: str, auth: bool, runs: int, pool: ThreadPoolExecutor) -> tuple[float, int]:
    page_load(base, auth, pool)
    times = [page_load(base, auth, pool) for _ in range(runs)]
    return statistics.median(t for t, _ in times) * 1000, times[0][1]


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
                    print(f"{cost:>6} {ms:>8.1f} ms {ms / baseline:>8.2f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
