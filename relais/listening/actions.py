"""Writes of the listening part: monitors, closing and scoring buckets, alerts (notify,
escalate, acknowledge) and crisis mode. Each in a transaction, audited, with live events
and queued work sent on commit."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Avg, Q
from django.urls import reverse

from relais.accounts.models import Membership, Organization, Role, Team, audit
from relais.common import timeutils
from relais.common.db import update_rows
from relais.common.tasks import enqueue_on_commit
from relais.listening import detector, query, selectors
from relais.listening.events import AlertChanged, AlertRaised, CrisisChanged
from relais.listening.models import (
    GRANULARITIES,
    Alert,
    AlertNotification,
    AlertState,
    AlertWebhook,
    CrisisMode,
    Monitor,
    NotificationChannel,
    NotificationState,
    Series,
    SeriesKind,
    Sources,
    VolumeBucket,
    Watermark,
)
from relais.listening.pipeline import advance_watermark, bucket_start
from relais.listening.signals import crisis_mode_changed
from relais.realtime.events import send_event_on_commit

logger = logging.getLogger(__name__)

# A message may reach us this long after it was written (network delivery, polling): a
# bucket is closed only once the watermark is this far past its end.
LATENESS = timedelta(seconds=20)
# A series that fell further behind than this (the workers were down) skips ahead.
MAX_CATCH_UP = timedelta(hours=6)
# A new burst on a monitor within this time of an open alert's last bucket extends it.
ALERT_COOLDOWN = timedelta(minutes=30)
# After an alert, the next buckets belong to the same burst while they hold at least this
# many messages and this many times the usual volume per bucket.
CONTINUE_MIN_COUNT = 3
CONTINUE_FACTOR = 3.0


# --- monitors ------------------------------------------------------------------------------


def query_context(*, organization_id: int) -> query.Context:
    from relais.transit.models import Route
    from relais.triage.labels import LABELS

    def resolve_line(value: str) -> str | None:
        route = (
            Route.objects.filter(organization_id=organization_id)
            .filter(Q(short_name__iexact=value) | Q(gtfs_id=value))
            .order_by("gtfs_id")
            .first()
        )
        return route.gtfs_id if route else None

    return query.Context(resolve_line=resolve_line, intents=LABELS["intent"].keys())


def compile_query(*, organization_id: int, text: str) -> list:
    """The stored form of a query, or QueryError with the position of the problem."""
    return query.to_json(query.parse(text, query_context(organization_id=organization_id)))


def _check_name(*, organization_id: int, name: str, exclude_id: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A monitor needs a name."})
    taken = Monitor.objects.filter(organization_id=organization_id, name=name)
    if exclude_id:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise ValidationError({"name": "Another monitor already has this name."})
    return name


def _ensure_series(monitor: Monitor, *, at: datetime) -> None:
    Series.objects.bulk_create(
        [
            Series(
                organization_id=monitor.organization_id,
                kind=SeriesKind.MONITOR,
                key=str(monitor.pk),
                granularity=int(g),
                closed_until=bucket_start(at, int(g)),
            )
            for g in GRANULARITIES
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def monitor_create(
    *,
    membership: Membership,
    name: str,
    query_text: str,
    sources: str = Sources.ALL,
    team: Team | None = None,
    alerts_enabled: bool = True,
    escalate_after_minutes: int = 10,
) -> Monitor:
    org_id = membership.organization_id
    name = _check_name(organization_id=org_id, name=name)
    if sources not in Sources.values:
        raise ValidationError({"sources": f"Unknown sources '{sources}'."})
    if team is not None and team.organization_id != org_id:
        raise ValidationError({"team": "No such team."})
    compiled = compile_query(organization_id=org_id, text=query_text)
    monitor = Monitor.objects.create(
        organization_id=org_id,
        name=name,
        query=query_text,
        compiled=compiled,
        sources=sources,
        team=team,
        alerts_enabled=alerts_enabled,
        escalate_after_minutes=max(1, escalate_after_minutes),
        created_by=membership.user,
    )
    # Its series start now: the detector learns the monitor's baseline from here.
    _ensure_series(monitor, at=timeutils.now())
    audit(
        organization_id=org_id,
        actor_id=membership.user_id,
        action="listening.monitor_create",
        obj=monitor,
        text=query_text,
    )
    return monitor


@transaction.atomic
def monitor_update(
    *,
    membership: Membership,
    monitor: Monitor,
    name: str,
    query_text: str,
    sources: str,
    team: Team | None,
    active: bool,
    alerts_enabled: bool,
    escalate_after_minutes: int,
) -> Monitor:
    org_id = membership.organization_id
    monitor.name = _check_name(organization_id=org_id, name=name, exclude_id=monitor.pk)
    if sources not in Sources.values:
        raise ValidationError({"sources": f"Unknown sources '{sources}'."})
    if team is not None and team.organization_id != org_id:
        raise ValidationError({"team": "No such team."})
    monitor.compiled = compile_query(organization_id=org_id, text=query_text)
    before = monitor.query
    monitor.query, monitor.sources, monitor.team = query_text, sources, team
    monitor.active, monitor.alerts_enabled = active, alerts_enabled
    monitor.escalate_after_minutes = max(1, escalate_after_minutes)
    monitor.save()
    audit(
        organization_id=org_id,
        actor_id=membership.user_id,
        action="listening.monitor_update",
        obj=monitor,
        text=query_text,
        data={"before": before, "active": active},
    )
    return monitor


@transaction.atomic
def monitor_delete(*, membership: Membership, monitor: Monitor) -> None:
    Series.objects.filter(
        organization_id=monitor.organization_id, kind=SeriesKind.MONITOR, key=str(monitor.pk)
    ).delete()
    audit(
        organization_id=monitor.organization_id,
        actor_id=membership.user_id,
        action="listening.monitor_delete",
        obj=monitor,
        text=f"{monitor.name}: {monitor.query}",
    )
    monitor.delete()


# --- detection -----------------------------------------------------------------------------


def close_buckets(*, at: datetime | None = None) -> list[Alert]:
    """Close every bucket that ended before its organisation's watermark (less LATENESS),
    score it, and raise an alert for a burst on a monitor. Returns the new alerts."""
    at = at or timeutils.now()
    alerts: list[Alert] = []
    for org_id in Watermark.objects.values_list("organization_id", flat=True):
        alerts.extend(_close_organization(org_id, at=at))
    return alerts


@transaction.atomic
def series_relearn(*, organization_id: int, since: datetime) -> int:
    """Score the organisation's buckets again from `since` (at most MAX_CATCH_UP back),
    each series from a fresh detector state; the next close_buckets does the scoring.
    For history counted after its series existed (a replayed afternoon, an import: its
    buckets lie before the series' closed_until and would never be judged), or to let a
    new detector relearn. Returns how many series were rewound."""
    Watermark.objects.select_for_update().filter(organization_id=organization_id).first()
    floor = max(since, timeutils.now() - MAX_CATCH_UP)
    rewound = []
    for series in Series.objects.filter(organization_id=organization_id):
        series.closed_until = bucket_start(floor, series.granularity)
        series.state = {}
        rewound.append(series)
    update_rows(Series, rewound, ["state", "closed_until"])
    return len(rewound)


@transaction.atomic
def _close_organization(org_id: int, *, at: datetime) -> list[Alert]:
    # One closer per organisation at a time: the row lock serialises parallel workers.
    Watermark.objects.select_for_update().get(organization_id=org_id)
    limit = advance_watermark(organization_id=org_id, at=at) - LATENESS
    # Only the series with a whole bucket to close: a 5-minute series is not loaded (its
    # JSON state decoded) on the four ticks of five where it has nothing to do.
    due_now = Q()
    for g in GRANULARITIES:
        due_now |= Q(granularity=int(g), closed_until__lte=limit - timedelta(seconds=int(g)))
    due = list(Series.objects.filter(due_now, organization_id=org_id))
    if not due:
        return []
    window_start = max(min(s.closed_until for s in due), limit - MAX_CATCH_UP)
    buckets = {
        (b.series_id, b.start): b
        for b in VolumeBucket.objects.filter(
            series__in=[s.pk for s in due], start__gte=window_start, start__lt=limit
        )
    }
    scored: list[VolumeBucket] = []
    bursts: list[tuple[Series, datetime, float, int]] = []
    for series in due:
        step = timedelta(seconds=series.granularity)
        state = series.state or detector.new_state()
        t = series.closed_until
        if t < limit - MAX_CATCH_UP:
            t = bucket_start(limit - MAX_CATCH_UP, series.granularity)
        while t + step <= limit:
            bucket = buckets.get((series.pk, t))
            value = bucket.count if bucket else 0
            score, state = detector.score_bucket(state, value, timestamp=t.timestamp())
            if bucket is not None:
                bucket.score = score
                scored.append(bucket)
            if series.kind == SeriesKind.MONITOR and (
                score >= detector.ALERT_THRESHOLD or value >= CONTINUE_MIN_COUNT
            ):
                bursts.append((series, t, score, value))
            t += step
        series.state, series.closed_until = state, t
    update_rows(Series, due, ["state", "closed_until"])
    update_rows(VolumeBucket, scored, ["score"])
    raised = []
    for series, start, score, value in bursts:
        if score >= detector.ALERT_THRESHOLD:
            alert = _burst(series, start=start, score=score, count=value, at=at)
            if alert is not None:
                raised.append(alert)
        else:
            _continue_burst(series, start=start, score=score, count=value)
    return raised


def _continue_burst(series: Series, *, start: datetime, score: float, count: int) -> None:
    """The bucket right after an alert's last one, still well above the usual volume, is
    the same burst going on (the detector pages once per burst: it does not flag it)."""
    step = timedelta(seconds=series.granularity)
    alert = (
        Alert.objects.select_for_update()
        .filter(
            monitor_id=int(series.key),
            granularity=series.granularity,
            state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED],
            last_bucket_start=start - step,
        )
        .first()
    )
    if alert is None or count < max(CONTINUE_MIN_COUNT, CONTINUE_FACTOR * alert.baseline):
        return
    alert.count += count
    alert.last_bucket_start = start
    alert.score = max(alert.score, score)
    alert.top_authors = selectors.top_authors(
        monitor_id=alert.monitor_id, start=alert.bucket_start, end=start + step
    )
    alert.save(update_fields=["count", "last_bucket_start", "score", "top_authors"])


def _burst(
    series: Series, *, start: datetime, score: float, count: int, at: datetime
) -> Alert | None:
    monitor = Monitor.objects.filter(pk=int(series.key), active=True).first()
    if monitor is None or not monitor.alerts_enabled:
        return None
    end = start + timedelta(seconds=series.granularity)
    ongoing = (
        Alert.objects.select_for_update()
        .filter(
            monitor=monitor,
            state__in=[AlertState.OPEN, AlertState.ACKNOWLEDGED],
            last_bucket_start__gte=start - ALERT_COOLDOWN,
        )
        .order_by("-pk")
        .first()
    )
    if ongoing is not None:
        # The same burst going on (or seen at the other granularity): one alert, updated.
        if series.granularity == ongoing.granularity and start > ongoing.last_bucket_start:
            ongoing.count += count
            ongoing.last_bucket_start = start
        ongoing.score = max(ongoing.score, score)
        ongoing.top_authors = selectors.top_authors(
            monitor_id=monitor.pk,
            start=ongoing.bucket_start,
            end=max(end, ongoing.last_bucket_start + timedelta(seconds=ongoing.granularity)),
        )
        ongoing.save(update_fields=["count", "last_bucket_start", "score", "top_authors"])
        return None
    baseline = (
        VolumeBucket.objects.filter(
            series=series,
            start__lt=start,
            start__gte=start - timedelta(seconds=30 * series.granularity),
        ).aggregate(total=Avg("count"))["total"]
        or 0.0
    )
    alert = Alert.objects.create(
        organization_id=series.organization_id,
        monitor=monitor,
        granularity=series.granularity,
        bucket_start=start,
        last_bucket_start=start,
        score=score,
        count=count,
        baseline=float(baseline),
        top_authors=selectors.top_authors(monitor_id=monitor.pk, start=start, end=end),
        created_at=at,
    )
    audit(
        organization_id=alert.organization_id,
        actor_id=None,
        action="listening.alert",
        obj=alert,
        text=f"{monitor.name}: {count} messages from {start:%H:%M} UTC (score {score:.2f})",
    )
    alert_notify(alert=alert, level=0, at=at)
    return alert


# --- alerts --------------------------------------------------------------------------------


def escalation_chain(*, alert: Alert, at: datetime) -> list[int]:
    """Who is told at each level: the on-call people of the monitor's team (all teams when
    it has none, or when nobody of the team is on call), in their shifts' order."""
    from relais.care.selectors import on_call

    organization = alert.organization
    team_id = alert.monitor.team_id
    people = on_call(organization=organization, at=at, team_id=team_id) if team_id else []
    if not people:
        people = on_call(organization=organization, at=at)
    return people


def _supervisors(organization_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            organization_id=organization_id, role__in=[Role.ADMIN, Role.SUPERVISOR]
        )
        .order_by("pk")
        .values_list("user_id", flat=True)
    )


def alert_notify(*, alert: Alert, level: int, at: datetime) -> list[int]:
    """Tell the person of this escalation level (in the app, by e-mail) and, at level 0,
    the organisation's and team's chat webhooks. After the last on-call person the
    supervisors and administrators are told, and escalation stops."""
    chain = escalation_chain(alert=alert, at=at)
    if level < len(chain):
        targets = [chain[level]]
        more = True
    elif level == len(chain):
        already = set(alert.notified_user_ids)
        targets = [u for u in _supervisors(alert.organization_id) if u not in already]
        more = False
    else:
        return []
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=targets)}
    notifications = []
    for user_id in targets:
        notifications.append(
            AlertNotification(
                alert=alert,
                channel=NotificationChannel.IN_APP,
                user_id=user_id,
                level=level,
                state=NotificationState.SENT,
                created_at=at,
                sent_at=at,
            )
        )
        if users.get(user_id) is not None and users[user_id].email:
            notifications.append(
                AlertNotification(
                    alert=alert,
                    channel=NotificationChannel.EMAIL,
                    user_id=user_id,
                    level=level,
                    created_at=at,
                )
            )
    if level == 0:
        hooks = AlertWebhook.objects.filter(organization_id=alert.organization_id, active=True)
        hooks = hooks.filter(Q(team__isnull=True) | Q(team_id=alert.monitor.team_id))
        for hook in hooks:
            notifications.append(
                AlertNotification(
                    alert=alert,
                    channel=NotificationChannel.WEBHOOK,
                    webhook=hook,
                    level=level,
                    created_at=at,
                )
            )
    AlertNotification.objects.bulk_create(notifications)
    alert.level = level
    alert.notified_user_ids = list(dict.fromkeys([*alert.notified_user_ids, *targets]))
    minutes = alert.monitor.escalate_after_minutes
    alert.next_escalation_at = at + timedelta(minutes=minutes) if more else None
    alert.save(update_fields=["level", "notified_user_ids", "next_escalation_at"])
    from relais.listening import tasks

    for n in AlertNotification.objects.filter(
        alert=alert, level=level, state=NotificationState.PENDING
    ):
        if n.channel == NotificationChannel.EMAIL:
            enqueue_on_commit(tasks.send_alert_email, n.pk)
        elif n.channel == NotificationChannel.WEBHOOK:
            enqueue_on_commit(tasks.send_alert_webhook, n.pk)
    send_event_on_commit(
        alert.organization_id,
        AlertRaised(
            alert_id=alert.pk,
            monitor=alert.monitor.name,
            user_ids=targets,
            level=level,
            url=reverse("listening:alert", args=[alert.pk]),
        ),
    )
    return targets


def escalate_due(*, at: datetime | None = None) -> int:
    """Alerts nobody acknowledged in time go to the next person. Returns how many moved."""
    at = at or timeutils.now()
    moved = 0
    due = Alert.objects.filter(state=AlertState.OPEN, next_escalation_at__lte=at).values_list(
        "pk", "level"
    )
    for alert_id, level in list(due):
        with transaction.atomic():
            # The conditional update is the claim: two sweeps never escalate twice.
            claimed = Alert.objects.filter(
                pk=alert_id, state=AlertState.OPEN, level=level, next_escalation_at__lte=at
            ).update(level=level + 1, next_escalation_at=None)
            if not claimed:
                continue
            alert = Alert.objects.select_related("monitor", "organization").get(pk=alert_id)
            targets = alert_notify(alert=alert, level=level + 1, at=at)
            audit(
                organization_id=alert.organization_id,
                actor_id=None,
                action="listening.alert_escalate",
                obj=alert,
                text=f"not acknowledged: level {level + 1}",
                data={"user_ids": targets},
            )
            moved += 1
    return moved


@transaction.atomic
def alert_acknowledge(*, alert: Alert, membership: Membership) -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.state != AlertState.OPEN:
        return alert
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_by = membership.user
    alert.acknowledged_at = timeutils.now()
    alert.next_escalation_at = None
    alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "next_escalation_at"])
    audit(
        organization_id=alert.organization_id,
        actor_id=membership.user_id,
        action="listening.alert_ack",
        obj=alert,
    )
    send_event_on_commit(
        alert.organization_id,
        AlertChanged(alert_id=alert.pk, state=alert.state, by_user_id=membership.user_id),
    )
    return alert


@transaction.atomic
def alert_close(*, alert: Alert, membership: Membership) -> Alert:
    alert = Alert.objects.select_for_update().get(pk=alert.pk)
    if alert.state == AlertState.CLOSED:
        return alert
    if alert.state == AlertState.OPEN:
        alert.acknowledged_by, alert.acknowledged_at = membership.user, timeutils.now()
    alert.state = AlertState.CLOSED
    alert.next_escalation_at = None
    alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "next_escalation_at"])
    audit(
        organization_id=alert.organization_id,
        actor_id=membership.user_id,
        action="listening.alert_close",
        obj=alert,
    )
    send_event_on_commit(
        alert.organization_id,
        AlertChanged(alert_id=alert.pk, state=alert.state, by_user_id=membership.user_id),
    )
    return alert


def alert_payload(alert: Alert) -> dict[str, Any]:
    """What the e-mail and the chat webhook say (JSON-serialisable)."""
    from django.conf import settings

    return {
        "type": "relais.listening.alert",
        "alert_id": alert.pk,
        "organization": alert.organization.slug,
        "monitor": alert.monitor.name,
        "query": alert.monitor.query,
        "score": round(alert.score, 3),
        "messages": alert.count,
        "baseline_per_bucket": round(alert.baseline, 2),
        "bucket_start": alert.bucket_start.isoformat(),
        "bucket_seconds": alert.granularity,
        "top_authors": alert.top_authors,
        "url": settings.RELAIS_BASE_URL + reverse("listening:alert", args=[alert.pk]),
        "text": (
            f"Burst on monitor '{alert.monitor.name}': {alert.count} messages from "
            f"{alert.bucket_start:%H:%M} UTC (usually {alert.baseline:.1f}); acknowledge it in Relais."
        ),
    }


# --- crisis mode ---------------------------------------------------------------------------


@transaction.atomic
def crisis_switch(
    *,
    organization: Organization,
    active: bool,
    by_user_id: int | None,
    reason: str = "",
    alert: Alert | None = None,
) -> CrisisMode:
    """Switch crisis mode on or off: audited, a live event for every open page, and the
    crisis_mode_changed signal on commit (the incidents part opens an incident on it)."""
    reason = reason.strip()[:300]
    mode, _ = CrisisMode.objects.select_for_update().get_or_create(organization=organization)
    if mode.active == active:
        return mode
    mode.active = active
    mode.since = timeutils.now() if active else None
    mode.reason = reason if active else ""
    mode.switched_by_id = by_user_id
    mode.save(update_fields=["active", "since", "reason", "switched_by"])
    audit(
        organization_id=organization.pk,
        actor_id=by_user_id,
        action="listening.crisis_on" if active else "listening.crisis_off",
        obj=mode,
        text=reason,
        data={"alert_id": alert.pk if alert else None},
    )
    send_event_on_commit(
        organization.pk, CrisisChanged(active=active, reason=reason, by_user_id=by_user_id)
    )
    org_id = organization.pk
    transaction.on_commit(
        lambda: crisis_mode_changed.send(
            sender=CrisisMode,
            organization_id=org_id,
            active=active,
            by_user_id=by_user_id,
            reason=reason,
        )
    )
    return mode
