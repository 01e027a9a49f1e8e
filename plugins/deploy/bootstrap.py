"""The installer's first step on a fresh server, with Debian's Python alone: the packages, then the installer itself.

`sudo python3 build.py installer` runs before any Python package of the project is installed:
this module (standard library only) installs Debian's python3-venv, makes the virtual
environment the services will run, installs the engine and its pinned packages into it, and
runs the installer again with that environment's Python.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from plugins.base import environment
from plugins.deploy.layout import ENGINE_MARKER, engine_fingerprint

VENV = Path("/srv/federation/venv")


def bootstrap(project: Path, argv: list[str]) -> int:
    if "--racine" in argv or any(a.startswith("--racine=") for a in argv):
        print(
            "Avec --racine, lancez l'installateur avec le Python du projet (« bash scripts/install.sh » puis "
            "« .venv/bin/python build.py installer --racine … ») : rien n'est installé sur la machine.",
            file=sys.stderr,
        )
        return 1
    if os.geteuid() != 0:
        print("L'installation se lance en root : « sudo python3 build.py installer ».", file=sys.stderr)
        return 1
    env = {**environment.current(), "DEBIAN_FRONTEND": "noninteractive"}
    print("Préparation : paquets Debian de Python, environnement Python des services…", flush=True)
    steps = [
        ["apt-get", "install", "-y", "-q", "python3-venv", "git"],
        ["python3", "-m", "venv", str(VENV)],
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(project)],
    ]
    for command in steps:
        if subprocess.run(command, env=env, check=False).returncode != 0:
            print(f"À CORRIGER : « {' '.join(command)} » a échoué ; rien d'autre n'a été installé.", file=sys.stderr)
            return 1
    (VENV / ENGINE_MARKER).write_text(engine_fingerprint(project), encoding="utf-8")  # the installer need not do it again
    python = str(VENV / "bin" / "python")
    os.execv(python, [python, str(project / "build.py"), *argv])
    return 0  # not reached
