"""Who is on shift, on call and available at a given time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from relais.accounts.models import Organization
from relais.care.models import AgentState, AgentStatus, ExceptionKind, Shift, ShiftException


def _covers(shift: Shift, local: datetime) -> bool:
    """Does this weekly shift cover this local time? Overnight shifts belong to the day
    they start on."""
    t: time = local.time()
    today = local.weekday()
    if shift.starts < shift.ends:
        return shift.weekday == today and shift.starts <= t < shift.ends
    # Past midnight: the evening part is on its weekday, the morning part on the next day.
    if shift.weekday == today and t >= shift.starts:
        return True
    return (shift.weekday + 1) % 7 == today and t < shift.ends


def on_shift(
    *, organization: Organization, at: datetime, team_id: int | None = None, on_call_only=False
) -> list[int]:
    """User ids on shift (or on call) at `at`, weekly pattern plus exceptions, in the order
    their shifts were set up (the first on-call person first)."""
    local = at.astimezone(ZoneInfo(organization.timezone))
    shifts = Shift.objects.filter(
        organization=organization, weekday__in=[local.weekday(), (local.weekday() - 1) % 7]
    ).order_by("pk")
    exceptions = ShiftException.objects.filter(
        organization=organization, starts_at__lte=at, ends_at__gt=at
    ).order_by("pk")
    if team_id is not None:
        shifts = shifts.filter(team_id=team_id)
        exceptions = exceptions.filter(Q(team_id=team_id) | Q(team__isnull=True))
    if on_call_only:
        shifts = shifts.filter(on_call=True)
    absent = {e.user_id for e in exceptions if e.kind == ExceptionKind.ABSENT}
    users: dict[int, None] = {}
    for shift in shifts:
        if _covers(shift, local) and shift.user_id not in absent:
            users.setdefault(shift.user_id, None)
    for exc in exceptions:
        if exc.kind == ExceptionKind.EXTRA and (exc.on_call or not on_call_only):
            users.setdefault(exc.user_id, None)
    return list(users)


def on_call(*, organization: Organization, at: datetime, team_id: int | None = None) -> list[int]:
    return on_shift(organization=organization, at=at, team_id=team_id, on_call_only=True)


def available_agents(
    *, organization: Organization, at: datetime, team_id: int | None = None
) -> list[int]:
    """On shift and not set away."""
    users = on_shift(organization=organization, at=at, team_id=team_id)
    away = set(
        AgentStatus.objects.filter(
            organization=organization, user_id__in=users, state=AgentState.AWAY
        ).values_list("user_id", flat=True)
    )
    return [u for u in users if u not in away]


def shift_end(*, organization: Organization, user_id: int, at: datetime) -> datetime | None:
    """When the shift this person is on at `at` ends (aware UTC), or None if off shift."""
    zone = ZoneInfo(organization.timezone)
    local = at.astimezone(zone)
    for shift in Shift.objects.filter(organization=organization, user_id=user_id):
        if not _covers(shift, local):
            continue
        end = datetime.combine(local.date(), shift.ends, tzinfo=zone)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(at.tzinfo)
    return None
