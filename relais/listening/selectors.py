"""Reads of the listening part, always scoped to one organisation; other parts call
crisis_active (publishing holds promotional posts) and crisis_first (the composer pins
crisis templates first)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from django.db.models import Count, QuerySet

from relais.accounts.models import Membership
from relais.accounts.permissions import access_in_organization
from relais.listening import query as query_language
from relais.listening.models import (
    Alert,
    AlertState,
    CrisisMode,
    Monitor,
    MonitorMatch,
    Series,
    SeriesKind,
    VolumeBucket,
)
from relais.listening.pipeline import bucket_start


def crisis_active(*, organization_id: int) -> bool:
    """Is the organisation in crisis mode? The publishing part holds promotional posts then."""
    return CrisisMode.objects.filter(organization_id=organization_id, active=True).exists()


def crisis_mode(*, organization_id: int) -> CrisisMode | None:
    """The active crisis mode (for the banner), or None."""
    return (
        CrisisMode.objects.filter(organization_id=organization_id, active=True)
        .select_related("switched_by")
        .first()
    )


def crisis_first(*, organization_id: int, templates: QuerySet) -> QuerySet:
    """Order wording templates with the crisis category first while crisis mode is on
    (the composer's suggestions call this); unchanged otherwise."""
    if not crisis_active(organization_id=organization_id):
        return templates
    from django.db.models import Case, IntegerField, Value, When

    from relais.wording.models import TemplateCategory

    return templates.annotate(
        _crisis_rank=Case(
            When(category=TemplateCategory.CRISIS, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    ).order_by("_crisis_rank", *(templates.query.order_by or ["pk"]))


# --- fetch-and-authorise ---------------------------------------------------------------------


def access_monitor(membership: Membership, monitor_id: int) -> Monitor:
    return access_in_organization(
        membership, Monitor.objects.select_related("team"), monitor_id, what="monitor"
    )


def access_alert(membership: Membership, alert_id: int) -> Alert:
    return access_in_organization(
        membership,
        Alert.objects.select_related("monitor", "acknowledged_by", "organization"),
        alert_id,
        what="alert",
    )


# --- lists -----------------------------------------------------------------------------------


def monitor_list(*, organization_id: int) -> QuerySet[Monitor]:
    return (
        Monitor.objects.filter(organization_id=organization_id)
        .select_related("team")
        .order_by("-active", "name")
    )


def listening_sources(*, organization_id: int) -> list:
    """The organisation's listening sources with their queries and health: a search stream
    that stopped is silence that looks like calm."""
    from relais.channels.models import ChannelAccount

    return [
        a
        for a in ChannelAccount.objects.filter(organization_id=organization_id)
        .defer("credentials")
        .order_by("name")
        if a.is_listening_source
    ]


def alert_list(*, organization_id: int, states: list[str] | None = None) -> QuerySet[Alert]:
    qs = Alert.objects.filter(organization_id=organization_id)
    if states:
        qs = qs.filter(state__in=states)
    return qs.select_related("monitor", "acknowledged_by").order_by("-created_at", "-pk")


def open_alert_count(*, organization_id: int) -> int:
    return Alert.objects.filter(organization_id=organization_id, state=AlertState.OPEN).count()


# --- volume ------------------------------------------------------------------------------------


def volume(
    *, organization_id: int, kind: str, key: str, granularity: int, start: datetime, end: datetime
) -> list[dict]:
    """Bucket counts of one series from `start` to `end`, zeros filled in, with the
    detector's score where the bucket is closed: [{t (epoch s), count, score}]."""
    series = Series.objects.filter(
        organization_id=organization_id, kind=kind, key=key, granularity=granularity
    ).first()
    first = bucket_start(start, granularity)
    rows = {}
    if series is not None:
        rows = {
            b.start: b
            for b in VolumeBucket.objects.filter(series=series, start__gte=first, start__lt=end)
        }
    points = []
    t = first
    step = timedelta(seconds=granularity)
    while t < end:
        b = rows.get(t)
        points.append(
            {
                "t": int(t.timestamp()),
                "count": b.count if b else 0,
                "score": (b.score if b and b.score is not None else None),
            }
        )
        t += step
    return points


def monitor_volume(
    *, monitor: Monitor, granularity: int, start: datetime, end: datetime
) -> list[dict]:
    return volume(
        organization_id=monitor.organization_id,
        kind=SeriesKind.MONITOR,
        key=str(monitor.pk),
        granularity=granularity,
        start=start,
        end=end,
    )


# --- drill-down -------------------------------------------------------------------------------


def monitor_matches(*, monitor: Monitor, start: datetime, end: datetime) -> QuerySet[MonitorMatch]:
    return MonitorMatch.objects.filter(
        monitor=monitor, created_at__gte=start, created_at__lt=end
    ).select_related("message", "message__author", "message__account", "message__conversation")


def monitor_messages(
    *, monitor: Monitor, start: datetime, end: datetime, by_reach: bool = False, limit: int = 100
) -> list:
    """The messages a monitor matched in a window (largest reach first for an alert)."""
    qs = monitor_matches(monitor=monitor, start=start, end=end)
    order = ["-message__author__reach", "-created_at"] if by_reach else ["-created_at"]
    return [m.message for m in qs.order_by(*order)[:limit]]


def top_authors(*, monitor_id: int, start: datetime, end: datetime, limit: int = 10) -> list[dict]:
    """The authors of a monitor's messages in a window, largest reach first."""
    rows = (
        MonitorMatch.objects.filter(
            monitor_id=monitor_id, created_at__gte=start, created_at__lt=end
        )
        .exclude(message__author__isnull=True)
        .values(
            "message__author_id",
            "message__author__handle",
            "message__author__display_name",
            "message__author__reach",
            "message__author__network",
        )
        .annotate(messages=Count("id"))
        .order_by("-message__author__reach", "message__author__handle")[:limit]
    )
    return [
        {
            "contact_id": r["message__author_id"],
            "handle": r["message__author__handle"],
            "name": r["message__author__display_name"],
            "reach": r["message__author__reach"],
            "network": r["message__author__network"],
            "messages": r["messages"],
        }
        for r in rows
    ]


def sentiment_mix(*, monitor: Monitor, start: datetime, end: datetime) -> dict[str, int]:
    rows = (
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=start, created_at__lt=end)
        .values("message__sentiment")
        .annotate(n=Count("id"))
    )
    return {(r["message__sentiment"] or "unknown"): r["n"] for r in rows}


_WORD = re.compile(r"[#@]?\w{3,}")


def top_terms(
    *, monitor: Monitor, start: datetime, end: datetime, limit: int = 15, sample: int = 500
) -> list[tuple[str, int]]:
    """The words most used in the monitor's latest `sample` messages of the window, less
    stop words and the query's own words (they are in every message)."""
    texts = (
        MonitorMatch.objects.filter(monitor=monitor, created_at__gte=start, created_at__lt=end)
        .order_by("-created_at")
        .values_list("message__text", flat=True)[:sample]
    )
    own = set()
    try:
        for term in query_language.terms(query_language.from_json(monitor.compiled)):
            own.update(term.text.lstrip("#@").split())
    except (ValueError, TypeError, IndexError):
        pass
    counts: Counter[str] = Counter()
    for text in texts:
        words = set(_WORD.findall(query_language.fold(text)))
        counts.update(
            w
            for w in words
            if w not in query_language.STOPWORDS and w.lstrip("#@") not in own and not w.isdigit()
        )
    return counts.most_common(limit)


def listening_context(organization_id: int) -> dict:
    """What every page shows: the crisis banner and the count of unacknowledged alerts."""
    return {
        "crisis": crisis_mode(organization_id=organization_id),
        "listening_open_alerts": open_alert_count(organization_id=organization_id),
    }
