"""The repository's hooks: a push is checked before it is accepted, then published; the nightly build goes the same way.

    python -m plugins.deploy.hooks avant  INSTALLATION.json   (pre-receive: refuses with check's French lines)
    python -m plugins.deploy.hooks apres  INSTALLATION.json   (post-receive: the warm build into the live sites)
    python -m plugins.deploy.hooks nuit   INSTALLATION.json   (the nightly build, journaled the same way)

What they print reaches the pusher's git client as « remote: » lines. The pushed commit is read
from the push's quarantine (git archive), never from a clone; a push that changes anything outside
the editors' folders and mkdocs.yml needs an operator (it runs code on the server). One publication
at a time (an flock), the newest commit of main each time: two pushes in a row are built in order.
Each publication is written in the journal (who, which commit, what changed, how long, the result).
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from plugins.base import environment
from plugins.base.french_cli import counted
from plugins.base.locking import FileLock
from plugins.deploy.layout import Installation, InstallationMissing, editors_path

ZERO = "0" * 40
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MAIN = "refs/heads/main"
SHOWN_FILES = 10


def git(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} : {done.stderr.strip()}")
    return done.stdout


def clean_env() -> dict[str, str]:
    """The environment without the hook's GIT_* variables, for git commands on another repository."""
    return {k: v for k, v in environment.current().items() if not k.startswith("GIT_")}


def pusher() -> str:
    """Who pushes: the name tagged on their SSH key, else the local account's name."""
    return environment.text("FEDERATION_PUSHER") or getpass.getuser()


def is_operator(installation: Installation, person: str) -> bool:
    return person in installation.operators or (person == "root" and not environment.text("FEDERATION_PUSHER"))


def updates(stdin: str) -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in stdin.splitlines() if len(line.split()) == 3]  # type: ignore[misc]


def changed_files(old: str, new: str, repo: Path) -> list[str]:
    base = old
    if old == ZERO:
        try:
            base = git(["rev-parse", "--verify", "-q", MAIN], repo).strip()
        except RuntimeError:
            base = EMPTY_TREE
    return [p for p in git(["diff", "--name-only", "-z", base, new], repo).split("\0") if p]


def extract(commit: str, repo: Path, into: Path) -> None:
    """Write the commit's files into a folder, from the repository as the hook sees it (the push's quarantine)."""
    archive = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=repo, stdout=subprocess.PIPE)
    assert archive.stdout is not None
    with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
        tar.extractall(into, filter="data")
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} a échoué")


def before(installation: Installation, stdin: str, repo: Path) -> int:
    """pre-receive: refuse what an editor may not push, and any main whose files `check` refuses."""
    person = pusher()
    operator = is_operator(installation, person)
    for old, new, ref in updates(stdin):
        branch = ref.removeprefix("refs/heads/")
        if new == ZERO:
            if ref == MAIN:
                print("Envoi refusé : la branche main, celle des sites en ligne, ne se supprime pas.")
                return 1
            continue
        if not ref.startswith("refs/heads/") and not operator:
            print(f"Envoi refusé : {ref} n'est pas une branche ; seuls les exploitants envoient des étiquettes.")
            return 1
        if not operator:
            engine = [p for p in changed_files(old, new, repo) if not editors_path(p)]
            if engine:
                shown = ", ".join(engine[:SHOWN_FILES]) + (" …" if len(engine) > SHOWN_FILES else "")
                print(
                    f"Envoi refusé : {person} n'est pas exploitant·e et cet envoi change des fichiers hors de content/, "
                    f"toolbox/, newsletters/ et mkdocs.yml ({shown}). Ces fichiers font tourner du code sur le serveur : "
                    "demandez à un exploitant de les envoyer."
                )
                return 1
        if ref != MAIN:
            continue
        with tempfile.TemporaryDirectory(prefix="verification-") as tmp:
            tree = Path(tmp)
            extract(new, repo, tree)
            checked = subprocess.run(
                [installation.python, str(tree / "build.py"), "--project", str(tree), "check"],
                cwd=tree,
                env=clean_env(),
                capture_output=True,
                text=True,
                check=False,
            )
        if checked.returncode != 0:
            sys.stdout.write(checked.stderr)
            print(f"Envoi refusé : corrigez ces lignes puis envoyez à nouveau ({branch}, {new[:7]}).")
            return 1
        print(f"Vérification : {checked.stdout.strip()}")
    return 0


def journal(installation: Installation, entry: dict) -> None:
    path = installation.layout.publications
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry, ensure_ascii=False) + "\n")


def publish(installation: Installation, who: str, what: str) -> int:
    """Bring the work tree to main's newest commit and build it into the live sites; journal it; return 0 if online."""
    layout = installation.layout
    start = time.monotonic()
    entry: dict = {"quand": datetime.now().astimezone().isoformat(timespec="seconds"), "qui": who, "quoi": what}
    with FileLock(layout.journal / "publication.lock") as lock:
        lock.acquire(wait=True, on_wait=lambda: print("Une autre publication est en cours : attente de sa fin…", flush=True))
        env = clean_env()
        try:
            git(["fetch", "-q", "origin", "main"], layout.work, env)
            previous = git(["rev-parse", "HEAD"], layout.work, env).strip()
            commit = git(["rev-parse", "FETCH_HEAD"], layout.work, env).strip()
            files = [p for p in git(["diff", "--name-only", "-z", previous, commit], layout.work, env).split("\0") if p]
            git(["reset", "-q", "--hard", commit], layout.work, env)
        except RuntimeError as exc:
            entry.update(resultat="échec", erreur=str(exc), duree_s=round(time.monotonic() - start, 1))
            journal(installation, entry)
            print(f"La publication a échoué : {exc}")
            return 1
        entry.update(commit=commit, avant=previous, fichiers=files[:50], nombre_fichiers=len(files))
        summary = layout.journal / "derniere-construction.json"
        built = subprocess.run(
            [installation.python, str(layout.work / "build.py"), "--project", str(layout.work), "build", "--bilan", str(summary)],
            cwd=layout.work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = round(time.monotonic() - start, 1)
        if built.returncode != 0:
            reason = "\n".join(line for line in built.stderr.strip().splitlines()[-12:])
            entry.update(resultat="échec", erreur=reason, duree_s=elapsed)
            journal(installation, entry)
            print(f"La construction a échoué ; les sites en ligne restent ceux du commit {previous[:7]} :\n{reason}")
            return 1
        rewritten = sum(json.loads(summary.read_text(encoding="utf-8"))["rewritten"].values())
        online = datetime.now().astimezone().strftime("%H:%M:%S")
        entry.update(resultat="publié", pages_reecrites=rewritten, duree_s=elapsed)
        journal(installation, entry)
        print(
            f"{counted(rewritten, 'page réécrite', 'pages réécrites')}, en ligne à {online} (commit {commit[:7]}, {elapsed:.1f} s)."
        )
        return 0


def after(installation: Installation, stdin: str) -> int:
    """post-receive: publish main; say what other branches are (their previews come with the installation's previews)."""
    person = pusher()
    status = 0
    for _old, new, ref in updates(stdin):
        if ref == MAIN and new != ZERO:
            print("Publication en cours…", flush=True)
            status |= publish(installation, person, f"envoi de {person}")
        elif ref.startswith("refs/heads/") and new != ZERO:
            print(f"Branche {ref.removeprefix('refs/heads/')} reçue : elle n'est pas publiée (seule main l'est).")
    return status


def nightly(installation: Installation) -> int:
    """The nightly build: offers that expired and events that passed leave the lists, journaled like a push."""
    return publish(installation, "minuteur", "reconstruction de la nuit")


def last_publications(installation: Installation, count: int = 10) -> list[dict]:
    path = installation.layout.publications
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-count:]
    return [json.loads(line) for line in lines if line.strip()]


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("avant", "apres", "nuit"):
        print("usage : python -m plugins.deploy.hooks avant|apres|nuit INSTALLATION.json", file=sys.stderr)
        return 2
    try:
        installation = Installation.load(Path(argv[1]))
    except InstallationMissing as exc:
        print(exc)
        return 1
    if argv[0] == "nuit":
        return nightly(installation)
    stdin = sys.stdin.read()
    if argv[0] == "avant":
        return before(installation, stdin, Path(os.getcwd()))
    return after(installation, stdin)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
