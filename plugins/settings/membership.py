"""Joining the federation: the membership request's fields, the fee grid and payment means (mkdocs.yml), the membership year.

Plain Python: the « Adhérer » page of the public site, the service that takes the requests and
the staff's commands all read the same settings and the same list of fields.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from plugins.model.fields import ADDRESS, CONTROL

# The kinds of structure that may ask to join, as the form offers them.
STRUCTURES = {
    "msp": "Maison de santé pluriprofessionnelle (MSP)",
    "centre-de-sante": "Centre de santé",
    "equipe-en-projet": "Équipe en projet",
}
# The professions counted on the form: one number field « pro-<key> » each.
PROFESSIONS = {
    "medecin": "Médecins généralistes",
    "infirmier": "Infirmier·es",
    "kinesitherapeute": "Masseurs-kinésithérapeutes",
    "pharmacien": "Pharmacien·nes",
    "sage-femme": "Sages-femmes",
    "dentiste": "Chirurgiens-dentistes",
    "autre": "Autres professionnel·les de santé",
}
# \Z, not $ (which also matches before a final newline); [0-9], not \d (which takes any script's digits).
DEPARTMENT = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6])\Z")
PHONE = re.compile(r"^\+?[0-9 .()-]{10,20}\Z")
CONSENT = (
    "J'accepte que la fédération conserve ces informations pour traiter la demande d'adhésion"
    " et, si elle est acceptée, gérer l'adhésion et l'accès à l'espace adhérents."
)
PROFESSIONALS = re.compile(r"([0-9]{1,3})-([0-9]{1,3})?")  # a fee's span of professionals: « 1-14 », « 15- »
YEAR_END = re.compile(r"^(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class Fee:
    """One line of the fee grid: who pays it and how much, as the federation words them; and, if the federation
    says so, the kinds of structure and the numbers of professionals it is for (to tell a request its own fee)."""

    label: str
    amount: str
    structures: tuple[str, ...] = ()
    professionals: tuple[int, int | None] | None = None  # from, to (None: no upper bound)

    def applies_to(self, request: MembershipRequest) -> bool:
        """Return whether this line is the request's (a line that says nothing of whom it is for never is)."""
        if not self.structures and self.professionals is None:
            return False
        if self.structures and request.structure not in self.structures:
            return False
        if self.professionals is not None:
            low, high = self.professionals
            count = sum(request.professionals.values())
            if count < low or (high is not None and count > high):
                return False
        return True


@dataclass(frozen=True)
class MembershipSettings:
    """The federation's membership settings (extra.federation.membership), checked once."""

    staff_email: str  # where each request is announced
    fees: tuple[Fee, ...]
    payment_url: str  # an online checkout page of the federation (HelloAsso or the like); '' if none
    transfer: str  # how to pay by bank transfer; '' if not offered
    year_end: tuple[int, int] = (12, 31)  # month and day the membership year ends
    renewal_from: tuple[int, int] | None = None  # accepted on or after this day, the membership runs to the next year end

    @classmethod
    def from_settings(cls, federation: Mapping) -> MembershipSettings | None:
        """Read extra.federation.membership (None when absent); raise ValueError (French) when it is wrong."""
        raw = federation.get("membership")
        if raw is None:
            return None
        where = "mkdocs.yml : extra.federation.membership"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where} doit être un ensemble de champs (staff_email, fees, payment_url…)")
        known = ("staff_email", "fees", "payment_url", "transfer", "year_end", "renewal_from")
        unknown = set(raw) - set(known)
        if unknown:
            raise ValueError(f"{where} : champ(s) inconnu(s) {', '.join(sorted(unknown))}, attendu {', '.join(known)}")
        staff = str(raw.get("staff_email") or federation.get("email") or "")
        if "@" not in staff:
            raise ValueError(f"{where}.staff_email manquant : l'adresse de l'équipe qui reçoit les demandes")
        fees = raw.get("fees") or []
        if not isinstance(fees, list) or not fees:
            raise ValueError(f"{where}.fees : attendu la grille des cotisations, une ligne « - label: …, amount: … » chacune")
        grid = []
        for n, fee in enumerate(fees, 1):
            if (
                not isinstance(fee, Mapping)
                or not {"label", "amount"} <= set(fee) <= {"label", "amount", "structures", "professionals"}
                or not fee["label"]
                or fee["amount"] in ("", None)
            ):
                raise ValueError(
                    f"{where}.fees, ligne {n} : attendu label (qui paie) et amount (combien), ex. amount: 150 €,"
                    " et facultativement structures et professionals (pour qui)"
                )
            amount = fee["amount"]
            structures = fee.get("structures") or []
            if isinstance(structures, str):
                structures = [structures]
            if not isinstance(structures, list) or not set(structures) <= set(STRUCTURES):
                raise ValueError(
                    f"{where}.fees, ligne {n} : structures « {fee.get('structures')} » : attendu une liste parmi"
                    f" {', '.join(STRUCTURES)}"
                )
            span = None
            if fee.get("professionals") is not None:
                found = PROFESSIONALS.fullmatch(str(fee["professionals"]).strip())
                if found is None or (found.group(2) and int(found.group(2)) < int(found.group(1))):
                    raise ValueError(
                        f"{where}.fees, ligne {n} : professionals « {fee['professionals']} » : attendu un nombre de"
                        ' professionnels de…à, entre guillemets (ex. "1-14", ou "15-" sans limite)'
                    )
                span = (int(found.group(1)), int(found.group(2)) if found.group(2) else None)
            grid.append(
                Fee(
                    str(fee["label"]),
                    f"{amount} €" if isinstance(amount, (int, float)) else str(amount),
                    tuple(structures),
                    span,
                )
            )
        payment_url, transfer = str(raw.get("payment_url") or ""), str(raw.get("transfer") or "")
        if payment_url and (urlsplit(payment_url).scheme != "https" or not urlsplit(payment_url).netloc):
            raise ValueError(f"{where}.payment_url « {payment_url} » : attendu une adresse https:// de paiement en ligne")
        if not payment_url and not transfer:
            raise ValueError(f"{where} : indiquez comment régler la cotisation, payment_url (en ligne) ou transfer (virement)")
        match = YEAR_END.match(str(raw.get("year_end", "12-31")))
        year_end = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
        try:
            date(2027, *year_end)
        except ValueError:
            raise ValueError(
                f"{where}.year_end « {raw.get('year_end')} » : attendu le jour où finit l'année d'adhésion, MM-JJ entre guillemets (ex. \"12-31\")"
            ) from None
        renewal_from = None
        if raw.get("renewal_from") is not None:
            match = YEAR_END.match(str(raw.get("renewal_from")))
            renewal_from = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
            try:
                date(2027, *renewal_from)
            except ValueError:
                raise ValueError(
                    f"{where}.renewal_from « {raw.get('renewal_from')} » : attendu le jour à partir duquel une adhésion"
                    ' acceptée vaut aussi pour l\'année suivante, MM-JJ entre guillemets (ex. "10-01")'
                ) from None
        return cls(staff, tuple(grid), payment_url, transfer, year_end, renewal_from)

    def fee_for(self, request: MembershipRequest) -> Fee | None:
        """Return the one line of the grid that is the request's, or None when the grid does not tell."""
        found = [fee for fee in self.fees if fee.applies_to(request)]
        return found[0] if len(found) == 1 else None

    def membership_end(self, day: date) -> date:
        """Return the end of the membership accepted on day: the year end that day falls before, or the next one
        from renewal_from on (a team accepted on 7 December is not a member until 31 December only)."""
        end = date(day.year, *self.year_end)
        if end < day:
            end = date(day.year + 1, *self.year_end)
        if self.renewal_from is not None:
            cut = date(end.year, *self.renewal_from)
            if cut > end:
                cut = date(end.year - 1, *self.renewal_from)
            if day >= cut:
                end = date(end.year + 1, *self.year_end)
        return end


@dataclass(frozen=True)
class MembershipRequest:
    """What a team asks on the form, once checked."""

    team: str
    structure: str
    commune: str
    department: str
    professionals: dict[str, int]
    contact: str
    email: str
    phone: str

    @property
    def structure_label(self) -> str:
        return STRUCTURES[self.structure]

    def professionals_text(self) -> str:
        """Return the team's professionals in words, e.g. « 3 Médecins généralistes, 2 Infirmier·es »."""
        return ", ".join(f"{n} {PROFESSIONS[key]}" for key, n in self.professionals.items() if n)


def request_problems(fields: Mapping[str, str]) -> tuple[MembershipRequest | None, dict[str, str]]:
    """Return the request the form's fields make, or None and every problem, in French, by field name.

    All at once, each beside its field (« pro » for the numbers of professionals as a whole,
    « pro-<profession> » for one of them), as `check` names every problem of the files.
    """
    text = {name: fields.get(name, "").strip() for name in ("equipe", "structure", "commune", "departement", "nom", "adresse")}
    text["telephone"] = fields.get("telephone", "").strip()
    problems: dict[str, str] = {}
    for name, value in text.items():
        if CONTROL.search(value):
            problems[name] = "Ce champ contient un caractère non permis (retour à la ligne, tabulation) : corrigez-le."
    if "equipe" not in problems and (not text["equipe"] or len(text["equipe"]) > 150):
        problems["equipe"] = "Indiquez le nom de l'équipe ou de la structure (150 caractères au plus)."
    if text["structure"] not in STRUCTURES:
        problems["structure"] = "Choisissez le type de structure : MSP, centre de santé ou équipe en projet."
    if "commune" not in problems and (not text["commune"] or len(text["commune"]) > 100):
        problems["commune"] = "Indiquez la commune de la structure (100 caractères au plus)."
    department = text["departement"].upper()
    if "departement" not in problems and not DEPARTMENT.match(department):
        problems["departement"] = "Indiquez le numéro du département (exemple : 44, 2A ou 974)."
    professionals: dict[str, int] = {}
    for key, label in PROFESSIONS.items():
        value = fields.get(f"pro-{key}", "").strip() or "0"
        # « ² » and « ٤ » are digits to str.isdigit(); int() refuses the first: ASCII digits only.
        if not (value.isascii() and value.isdigit()) or int(value) > 999:
            problems[f"pro-{key}"] = f"Nombre de « {label} » : indiquez un nombre entier entre 0 et 999."
            continue
        professionals[key] = int(value)
    if not any(professionals.values()) and not any(name.startswith("pro-") for name in problems):
        problems["pro"] = "Indiquez le nombre de professionnels de l'équipe, au moins un."
    if "nom" not in problems and (not text["nom"] or len(text["nom"]) > 100):
        problems["nom"] = "Indiquez les prénom et nom de la personne à contacter (100 caractères au plus)."
    if "adresse" not in problems and (len(text["adresse"]) > 254 or not ADDRESS.match(text["adresse"])):
        problems["adresse"] = "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr)."
    if "telephone" not in problems and not PHONE.match(text["telephone"]):
        problems["telephone"] = "Indiquez un numéro de téléphone (exemple : 02 40 00 00 00)."
    if fields.get("consentement") != "oui":
        problems["consentement"] = "Cochez la case de consentement : sans elle, la fédération ne peut pas traiter la demande."
    if problems:
        return None, problems
    request = MembershipRequest(
        text["equipe"],
        text["structure"],
        text["commune"],
        department,
        professionals,
        text["nom"],
        text["adresse"],
        text["telephone"],
    )
    return request, {}


def read_request(fields: Mapping[str, str]) -> tuple[MembershipRequest | None, str]:
    """Return the request the form's fields make, or None and its problems in French, one sentence each."""
    request, problems = request_problems(fields)
    return request, " ".join(problems.values())
