"""Structured data (schema.org JSON-LD) for offers, events, news and stories, from public fields only."""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any

from plugins.model import Event, JobOffer, NewsItem, Story
from plugins.model.fields import PARIS
from plugins.model.vocabulary import department_label

EMPLOYMENT = {
    "remplacement": "TEMPORARY",
    "collaboration": "CONTRACTOR",
    "association": "CONTRACTOR",
    "reprise-patientele": "CONTRACTOR",
    "creation-msp": "CONTRACTOR",
}


def _address(commune: str | None, department: str | None) -> dict[str, Any]:
    address: dict[str, Any] = {"@type": "PostalAddress", "addressCountry": "FR"}
    if commune:
        address["addressLocality"] = commune
    if department:
        address["addressRegion"] = department_label(department)
    return address


def _employment(offer: JobOffer) -> str:
    contract = (offer.contract or "").lower()
    if "cdd" in contract:
        return "TEMPORARY"
    if "cdi" in contract or "salari" in contract:
        return "FULL_TIME"
    return EMPLOYMENT.get(offer.kind.slug, "OTHER")


def job_posting(offer: JobOffer, url: str, description: str) -> dict[str, Any]:
    """Return a JobPosting; validThrough is the last day of publication, in Paris time."""
    organization: dict[str, Any] = {"@type": "MedicalOrganization", "name": offer.msp.name}
    if offer.msp.website:
        organization["sameAs"] = offer.msp.website
    place: dict[str, Any] = {"@type": "Place", "address": _address(offer.commune, offer.department)}
    if offer.msp.lat is not None and offer.msp.lon is not None:
        place["geo"] = {"@type": "GeoCoordinates", "latitude": offer.msp.lat, "longitude": offer.msp.lon}
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "JobPosting",
        "title": offer.title,
        "url": url,
        "description": description,
        "datePosted": offer.date.isoformat(),
        "validThrough": datetime.combine(offer.expires, time(23, 59), tzinfo=PARIS).isoformat(),
        "employmentType": _employment(offer),
        "hiringOrganization": organization,
        "jobLocation": place,
        "occupationalCategory": ", ".join(p.label for p in offer.professions),
    }
    if offer.start:
        data["jobStartDate"] = offer.start.isoformat()
    return data


def event(item: Event, url: str, organizer: str) -> dict[str, Any]:
    """Return an Event with its times in Paris time and its place or online location."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": item.title,
        "url": url,
        "startDate": item.start.date().isoformat() if item.all_day else item.start.isoformat(),
        "eventStatus": "https://schema.org/EventScheduled",
        "organizer": {"@type": "Organization", "name": organizer},
    }
    if item.end:
        data["endDate"] = item.end.date().isoformat() if item.all_day else item.end.isoformat()
    if item.summary:
        data["description"] = item.summary
    if item.online:
        data["eventAttendanceMode"] = "https://schema.org/OnlineEventAttendanceMode"
        data["location"] = {"@type": "VirtualLocation", "url": item.registration or url}
    else:
        data["eventAttendanceMode"] = "https://schema.org/OfflineEventAttendanceMode"
        data["location"] = {
            "@type": "Place",
            "name": item.place or item.commune or "",
            "address": _address(item.commune, item.department),
        }
    return data


def article(item: NewsItem | Story, url: str, publisher: str, logo: str) -> dict[str, Any]:
    """Return an Article for a news item or a story."""
    authors = [{"@type": "Person", "name": a.name} for a in getattr(item, "authors", [])] or [
        {"@type": "Organization", "name": publisher}
    ]
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": item.title,
        "url": url,
        "datePublished": item.date.isoformat(),
        "inLanguage": "fr",
        "author": authors,
        "publisher": {"@type": "Organization", "name": publisher, "logo": {"@type": "ImageObject", "url": logo}},
    }
    if item.summary:
        data["description"] = item.summary
    return data


# JSON escapes for the characters that HTML reads inside a <script> ("</script>", "<!--"): no text can end it.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def script_tag(data: dict[str, Any]) -> str:
    """Return the <script> element; the JSON holds no '<', '>' or '&', so that no text can close it early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_SAFE)
    return f'<script type="application/ld+json">{text}</script>'
