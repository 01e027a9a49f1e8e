"""The pages' audience: nginx writes a log for that purpose with no client address, no browser and no referrer;
`build.py lettres bilan --mois` counts the pages read from it, robots left out, and names the most read."""

from __future__ import annotations

import base64
import csv
import io
import re
import subprocess
from datetime import datetime
from pathlib import Path

from plugins.build.sites import build_all
from tests.support import MEMBER, TODAY, build_py, http_request, make_project, served_sites

PUBLIC, MEMBERS = "msp-pdl.example.org", "adherents.msp-pdl.example.org"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def test_the_pages_read_are_counted_from_a_log_without_addresses_robots_left_out(tmp_path: Path) -> None:
    (tmp_path / "projet").mkdir()
    (tmp_path / "nginx").mkdir()
    project = make_project(tmp_path / "projet")
    build_all(project, project / "site", TODAY)
    sheet = next((project / "site" / "adherents" / "boite-a-outils" / "fiches").glob("*/index.html")).parent
    sheet_path = "/" + sheet.relative_to(project / "site" / "adherents").as_posix() + "/"
    log = tmp_path / "audience.log"
    names = ("--public-name", PUBLIC, "--members-name", MEMBERS, "--journal-audience", str(log))
    member = {"Authorization": "Basic " + base64.b64encode(f"{MEMBER[0]}:{MEMBER[1]}".encode()).decode()}
    with served_sites(project, tmp_path / "nginx", None, names) as (public, members):
        asked = [
            (public, "/", {"Host": PUBLIC, "User-Agent": BROWSER}, "127.3.0.1"),
            (public, "/", {"Host": PUBLIC, "User-Agent": BROWSER, "Referer": "https://ailleurs.example.org/?q=x"}, "127.3.0.2"),
            (public, "/offres/", {"Host": PUBLIC, "User-Agent": BROWSER}, "127.3.0.3"),
            (public, "/", {"Host": PUBLIC, "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, "127.3.0.4"),
            (public, "/", {"Host": PUBLIC}, "127.3.0.5"),  # no browser said: a script
            (public, "/nulle-part/", {"Host": PUBLIC, "User-Agent": BROWSER}, "127.3.0.6"),  # 404: not a view
            (public, "/assets/federation.css", {"Host": PUBLIC, "User-Agent": BROWSER}, "127.3.0.7"),  # not a page
            (members, sheet_path, {"Host": MEMBERS, "User-Agent": BROWSER, **member}, "127.3.0.8"),
            (members, sheet_path, {"Host": MEMBERS, "User-Agent": BROWSER, **member}, "127.3.0.9"),
        ]
        for base, path, headers, source in asked:
            http_request("GET", base + path, headers=headers, source=source)
    written = log.read_text(encoding="utf-8")
    assert not re.search(r"\b127\.\d+\.\d+\.\d+\b", written) and "Mozilla" not in written and "ailleurs" not in written
    assert "federation.css" not in written and MEMBER[0] not in written
    # The pages asked (robots and the 404 included: the report sorts them out), and the harness' own check (urllib).
    assert len(written.splitlines()) == 9

    month = datetime.now().astimezone().strftime("%Y-%m")
    report = subprocess.run(
        build_py("--project", str(project), "lettres", "bilan", "--mois", month, "--journal", str(log), "--csv"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout), delimiter=";"))
    views = {(r["site"], r["page"]): int(r["valeur"]) for r in rows if r["mesure"] == "vues"}
    assert views == {("public", "/"): 2, ("public", "/offres/"): 1, ("adherents", sheet_path): 2}
    totals = {r["site"] or "-": int(r["valeur"]) for r in rows if r["mesure"] in ("pages_vues", "lectures_de_robots")}
    assert totals == {"public": 3, "adherents": 2, "-": 3}  # robots: Googlebot, no browser named, Python's urllib
    text = subprocess.run(
        build_py("--project", str(project), "lettres", "bilan", "--mois", month, "--journal", str(log)),
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "les 20 fiches de la boîte à outils les plus lues" in text and f"     2  {sheet_path}" in text
