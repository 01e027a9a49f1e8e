"""`build.py lettres bilan`: what each letter reached, in counts only, for the staff (never into the sites).

From what the project already keeps: the send ledger (recipients, delivered, failed, unknown,
skipped), the bounce reader's findings (per letter), the readers' history (unsubscriptions by way
and confirmed subscriptions, between this letter and the next of the same audience: the history
keeps no letter, so a departure is counted for the last letter its audience received), and the
counted links (plugins/records/clicks.py). No address appears in any figure.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Environment

from plugins.mail.ledger import SendLedger
from plugins.records.clicks import ClickBook, LinkCount
from plugins.records.readers import CONFIRMED, LEFT, LINK, MAILTO, ONE_CLICK, ReaderStore

FIGURES = (
    ("destinataires", "destinataires"),
    ("remis", "remis au serveur de messagerie"),
    ("echecs", "refusés définitivement"),
    ("inconnus", "état inconnu (connexion perdue)"),
    ("non_envoyes", "non envoyés (désinscrits ou en erreur pendant l'envoi)"),
    ("rebonds_definitifs", "rebonds définitifs"),
    ("rebonds_temporaires", "rebonds temporaires"),
    ("desinscriptions_lien", "désinscriptions par le lien de la lettre"),
    ("desinscriptions_un_clic", "désinscriptions en un clic (messagerie)"),
    ("desinscriptions_courriel", "désinscriptions par courriel"),
    ("nouveaux_abonnes", "nouveaux abonnés confirmés depuis"),
    ("clics", "clics sur les liens (au plus un par lien et par client en dix minutes)"),
    ("ouvertures", "ouvertures, au total (images chargées ; Apple Mail les charge toutes : surestimé)"),
)


@dataclass
class LetterReport:
    letter: str
    audience: str
    sent_at: str
    figures: dict[str, int] = field(default_factory=dict)
    links: list[LinkCount] = field(default_factory=list)


def audience_of(letter: str) -> str:
    return "adherents" if letter.endswith("-adherents") else "public"


def reports(
    ledger: SendLedger, store: ReaderStore | None, clicks: ClickBook | None, only: str | None = None
) -> list[LetterReport]:
    sends = ledger.sends()
    ordered = sorted(sends.items(), key=lambda item: item[1])
    found = []
    for n, (letter, start) in enumerate(ordered):
        if only and letter != only:
            continue
        audience = audience_of(letter)
        later = [s for other, s in ordered[n + 1 :] if audience_of(other) == audience]
        counts = ledger.counts(letter)
        report = LetterReport(letter, audience, start)
        figures = report.figures
        figures["destinataires"] = sum(counts.values())
        figures["remis"] = counts.get("sent", 0)
        figures["echecs"] = counts.get("failed", 0)
        figures["inconnus"] = counts.get("unknown", 0)
        figures["non_envoyes"] = counts.get("skipped", 0) + counts.get("pending", 0)
        if store is not None:
            bounces = store.bounces_of(letter)
            figures["rebonds_definitifs"] = bounces.get("hard", 0)
            figures["rebonds_temporaires"] = bounces.get("soft", 0)
            window = store.since_letter(
                audience, datetime.fromisoformat(start), datetime.fromisoformat(later[0]) if later else None
            )
            figures["desinscriptions_lien"] = window.get(f"{LEFT}:{LINK}", 0)
            figures["desinscriptions_un_clic"] = window.get(f"{LEFT}:{ONE_CLICK}", 0)
            figures["desinscriptions_courriel"] = window.get(f"{LEFT}:{MAILTO}", 0)
            figures["nouveaux_abonnes"] = window.get(CONFIRMED, 0)
        if clicks is not None:
            report.links = clicks.links(letter)
            figures["clics"] = sum(link.clicks for link in report.links)
            opens = clicks.opens(letter)
            if opens is not None:
                figures["ouvertures"] = opens
        found.append(report)
    return found


def as_text(found: list[LetterReport]) -> str:
    lines = []
    labels = dict(FIGURES)
    for report in found:
        lines.append(
            f"Lettre {report.letter} ({report.audience}), envoyée à partir du {report.sent_at[:16].replace('T', ' à ')} UTC :"
        )
        for key, value in report.figures.items():
            lines.append(f"  {labels[key]} : {value}")
        for link in report.links:
            lines.append(f"  lien {link.number} : {link.clicks} clic{'s' if link.clicks > 1 else ''} — {link.url}")
        lines.append("")
    return "\n".join(lines) if found else "Aucune lettre envoyée dans ce registre.\n"


def as_csv(found: list[LetterReport]) -> str:
    """One row per figure and per link: lettre;public;mesure;lien;valeur (UTF-8, « ; »)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["lettre", "public", "mesure", "lien", "valeur"])
    for report in found:
        for key, value in report.figures.items():
            writer.writerow([report.letter, report.audience, key, "", value])
        for link in report.links:
            writer.writerow([report.letter, report.audience, f"clics_lien_{link.number}", link.url, link.clicks])
    return out.getvalue()


HTML = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Bilan des lettres</title>
<meta name="robots" content="noindex"></head><body>
<h1>Bilan des lettres</h1>
<p>Des nombres seulement : aucune adresse, aucun lecteur suivi. Les clics comptent au plus un client par lien en dix minutes.</p>
{% for report in reports %}
<h2>{{ report.letter }} ({{ report.audience }})</h2>
<p>Envoyée à partir du {{ report.sent_at[:16].replace("T", " à ") }} UTC.</p>
<table><tbody>
{% for key, value in report.figures.items() %}<tr><th scope="row">{{ labels[key] }}</th><td>{{ value }}</td></tr>
{% endfor %}</tbody></table>
{% if report.links %}<table><thead><tr><th>Lien</th><th>Adresse</th><th>Clics</th></tr></thead><tbody>
{% for link in report.links %}<tr><td>{{ link.number }}</td><td>{{ link.url }}</td><td>{{ link.clicks }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
{% endfor %}
</body></html>
"""


def as_html(found: list[LetterReport]) -> str:
    return Environment(autoescape=True).from_string(HTML).render(reports=found, labels=dict(FIGURES))
