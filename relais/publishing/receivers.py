"""Receivers of the publishing part, connected in PublishingConfig.ready(): the parts this
one reacts to (channels, its own signals) never import it."""

from __future__ import annotations

from relais.channels.delivery import delivery_changed, delivery_reports_received
from relais.channels.models import ChannelAccount, Delivery
from relais.publishing.signals import publication_started


def on_delivery_changed(sender, delivery: Delivery, **kwargs) -> None:
    """Keeps publications in step with their deliveries."""
    from relais.publishing.actions import publication_follow_delivery

    publication_follow_delivery(delivery=delivery)


def _on_publication_started(sender, *, publication_id: int, **kwargs) -> None:
    from relais.common.tasks import enqueue_on_commit
    from relais.publishing.tasks import subscriber_broadcast

    # The signal is sent on commit already; the task runs in a worker so the button
    # press never waits for 100,000 inserts.
    enqueue_on_commit(subscriber_broadcast, publication_id)


def _on_delivery_reports(sender, *, account, reports, **kwargs) -> set[str]:
    from relais.publishing.subscribers.sending import apply_receipts

    return apply_receipts(account=account, reports=reports)


def _on_crisis_mode_changed(sender, **kwargs) -> None:
    """Crisis mode on or off: hold or release promotional posts now, not at the next tick."""
    from relais.common.tasks import enqueue_on_commit
    from relais.publishing.tasks import calendar_tick

    enqueue_on_commit(calendar_tick)


def connect() -> None:
    from relais.listening.signals import crisis_mode_changed

    crisis_mode_changed.connect(_on_crisis_mode_changed, dispatch_uid="publishing.crisis")
    delivery_changed.connect(on_delivery_changed, sender=Delivery, dispatch_uid="publishing.follow")
    publication_started.connect(_on_publication_started, dispatch_uid="publishing.subscribers")
    delivery_reports_received.connect(
        _on_delivery_reports, sender=ChannelAccount, dispatch_uid="publishing.receipts"
    )
