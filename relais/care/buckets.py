"""The hourly counts behind the care analytics, added to by events: a message in, a first
response, a close, a breach. Counts are summed in memory and written with one UPDATE (or
INSERT) per bucket, so a batch of 500 messages costs a handful of statements."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from relais.care.models import FR_BINS, CareBucket

BucketKey = tuple[int, datetime, int, int, int]  # organization, hour, account, team, agent


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def fr_bin(seconds: float) -> str:
    for i, bound in enumerate(FR_BINS):
        if bound is None or seconds <= bound:
            return f"fr_b{i}"
    return f"fr_b{len(FR_BINS) - 1}"


class Counts:
    """Collects increments, then writes them."""

    def __init__(self) -> None:
        self.rows: dict[BucketKey, Counter[str]] = defaultdict(Counter)

    def add(
        self,
        *,
        organization_id: int,
        at: datetime,
        account_id: int,
        team_id: int | None = None,
        agent_id: int | None = None,
        **counts: int,
    ) -> None:
        key = (organization_id, hour_of(at), account_id, team_id or 0, agent_id or 0)
        self.rows[key].update(counts)

    def first_response(
        self,
        *,
        organization_id: int,
        at: datetime,
        account_id: int,
        team_id: int | None,
        agent_id: int | None,
        waited_seconds: float,
        in_sla: bool,
    ) -> None:
        self.add(
            organization_id=organization_id,
            at=at,
            account_id=account_id,
            team_id=team_id,
            agent_id=agent_id,
            first_responses=1,
            first_response_seconds=int(waited_seconds),
            first_response_in_sla=1 if in_sla else 0,
            **{fr_bin(waited_seconds): 1},
        )

    def flush(self) -> None:
        for (org_id, hour, account_id, team_id, agent_id), counts in self.rows.items():
            counts = Counter({k: v for k, v in counts.items() if v})
            if not counts:
                continue
            where = {
                "organization_id": org_id,
                "hour": hour,
                "account_id": account_id,
                "team_id": team_id,
                "agent_id": agent_id,
            }
            increments = {k: F(k) + v for k, v in counts.items()}
            if CareBucket.objects.filter(**where).update(**increments):
                continue
            try:
                with transaction.atomic():
                    CareBucket.objects.create(**where, **counts)
            except IntegrityError:  # created by a parallel worker meanwhile
                CareBucket.objects.filter(**where).update(**increments)
        self.rows.clear()
