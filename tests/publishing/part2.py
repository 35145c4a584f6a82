"""Shared set-up of the part-2 tests (subscribers, calendar, guard, neutrality)."""

from __future__ import annotations

from datetime import timedelta

from relais.common.timeutils import now
from relais.incidents.models import Incident
from relais.publishing.models import Publication, PublicationState
from relais.transit.models import Route, Stop


def route(org, short: str, gtfs_id: str | None = None) -> Route:
    return Route.objects.create(
        organization=org, gtfs_id=gtfs_id or f"R{short}", short_name=short, route_type=1
    )


def stop(org, name: str, gtfs_id: str | None = None) -> Stop:
    return Stop.objects.create(organization=org, gtfs_id=gtfs_id or f"S-{name}", name=name)


def incident(org, *, lines=(), stops=(), places=(), all_lines=False, ends_in=timedelta(hours=2)):
    item = Incident.objects.create(
        organization=org,
        title="Incident ligne " + ",".join(r.short_name for r in lines),
        type="disruption",
        started_at=now(),
        expected_end_at=now() + ends_in if ends_in is not None else None,
        all_lines=all_lines,
        places=list(places),
    )
    item.lines.set(lines)
    item.stops.set(stops)
    return item


def resolve(item: Incident) -> None:
    item.status = "resolved"
    item.resolved_at = now()
    item.save(update_fields=["status", "resolved_at"])


def published(org, text: str, at, *, kind="post", category="institutional") -> Publication:
    return Publication.objects.create(
        organization=org,
        kind=kind,
        category=category,
        state=PublicationState.PUBLISHED,
        text=text,
        requested_at=at,
        completed_at=at,
    )
