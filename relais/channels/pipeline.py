"""The batch pipeline: claim stored raw events, run the ordered steps, mark them done.

Each step is a callable taking a Batch; the list lives in settings.RELAIS_PIPELINE_STEPS so
that triage, SLA and listening insert themselves without this module knowing them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from relais.channels.contract import InboundMessage
from relais.channels.models import RawEvent, RawEventState
from relais.common.timeutils import now

logger = logging.getLogger(__name__)

# A claim older than this belongs to a worker that died: the events go back to pending.
STALE_CLAIM = timedelta(minutes=5)
MAX_EVENT_ATTEMPTS = 5


@dataclass
class BatchItem:
    event: RawEvent
    inbound: InboundMessage
    # Filled by the steps: the inbox's Message and Conversation, and whatever else a step
    # wants to hand to the next ones.
    message: Any = None
    conversation: Any = None
    new_conversation: bool = False
    skip: bool = False  # already stored (a replay of a processed event)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    items: list[BatchItem]
    context: dict[str, Any] = field(default_factory=dict)


@cache
def pipeline_steps() -> tuple[Callable[[Batch], None], ...]:
    return tuple(import_string(path) for path in settings.RELAIS_PIPELINE_STEPS)


def run_steps(batch: Batch) -> None:
    for step in pipeline_steps():
        step(batch)


def claim(*, limit: int, worker: str) -> list[RawEvent]:
    """Claim up to `limit` pending events with a conditional update: two workers never
    get the same event."""
    with transaction.atomic():
        # SKIP LOCKED (PostgreSQL): a second worker takes the next events instead of
        # reading the same ids, losing the race and believing the queue empty.
        ids = list(
            RawEvent.objects.select_for_update(skip_locked=True)
            .filter(state=RawEventState.PENDING)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        RawEvent.objects.filter(id__in=ids, state=RawEventState.PENDING).update(
            state=RawEventState.PROCESSING, claimed_by=worker, claimed_at=now()
        )
    return list(
        RawEvent.objects.filter(claimed_by=worker, state=RawEventState.PROCESSING)
        .select_related("account", "account__organization", "account__default_team")
        # Credentials are encrypted: decrypting them for every event cost 5-8% of the batch.
        .defer("account__credentials")
        .order_by("id")
    )


def _finish(events: list[RawEvent]) -> None:
    RawEvent.objects.filter(id__in=[e.id for e in events]).update(
        state=RawEventState.DONE, processed_at=now(), claimed_by="", error=""
    )


def _process(events: list[RawEvent]) -> None:
    batch = Batch(
        items=[BatchItem(event=e, inbound=InboundMessage.from_json(e.payload)) for e in events]
    )
    with transaction.atomic():
        run_steps(batch)
        _finish(events)


def process_pending(*, limit: int | None = None, max_batches: int = 1000) -> int:
    """Process pending events in batches until none is left; returns how many were done."""
    limit = limit or settings.RELAIS_INGEST_BATCH
    worker = uuid.uuid4().hex
    done = 0
    for _ in range(max_batches):
        events = claim(limit=limit, worker=worker)
        if not events:
            break
        try:
            _process(events)
            done += len(events)
        except Exception:
            # One bad event must not hold back the others: retry one by one.
            logger.exception("pipeline batch of %d failed; isolating", len(events))
            for event in events:
                try:
                    _process([event])
                    done += 1
                except Exception as exc:
                    logger.exception("raw event %s failed", event.pk)
                    event.attempts += 1
                    event.error = f"{type(exc).__name__}: {exc}"[:2000]
                    event.state = (
                        RawEventState.FAILED
                        if event.attempts >= MAX_EVENT_ATTEMPTS
                        else RawEventState.PENDING
                    )
                    event.claimed_by = ""
                    event.save(update_fields=["attempts", "error", "state", "claimed_by"])
    return done


def release_stale_claims() -> int:
    return RawEvent.objects.filter(
        state=RawEventState.PROCESSING, claimed_at__lt=now() - STALE_CLAIM
    ).update(state=RawEventState.PENDING, claimed_by="")
