"""Listening test helpers: a listening source, monitors, on-call shifts, and a replay of a
scenario file in scenario time through the real path (ingest, pipeline, detection task)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from unittest import mock

from django.test import TestCase

from relais.channels.ingest import ingest
from relais.channels.models import ChannelAccount
from relais.channels.pipeline import process_pending
from relais.connectors.replay.connector import ReplayConnector, load_scenario
from relais.listening import actions
from relais.listening.models import Alert

SCENARIOS = Path(__file__).resolve().parents[2] / "relais" / "demo" / "scenarios"


def listening_source(org, *, network="x", handle="search-airport") -> ChannelAccount:
    """A keyword search stream of a network: messages not addressed to the organisation."""
    return ChannelAccount.objects.create(
        organization=org,
        kind="replay",
        network=network,
        handle=handle,
        name=f"Search {handle}",
        config={"listening": True, "search": "aéroport OR airport"},
    )


def on_call_all_week(*, org, team, user, on_call=True):
    from relais.care.models import Shift

    return [
        Shift.objects.create(
            organization=org,
            team=team,
            user=user,
            weekday=day,
            starts=time(0, 0),
            ends=time(0, 0),  # ends <= starts: round the clock, overnight
            on_call=on_call,
        )
        for day in range(7)
    ]


def at_clock(when: datetime):
    """Freeze the clock the listening code reads (relais.common.timeutils.now).

    The function itself stays: the ``datetime`` it calls is replaced. Patching ``now``
    would leak the frozen clock into every module first imported while the patch is on
    (``from relais.common.timeutils import now`` keeps the mock for the whole session)."""

    class _Frozen(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return when if tz is not None else when.replace(tzinfo=None)

    return mock.patch("relais.common.timeutils.datetime", _Frozen)


@dataclass
class ReplayResult:
    start: datetime
    alerts: list[Alert] = field(default_factory=list)
    played: int = 0
    meta: dict = field(default_factory=dict)


def replay(
    name: str,
    *,
    own: dict[str, ChannelAccount],
    search: ChannelAccount | None,
    start: datetime,
    until: float | None = None,
    ingest_step: float = 10.0,
) -> ReplayResult:
    """Play a scenario file in scenario time: every `ingest_step` seconds the lines due are
    ingested and the pipeline runs; the detection task runs as deployed (tasks.detect_bursts
    each minute, closing the buckets LATENESS after they end: tick at :21 of each minute)."""
    scenario = load_scenario(SCENARIOS / name)
    lines = scenario.lines
    end = until if until is not None else lines[-1].at + 300
    result = ReplayResult(start=start, meta=scenario.meta)
    i = 0
    t = 0.0
    tick_offset = actions.LATENESS.total_seconds() + 1
    next_tick = tick_offset
    while t <= end:
        now = start + timedelta(seconds=t)
        # Each step commits as it would in production: e-mails and webhooks leave then.
        with at_clock(now), TestCase.captureOnCommitCallbacks(execute=True):
            due = []
            while i < len(lines) and lines[i].at <= t:
                due.append(lines[i])
                i += 1
            for line in due:
                account = search if (line.raw.get("source") == "search" and search) else None
                account = account or own.get(line.network) or next(iter(own.values()))
                message = ReplayConnector.to_inbound(line, start=start, prefix="p-")
                ingest(account=account, messages=[replace(message, thread_id=message.thread_id)])
            if due:
                process_pending()
                result.played += len(due)
            if t >= next_tick:
                result.alerts.extend(actions.close_buckets(at=now))
                actions.escalate_due(at=now)
                next_tick += 60
        t += ingest_step
    return result


def minute_aligned(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0, tzinfo=UTC)
