"""Reads of incidents that other parts need (the conflict guard, the feeds, suggestions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from relais.incidents.models import (
    ACTIVE_STATUSES,
    Incident,
    IncidentStatus,
    Severity,
    TimelineEntry,
)

SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW]


def active_incidents(*, organization_id: int) -> QuerySet[Incident]:
    return Incident.objects.filter(organization_id=organization_id, status__in=ACTIVE_STATUSES)


def active_incidents_affecting(
    *,
    organization_id: int,
    route_ids: Iterable[int] = (),
    stop_ids: Iterable[int] = (),
    places: Iterable[str] = (),
) -> list[Incident]:
    """Active incidents on any of these lines, stops or places (a network-wide one on all)."""
    route_ids, stop_ids = list(route_ids), list(stop_ids)
    wanted = [p.strip().casefold() for p in places if p.strip()]
    query = Q(all_lines=True)
    if route_ids:
        query |= Q(lines__in=route_ids)
    if stop_ids:
        query |= Q(stops__in=stop_ids)
    found = {i.pk: i for i in active_incidents(organization_id=organization_id).filter(query)}
    if wanted:
        for incident in active_incidents(organization_id=organization_id).exclude(places=[]):
            if any(str(p).strip().casefold() in wanted for p in incident.places):
                found[incident.pk] = incident
    return sorted(found.values(), key=lambda i: i.started_at)


def incident_list(*, organization_id: int, status: str = "") -> QuerySet[Incident]:
    """Active incidents first (most severe, then newest), then resolved ones, newest first."""
    severity_rank = Case(
        *(When(severity=s, then=Value(i)) for i, s in enumerate(SEVERITY_ORDER)),
        default=Value(9),
        output_field=IntegerField(),
    )
    active_rank = Case(
        When(status__in=ACTIVE_STATUSES, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    qs = Incident.objects.filter(organization_id=organization_id)
    if status == "active":
        qs = qs.filter(status__in=ACTIVE_STATUSES)
    elif status in IncidentStatus.values:
        qs = qs.filter(status=status)
    return (
        qs.annotate(active_rank=active_rank, severity_rank=severity_rank)
        .order_by("active_rank", "severity_rank", "-started_at")
        .prefetch_related("lines")
        .select_related("owner")
    )


def incident_timeline(*, incident: Incident) -> QuerySet[TimelineEntry]:
    return incident.timeline.select_related("actor").order_by("created_at", "pk")


# A message this long before an incident's start, or any time while it is active, may be
# about it: people often write before the operator has declared anything.
SUGGESTION_LEAD = timedelta(minutes=30)


def suggested_incidents(*, conversation, limit: int = 5) -> list[Incident]:
    """Incidents a conversation is probably about: same line (or a network-wide incident),
    active or resolved after the conversation began, started before it (or shortly after).
    Best first: a line match, then the closest start time."""
    started = conversation.first_message_at
    route_ids = set(conversation.lines.values_list("pk", flat=True))
    linked = set(conversation.incidents.values_list("pk", flat=True))
    candidates = (
        Incident.objects.filter(
            organization_id=conversation.organization_id,
            started_at__lte=started + SUGGESTION_LEAD,
        )
        .filter(Q(status__in=ACTIVE_STATUSES) | Q(resolved_at__gte=started))
        .exclude(pk__in=linked)
        .prefetch_related("lines")
    )
    scored = []
    for incident in candidates[:200]:
        lines = {r.pk for r in incident.lines.all()}
        line_match = bool(route_ids & lines) or (incident.all_lines and bool(route_ids))
        if route_ids and lines and not line_match:
            continue  # another line's incident
        distance = abs((started - incident.started_at).total_seconds())
        scored.append((0 if line_match else 1, distance, incident))
    scored.sort(key=lambda s: (s[0], s[1]))
    return [s[2] for s in scored[:limit]]


def suggested_conversations(*, incident: Incident, limit: int = 20):
    """Conversations about the incident's lines since shortly before it began, not linked."""
    from relais.inbox.models import Conversation

    qs = Conversation.objects.filter(
        organization_id=incident.organization_id,
        first_message_at__gte=incident.started_at - SUGGESTION_LEAD,
    )
    if incident.resolved_at:
        qs = qs.filter(first_message_at__lte=incident.resolved_at)
    if not incident.all_lines:
        route_ids = list(incident.lines.values_list("pk", flat=True))
        if not route_ids:
            return []
        qs = qs.filter(lines__in=route_ids)
    return list(
        qs.exclude(incidents=incident)
        .distinct()
        .select_related("contact", "account")
        .order_by("-last_activity_at")[:limit]
    )


def incident_feed(*, incident: Incident, limit: int = 500) -> list[tuple[str, object]]:
    """The incident page's timeline: its entries and every message of its linked
    conversations (in and out), in time order: ("entry", TimelineEntry) or
    ("message", Message)."""
    from relais.inbox.models import Message

    entries = list(incident_timeline(incident=incident)[:limit])
    messages = list(
        Message.objects.filter(conversation__incidents=incident)
        .select_related("author", "sent_by", "conversation")
        .order_by("-created_at")[:limit]
    )
    merged = [(e.created_at, 0, e.pk, "entry", e) for e in entries] + [
        (m.created_at, 1, m.pk, "message", m) for m in messages
    ]
    merged.sort(key=lambda item: item[:3])
    return [(kind, obj) for *_key, kind, obj in merged]
