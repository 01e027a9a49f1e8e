"""Time from an editor's `git push` to the change served by nginx, on an installation under a temporary root.

    .venv/bin/python bench/push.py [--scales 1,10] [--rounds 3]

For each scale: a clone of the project with generated content (bench/generate.py) is installed
with `build.py installer --racine` (repository, hooks, first build, nginx's configuration), the
real nginx serves that configuration on 127.0.0.1, and an editor clones the repository, changes
one public news item and pushes, `--rounds` times. Each round prints the time from the start of
`git push` until nginx serves the change, and its parts from the publication journal: the warm
build (the baseline, measured in the same push) and the rest (git, the check of the pushed commit
read from the quarantine, the work tree's reset).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import generate  # noqa: E402
from plugins.deploy.layout import Layout  # noqa: E402
from plugins.deploy.nginx import LocalNginx  # noqa: E402
from tests.support import NGINX, clean_env, free_port, git, make_clone  # noqa: E402

HOST = "msp-pdl.example.org"


def served(url: str, needle: str, timeout: float = 120) -> float:
    start = time.perf_counter()
    request = urllib.request.Request(url, headers={"Host": HOST})
    while time.perf_counter() - start < timeout:
        try:
            if needle in urllib.request.urlopen(request, timeout=5).read().decode("utf-8"):
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"« {needle} » n'est pas servi sur {url}")


def scale_run(work: Path, scale: int, rounds: int) -> None:
    source = work / "clone"
    source.mkdir()
    make_clone(source)
    generated = work / "contenu"
    counts = generate(generated, scale)
    for folder in ("content", "toolbox", "newsletters"):
        shutil.rmtree(source / folder, ignore_errors=True)
        if (generated / folder).exists():
            shutil.copytree(generated / folder, source / folder)
    assert git("add", "-A", cwd=source).returncode == 0
    assert git("commit", "-q", "-m", f"Contenu {scale}×", cwd=source).returncode == 0
    root = work / "racine"
    root.mkdir()
    http = free_port()
    started = time.perf_counter()
    installed = subprocess.run(
        [sys.executable, str(source / "build.py"), "installer", "--racine", str(root), "--ecoute-http", f"127.0.0.1:{http}",
         "--port-service", str(free_port())],
        cwd=source, env=clean_env(SMTP_HOST="127.0.0.1", SMTP_PORT="25", SMTP_SECURITY="none"), capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if installed.returncode != 0:
        raise SystemExit(installed.stdout + installed.stderr)
    install_seconds = time.perf_counter() - started
    layout = Layout(root)
    editor = work / "redaction"
    assert git("clone", "-q", str(layout.depot), str(editor), cwd=work).returncode == 0
    news = sorted(p for p in (editor / "content" / "actualites").glob("*.md") if "access: adherents" not in p.read_text("utf-8"))[
        0
    ]
    nginx = LocalNginx(work / "nginx", layout.nginx / "nginx.conf", NGINX)
    nginx.start(f"http://127.0.0.1:{http}/")
    pages = sum(1 for _ in (editor / "content").rglob("*.md")) + sum(1 for _ in (editor / "toolbox").rglob("*.md"))
    print(f"\n== {scale}× : {counts} ({pages} fichiers) ; installation et première construction : {install_seconds:.1f} s")
    totals, builds = [], []
    try:
        for turn in range(1, rounds + 1):
            marker = f"Modification {time.time_ns()}"
            news.write_text(news.read_text(encoding="utf-8") + f"\n{marker}.\n", encoding="utf-8")
            assert git("commit", "-q", "-am", marker, cwd=editor).returncode == 0
            start = time.perf_counter()
            pushed = git("push", "-q", "origin", "main", cwd=editor, FEDERATION_PUSHER="Banc d'essai")
            if pushed.returncode != 0:
                raise SystemExit(pushed.stderr)
            online = served(f"http://127.0.0.1:{http}/actualites/{news.stem}/", marker)
            total = online - start
            entry = json.loads(layout.publications.read_text(encoding="utf-8").splitlines()[-1])
            totals.append(total)
            builds.append(entry["duree_s"])
            print(
                f"tour {turn} : en ligne {total:.1f} s après le début de git push ; publication (copie de travail et"
                f" construction tiède, {entry['pages_reecrites']} pages réécrites) {entry['duree_s']:.1f} s ;"
                f" le reste (git, vérification du commit reçu) {total - entry['duree_s']:.1f} s"
            )
    finally:
        nginx.stop()
    total, build = statistics.median(totals), statistics.median(builds)
    print(
        f"médiane : {total:.1f} s de git push à la page servie, dont {build:.1f} s de publication (rapport {total / build:.2f})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for scale in (int(s) for s in args.scales.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
            scale_run(Path(tmp), scale, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
