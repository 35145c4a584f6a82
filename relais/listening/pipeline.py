"""The ingest pipeline's listening step: match every inbound message against all monitors,
store the matches, count the volume buckets (per monitor, line and intent, 1 and 5
minutes) and move the fill watermark. A fixed number of queries per batch and per touched
bucket, never a scan of the message table.

A message from a listening source (an account whose config has "listening": true: a
network's keyword search stream) is stored like any message, so that triage, authors and
drill-down work, but its conversation is closed at once: it was not addressed to us and
must not flood the inbox, the SLA clocks or the by-line view. It is shown on the listening
dashboard and in alerts.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Min

from relais.channels.pipeline import Batch, BatchItem
from relais.common import timeutils
from relais.listening.matcher import Matcher, MessageFacts, MonitorSpec
from relais.listening.models import (
    GRANULARITIES,
    Monitor,
    MonitorMatch,
    Series,
    SeriesKind,
    VolumeBucket,
    Watermark,
)

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_cache: dict[str, object] = {"version": None, "matcher": None}


def bucket_start(at: datetime, granularity: int) -> datetime:
    ts = int(at.timestamp())
    return datetime.fromtimestamp(ts - ts % granularity, tz=UTC)


def is_listening_source(account) -> bool:
    return account.is_listening_source


def current_matcher() -> Matcher:
    """The matcher of every active monitor, rebuilt only when a monitor changed (one small
    aggregate query per batch tells)."""
    version = tuple(
        Monitor.objects.filter(active=True)
        .aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
        .values()
    )
    with _lock:
        if _cache["version"] == version and _cache["matcher"] is not None:
            return _cache["matcher"]  # type: ignore[return-value]
    specs = [
        MonitorSpec(id=m[0], organization_id=m[1], tree=m[2], sources=m[3])
        for m in Monitor.objects.filter(active=True).values_list(
            "id", "organization_id", "compiled", "sources"
        )
    ]
    matcher = Matcher(specs)
    for monitor_id, why in matcher.skipped:
        logger.error("monitor %s left out of the matcher: %s", monitor_id, why)
    with _lock:
        _cache["version"], _cache["matcher"] = version, matcher
    return matcher


def facts_for(item: BatchItem) -> MessageFacts:
    message, account = item.message, item.event.account
    triage = message.triage or {}
    return MessageFacts(
        organization_id=message.organization_id,
        text=message.text,
        lang=message.lang,
        network=account.network,
        intent=message.intent,
        lines=[pair[1] for pair in triage.get("lines", ()) if len(pair) > 1],
        listening=is_listening_source(account),
    )


def series_for(
    organization_id: int, keys: set[tuple[str, str, int]], *, first_at: datetime
) -> dict[tuple[str, str, int], Series]:
    """The Series rows of these (kind, key, granularity), created when missing."""
    if not keys:
        return {}

    def load() -> dict[tuple[str, str, int], Series]:
        rows = Series.objects.filter(
            organization_id=organization_id,
            kind__in={k[0] for k in keys},
            key__in={k[1] for k in keys},
            granularity__in={k[2] for k in keys},
        )
        return {(s.kind, s.key, s.granularity): s for s in rows}

    found = load()
    missing = [k for k in keys if k not in found]
    if missing:
        Series.objects.bulk_create(
            [
                Series(
                    organization_id=organization_id,
                    kind=kind,
                    key=key,
                    granularity=gran,
                    closed_until=bucket_start(first_at, gran),
                )
                for kind, key, gran in missing
            ],
            ignore_conflicts=True,
        )
        found = load()
    return found


def add_counts(counts: Counter[tuple[int, datetime]]) -> None:
    """Add to buckets (series id, start): an UPDATE ... count + n, created when missing."""
    for (series_id, start), n in counts.items():
        updated = VolumeBucket.objects.filter(series_id=series_id, start=start).update(
            count=F("count") + n
        )
        if updated:
            continue
        try:
            with transaction.atomic():
                VolumeBucket.objects.create(series_id=series_id, start=start, count=n)
        except IntegrityError:  # another worker created it in between
            VolumeBucket.objects.filter(series_id=series_id, start=start).update(
                count=F("count") + n
            )


def match_and_count(batch: Batch) -> None:
    items = [i for i in batch.items if not i.skip and i.message is not None]
    if not items:
        return
    matcher = current_matcher()
    matches: list[MonitorMatch] = []
    # organisation -> (kind, key) -> message times
    seen: dict[int, dict[tuple[str, str], list[datetime]]] = defaultdict(lambda: defaultdict(list))
    listening_conversations = []
    for item in items:
        message = item.message
        facts = facts_for(item)
        per_org = seen[message.organization_id]
        if len(matcher):
            for monitor_id in matcher.match(facts):
                matches.append(
                    MonitorMatch(
                        monitor_id=monitor_id, message_id=message.pk, created_at=message.created_at
                    )
                )
                per_org[(SeriesKind.MONITOR, str(monitor_id))].append(message.created_at)
        for line in set(facts.lines):
            per_org[(SeriesKind.LINE, line)].append(message.created_at)
        if message.intent:
            per_org[(SeriesKind.INTENT, message.intent)].append(message.created_at)
        if facts.listening:
            listening_conversations.append(item.conversation)
    if matches:
        MonitorMatch.objects.bulk_create(matches, ignore_conflicts=True)
    for org_id, keyed in seen.items():
        first_at = min(t for times in keyed.values() for t in times) if keyed else None
        if first_at is None:
            continue
        wanted = {(kind, key, int(g)) for kind, key in keyed for g in GRANULARITIES}
        series = series_for(org_id, wanted, first_at=first_at)
        counts: Counter[tuple[int, datetime]] = Counter()
        for (kind, key), times in keyed.items():
            for gran in GRANULARITIES:
                s = series[(kind, key, int(gran))]
                for t in times:
                    counts[(s.pk, bucket_start(t, gran))] += 1
        add_counts(counts)
    _close_listening_conversations(listening_conversations)
    _move_watermarks({i.message.organization_id for i in items})


def _close_listening_conversations(conversations: list) -> None:
    from relais.inbox.models import Conversation, Status

    ids = {c.pk for c in conversations if c.status != Status.CLOSED}
    if not ids:
        return
    at = timeutils.now()
    Conversation.objects.filter(pk__in=ids).update(status=Status.CLOSED, closed_at=at)
    for c in conversations:
        c.status, c.closed_at = Status.CLOSED, at


def _move_watermarks(organization_ids: set[int]) -> None:
    """Everything received before the oldest event still waiting is counted."""
    for org_id in organization_ids:
        advance_watermark(organization_id=org_id, at=timeutils.now())


def advance_watermark(*, organization_id: int, at: datetime) -> datetime:
    from relais.channels.models import RawEvent, RawEventState

    oldest_waiting = RawEvent.objects.filter(
        account__organization_id=organization_id, state=RawEventState.PENDING
    ).aggregate(t=Min("received_at"))["t"]
    until = min(at, oldest_waiting) if oldest_waiting else at
    mark, created = Watermark.objects.get_or_create(
        organization_id=organization_id, defaults={"filled_until": until}
    )
    if not created and until > mark.filled_until:
        Watermark.objects.filter(pk=mark.pk, filled_until__lt=until).update(filled_until=until)
        mark.filled_until = until
    return mark.filled_until
