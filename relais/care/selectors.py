"""Reads of the care part: who is on shift, on call and available at a given time;
coverage gaps; SLA clocks; analytics from the hourly buckets; the breach report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, Sum
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team
from relais.care.models import (
    FR_BINS,
    AgentState,
    AgentStatus,
    CareBucket,
    ExceptionKind,
    Shift,
    ShiftException,
    SlaClock,
    Weekday,
)


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
    """When the shift this person is on at `at` ends (aware UTC), or None if off shift
    (absent, or outside their weekly shifts and extra shifts)."""
    current = ShiftException.objects.filter(
        organization=organization, user_id=user_id, starts_at__lte=at, ends_at__gt=at
    )
    if any(e.kind == ExceptionKind.ABSENT for e in current):
        return None
    ends = [e.ends_at for e in current if e.kind == ExceptionKind.EXTRA]
    zone = ZoneInfo(organization.timezone)
    local = at.astimezone(zone)
    for shift in Shift.objects.filter(organization=organization, user_id=user_id):
        if not _covers(shift, local):
            continue
        end = datetime.combine(local.date(), shift.ends, tzinfo=zone)
        if end <= local:
            end += timedelta(days=1)
        ends.append(end.astimezone(UTC))
    return max(ends) if ends else None


# --- Coverage: the weekly gaps of a team, and what is wrong with it -------------------------

WEEK = 7 * 24 * 60


@dataclass(frozen=True)
class Gap:
    """A weekly range nobody of the team is on shift: from (weekday, starts) for minutes."""

    weekday: int
    starts: time
    end_weekday: int
    ends: time
    minutes: int

    @property
    def weekday_label(self) -> str:
        return str(Weekday(self.weekday).label)

    @property
    def end_weekday_label(self) -> str:
        return str(Weekday(self.end_weekday).label)


def _week_ranges(shift: Shift) -> list[tuple[int, int]]:
    a = shift.weekday * 1440 + shift.starts.hour * 60 + shift.starts.minute
    length = (shift.ends.hour * 60 + shift.ends.minute) - (
        shift.starts.hour * 60 + shift.starts.minute
    )
    if length <= 0:
        length += 1440
    b = a + length
    return [(a, b)] if b <= WEEK else [(a, WEEK), (0, b - WEEK)]


def _at_minute(m: int) -> tuple[int, time]:
    m %= WEEK
    return m // 1440, time((m % 1440) // 60, m % 60)


def coverage_gaps(*, team: Team) -> list[Gap]:
    """The ranges of the week nobody of the team covers with a weekly shift (exceptions
    aside), a range over Sunday midnight joined into one."""
    ranges = sorted(r for s in Shift.objects.filter(team=team) for r in _week_ranges(s))
    free: list[list[int]] = []
    cursor = 0
    for a, b in ranges:
        if a > cursor:
            free.append([cursor, a])
        cursor = max(cursor, b)
    if cursor < WEEK:
        free.append([cursor, WEEK])
    if len(free) > 1 and free[0][0] == 0 and free[-1][1] == WEEK:
        last = free.pop()
        free[0] = [last[0], WEEK + free[0][1]]
    gaps = []
    for a, b in sorted(free, key=lambda r: r[0] % WEEK):
        (wd, st), (ewd, en) = _at_minute(a), _at_minute(b)
        gaps.append(Gap(wd, st, ewd, en, b - a))
    return gaps


def team_problems(*, team: Team, at: datetime) -> list[str]:
    """What a supervisor must know about a team's coverage, in words: nothing is dropped,
    but nobody may be there to answer."""
    problems: list[str] = []
    if not team.members.exists():
        problems.append(
            str(
                _(
                    "This team has nobody in it. Conversations routed to it are kept in the "
                    "inbox without an owner, and their SLA breaches go to the supervisors: "
                    "add people to the team."
                )
            )
        )
    if not Shift.objects.filter(team=team).exists():
        problems.append(
            str(
                _(
                    "This team has no shift: nobody is ever on shift for it, so its channels "
                    "count as uncovered and hand-offs cannot find anyone in it."
                )
            )
        )
    elif not on_shift(organization=team.organization, at=at, team_id=team.pk):
        problems.append(str(_("Nobody of this team is on shift right now.")))
    return problems


# --- The SLA clocks shown in the inbox --------------------------------------------------------


def clocks_by_conversation(conversation_ids: list[int]) -> dict[int, SlaClock]:
    return SlaClock.objects.in_bulk(conversation_ids)


def classify_all(*, organization_id: int, at: datetime) -> dict[str, int]:
    """How many running clocks are green, orange and red at `at`: counted by the database
    in one query, whatever the number of open conversations."""
    red = Q(breached_at__isnull=False) | Q(due_at__lte=at)
    orange = Q(breached_at__isnull=True, due_at__gt=at, warn_at__lte=at)
    row = SlaClock.objects.filter(organization_id=organization_id, due_at__isnull=False).aggregate(
        total=Count("pk"), red=Count("pk", filter=red), orange=Count("pk", filter=orange)
    )
    return {
        "green": row["total"] - row["red"] - row["orange"],
        "orange": row["orange"],
        "red": row["red"],
    }


# --- Analytics, from the hourly buckets ------------------------------------------------------

SUM_FIELDS = [
    "inbound",
    "opened",
    "closed",
    "awaiting_started",
    "awaiting_stopped",
    "first_responses",
    "first_response_seconds",
    "first_response_in_sla",
    "resolution_seconds",
    "breaches",
    *[f"fr_b{i}" for i in range(len(FR_BINS))],
]


def percentile_from_bins(bins: list[int], q: float) -> float | None:
    """Seconds at quantile q, interpolated linearly inside the histogram bin that holds it
    (the last, open bin answers with its lower bound)."""
    total = sum(bins)
    if not total:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for count, bound in zip(bins, FR_BINS, strict=True):
        if count and seen + count >= rank:
            if bound is None:
                return lower
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        lower = float(bound) if bound is not None else lower
    return lower


@dataclass
class Stats:
    label: str
    key: int | str
    sums: dict[str, int]

    @property
    def first_responses(self) -> int:
        return self.sums["first_responses"]

    def _bins(self) -> list[int]:
        return [self.sums[f"fr_b{i}"] for i in range(len(FR_BINS))]

    @property
    def fr_median(self) -> float | None:
        return percentile_from_bins(self._bins(), 0.5)

    @property
    def fr_p90(self) -> float | None:
        return percentile_from_bins(self._bins(), 0.9)

    @property
    def fr_mean(self) -> float | None:
        n = self.sums["first_responses"]
        return self.sums["first_response_seconds"] / n if n else None

    @property
    def resolution_mean(self) -> float | None:
        n = self.sums["closed"]
        return self.sums["resolution_seconds"] / n if n else None

    @property
    def compliance(self) -> float | None:
        """Share of first responses within the SLA, breaches of unanswered ones counted."""
        answered = self.sums["first_responses"]
        late_unanswered = max(
            self.sums["breaches"] - (answered - self.sums["first_response_in_sla"]), 0
        )
        total = answered + late_unanswered
        return 100.0 * self.sums["first_response_in_sla"] / total if total else None


def _sum(rows) -> dict[str, int]:
    return {f: sum(r[f] or 0 for r in rows) for f in SUM_FIELDS}


def care_stats(
    *, organization_id: int, since: datetime, until: datetime, by: str = ""
) -> list[Stats]:
    """Totals of the period, overall (by="") or by account, team or agent."""
    from django.contrib.auth import get_user_model

    from relais.channels.models import ChannelAccount

    column = {"account": "account_id", "team": "team_id", "agent": "agent_id"}.get(by)
    qs = CareBucket.objects.filter(organization_id=organization_id, hour__gte=since, hour__lt=until)
    if column is None:
        return [Stats(label=str(_("All")), key="", sums=_sum(list(qs.values(*SUM_FIELDS))))]
    rows = list(qs.values(column).annotate(**{f"{f}": Sum(f) for f in SUM_FIELDS}).order_by(column))
    names: dict[int, str] = {}
    ids = [r[column] for r in rows]
    if by == "account":
        names = dict(
            ChannelAccount.objects.filter(organization_id=organization_id, pk__in=ids).values_list(
                "pk", "name"
            )
        )
    elif by == "team":
        names = dict(
            Team.objects.filter(organization_id=organization_id, pk__in=ids).values_list(
                "pk", "name"
            )
        )
    elif by == "agent":
        names = dict(
            get_user_model()
            .objects.filter(memberships__organization_id=organization_id, pk__in=ids)
            .values_list("pk", "username")
        )
    none_label = {"team": _("No team"), "agent": _("Nobody")}.get(by, "?")
    return [
        Stats(
            label=names.get(r[column], str(none_label)) if r[column] else str(none_label),
            key=r[column],
            sums={f: r[f] or 0 for f in SUM_FIELDS},
        )
        for r in rows
        if not r[column] or r[column] in names
    ]


@dataclass
class Point:
    day: date
    inbound: int
    first_responses: int
    breaches: int
    closed: int
    backlog: int  # open conversations at the end of the day
    unanswered: int  # conversations awaiting an answer at the end of the day


def care_series(
    *, organization_id: int, since: datetime, until: datetime, zone: str
) -> list[Point]:
    """Day by day in the organisation's zone. Backlog and unanswered are running sums of
    the buckets' opened/closed and started/stopped counts, from the sum before `since`."""
    tz = ZoneInfo(zone)
    base = CareBucket.objects.filter(organization_id=organization_id, hour__lt=since).aggregate(
        opened=Sum("opened"),
        closed=Sum("closed"),
        started=Sum("awaiting_started"),
        stopped=Sum("awaiting_stopped"),
    )
    backlog = (base["opened"] or 0) - (base["closed"] or 0)
    unanswered = (base["started"] or 0) - (base["stopped"] or 0)
    hourly = (
        CareBucket.objects.filter(organization_id=organization_id, hour__gte=since, hour__lt=until)
        .values("hour")
        .annotate(
            inbound=Sum("inbound"),
            opened=Sum("opened"),
            closed=Sum("closed"),
            started=Sum("awaiting_started"),
            stopped=Sum("awaiting_stopped"),
            first_responses=Sum("first_responses"),
            breaches=Sum("breaches"),
        )
        .order_by("hour")
    )
    by_day: dict[date, dict[str, int]] = {}
    day = since.astimezone(tz).date()
    last = (until - timedelta(seconds=1)).astimezone(tz).date()
    while day <= last:
        by_day[day] = defaultdict(int)  # type: ignore[assignment]
        day += timedelta(days=1)
    for row in hourly:
        d = row["hour"].astimezone(tz).date()
        if d in by_day:
            for k in ("inbound", "opened", "closed", "started", "stopped"):
                by_day[d][k] += row[k] or 0  # type: ignore[literal-required]
            by_day[d]["first_responses"] += row["first_responses"] or 0
            by_day[d]["breaches"] += row["breaches"] or 0
    points = []
    for d, c in by_day.items():
        backlog += c["opened"] - c["closed"]
        unanswered += c["started"] - c["stopped"]
        points.append(
            Point(
                day=d,
                inbound=c["inbound"],
                first_responses=c["first_responses"],
                breaches=c["breaches"],
                closed=c["closed"],
                backlog=max(backlog, 0),
                unanswered=max(unanswered, 0),
            )
        )
    return points


# --- The report of conversations that waited past their SLA --------------------------------


def breach_report(*, organization_id: int, since: datetime, until: datetime):
    """Every breach of the period, those with nobody assigned first, then the unanswered."""
    from relais.care.models import SlaBreach

    return (
        SlaBreach.objects.filter(
            organization_id=organization_id, breached_at__gte=since, breached_at__lt=until
        )
        .select_related("conversation__contact", "account", "team", "assignee")
        .order_by(F("assignee_id").asc(nulls_first=True), "breached_at")
    )


def open_alerts(*, organization_id: int, limit: int = 50):
    from relais.care.models import CareAlert

    return (
        CareAlert.objects.filter(organization_id=organization_id, cleared_at__isnull=True)
        .select_related("account", "team", "conversation")
        .order_by("-created_at")[:limit]
    )
