"""Keeps outbound messages in step with their delivery (channels signals, inbox listens)."""

from django.dispatch import receiver

from relais.channels.delivery import delivery_changed
from relais.channels.models import Delivery, DeliveryState
from relais.inbox.models import Message
from relais.realtime.events import DeliveryChanged, send_event_on_commit


@receiver(delivery_changed, sender=Delivery)
def on_delivery_changed(sender, delivery: Delivery, **kwargs) -> None:
    message = (
        Message.objects.filter(delivery=delivery)
        .only("id", "conversation_id", "organization_id")
        .first()
    )
    if message is None:
        return
    if delivery.state == DeliveryState.SENT and delivery.external_id:
        Message.objects.filter(pk=message.pk).update(external_id=delivery.external_id)
    send_event_on_commit(
        message.organization_id,
        DeliveryChanged(
            conversation_id=message.conversation_id, message_id=message.pk, state=delivery.state
        ),
    )
