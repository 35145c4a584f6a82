"""Passenger feeds of the active incidents: GTFS-realtime Service Alerts (protobuf, with the
reference bindings, or JSON) and RSS/Atom. Built from the database on each request, so a
published alert is in the feed as soon as its transaction commits."""

from __future__ import annotations

import contextlib

from django.conf import settings
from django.db.models import Prefetch
from django.utils import translation
from django.utils.translation import gettext as _
from google.transit import gtfs_realtime_pb2 as rt

from relais.accounts.models import Organization
from relais.common.timeutils import now
from relais.incidents.models import Incident, IncidentStatus, IncidentType, Severity
from relais.incidents.selectors import active_incidents
from relais.publishing.models import Publication, PublicationKind, PublicationState
from relais.transit.models import Route

CAUSES = {
    IncidentType.STRIKE: rt.Alert.STRIKE,
    IncidentType.DISRUPTION: rt.Alert.OTHER_CAUSE,
    IncidentType.ACCIDENT: rt.Alert.ACCIDENT,
    IncidentType.PASSENGER_ILL: rt.Alert.MEDICAL_EMERGENCY,
    IncidentType.SECURITY: rt.Alert.POLICE_ACTIVITY,
    IncidentType.WEATHER: rt.Alert.WEATHER,
    IncidentType.WORKS: rt.Alert.CONSTRUCTION,
    IncidentType.TECHNICAL: rt.Alert.TECHNICAL_PROBLEM,
    IncidentType.OTHER: rt.Alert.UNKNOWN_CAUSE,
}

# What a passenger should expect, by type; a critical incident stops the service.
EFFECTS = {
    IncidentType.STRIKE: rt.Alert.REDUCED_SERVICE,
    IncidentType.DISRUPTION: rt.Alert.MODIFIED_SERVICE,
    IncidentType.ACCIDENT: rt.Alert.SIGNIFICANT_DELAYS,
    IncidentType.PASSENGER_ILL: rt.Alert.SIGNIFICANT_DELAYS,
    IncidentType.SECURITY: rt.Alert.SIGNIFICANT_DELAYS,
    IncidentType.WEATHER: rt.Alert.REDUCED_SERVICE,
    IncidentType.WORKS: rt.Alert.DETOUR,
    IncidentType.TECHNICAL: rt.Alert.SIGNIFICANT_DELAYS,
    IncidentType.OTHER: rt.Alert.UNKNOWN_EFFECT,
}

SEVERITIES = {
    Severity.LOW: rt.Alert.INFO,
    Severity.MEDIUM: rt.Alert.WARNING,
    Severity.HIGH: rt.Alert.SEVERE,
    Severity.CRITICAL: rt.Alert.SEVERE,
}

PUBLISHED_STATES = (
    PublicationState.PUBLISHING,
    PublicationState.PUBLISHED,
    PublicationState.PARTIAL,
)


def feed_incidents(*, organization: Organization) -> list[Incident]:
    """The active incidents with what the feed needs, in a fixed number of queries."""
    publications = (
        Publication.objects.filter(state__in=PUBLISHED_STATES)
        .select_related("template")
        .order_by("-requested_at", "-pk")
    )
    incidents = list(
        active_incidents(organization_id=organization.pk)
        .prefetch_related("lines", "stops", Prefetch("publications", queryset=publications))
        .order_by("started_at", "pk")
    )
    for incident in incidents:
        incident.organization = organization  # no query per incident for its slug
    return incidents


def _translations(
    organization: Organization, incident: Incident, translated_templates: dict
) -> tuple[dict, dict]:
    """Header and description per language. The organisation's language gets the incident's
    title and the latest published text; the others, the type and lines in that language
    and the latest text rendered from the same template's translation, when there is one."""
    from relais.publishing.alerts import alert_values
    from relais.wording.rendering import MissingVariables, render
    from relais.wording.selectors import template_in_language

    main = organization.language
    languages = [main] + [code for code, _name in settings.LANGUAGES if code != main]
    latest = next(iter(incident.publications.all()), None)
    headers: dict[str, str] = {main: incident.title}
    descriptions: dict[str, str] = {}
    texts_by_language: dict[str, str] = {}
    for publication in incident.publications.all():
        texts_by_language.setdefault(publication.language, publication.text)
    for language in languages:
        if language != main:
            with translation.override(language):
                lines = (
                    _("all lines")
                    if incident.all_lines
                    else ", ".join(r.short_name or r.gtfs_id for r in incident.lines.all())
                )
                label = str(IncidentType(incident.type).label)
                headers[language] = f"{label} — {lines}" if lines else label
        if language in texts_by_language:
            descriptions[language] = texts_by_language[language]
        elif latest is not None and latest.template is not None:
            cache_key = (latest.template.pk, language)
            if cache_key not in translated_templates:
                translated_templates[cache_key] = template_in_language(
                    template=latest.template, language=language
                )
            translated = translated_templates[cache_key]
            if translated is not None:
                values = alert_values(
                    organization=organization, incident=incident, language=language
                )
                with contextlib.suppress(MissingVariables):
                    descriptions[language] = render(translated.text, values)
    return headers, descriptions


def _translated(target, texts: dict[str, str]) -> None:
    for language, text in texts.items():
        if text:
            target.translation.add(text=text, language=language)


def build_alerts_feed(*, organization: Organization) -> rt.FeedMessage:
    from relais.publishing.alerts import incident_public_url

    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    feed.header.timestamp = int(now().timestamp())
    all_routes: list[Route] | None = None
    translated_templates: dict = {}
    for incident in feed_incidents(organization=organization):
        entity = feed.entity.add()
        entity.id = f"{organization.slug}-incident-{incident.pk}"
        alert = entity.alert
        period = alert.active_period.add()
        period.start = int(incident.started_at.timestamp())
        if incident.expected_end_at:
            period.end = int(incident.expected_end_at.timestamp())
        routes = list(incident.lines.all())
        stops = list(incident.stops.all())
        if incident.all_lines or not (routes or stops):
            # Network-wide (or nothing said): every line of the network is concerned.
            if all_routes is None:
                all_routes = list(Route.objects.filter(organization=organization))
            routes = all_routes
        for route in routes:
            alert.informed_entity.add(route_id=route.gtfs_id)
        for stop in stops:
            alert.informed_entity.add(stop_id=stop.gtfs_id)
        alert.cause = CAUSES.get(IncidentType(incident.type), rt.Alert.UNKNOWN_CAUSE)
        alert.effect = (
            rt.Alert.NO_SERVICE
            if incident.severity == Severity.CRITICAL
            else EFFECTS.get(IncidentType(incident.type), rt.Alert.UNKNOWN_EFFECT)
        )
        alert.severity_level = SEVERITIES.get(
            Severity(incident.severity), rt.Alert.UNKNOWN_SEVERITY
        )
        if incident.cause:
            _translated(alert.cause_detail, {organization.language: incident.cause})
        headers, descriptions = _translations(organization, incident, translated_templates)
        _translated(alert.header_text, headers)
        _translated(alert.description_text, descriptions)
        _translated(alert.url, {organization.language: incident_public_url(incident)})
    return feed


def public_incidents(*, organization: Organization, days: int = 2) -> list[Incident]:
    """What the public page lists: the active incidents, and those resolved lately."""
    from datetime import timedelta

    from django.db.models import Q

    since = now() - timedelta(days=days)
    return list(
        Incident.objects.filter(organization=organization)
        .filter(
            Q(status__in=(IncidentStatus.OPEN, IncidentStatus.MONITORING))
            | Q(resolved_at__gte=since)
        )
        .prefetch_related(
            "lines",
            Prefetch(
                "publications",
                queryset=Publication.objects.filter(state__in=PUBLISHED_STATES).order_by(
                    "requested_at", "pk"
                ),
            ),
        )
        .order_by("status", "-started_at")
    )


def recent_publications(*, organization: Organization, limit: int = 50) -> list[Publication]:
    """The RSS/Atom items: what was published about incidents, newest first."""
    return list(
        Publication.objects.filter(
            organization=organization,
            state__in=PUBLISHED_STATES,
            kind__in=(PublicationKind.ALERT, PublicationKind.UPDATE, PublicationKind.CLOSING),
        )
        .select_related("incident")
        .order_by("-requested_at", "-pk")[:limit]
    )
