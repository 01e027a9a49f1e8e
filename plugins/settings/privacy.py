"""What the federation's sites, letters and forms do with personal data (RGPD art. 13), for the « Données personnelles » page.

Each processing names the form fields it collects: a test compares them with the fields of
every form the sites and the service show, so that no form collects what the page does not say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PAGE = "donnees-personnelles"  # the page's folder in both sites
PENDING_DAYS = 30  # an unconfirmed subscription request is erased after this many days


@dataclass(frozen=True)
class Processing:
    """One use of personal data: what is collected, why, on which basis, for how long, for whom."""

    title: str
    fields: tuple[tuple[str, str], ...]  # (form field name, or "" when no form collects it; what it is)
    purpose: str
    basis: str
    retention: str
    recipients: str


@dataclass(frozen=True)
class PrivacySettings:
    """The federation's own answers, from mkdocs.yml (extra.federation.privacy)."""

    controller: str
    contact: str
    address: str
    sending_provider: str
    registrations_months: int = 12  # registrants of an event are erased this many months after it
    count_opens: bool = False  # extra.federation.letters.count_opens: an overall count of each letter's opens

    @classmethod
    def from_settings(cls, federation: Mapping, site_name: str) -> PrivacySettings:
        """Read extra.federation.privacy; raise ValueError (French) when a required answer is missing."""
        privacy = federation.get("privacy") or {}
        if not isinstance(privacy, Mapping):
            raise ValueError("mkdocs.yml : extra.federation.privacy doit être un ensemble de champs (controller, contact…)")
        known = ("controller", "contact", "sending_provider", "registrations_months")
        unknown = set(privacy) - set(known)
        if unknown:
            raise ValueError(
                f"mkdocs.yml : extra.federation.privacy : champ(s) inconnu(s) {', '.join(sorted(unknown))}, attendu {', '.join(known)}"
            )
        contact = str(privacy.get("contact") or federation.get("email") or "")
        if not contact:
            raise ValueError("mkdocs.yml : extra.federation.privacy.contact manquant : l'adresse où exercer ses droits")
        months = privacy.get("registrations_months", 12)
        if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 60:
            raise ValueError(
                f"mkdocs.yml : extra.federation.privacy.registrations_months « {months} » : attendu un nombre de mois entre 1 et 60"
            )
        letters = federation.get("letters") or {}
        opens = letters.get("count_opens", False) if isinstance(letters, Mapping) else False
        if not isinstance(opens, bool):
            raise ValueError(f"mkdocs.yml : extra.federation.letters.count_opens « {opens} » : attendu true ou false")
        return cls(
            str(privacy.get("controller") or site_name),
            contact,
            str(federation.get("address", "")),
            str(privacy.get("sending_provider") or "le serveur d'envoi de la fédération"),
            months,
            opens,
        )


def processings(settings: PrivacySettings) -> list[Processing]:
    """Return every processing the product performs, in the words of the page."""
    return [
        Processing(
            "Lettres d'information (formulaire d'inscription)",
            (
                ("adresse", "votre adresse électronique"),
                ("lettre", "la lettre choisie (lettre d'information ou lettre des adhérents)"),
            ),
            "vous envoyer la lettre choisie, et seulement elle ; prouver votre consentement (date, formulaire, date de confirmation)",
            "votre consentement (RGPD, article 6.1.a), donné en deux temps : le formulaire, puis le lien de confirmation",
            f"jusqu'à votre désinscription ; une demande non confirmée est effacée après {PENDING_DAYS} jours ; "
            "après un effacement demandé, seule une empreinte irréversible de l'adresse est gardée, pour ne jamais la réinscrire sans vous",
            f"l'équipe de la fédération ; {settings.sending_provider}, pour la seule remise des messages",
        ),
        Processing(
            "Inscriptions aux événements (formulaire d'un événement)",
            (
                ("nom", "vos prénom et nom"),
                ("adresse", "votre adresse électronique"),
                ("question", "vos réponses aux questions de l'événement (profession, repas…)"),
            ),
            "organiser l'événement : places, liste d'attente, confirmation, annulation, liste des participants",
            "votre demande d'inscription (RGPD, article 6.1.b)",
            f"effacées {settings.registrations_months} mois après l'événement ; une demande que l'adresse n'a pas"
            " confirmée dans les 30 minutes est annulée",
            "l'équipe de la fédération et les organisateurs de l'événement",
        ),
        Processing(
            "Désinscription et retours des messages",
            (
                ("", "l'adresse qui se désinscrit, la date et le moyen (lien, un clic, courriel)"),
                ("", "les avis de non-remise (adresse en erreur, code d'erreur, lettre concernée)"),
            ),
            "ne plus vous écrire ; cesser d'écrire à une adresse qui n'existe plus",
            "l'obligation de respecter votre opposition (CPCE, article L34-5) et l'intérêt légitime de la fédération",
            "aussi longtemps que l'adresse figure dans la base des lecteurs",
            "l'équipe de la fédération",
        ),
        Processing(
            "Demandes d'adhésion (formulaire de la page « Adhérer »)",
            (
                ("equipe", "le nom de l'équipe ou de la structure"),
                ("structure", "son type (MSP, centre de santé, équipe en projet)"),
                ("commune", "sa commune"),
                ("departement", "son département"),
                ("pro", "le nombre de professionnels de l'équipe par profession"),
                ("nom", "les prénom et nom de la personne à contacter"),
                ("adresse", "son adresse électronique"),
                ("telephone", "son téléphone"),
                ("consentement", "son accord, avec la date de la demande"),
            ),
            "étudier la demande, y répondre, ouvrir le compte de l'espace adhérents, suivre le paiement de la cotisation"
            " (le paiement lui-même se fait sur la page de paiement de la fédération : aucune donnée bancaire ne passe par ce site)",
            "les mesures préalables à l'adhésion, à votre demande (RGPD, article 6.1.b)",
            f"une demande que l'adresse de contact n'a pas confirmée est effacée après {PENDING_DAYS} jours ; une demande refusée"
            " ou restée sans réponse, un an après ; une demande acceptée, trois ans après la fin de l'adhésion qu'elle a"
            " ouverte (obligations comptables de l'association)",
            "l'équipe de la fédération",
        ),
        Processing(
            "Espace adhérents",
            (
                ("identifiant", "l'identifiant de l'équipe adhérente"),
                ("mot-de-passe", "l'empreinte de son mot de passe (jamais le mot de passe lui-même, que personne ne voit)"),
                ("confirmation", "la seconde saisie du mot de passe, comparée à la première puis oubliée"),
                ("adresse", "l'adresse où envoyer le lien pour choisir un mot de passe (« Mot de passe oublié »)"),
            ),
            "réserver la boîte à outils et les contenus des adhérents aux équipes adhérentes",
            "le contrat d'adhésion (RGPD, article 6.1.b)",
            "jusqu'à la fin de l'adhésion, puis un an (pour un renouvellement tardif) : un compte arrivé à sa date de fin"
            " est refusé aussitôt",
            "l'équipe de la fédération",
        ),
        Processing(
            "Messages du service en attente d'envoi",
            (
                ("", "l'adresse du destinataire et le message (confirmation, avis), jusqu'à son envoi"),
                ("", "la boîte de l'adresse, lue sans « +… », et l'heure : pour limiter les messages envoyés à une même boîte"),
            ),
            "envoyer les messages dus même après un arrêt du service ; empêcher qu'un inconnu fasse écrire la fédération"
            " à une même boîte en boucle",
            "l'intérêt légitime de la fédération (sécurité de ses services et de ses destinataires)",
            "le message et l'adresse sont effacés dès l'envoi ; la boîte et l'heure, après deux jours",
            f"{settings.sending_provider}, pour la seule remise des messages",
        ),
        Processing(
            "Journaux techniques du serveur",
            (
                ("", "l'adresse IP, la date, la page demandée (sans sa partie « ?… », où sont les liens de confirmation)"),
                ("", "dans l'espace adhérents, l'identifiant de l'équipe"),
                (
                    "",
                    "les mots de passe incorrects de l'espace adhérents : leur nombre par adresse IP et par identifiant, "
                    "gardé en mémoire seulement (jamais écrit), un quart d'heure au plus",
                ),
            ),
            "assurer la sécurité des sites (limiter les essais de mots de passe et les envois automatisés de formulaires)",
            "l'intérêt légitime de la fédération (sécurité de ses services)",
            "14 jours (rotation quotidienne des journaux de nginx), puis effacés",
            "l'équipe technique de la fédération",
        ),
    ]


def field_family(name: str) -> str:
    """Return the name a form field is declared under: an event's question-<id> fields are « question »,
    the membership form's pro-<profession> fields « pro »."""
    if name.startswith("question-"):
        return "question"
    return "pro" if name.startswith("pro-") else name


def form_fields() -> set[str]:
    """Return the names of every form field the page declares."""
    return {name for p in processings(PrivacySettings("", "x", "", "")) for name, _ in p.fields if name}
