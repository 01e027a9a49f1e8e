"""`build.py installer --racine`: a federation installed under a folder as if it were « / », then pushed to with git.

The installer runs from a clone, as an operator would run it; the editors clone the repository it
made, commit and `git push`: a broken file is refused with the exact line `check` prints, a good
one is online (served by the real nginx with the configuration the installer wrote), a change of
the engine needs an operator. A second run of the installer changes nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from plugins.deploy.install import read_env_file
from plugins.deploy.layout import Installation, Layout
from plugins.deploy.nginx import LocalNginx
from plugins.deploy.units import UNITS
from plugins.mail.ledger import SendLedger
from tests.support import NGINX, Mailbox, clean_env, free_port, git, http_request, make_clone

OPERATOR, EDITOR = "Opératrice Martin", "Claire Rédactrice"


@dataclass
class Installed:
    root: Path
    source: Path
    layout: Layout
    command: list[str]
    first: subprocess.CompletedProcess[str]
    http: int
    smtp: int


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("installation")
    source = make_clone(base / "clone")
    root = base / "racine"
    root.mkdir()
    http, smtp = free_port(), free_port()
    command = [
        sys.executable, str(source / "build.py"), "installer", "--racine", str(root), "--exploitant", OPERATOR,
        "--ecoute-http", f"127.0.0.1:{http}", "--port-service", str(free_port()),
    ]  # fmt: skip
    settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp), "SMTP_SECURITY": "none"}
    first = subprocess.run(
        command, cwd=source, env=clean_env(**settings), capture_output=True, text=True, timeout=900, check=False
    )
    assert first.returncode == 0, first.stdout + first.stderr
    return Installed(root, source, Layout(root), command, first, http, smtp)


@pytest.fixture
def editor(installed: Installed, tmp_path: Path) -> Path:
    clone = tmp_path / "redaction"
    assert git("clone", "-q", str(installed.layout.depot), str(clone), cwd=tmp_path).returncode == 0
    return clone


def push(clone: Path, who: str, *refs: str) -> subprocess.CompletedProcess[str]:
    return git("push", "origin", *(refs or ("main",)), cwd=clone, FEDERATION_PUSHER=who)


def commit_all(clone: Path, message: str) -> None:
    assert git("add", "-A", cwd=clone).returncode == 0
    assert git("commit", "-q", "-m", message, cwd=clone).returncode == 0


@pytest.fixture
def served(installed: Installed) -> Iterator[str]:
    server = LocalNginx(installed.root / "nginx-essai", installed.layout.nginx / "nginx.conf", NGINX)
    server.start(f"http://127.0.0.1:{installed.http}/")
    try:
        yield f"http://127.0.0.1:{installed.http}"
    finally:
        server.stop()


def test_the_layout_keeps_secrets_private_and_says_what_to_publish_in_the_dns(installed: Installed) -> None:
    layout, out = installed.layout, installed.first.stdout
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(layout.private) == 0o700 and mode(layout.backups) == 0o700
    assert mode(layout.env_file) == 0o600 and mode(layout.dkim_key) == 0o600
    env = layout.env_file.read_text(encoding="utf-8")
    secret = re.search(r'^LETTER_SECRET="([^"]+)"$', env, re.M)
    assert secret and len(secret[1]) >= 32
    assert f'LETTER_DB="{layout.db}"' in env and 'SMTP_HOST="127.0.0.1"' in env
    for hook in ("pre-receive", "post-receive"):
        assert mode(layout.depot / "hooks" / hook) == 0o755
    assert (layout.sites / "public" / "index.html").is_file() and (layout.sites / "adherents" / "index.html").is_file()
    assert f"include {layout.nginx / 'nginx.conf'};" in layout.nginx_include.read_text(encoding="utf-8")
    public_key = subprocess.run(
        ["openssl", "pkey", "-in", str(layout.dkim_key), "-pubout", "-outform", "DER"], capture_output=True, check=True
    ).stdout
    import base64

    assert f'federation._domainkey.msp-pdl.example.org. TXT "v=DKIM1; k=rsa; p={base64.b64encode(public_key).decode()}"' in out
    assert '_dmarc.msp-pdl.example.org. TXT "v=DMARC1; p=none' in out and "v=spf1" in out
    assert "certbot certonly --webroot" in out  # printed, not run, under --racine
    record = Installation.load(layout.record)
    assert record.operators == [OPERATOR] and record.public_name == "msp-pdl.example.org"


def test_a_second_run_changes_nothing_and_says_so(installed: Installed) -> None:
    layout = installed.layout
    watched = [layout.env_file, layout.dkim_key, layout.record, layout.nginx / "nginx.conf", *(layout.units / u for u in UNITS)]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched}
    again = subprocess.run(
        installed.command, cwd=installed.source, env=clean_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Rien n'a changé : l'installation était déjà à jour." in again.stdout
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in watched} == before  # the SMTP settings were kept too


def test_every_unit_passes_systemd_analyze_and_the_service_is_hardened(installed: Installed) -> None:
    units = [str(installed.layout.units / u) for u in UNITS]
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    for unit in units:
        if unit.endswith(".service"):
            security = subprocess.run(
                ["systemd-analyze", "security", "--offline=true", unit], capture_output=True, text=True, check=False
            )
            exposure = float(re.search(r"Overall exposure level for \S+: (\d+\.\d)", security.stdout)[1])  # type: ignore[index]
            assert exposure <= (2.0 if "service.service" in unit else 3.0), (unit, security.stdout[-2000:])


def test_a_broken_file_is_refused_with_checks_exact_line_and_nothing_is_published(installed: Installed, editor: Path) -> None:
    layout = installed.layout
    online = git("rev-parse", "HEAD", cwd=layout.work).stdout
    page = (layout.sites / "public" / "index.html").read_bytes()
    offer = next((editor / "content" / "offres").glob("*.md"))
    broken = editor / "content" / "offres" / "stage-casse.md"
    broken.write_text(re.sub(r"(?m)^kind: .*$", "kind: stage-inconnu", offer.read_text(encoding="utf-8")), encoding="utf-8")
    commit_all(editor, "Une offre avec un type inconnu")
    expected = subprocess.run(
        [sys.executable, str(editor / "build.py"), "--project", str(editor), "check"], capture_output=True, text=True, check=False
    ).stderr.splitlines()[0]
    assert expected.startswith("content/offres/stage-casse.md:")
    pushed = push(editor, EDITOR)
    assert pushed.returncode != 0
    remote = [line.rstrip() for line in pushed.stderr.splitlines()]  # git pads the remote's lines with spaces
    assert f"remote: {expected}" in remote, pushed.stderr
    assert "remote: 1 problème trouvé : rien n'a été publié." in remote and "[remote rejected]" in pushed.stderr
    assert git("rev-parse", "HEAD", cwd=layout.work).stdout == online
    assert (layout.sites / "public" / "index.html").read_bytes() == page


def test_a_good_push_is_online_and_journaled(installed: Installed, editor: Path, served: str) -> None:
    layout = installed.layout
    news = next(
        p for p in sorted((editor / "content" / "actualites").glob("*.md")) if "access: adherents" not in p.read_text("utf-8")
    )
    text = news.read_text(encoding="utf-8")
    title = "Journée régionale des MSP : le programme est en ligne"
    news.write_text(re.sub(r"(?m)^title: .*$", f'title: "{title}"', text, count=1), encoding="utf-8")
    commit_all(editor, "Titre de l'actualité")
    started = time.monotonic()
    pushed = push(editor, EDITOR)
    elapsed = time.monotonic() - started
    assert pushed.returncode == 0, pushed.stderr
    said = re.search(r"remote: (\d+) pages? réécrites?, en ligne à (\d\d:\d\d:\d\d)", pushed.stderr)
    assert said and int(said[1]) >= 1, pushed.stderr
    status, body, _ = http_request("GET", f"{served}/actualites/{news.stem}/", headers={"Host": "msp-pdl.example.org"})
    assert status == 200 and title in body.decode(), body[:500]
    entry = json.loads(layout.publications.read_text(encoding="utf-8").splitlines()[-1])
    head = git("rev-parse", "HEAD", cwd=editor).stdout.strip()
    assert entry["qui"] == EDITOR and entry["commit"] == head and entry["resultat"] == "publié"
    assert entry["fichiers"] == [news.relative_to(editor).as_posix()] and entry["pages_reecrites"] == int(said[1])
    print(f"push to online: {elapsed:.1f} s (build {entry['duree_s']} s)")


def test_the_engine_changes_only_by_an_operator(installed: Installed, editor: Path) -> None:
    (editor / "plugins" / "base" / "inoffensif.py").write_text('"""Un module ajouté."""\n', encoding="utf-8")
    commit_all(editor, "Du code")
    refused = push(editor, EDITOR)
    assert refused.returncode != 0
    assert (
        f"remote: Envoi refusé : {EDITOR} n'est pas exploitant·e" in refused.stderr
        and "plugins/base/inoffensif.py" in refused.stderr
    )
    assert push(editor, EDITOR, "HEAD:refs/heads/essai-code").returncode != 0  # not on a branch either: a preview runs it
    accepted = push(editor, OPERATOR)
    assert accepted.returncode == 0, accepted.stderr
    assert (installed.layout.work / "plugins" / "base" / "inoffensif.py").is_file()


def test_a_branch_gets_a_preview_behind_the_staffs_password_gone_with_the_branch(
    installed: Installed, editor: Path, served: str
) -> None:
    layout = installed.layout
    online = git("rev-parse", "HEAD", cwd=layout.work).stdout
    sheet = sorted((editor / "toolbox").rglob("*.md"))[1]
    marker = "Un paragraphe en relecture, pas encore publié."
    sheet.write_text(sheet.read_text(encoding="utf-8") + f"\n{marker}\n", encoding="utf-8")
    commit_all(editor, "Relecture")
    pushed = push(editor, EDITOR, "HEAD:refs/heads/Relecture/Fiche")
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: Aperçu de Relecture/Fiche en ligne à" in pushed.stderr, pushed.stderr
    assert "http://msp-pdl.example.org/apercu/relecture-fiche/" in pushed.stderr
    assert git("rev-parse", "HEAD", cwd=layout.work).stdout == online  # not published
    page = f"/apercu/relecture-fiche/adherents/boite-a-outils/fiches/{sheet.relative_to(editor / 'toolbox').with_suffix('').as_posix()}/"
    host = {"Host": "msp-pdl.example.org"}
    status, _, headers = http_request("GET", served + page, headers=host)
    assert status == 401  # the staff's password, even for the public part
    login, password = (layout.private / "apercus.txt").read_text(encoding="utf-8").split()
    import base64

    auth = {**host, "Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}
    status, body, headers = http_request("GET", served + page, headers=auth)
    assert status == 200 and marker in body.decode(), body[:300]
    assert headers.get("X-Robots-Tag") == "noindex, nofollow"
    status, body, _ = http_request("GET", f"{served}/apercu/relecture-fiche/", headers=auth)
    assert status == 200 and b'href="https://msp-pdl.example.org/' not in body  # its links stay in the preview
    wrong = {**host, "Authorization": "Basic " + base64.b64encode(f"{login}:mauvais".encode()).decode()}
    assert http_request("GET", served + page, headers=wrong)[0] == 401

    deleted = push(editor, EDITOR, ":refs/heads/Relecture/Fiche")
    assert deleted.returncode == 0 and "son aperçu est retiré" in deleted.stderr, deleted.stderr
    assert http_request("GET", served + page, headers=auth)[0] == 404
    assert not (layout.previews / "www" / "relecture-fiche").exists()
    refused = push(editor, EDITOR, ":main")
    assert refused.returncode != 0 and "ne se supprime pas" in refused.stderr


def expired_certificate(certificate: Path, key: Path, names: list[str]) -> None:
    """A certificate for names that expired on 1 December 2026, made with openssl (its CA signs with set dates)."""
    work = certificate.parent / "ca"
    work.mkdir()
    (work / "index.txt").write_text("")
    (work / "serial").write_text("01\n")
    (work / "ca.cnf").write_text(
        "[ca]\ndefault_ca = here\n[here]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
        "default_md = sha256\npolicy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n"
    )
    san = ",".join(f"DNS:{n}" for n in names)
    for command in (
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", "r.csr",
         "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}"],
        ["openssl", "ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", str(key), "-in", "r.csr",
         "-out", str(certificate), "-startdate", "20250101000000Z", "-enddate", "20261201000000Z"],
    ):  # fmt: skip
        subprocess.run(command, cwd=work, capture_output=True, check=True)


def diagnostic(installed: Installed, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(installed.layout.work / "build.py"), "diagnostic", "--racine", str(installed.root), *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def problems(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith("À CORRIGER")]


def test_the_diagnosis_reports_each_seeded_fault_and_none_on_a_healthy_installation(installed: Installed, served: str) -> None:
    layout = installed.layout
    env = {**clean_env(), **read_env_file(layout.env_file)}
    SendLedger(layout.ledger).close()  # as after the first letter
    sink = Mailbox()
    smtp = Controller(sink, hostname="127.0.0.1", port=installed.smtp)
    smtp.start()
    record = Installation.load(layout.record)
    service = subprocess.Popen(
        [
            sys.executable,
            str(layout.work / "build.py"),
            "--project",
            str(layout.work),
            "service",
            "--port",
            str(record.service_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert service.stdout is not None and service.stdout.readline()  # its ready line
        saved = subprocess.run(
            [sys.executable, str(layout.work / "build.py"), "sauvegarde"], env=env, capture_output=True, text=True, check=False
        )
        assert saved.returncode == 0, saved.stderr
        archive = Path(saved.stdout.strip().splitlines()[-1])

        healthy = diagnostic(installed, "--envoi-test", "equipe@example.org")
        assert healthy.returncode == 0 and problems(healthy) == [], healthy.stdout
        assert "Rien à corriger." in healthy.stdout and [m["To"].addresses[0].addr_spec for m in sink.messages] == [
            "equipe@example.org"
        ]

        def seeded(fault: str, undo, expected: str, alone: bool = True) -> None:
            done = diagnostic(installed)
            undo()
            found = problems(done)
            assert done.returncode == 1 and any(expected in line for line in found), (fault, done.stdout)
            assert not alone or len(found) == 1, (fault, found)

        layout.env_file.chmod(0o644)
        seeded("secret lisible", lambda: layout.env_file.chmod(0o600), f"{layout.env_file} est lisible par d'autres (mode 644")

        stale = archive.with_name("sauvegarde-20200101T031500Z.tar.gz")
        archive.rename(stale)
        seeded("sauvegarde ancienne", lambda: stale.rename(archive), "la dernière sauvegarde a ")

        ledger = layout.ledger.read_bytes()
        layout.ledger.write_bytes(b"ceci n'est pas une base" + ledger[23:])
        seeded("base abîmée", lambda: layout.ledger.write_bytes(ledger), "registre des envois abîmée")

        include = layout.nginx_include.read_text(encoding="utf-8")
        layout.nginx_include.write_text(include + "ceci n'est pas nginx\n", encoding="utf-8")
        seeded(
            "include cassé", lambda: layout.nginx_include.write_text(include, encoding="utf-8"), "nginx refuse sa configuration"
        )

        certificate, key = layout.certificate(record.public_name)
        certificate.parent.mkdir(parents=True)
        expired_certificate(certificate, key, [record.public_name, record.members_name])
        seeded("certificat expiré", lambda: shutil.rmtree(certificate.parent), f"certificat de {record.public_name} expiré")

        journal = layout.publications.read_text(encoding="utf-8")
        failed = {
            "quand": "2026-12-07T00:05:00+00:00",
            "qui": "minuteur",
            "resultat": "échec",
            "erreur": "Le site précédent est conservé.",
        }
        layout.publications.write_text(journal + json.dumps(failed) + "\n", encoding="utf-8")
        seeded(
            "nuit en échec",
            lambda: layout.publications.write_text(journal, encoding="utf-8"),
            "dernière reconstruction de la nuit en échec",
        )

        service.terminate()
        service.wait(timeout=30)
        seeded("service arrêté", lambda: None, "le service des lecteurs ne répond pas par nginx", alone=False)
    finally:
        if service.poll() is None:
            service.terminate()
            service.wait(timeout=30)
        smtp.stop()


FAKE_SSH = r'''"""As sshd does for a key of authorized_keys: run its forced command with the user's shell."""
import os, re, sys
person = os.environ["FAUX_SSH_PERSONNE"]
for line in open(os.environ["FAUX_SSH_CLES"], encoding="utf-8"):
    if line.startswith("command=") and line.rstrip().endswith(" " + person):
        command = re.match(r'command="((?:[^"\\]|\\.)*)"', line)[1].replace('\\"', '"')
        break
else:
    sys.exit("clé inconnue")
os.environ["SSH_ORIGINAL_COMMAND"] = sys.argv[-1]
os.execv("/bin/sh", ["/bin/sh", "-c", command])
'''


def test_a_push_over_ssh_is_known_by_its_key_and_no_key_opens_a_shell(installed: Installed, editor: Path, tmp_path: Path) -> None:
    layout = installed.layout
    key = tmp_path / "claire"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "claire@poste", "-f", str(key)], check=True)
    added = subprocess.run(
        [*installed.command, "--cle", f"{EDITOR}={key}.pub"],
        cwd=installed.source,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert "clés SSH des rédacteurs (1) : modifié" in added.stdout
    line = layout.authorized_keys.read_text(encoding="utf-8").splitlines()[-1]
    assert line.startswith(
        f'command="FEDERATION_PUSHER=\'{EDITOR}\' exec git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"",restrict ssh-ed25519 '
    )
    assert stat.S_IMODE(layout.authorized_keys.stat().st_mode) == 0o600
    (tmp_path / "ssh.py").write_text(FAKE_SSH, encoding="utf-8")
    fake = tmp_path / "ssh"
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} {tmp_path / "ssh.py"} "$@"\n', encoding="utf-8")
    fake.chmod(0o755)
    ssh = {
        "GIT_SSH_COMMAND": str(fake),
        "FAUX_SSH_CLES": str(layout.authorized_keys),
        "FAUX_SSH_PERSONNE": EDITOR.replace(" ", "_"),
    }
    news = next(
        p for p in sorted((editor / "content" / "actualites").glob("*.md")) if "access: adherents" not in p.read_text("utf-8")
    )
    news.write_text(news.read_text(encoding="utf-8") + "\nUne phrase envoyée par SSH.\n", encoding="utf-8")
    commit_all(editor, "Par SSH")
    pushed = git("push", f"federation@127.0.0.1:{layout.depot}", "main", cwd=editor, **ssh)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(layout.publications.read_text(encoding="utf-8").splitlines()[-1])["qui"] == EDITOR
    shell = subprocess.run(
        [str(fake), "federation@127.0.0.1", "cat /etc/passwd"], env=clean_env(**ssh), capture_output=True, text=True, check=False
    )
    assert shell.returncode != 0 and "root:" not in shell.stdout


def test_a_code_update_takes_a_backup_before_the_stores_are_migrated(installed: Installed) -> None:
    layout = installed.layout
    assert layout.db.is_file()
    engine = installed.source / "plugins" / "base" / "__init__.py"
    original = engine.read_text(encoding="utf-8")
    engine.write_text(original + "# a new version of the engine\n", encoding="utf-8")
    try:
        before = set(layout.backups.iterdir())
        stored = layout.db.read_bytes()
        layout.db.write_bytes(stored[:100] + b"\0" * 200 + stored[300:])  # a store the backup refuses
        broken = subprocess.run(
            installed.command, cwd=installed.source, env=clean_env(), capture_output=True, text=True, check=False
        )
        assert broken.returncode == 1 and "les bases n'ont pas été touchées" in broken.stderr, broken.stdout + broken.stderr
        assert set(layout.backups.iterdir()) == before
        layout.db.write_bytes(stored)
        updated = subprocess.run(
            installed.command, cwd=installed.source, env=clean_env(), capture_output=True, text=True, check=False
        )
        assert updated.returncode == 0, updated.stdout + updated.stderr
        made = set(layout.backups.iterdir()) - before
        assert len(made) == 1 and f"sauvegarde avant mise à jour ({next(iter(made)).name}) : créé" in updated.stdout
        assert "bases du service (à jour pour ce code) : modifié" in updated.stdout
        again = subprocess.run(
            installed.command, cwd=installed.source, env=clean_env(), capture_output=True, text=True, check=False
        )
        assert "Rien n'a changé" in again.stdout and set(layout.backups.iterdir()) - before == made
    finally:
        engine.write_text(original, encoding="utf-8")


def test_two_pushes_in_a_row_are_built_in_order(installed: Installed, editor: Path, tmp_path: Path) -> None:
    layout = installed.layout
    other = tmp_path / "seconde"
    assert git("clone", "-q", str(layout.depot), str(other), cwd=tmp_path).returncode == 0
    public = [
        p for p in sorted((editor / "content" / "actualites").glob("*.md")) if "access: adherents" not in p.read_text("utf-8")
    ]
    first, second = public[0], other / public[1].relative_to(editor)
    first.write_text(first.read_text(encoding="utf-8") + "\nPremière modification.\n", encoding="utf-8")
    commit_all(editor, "Première")
    started = subprocess.Popen(
        ["git", "push", "origin", "main"], cwd=editor, env=clean_env(FEDERATION_PUSHER=EDITOR), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    mine = git("rev-parse", "HEAD", cwd=editor).stdout
    deadline = time.monotonic() + 60
    while git("rev-parse", "main", cwd=layout.depot).stdout != mine:  # accepted; its publication is under way
        assert time.monotonic() < deadline and started.poll() is None
        time.sleep(0.02)
    assert git("pull", "-q", "--ff-only", cwd=other).returncode == 0
    second.write_text(second.read_text(encoding="utf-8") + "\nSeconde modification.\n", encoding="utf-8")
    commit_all(other, "Seconde")
    pushed = push(other, OPERATOR)
    _, first_said = started.communicate(timeout=300)
    assert started.returncode == 0 and pushed.returncode == 0, first_said + pushed.stderr
    head = git("rev-parse", "HEAD", cwd=other).stdout.strip()
    assert git("rev-parse", "HEAD", cwd=layout.work).stdout.strip() == head
    for changed, text in ((first, "Première modification."), (second, "Seconde modification.")):
        page = (layout.sites / "public" / "actualites" / changed.stem / "index.html").read_text(encoding="utf-8")
        assert text in page
    entries = [json.loads(line) for line in layout.publications.read_text(encoding="utf-8").splitlines()][-2:]
    assert [e["resultat"] for e in entries] == ["publié", "publié"] and entries[-1]["commit"] == head


def test_a_symbolic_link_is_refused_even_from_an_operator(installed: Installed, editor: Path) -> None:
    """A link to the private folder, pushed as a page or an attachment, would be published with the site."""
    link = editor / "content" / "offres" / "secrets.md"
    link.symlink_to(installed.layout.env_file)
    commit_all(editor, "Un lien")
    for who in (EDITOR, OPERATOR):
        refused = push(editor, who)
        assert refused.returncode != 0
        assert (
            "remote: Envoi refusé : les liens symboliques et les sous-modules ne sont pas acceptés (content/offres/secrets.md)"
            in refused.stderr
        )
    assert not (installed.layout.work / "content" / "offres" / "secrets.md").exists()


def test_a_build_that_fails_after_an_accepted_push_keeps_the_sites_and_says_why(installed: Installed, editor: Path) -> None:
    """check reads the files, the build renders them: a template broken by an operator passes one, not the other."""
    layout = installed.layout
    page = (layout.sites / "public" / "index.html").read_bytes()
    template = editor / "plugins" / "render" / "templates" / "news.html"
    original = template.read_text(encoding="utf-8")
    template.write_text(original + "\n{% if %}\n", encoding="utf-8")
    commit_all(editor, "Un gabarit cassé")
    pushed = push(editor, OPERATOR)
    # The push is in (git ignores a post-receive hook's status: there is no way back), its publication failed.
    assert "remote: La construction a échoué ; les sites en ligne restent ceux du commit" in pushed.stderr, pushed.stderr
    assert (layout.sites / "public" / "index.html").read_bytes() == page
    entry = json.loads(layout.publications.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["resultat"] == "échec" and entry["erreur"]
    template.write_text(original, encoding="utf-8")
    commit_all(editor, "Le gabarit réparé")
    assert push(editor, OPERATOR).returncode == 0
    assert json.loads(layout.publications.read_text(encoding="utf-8").splitlines()[-1])["resultat"] == "publié"
