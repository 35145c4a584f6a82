"""Keeps publications in step with their deliveries (channels signals, publishing listens)."""

from django.dispatch import receiver

from relais.channels.delivery import delivery_changed
from relais.channels.models import Delivery


@receiver(delivery_changed, sender=Delivery)
def on_delivery_changed(sender, delivery: Delivery, **kwargs) -> None:
    from relais.publishing.actions import publication_follow_delivery

    publication_follow_delivery(delivery=delivery)
