"""The hourly counts behind the care analytics, added to by events: a message in, a first
response, a close, a breach. Counts are summed in memory and written with one UPDATE (or
INSERT) per bucket, so a batch of 500 messages costs a handful of statements."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from relais.care.models import FR_BINS, CareBucket, CareCounting

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
        for org_id in {key[0] for key in self.rows}:
            # The watermark: counting by events starts with the first count.
            if not CareCounting.objects.filter(pk=org_id).exists():
                with transaction.atomic():
                    CareCounting.objects.get_or_create(
                        organization_id=org_id,
                        defaults={"since": min(k[1] for k in self.rows if k[0] == org_id)},
                    )
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


def buckets_backfill(*, organization_id: int) -> int:
    """Fill the counts of what happened before event counting began (the watermark's
    `since`), from the stored conversations and messages: a one-off scan, never repeated
    (`filled_until` is set), never counting twice what events counted. Returns the number
    of conversations read."""
    from relais.inbox.models import Conversation, Direction, Message

    counting = CareCounting.objects.filter(pk=organization_id).first()
    if counting is None:
        from relais.common.timeutils import now

        counting = CareCounting.objects.create(organization_id=organization_id, since=now())
    if counting.filled_until is not None:
        return 0
    since = counting.since
    counts = Counts()
    inbound = Message.objects.filter(
        organization_id=organization_id, direction=Direction.IN, created_at__lt=since
    ).values_list("created_at", "account_id", "conversation__team_id")
    for at, account_id, team_id in inbound.iterator():
        counts.add(
            organization_id=organization_id,
            at=at,
            account_id=account_id,
            team_id=team_id,
            inbound=1,
        )
    first_sender = dict(
        Message.objects.filter(
            organization_id=organization_id, direction=Direction.OUT, created_at__lt=since
        )
        .order_by("conversation_id", "-created_at")
        .values_list("conversation_id", "sent_by_id")
    )  # the last value per conversation wins: ordered newest first, so the first answer
    n = 0
    rows = Conversation.objects.filter(
        organization_id=organization_id, first_message_at__lt=since
    ).values_list(
        "pk", "account_id", "team_id", "first_message_at", "first_response_at", "closed_at"
    )
    for pk, account_id, team_id, first_at, answered_at, closed_at in rows.iterator():
        n += 1
        common = {"organization_id": organization_id, "account_id": account_id, "team_id": team_id}
        counts.add(**common, at=first_at, opened=1, awaiting_started=1)
        stopped = False
        if answered_at is not None and answered_at < since:
            counts.first_response(
                **common,
                at=answered_at,
                agent_id=first_sender.get(pk),
                waited_seconds=max((answered_at - first_at).total_seconds(), 0),
                in_sla=True,  # unknown before clocks existed: not counted as missed
            )
            counts.add(**common, at=answered_at, awaiting_stopped=1)
            stopped = True
        if closed_at is not None and closed_at < since:
            counts.add(
                **common,
                at=closed_at,
                closed=1,
                resolution_seconds=int(max((closed_at - first_at).total_seconds(), 0)),
                awaiting_stopped=0 if stopped else 1,
            )
    counts.flush()
    CareCounting.objects.filter(pk=organization_id).update(filled_until=since)
    return n
