"""Reads of the editorial calendar: a week or a month of publications in the organisation's
zone, the posts awaiting approval, the holds to show their author."""

from __future__ import annotations

import calendar as calendar_lib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from relais.publishing.models import Publication, PublicationHold, PublicationState


@dataclass
class Day:
    day: date
    in_month: bool = True
    today: bool = False
    publications: list[Publication] = field(default_factory=list)


@dataclass
class Period:
    view: str  # week or month
    start: date
    end: date  # exclusive
    previous: date
    next: date
    weeks: list[list[Day]]


def _bounds(view: str, anchor: date) -> tuple[date, date, date, date]:
    if view == "month":
        first = anchor.replace(day=1)
        days = calendar_lib.monthrange(first.year, first.month)[1]
        end_of_month = first + timedelta(days=days)
        start = first - timedelta(days=first.weekday())
        end = end_of_month + timedelta(days=(7 - end_of_month.weekday()) % 7)
        previous = (first - timedelta(days=1)).replace(day=1)
        return start, end, previous, end_of_month
    start = anchor - timedelta(days=anchor.weekday())
    return start, start + timedelta(days=7), start - timedelta(days=7), start + timedelta(days=7)


def calendar_period(
    *, organization_id: int, zone: str, view: str, anchor: date, today: date, category: str = ""
) -> Period:
    tz = ZoneInfo(zone)
    start, end, previous, following = _bounds(view, anchor)
    start_at = datetime.combine(start, time.min, tzinfo=tz)
    end_at = datetime.combine(end, time.min, tzinfo=tz)
    publications = (
        Publication.objects.filter(
            organization_id=organization_id, scheduled_at__gte=start_at, scheduled_at__lt=end_at
        )
        .exclude(state=PublicationState.CANCELLED)
        .select_related("author")
        .prefetch_related("lines")
        .order_by("scheduled_at", "pk")
    )
    if category:
        publications = publications.filter(category=category)
    by_day: dict[date, list[Publication]] = {}
    for publication in publications:
        assert publication.scheduled_at is not None  # noqa: S101 - filtered above
        local = publication.scheduled_at.astimezone(tz)
        publication.local_time = local  # type: ignore[attr-defined]
        by_day.setdefault(local.date(), []).append(publication)
    days = []
    current = start
    while current < end:
        days.append(
            Day(
                day=current,
                in_month=view != "month" or current.month == anchor.month,
                today=current == today,
                publications=by_day.get(current, []),
            )
        )
        current += timedelta(days=1)
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    return Period(view=view, start=start, end=end, previous=previous, next=following, weeks=weeks)


def awaiting_approval(*, organization_id: int) -> list[Publication]:
    return list(
        Publication.objects.filter(
            organization_id=organization_id, state=PublicationState.AWAITING_APPROVAL
        )
        .select_related("author")
        .order_by("scheduled_at")[:50]
    )


def held_for(*, organization_id: int, user_id: int | None = None) -> list[PublicationHold]:
    """Holds in force: the author's own (in-app notice), or all of them for a supervisor."""
    holds = PublicationHold.objects.filter(
        publication__organization_id=organization_id,
        released_at__isnull=True,
        publication__state=PublicationState.HELD,
    ).select_related("publication", "publication__author")
    if user_id is not None:
        holds = holds.filter(publication__author_id=user_id)
    return list(holds.order_by("-held_at")[:50])
