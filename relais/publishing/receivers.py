"""Receivers connected in PublishingConfig.ready(): the parts this one reacts to never
import it."""

from __future__ import annotations

from relais.channels.delivery import delivery_reports_received
from relais.publishing.signals import publication_started


def _on_publication_started(sender, *, publication_id: int, **kwargs) -> None:
    from relais.common.tasks import enqueue_on_commit
    from relais.publishing.tasks import subscriber_broadcast

    # The signal is sent on commit already; the task runs in a worker so the button
    # press never waits for 100,000 inserts.
    enqueue_on_commit(subscriber_broadcast, publication_id)


def _on_delivery_reports(sender, *, account, reports, **kwargs) -> set[str]:
    from relais.publishing.subscribers.sending import apply_receipts

    return apply_receipts(account=account, reports=reports)


def connect() -> None:
    publication_started.connect(_on_publication_started, dispatch_uid="publishing.subscribers")
    delivery_reports_received.connect(_on_delivery_reports, dispatch_uid="publishing.receipts")
