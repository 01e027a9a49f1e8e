"""The federation's settings (extra.federation of mkdocs.yml): checked once, every mistake named in French, nothing
built or sent from wrong settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plugins.build.site import federation_settings
from plugins.settings.federation import FederationSettings, SettingsError
from tests.support import REPO, TODAY


def with_federation(project: Path, change) -> None:
    config = project / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    data = yaml.safe_load(text)  # the mkdocs.yml of the sample has no custom tags
    change(data["extra"]["federation"])
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


CASES = [
    ("champ inconnu", lambda f: f.update(emial="x@example.org"), "extra.federation.emial : champ inconnu"),
    ("couleur", lambda f: f["colors"].update(primary="vert"), "extra.federation.colors.primary « vert »"),
    ("expéditeur", lambda f: f.pop("sender_email"), "extra.federation.sender_email manquant"),
    ("carte", lambda f: f["map"].update(tile="x"), "extra.federation.map.tile : champ inconnu"),
    ("cotisation", lambda f: f["membership"]["fees"].append({"label": "MSP"}), "extra.federation.membership.fees, ligne 4"),
    (
        "paiement",
        lambda f: f["membership"].update(payment_url="http://paiement.example.org/"),
        "payment_url « http://paiement.example.org/ »",
    ),
    ("année", lambda f: f["membership"].update(year_end="31-12"), "extra.federation.membership.year_end « 31-12 »"),
    ("rgpd", lambda f: f["privacy"].update(retention="1 an"), "extra.federation.privacy : champ(s) inconnu(s) retention"),
]


def test_the_sample_settings_read_into_one_typed_object() -> None:
    settings = federation_settings(REPO)
    assert isinstance(settings, FederationSettings)
    assert settings.public_url == "https://msp-pdl.example.org/"
    assert settings.members_url == "https://adherents.msp-pdl.example.org/"
    assert (settings.join_page, settings.join_url) == ("adherer", "https://msp-pdl.example.org/adherer/")
    assert settings.membership is not None and len(settings.membership.fees) == 3
    assert settings.letters().unsubscribe_url == "https://msp-pdl.example.org/lettres/desinscription/"


def test_every_mistake_is_named_at_once(project: Path) -> None:
    def two(f):
        f.update(emial="x")
        f["colors"].update(link="bleu")

    with_federation(project, two)
    with pytest.raises(SettingsError) as caught:
        federation_settings(project)
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(("name", "change", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_wrong_setting_stops_check_and_build_and_keeps_the_site(project: Path, name: str, change, message: str) -> None:
    build = [sys.executable, str(REPO / "build.py"), "--project", str(project), "--today", TODAY.isoformat()]
    site = project / "site"
    site.mkdir()
    (site / "ancien.txt").write_text("le site précédent", encoding="utf-8")
    with_federation(project, change)
    checked = subprocess.run([*build, "check"], capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 1 and message in checked.stderr, checked.stderr
    built = subprocess.run([*build, "build"], capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 1 and message in built.stderr and "Traceback" not in built.stderr, built.stderr
    assert "conservé" in built.stderr
    assert [p.name for p in site.iterdir()] == ["ancien.txt"]


MKDOCS_CASES = [
    ("nom inconnu", ("use_directory_urls: true", "use_directory_url: true"), "réglage inconnu « use_directory_url »"),
    (
        "option du greffon",
        ("      audience: public", "      audiance: public"),
        "réglage inconnu « plugins : federation : audiance »",
    ),
    ("type", ("use_directory_urls: true", "use_directory_urls: peut-être"), "réglage « use_directory_urls » refusé"),
    ("yaml", ("docs_dir: content", "docs_dir: content: toolbox"), 'mkdocs.yml", line 7'),
]


@pytest.mark.parametrize(("name", "change", "message"), MKDOCS_CASES, ids=[c[0] for c in MKDOCS_CASES])
def test_what_mkdocs_finds_wrong_in_mkdocs_yml_stops_check_and_build_in_french(
    project: Path, name: str, change: tuple[str, str], message: str
) -> None:
    """MkDocs says it in English in its log and goes on after a warning (a misspelt name: its default instead)."""
    build = [sys.executable, str(REPO / "build.py"), "--project", str(project), "--today", TODAY.isoformat()]
    config = project / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    assert text.count(change[0]) == 1
    config.write_text(text.replace(*change), encoding="utf-8")
    site = project / "site"
    site.mkdir()
    (site / "ancien.txt").write_text("le site précédent", encoding="utf-8")
    checked = subprocess.run([*build, "check"], capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 1 and message in checked.stderr, checked.stderr
    built = subprocess.run([*build, "build"], capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 1 and message in built.stderr, built.stderr
    assert "Traceback" not in built.stderr and "Config value" not in built.stderr and "Aborted" not in built.stderr
    assert "conservé" in built.stderr
    assert [p.name for p in site.iterdir()] == ["ancien.txt"]
