"""Reads of incidents that other parts need (the conflict guard, the feeds, suggestions)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from relais.incidents.models import ACTIVE_STATUSES, Incident


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
