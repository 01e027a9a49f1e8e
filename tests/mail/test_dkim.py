"""DKIM: `send` signs each letter over the one-click headers (RFC 8058); dkimpy verifies it against the public key."""

from __future__ import annotations

import base64
import email
import os
import re
import subprocess
import sys
from pathlib import Path

import dkim
import pytest

from tests.support import REPO, make_project


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, bytes]:
    private = tmp_path / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def send(project: Path, tmp_path: Path, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    listing = tmp_path / "abonnes.csv"
    listing.write_text("email;name;audience\nlectrice@example.org;Lectrice;public\n", encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "LETTER_", "DKIM_"))}, **env_extra}
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "build.py"),
            "--project",
            str(project),
            "send",
            "2026-11-public",
            "--subscribers",
            str(listing),
            "--ledger",
            str(tmp_path / "envois.sqlite"),
            "--outbox",
            str(tmp_path / "outbox"),
            "--rate",
            "0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_each_letter_is_signed_over_the_one_click_headers(tmp_path: Path, key: tuple[Path, bytes]) -> None:
    private, record = key
    project = make_project(tmp_path)
    result = send(
        project, tmp_path, {"DKIM_SELECTOR": "lettres2026", "DKIM_DOMAIN": "msp-pdl.example.org", "DKIM_KEY_FILE": str(private)}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [message] = (tmp_path / "outbox" / "2026-11-public").glob("*.eml")
    data = message.read_bytes()
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    assert dkim.verify(data, dnsfunc=dns)
    assert asked == [b"lettres2026._domainkey.msp-pdl.example.org."]
    header = email.message_from_bytes(data)["DKIM-Signature"]
    covered = {h.strip().lower().encode() for h in re.search(r"\bh=([^;]+)", re.sub(r"\s+", "", header)).group(1).split(":")}
    assert {b"from", b"subject", b"date", b"list-unsubscribe", b"list-unsubscribe-post"} <= covered
    tampered = data.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: List-Unsubscribe=Autre"
    )
    assert tampered != data and not dkim.verify(tampered, dnsfunc=dns)


def test_an_incomplete_dkim_setting_sends_nothing(tmp_path: Path, key: tuple[Path, bytes]) -> None:
    project = make_project(tmp_path)
    result = send(project, tmp_path, {"DKIM_SELECTOR": "lettres2026", "DKIM_KEY_FILE": str(key[0])})
    assert result.returncode == 1 and "DKIM_DOMAIN manquant" in result.stdout
    missing = send(
        project, tmp_path, {"DKIM_SELECTOR": "s", "DKIM_DOMAIN": "d.example", "DKIM_KEY_FILE": str(tmp_path / "absente.pem")}
    )
    assert missing.returncode == 1 and "DKIM_KEY_FILE introuvable" in missing.stdout
    assert not (tmp_path / "outbox").exists()
