"""The pages' audience for a month, from the log nginx writes for that purpose (no client address, no browser).

Each line: `time server_name status robot path` (plugins/deploy/nginx.conf.j2, log_format federation_audience).
Only the pages (a path ending in / or .html) are written there; a view is a 200 answer to something
that did not say it was a robot. The rotated logs (Debian's logrotate: .1, then .2.gz…) are read too.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SHEETS = "/boite-a-outils/fiches/"
TOP = 20


@dataclass
class MonthAudience:
    month: str  # AAAA-MM
    views: dict[str, Counter[str]]  # site (« public », « adherents ») -> path -> views
    robots: int

    def total(self, site: str) -> int:
        return sum(self.views.get(site, Counter()).values())

    def top(self, site: str, prefix: str = "/") -> list[tuple[str, int]]:
        counts = self.views.get(site, Counter())
        return [(p, n) for p, n in counts.most_common() if p.startswith(prefix)][:TOP]


def log_lines(path: Path) -> Iterator[str]:
    """The lines of the log and of its rotated files, oldest first."""
    rotated = sorted(
        path.parent.glob(path.name + ".*"), key=lambda p: int(p.name.split(".")[-2 if p.suffix == ".gz" else -1]), reverse=True
    )
    for file in [*rotated, path]:
        if not file.is_file():
            continue
        opener = gzip.open if file.suffix == ".gz" else open
        with opener(file, "rt", encoding="utf-8", errors="replace") as lines:
            yield from lines


def month_audience(lines: Iterator[str], month: str, public_host: str, members_host: str) -> MonthAudience:
    sites = {public_host: "public", members_host: "adherents"}
    views: dict[str, Counter[str]] = {"public": Counter(), "adherents": Counter()}
    robots = 0
    for line in lines:
        parts = line.rstrip("\n").split(" ", 4)
        if len(parts) != 5 or not parts[0].startswith(month):
            continue
        _when, host, status, robot, path = parts
        site = sites.get(host)
        if site is None or status != "200":
            continue
        if robot == "1":
            robots += 1
            continue
        views[site][path] += 1
    return MonthAudience(month, views, robots)


def as_text(audience: MonthAudience) -> str:
    lines = [f"Pages lues en {audience.month} (sans les robots : {audience.robots} lectures écartées) :"]
    for site, label in (("public", "site public"), ("adherents", "espace adhérents")):
        lines.append(f"  {label} : {audience.total(site)} pages vues, {len(audience.views[site])} pages différentes")
        lines.append(f"  les {TOP} pages les plus lues du {label} :")
        lines += [f"    {n:6d}  {path}" for path, n in audience.top(site)]
    lines.append(f"  les {TOP} fiches de la boîte à outils les plus lues (espace adhérents) :")
    lines += [f"    {n:6d}  {path}" for path, n in audience.top("adherents", SHEETS)]
    return "\n".join(lines) + "\n"


def as_csv(audience: MonthAudience) -> str:
    """mois;site;mesure;page;valeur: the totals, then every page with its views (UTF-8, « ; »)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["mois", "site", "mesure", "page", "valeur"])
    writer.writerow([audience.month, "", "lectures_de_robots", "", audience.robots])
    for site in ("public", "adherents"):
        writer.writerow([audience.month, site, "pages_vues", "", audience.total(site)])
        for path, n in audience.views[site].most_common():
            writer.writerow([audience.month, site, "vues", path, n])
    return out.getvalue()
