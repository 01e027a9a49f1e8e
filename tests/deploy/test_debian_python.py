"""The server's Python is Debian's: every pinned package, and everything they need, must install on it.

Debian 12 ships Python 3.11.2; pymdown-extensions 13 asks for 3.11.5 and more, so `build.py installer`
stopped at its first step on a fresh server while every test passed on a newer Python.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support import REPO

SYSTEM_PYTHON = Path("/usr/bin/python3")


def test_the_pinned_packages_install_on_the_systems_python(tmp_path: Path) -> None:
    version = subprocess.run([SYSTEM_PYTHON, "--version"], capture_output=True, text=True, check=True).stdout
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(tmp_path / "venv")], check=True)
    project = tmp_path / "projet"  # a copy: pip builds the project where it is (a build/ folder)
    shutil.copytree(REPO / "plugins", project / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, project / name)
    resolved = subprocess.run(
        [str(tmp_path / "venv" / "bin" / "pip"), "install", "--dry-run", "--quiet", "--disable-pip-version-check", str(project)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert resolved.returncode == 0, f"{version}\n{resolved.stderr[-3000:]}"
