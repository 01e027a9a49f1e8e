"""What a first week trips on, tried as a new operator, editor, reader and member team would, following the README:
the group of the htpasswd, files of personal data, membership dates, commands printed, busy ports, slugs, words."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from plugins.model.fields import slugify
from plugins.settings.membership import MembershipSettings
from tests.support import REPO, TODAY, make_project

MEMBERSHIP = {
    "email": "contact@exemple.org",
    "membership": {"fees": [{"label": "MSP", "amount": 150}], "transfer": "par virement", "renewal_from": "10-01"},
}


def build_py(
    project: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "build.py"), "--project", str(project), "--today", TODAY.isoformat(), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Les vœux de la présidente", "les-voeux-de-la-presidente"),
        ("Œdème : soins & plaies", "oedeme-soins-plaies"),
        ("Ex æquo", "ex-aequo"),
        ("Straße", "strasse"),
    ],
)
def test_slugs_keep_their_ligatures(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_new_names_the_file_with_its_ligature_and_prints_a_check_that_runs(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    made = build_py(project, "new", "actualite", "Les vœux de la présidente", cwd=project)
    assert made.returncode == 0, made.stderr
    assert (project / "content" / "actualites" / "les-voeux-de-la-presidente.md").is_file()
    printed = made.stdout.split("lancez « ", 1)[1].split(" »", 1)[0]
    assert not printed.startswith("python ")  # « python build.py » fails outside the project's environment
    ran = subprocess.run(printed, shell=True, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    assert "À COMPLÉTER" in ran.stdout + ran.stderr and "ModuleNotFoundError" not in ran.stderr  # it runs: check speaks
    # check suggests a name with the ligature spelt out.
    (project / "content" / "actualites" / "Vœux été 2027.md").write_text("---\ntitle: x\ndate: 2027-01-05\n---\n")
    checked = build_py(project, "check")
    assert "voeux-ete-2027.md" in checked.stdout + checked.stderr


def test_a_late_acceptance_runs_to_the_next_year_end() -> None:
    settings = MembershipSettings.from_settings(MEMBERSHIP)
    assert settings is not None
    assert settings.membership_end(date(2026, 12, 7)) == date(2027, 12, 31)
    assert settings.membership_end(date(2026, 9, 30)) == date(2026, 12, 31)
    assert settings.membership_end(date(2026, 10, 1)) == date(2027, 12, 31)
    june = MembershipSettings.from_settings(
        {**MEMBERSHIP, "membership": {**MEMBERSHIP["membership"], "year_end": "06-30", "renewal_from": "04-01"}}
    )
    assert june is not None and june.membership_end(date(2027, 5, 2)) == date(2028, 6, 30)
    assert june.membership_end(date(2026, 7, 1)) == date(2027, 6, 30)
    with pytest.raises(ValueError, match="renewal_from « 10-32 »"):
        MembershipSettings.from_settings({**MEMBERSHIP, "membership": {**MEMBERSHIP["membership"], "renewal_from": "10-32"}})


@pytest.mark.skipif(os.geteuid() != 0, reason="le groupe de nginx ne se prend que lancé par root, comme en production")
def test_server_as_the_readme_writes_it_gives_htpasswd_to_nginx_s_group(tmp_path: Path) -> None:
    """Debian's nginx runs its workers as www-data: a root-owned htpasswd gave members a 500."""
    import grp

    from plugins.deploy.nginx import nginx_group

    (tmp_path / "projet").mkdir()
    project = make_project(tmp_path / "projet")
    build_all(project, project / "site", TODAY)
    accounts = tmp_path / "comptes.csv"
    accounts.write_text("login;password\nmsp-essai;une-phrase-assez-longue\n", encoding="utf-8")
    written = build_py(
        project,
        "server",
        "--accounts",
        str(accounts),
        "--dest",
        str(tmp_path / "conf"),
        "--access-log",
        str(tmp_path / "access.log"),
    )
    assert written.returncode == 0, written.stderr
    expected = nginx_group()
    assert expected is not None, "nginx est installé par scripts/install.sh --test : sa ligne « user » nomme www-data"
    mode = (tmp_path / "conf" / "htpasswd").stat()
    assert mode.st_gid == grp.getgrnam(expected).gr_gid and stat.S_IMODE(mode.st_mode) == 0o640
    assert f"Groupe du fichier htpasswd : {expected}" in written.stdout
    # Without a readable « user » line, the command asks for --group instead of writing a file nginx cannot read.
    conf = tmp_path / "sans-user.conf"
    conf.write_text("events {}\n", encoding="utf-8")
    assert nginx_group(conf) is None
    assert nginx_group(tmp_path / "absent.conf") is None
    conf.write_text("user nobody nogroup;\n", encoding="utf-8")
    assert nginx_group(conf) == "nogroup"


def test_files_of_personal_data_are_private_whatever_the_umask(tmp_path: Path) -> None:
    """Debian's default umask 022 made the stores and exports readable by every local user."""
    from datetime import UTC, datetime

    from plugins.mail.ledger import SendLedger
    from plugins.records.readers import ReaderStore

    previous = os.umask(0o022)
    try:
        store = ReaderStore(tmp_path / "lecteurs.sqlite")
        store.import_rows([("lecteur@exemple.org", "", "public")], "essai", datetime.now(UTC))
        SendLedger(tmp_path / "envois.sqlite").close()
        env = {**os.environ, "LETTER_DB": str(tmp_path / "lecteurs.sqlite")}
        export = tmp_path / "export.csv"
        done = build_py(REPO, "abonnes", "exporter", "--sortie", str(export), env=env)
        assert done.returncode == 0, done.stderr
        assert f"1 lecteur écrit dans {export}" in done.stderr  # it says what it wrote
    finally:
        os.umask(previous)
    for name in ("lecteurs.sqlite", "lecteurs.sqlite-wal", "envois.sqlite", "export.csv"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (name, oct(path.stat().st_mode))
    with sqlite3.connect(tmp_path / "lecteurs.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM readers").fetchone() == (1,)


@pytest.mark.parametrize("command", [("serve",), ("service",)])
def test_a_busy_port_is_one_french_line_and_nothing_starts(tmp_path: Path, command: tuple[str, ...]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "LETTER_SECRET": "une-cle-de-seize-caracteres", "LETTER_DB": str(tmp_path / "base.sqlite")}
        done = build_py(REPO, *command, "--port", str(port), env=env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"Le port {port} est déjà pris" in lines[0] and "--port" in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr
    assert not (tmp_path / "base.sqlite").exists()  # nothing started, nothing created


def test_the_home_page_title_names_the_site_once(sample_site: Path) -> None:
    page = (sample_site / "public" / "index.html").read_text(encoding="utf-8")
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.count("Fédération régionale") == 1, title


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists(), reason="apt de Debian, lancé par root")
def test_the_install_waits_for_apt_held_by_the_automatic_updates(tmp_path: Path) -> None:
    """Right after boot, the automatic updates hold apt's locks: the install waited for nothing and stopped at once."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "for path in ('/var/lib/apt/lists/lock', '/var/lib/dpkg/lock-frontend'):\n"
            "    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)\n"
            "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "print('pris', flush=True)\n"
            "time.sleep(6)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "pris"
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "apt-install.sh"), "nginx-light"],  # installed already: apt only checks
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Could not get lock" not in done.stdout + done.stderr
    assert done.stdout.strip() == "apt est occupé (mises à jour automatiques ?) : attente de sa fin, 5 minutes au plus…"
