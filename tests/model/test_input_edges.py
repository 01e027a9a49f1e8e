"""Input at the edges of the checks: a final newline that « $ » lets through, digits that are not ASCII,
and the line separators that Python's email library refuses in a header."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.model.fields import ADDRESS, CONTROL
from plugins.model.problems import ContentError
from plugins.records.applications import ApplicationBook
from plugins.records.password_file import LOGIN, hash_secret, read_accounts
from plugins.service.commands import OperatorError, membership_requests
from plugins.service.passwords import secret_problem
from plugins.settings.membership import read_request
from tests.support import make_project


def request_fields(**changes: str) -> dict[str, str]:
    """A membership request as the form sends it, valid unless changed."""
    fields = {
        "equipe": "MSP des Bords de Loire",
        "structure": "msp",
        "commune": "Ancenis",
        "departement": "44",
        "pro-medecin": "4",
        "pro-infirmier": "3",
        "nom": "Élodie Martin",
        "adresse": "elodie.martin@exemple.fr",
        "telephone": "02 40 11 22 33",
        "consentement": "oui",
    }
    return {**fields, **changes}


def test_the_sample_request_is_valid() -> None:
    request, problem = read_request(request_fields())
    assert problem == "" and request is not None and request.professionals["medecin"] == 4


# --- logins -------------------------------------------------------------------------------------------


def test_login_refuses_a_trailing_newline() -> None:
    assert LOGIN.match("msp-nl")
    assert not LOGIN.match("msp-nl\n")


def test_staff_command_refuses_a_login_with_a_trailing_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`build.py adhesions accepter N --login …` would write « msp-nl\\n:$2y$… » and break the htpasswd file."""
    monkeypatch.delenv("LETTER_SECRET", raising=False)
    project = tmp_path / "projet"
    project.mkdir()
    make_project(project)
    db = tmp_path / "lecteurs.sqlite"
    ApplicationBook(db)
    with pytest.raises(OperatorError, match="Identifiant « msp-nl\n » invalide"):
        membership_requests(project, db, None, "accepter", number=1, login="msp-nl\n")


def test_accounts_csv_refuses_a_hash_with_digits_that_are_not_ascii(tmp_path: Path) -> None:
    """« \\d » takes « ٠٨ » as a cost: the htpasswd (written in ASCII) would then fail half-way."""
    good = hash_secret("correct-cheval-pile-agrafe", 4)
    path = tmp_path / "comptes.csv"
    path.write_text(f"login;hash\nmsp-loire;{good}\nmsp-sevre;$2y$\u0660\u0668${good[7:]}\n", encoding="utf-8")
    with pytest.raises(ContentError) as caught:
        read_accounts(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(3, "hash")]
    assert "empreinte non reconnue" in caught.value.problems[0].message


# --- membership requests ------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["²", "\u0664", "١٢", "4\u00b3"])
def test_a_number_of_professionals_that_is_not_ascii_gets_a_french_problem(number: str) -> None:
    request, problem = read_request(request_fields(**{"pro-medecin": number}))
    assert request is None
    assert problem == "Nombre de « Médecins généralistes » : indiquez un nombre entier entre 0 et 999."


@pytest.mark.parametrize("department", ["4\u0664", "\u0664\u0664", "44\n"])
def test_a_department_that_is_not_ascii_gets_a_french_problem(department: str) -> None:
    request, problem = read_request(request_fields(departement=department))
    assert (request is None) == (department != "44\n")  # the form's fields are stripped: « 44\n » is 44
    if request is None:
        assert problem == "Indiquez le numéro du département (exemple : 44, 2A ou 974)."


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029"])
def test_a_team_name_with_a_line_separator_gets_a_french_problem(separator: str) -> None:
    """Python's email library refuses these in a header: the request would be stored but never announced."""
    request, problem = read_request(request_fields(equipe=f"MSP des Bords{separator}de Loire"))
    assert request is None
    assert problem == "Ce champ contient un caractère non permis (retour à la ligne, tabulation) : corrigez-le."


def test_control_still_lets_ordinary_french_text_through() -> None:
    for text in ("Maison de santé « Les Coteaux » – Saint-Herblain", "Infirmier·es", "l'équipe\u00a0: 12 €"):
        assert not CONTROL.search(text)
    for text in ("a\tb", "a\r\nb", "a\x00b", "a\x7fb", "a\x85b", "a\u2028b", "a\u2029b"):
        assert CONTROL.search(text)


def test_a_password_with_a_line_separator_is_refused_in_french() -> None:
    secret = "pommes-vertes\u2028du-verger"
    assert secret_problem(secret, secret) == "Choisissez un mot de passe de 64 caractères au plus, sans retour à la ligne."
    assert secret_problem("pommes-vertes du verger", "pommes-vertes du verger") == ""


# --- email addresses ----------------------------------------------------------------------------------


def test_address_refuses_a_trailing_newline() -> None:
    assert ADDRESS.match("a@b.fr")
    assert not ADDRESS.match("a@b.fr\n")
    assert not ADDRESS.match("elodie.martin@exemple.fr\n")
