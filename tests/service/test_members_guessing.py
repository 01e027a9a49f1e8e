"""Guessing the members' passwords, as an attacker would, through the nginx `build.py server --service` writes and the
service `build.py service` starts: every location kind of the members' host, one address or many, one login or many.

Each request comes from an address of the loopback network (127.x.y.z): nginx and the service see as many clients.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from plugins.build.sites import build_all
from tests.support import NGINX, TODAY, free_port, http_request, make_project, served_sites, service_env, start_service

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx absent : lancez bash scripts/install.sh --test")

MEMBER = ("msp-loire", "correct-cheval-pile-agrafe")
TARGET = ("msp-cible", "une-phrase-longue-et-secrete")  # the account the many-address guesser aims at
READER = ("msp-lectrice", "elle-lit-pendant-l-attaque")  # reads the site while TARGET's account is attacked
ACCOUNTS = "login;password;expires\n" + "".join(f"{login};{secret};2027-12-31\n" for login, secret in (MEMBER, TARGET, READER))
PER_CLIENT, PER_ACCOUNT = 20, 10  # Limits' defaults (plugins/service/guard.py)


def auth(login: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()}


@dataclass
class Members:
    base: str
    public: str
    root: Path


@pytest.fixture(scope="module")
def members(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Members]:
    root = tmp_path_factory.mktemp("devinettes")
    (root / "projet").mkdir()
    project = make_project(root / "projet")
    build_all(project, project / "site", TODAY)
    (root / "prive").mkdir()
    db = root / "prive" / "service.sqlite"
    (root / "comptes-devinettes.csv").write_text(ACCOUNTS, encoding="utf-8")
    service_port = free_port()
    service = start_service(service_env(free_port(), db), project, service_port)
    try:
        # The last --accounts wins: three accounts instead of served_sites' one.
        extra = ("--db", str(db), "--accounts", str(root / "comptes-devinettes.csv"))
        with served_sites(project, root, service_port, extra) as (public, members_base):
            yield Members(members_base, public, root)
    finally:
        service.kill()
        service.wait(timeout=10)


def location_kinds(members: Members) -> dict[str, str]:
    """Return one path of each kind of location the members' host asks a password for."""
    status, page, _ = http_request("GET", members.base + "/boite-a-outils/", headers=auth(*MEMBER))
    assert status == 200
    html = page.decode()
    asset = re.search(r'href="[./]*(assets/stylesheets/[^"]+\.css)"', html)
    medias = re.search(r'(?:src|href)="[./]*(medias/[^"]+)"', html)
    assert asset and medias, "la page doit citer ses ressources"
    return {
        "page": "/boite-a-outils/",
        "page d'accueil": "/",
        "ressource du thème": "/" + asset.group(1),
        "identité": "/" + medias.group(1),
        "index de recherche commun": "/pagefind/pagefind.js",
        "index de recherche propre": "/pagefind-site/pagefind.js",
        "page absente": "/nulle-part/",
        "formulaire du service": "/lettres/inscription/",
        "inscription à un événement": "/agenda/inscription/atelier/",
    }


def test_a_member_who_mistypes_once_gets_in_at_once(members: Members) -> None:
    me = "127.0.31.1"
    assert http_request("GET", members.base + "/", headers=auth(MEMBER[0], "correct-cheval-pile-agrafee"), source=me)[0] == 401
    assert http_request("GET", members.base + "/", headers=auth(*MEMBER), source=me)[0] == 200
    assert http_request("GET", members.base + "/", source=me)[0] == 401  # no password: asked, never counted


def test_200_wrong_passwords_from_one_address_are_refused_unchecked_at_every_location(members: Members) -> None:
    """A guesser with one address and many logins: after PER_CLIENT wrong passwords nothing is checked any more."""
    for n, (kind, path) in enumerate(location_kinds(members).items()):
        guesser = f"127.0.40.{n + 1}"
        answers = [
            http_request("GET", members.base + path, headers=auth(f"equipe-{kind[:5]}-{i}", f"essai-{i}"), source=guesser)[0]
            for i in range(200)
        ]
        # 429: nginx's own request limit of the location, which comes first; 403: the service's refusal.
        assert answers.count(401) <= PER_CLIENT and set(answers) <= {401, 403, 429}, (kind, answers)
        assert answers[-1] in (403, 429)
        # The right password from that address is refused as well, unchecked: the guesser cannot tell it is right.
        status, body, _ = http_request("GET", members.base + path, headers=auth(*MEMBER), source=guesser)
        assert status in (403, 429), kind
        assert "Accès suspendu un moment" in body.decode() or "Demande non traitée" in body.decode()
        # Another address is not hindered.
        assert http_request("GET", members.base + path, headers=auth(*MEMBER), source=f"127.0.41.{n + 1}")[0] in (200, 404)


def test_200_wrong_passwords_for_one_account_from_200_addresses_lock_that_account_only(members: Members) -> None:
    reader = "127.0.50.1"
    assert http_request("GET", members.base + "/", headers=auth(*READER), source=reader)[0] == 200
    paths = list(location_kinds(members).values())
    answers = [
        http_request(
            "GET",
            members.base + paths[i % len(paths)],
            headers=auth(TARGET[0], f"essai-{i}"),
            source=f"127.0.{60 + i // 200}.{i % 200 + 2}",
        )[0]
        for i in range(200)
    ]
    assert answers.count(401) <= PER_ACCOUNT and set(answers) == {401, 403} and answers[-1] == 403, answers
    # Locked: even the right password from a new address is refused, unchecked (README: a quarter of an hour at most).
    assert http_request("GET", members.base + "/", headers=auth(*TARGET), source="127.0.70.1")[0] == 403
    assert http_request("GET", members.base + "/", headers=auth(TARGET[0].upper(), "essai"), source="127.0.70.2")[0] == 403
    # Other accounts are not: the member reading meanwhile, and another team from a new address.
    assert http_request("GET", members.base + "/boite-a-outils/", headers=auth(*READER), source=reader)[0] == 200
    assert http_request("GET", members.base + "/", headers=auth(*MEMBER), source="127.0.70.3")[0] == 200


def test_a_locked_account_still_opens_from_where_its_team_already_logged_in(members: Members) -> None:
    """The team reads from its usual connection; a guesser elsewhere locks the account: the team keeps going."""
    team, guessers = "127.0.90.1", [f"127.0.91.{n + 2}" for n in range(PER_ACCOUNT + 5)]
    assert http_request("GET", members.base + "/", headers=auth(*MEMBER), source=team)[0] == 200
    answers = [http_request("GET", members.base + "/", headers=auth(MEMBER[0], "faux"), source=g)[0] for g in guessers]
    assert answers[-1] == 403
    assert http_request("GET", members.base + "/", headers=auth(*MEMBER), source="127.0.92.1")[0] == 403  # elsewhere
    status = http_request("GET", members.base + "/offres/", headers=auth(*MEMBER), source=team)[0]
    assert status == 200
    assert http_request("GET", members.base + "/", headers=auth(MEMBER[0], "faux"), source=team)[0] == 401  # checked


def test_an_unknown_login_is_answered_as_a_known_one(members: Members) -> None:
    """Locks count claimed logins, known or not: a 403 never tells that a login exists."""
    answers = [
        http_request("GET", members.base + "/", headers=auth("equipe-inconnue", f"essai-{i}"), source=f"127.0.80.{i + 2}")[0]
        for i in range(PER_ACCOUNT + 3)
    ]
    assert answers == [401] * PER_ACCOUNT + [403] * 3


def test_the_password_check_is_not_reachable_from_outside(members: Members) -> None:
    status, _, _ = http_request("GET", members.base + "/_acces/verification", headers=auth(*READER))
    assert status == 404
    status, _, _ = http_request("GET", members.public + "/_acces/verification", headers=auth(*READER))
    assert status == 404
