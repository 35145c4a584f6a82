"""SLA arithmetic: which policy applies, and when an answer is due, counted 24/7 or in
business hours with the organisation's holidays. Pure functions over a loaded Calendar, so
that a pipeline batch or an evaluation pass computes thousands of due times with a fixed
number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from relais.care.models import Audience, BusinessHours, Holiday, SlaPolicy

# How far ahead a business-hours clock looks for working time before giving up.
SEARCH_DAYS = 400
NO_WORKING_TIME = _(
    "The business hours and the holiday calendar leave no working time: counted 24/7."
)

# The product's defaults, used by the demo and offered on the SLA page (minutes).
DEFAULT_POLICIES = [
    # name, network, audience, first response, next response
    ("X public", "x", Audience.PUBLIC, 60, 60),
    ("Bluesky public", "bluesky", Audience.PUBLIC, 60, 60),
    ("Mastodon public", "mastodon", Audience.PUBLIC, 60, 60),
    ("Direct messages", "", Audience.PRIVATE, 30, 30),
    ("Facebook", "facebook", Audience.ANY, 24 * 60, 24 * 60),
]


@dataclass
class Calendar:
    """An organisation's business hours (by weekday, local) and holidays."""

    zone: ZoneInfo
    hours: dict[int, list[tuple[time, time]]] = field(default_factory=dict)
    holidays: set[date] = field(default_factory=set)
    policies: list[SlaPolicy] = field(default_factory=list)

    @classmethod
    def load(cls, organization) -> Calendar:
        hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
        for h in BusinessHours.objects.filter(organization=organization).order_by(
            "weekday", "starts"
        ):
            if h.starts < h.ends:
                hours[h.weekday].append((h.starts, h.ends))
        return cls(
            zone=ZoneInfo(organization.timezone),
            hours=dict(hours),
            holidays=set(
                Holiday.objects.filter(organization=organization).values_list("date", flat=True)
            ),
            policies=list(SlaPolicy.objects.filter(organization=organization).order_by("pk")),
        )

    def working_ranges(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        return [
            (
                datetime.combine(day, a, tzinfo=self.zone),
                datetime.combine(day, b, tzinfo=self.zone),
            )
            for a, b in self.hours.get(day.weekday(), [])
        ]


def policy_for(
    policies: list[SlaPolicy], *, network: str, is_private: bool, priority: int
) -> SlaPolicy | None:
    """The most specific matching policy: a named network counts most, then the audience,
    then the priority; ties go to the oldest."""
    audience = Audience.PRIVATE if is_private else Audience.PUBLIC
    best, best_score = None, -1
    for p in policies:
        if p.network and p.network != network:
            continue
        if p.audience != Audience.ANY and p.audience != audience:
            continue
        if p.priority is not None and p.priority != priority:
            continue
        score = (4 if p.network else 0) + (2 if p.audience != Audience.ANY else 0)
        score += 1 if p.priority is not None else 0
        if score > best_score:
            best, best_score = p, score
    return best


def add_business_time(
    calendar: Calendar, start: datetime, delta: timedelta
) -> tuple[datetime, str]:
    """`start` plus `delta` of working time. Returns (due, problem): when the calendar has
    no working time at all within SEARCH_DAYS, the time is counted 24/7 and the problem
    says so, rather than a clock that never ends."""
    remaining = delta
    local = start.astimezone(calendar.zone)
    day = local.date()
    for _i in range(SEARCH_DAYS):
        for opens, closes in calendar.working_ranges(day):
            begin = max(opens, local)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return (begin + remaining).astimezone(start.tzinfo), ""
            remaining -= available
        day += timedelta(days=1)
    return start + delta, str(NO_WORKING_TIME)


def due_times(
    calendar: Calendar, policy: SlaPolicy, kind: str, start: datetime
) -> tuple[datetime, datetime, str]:
    """(warn_at, due_at, problem) of a clock of this kind started at `start`."""
    minutes = policy.first_response_minutes if kind == "first" else policy.next_response_minutes
    target = timedelta(minutes=minutes)
    warn = target * min(max(policy.warn_percent, 1), 100) / 100
    if not policy.business_hours:
        return start + warn, start + target, ""
    due, problem = add_business_time(calendar, start, target)
    warn_at, _problem = add_business_time(calendar, start, warn)
    return warn_at, due, problem


class ClockColour:
    NONE = "none"
    GREEN = "green"
    ORANGE = "orange"
    RED = "red"


def colour(clock, at: datetime) -> str:
    """green, orange when close (past the policy's warn share), red when breached."""
    if clock is None or clock.due_at is None:
        return ClockColour.NONE
    if clock.breached_at is not None or at >= clock.due_at:
        return ClockColour.RED
    if clock.warn_at is not None and at >= clock.warn_at:
        return ClockColour.ORANGE
    return ClockColour.GREEN
