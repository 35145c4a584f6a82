"""The one ingest entry point: store raw events durably and idempotently, then acknowledge."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from relais.channels.contract import InboundMessage
from relais.channels.models import ChannelAccount, RawEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    stored: int
    duplicates: int


def ingest(*, account: ChannelAccount, messages: Sequence[InboundMessage]) -> IngestResult:
    """Store each message once (unique on account + network id) and queue the pipeline.

    Returns only after the rows are committed: a caller acknowledging the network after
    this call never acknowledges something that could be lost.
    """
    if not messages:
        return IngestResult(0, 0)
    # Within one call the same id may appear twice (a network retrying inside a batch).
    unique: dict[str, InboundMessage] = {}
    for m in messages:
        unique.setdefault(m.external_id, m)
    with transaction.atomic():
        # First deduplication: look the ids up; the unique constraint catches the race.
        known = set(
            RawEvent.objects.filter(account=account, external_id__in=list(unique)).values_list(
                "external_id", flat=True
            )
        )
        fresh = [
            RawEvent(account=account, external_id=ext_id, payload=m.to_json())
            for ext_id, m in unique.items()
            if ext_id not in known
        ]
        created = RawEvent.objects.bulk_create(fresh, ignore_conflicts=True)
        if fresh:
            from relais.channels.tasks import process_inbound
            from relais.common.tasks import enqueue_on_commit

            enqueue_on_commit(process_inbound)
    stored = len(created)
    duplicates = len(messages) - stored
    if duplicates:
        logger.info("ingest %s: %d stored, %d duplicates ignored", account.pk, stored, duplicates)
    return IngestResult(stored=stored, duplicates=duplicates)
