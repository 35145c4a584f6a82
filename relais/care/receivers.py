"""The inbox tells the care part about answers and closes through Django's model signals:
the inbox does not know the care part exists."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from relais.care.clocks import clock_answered, clock_closed, clock_reopened
from relais.common.timeutils import now
from relais.inbox.models import Conversation, Direction, Message, Status


@receiver(post_save, sender=Message, dispatch_uid="care_message_out")
def on_message_saved(sender, instance: Message, created: bool, **kwargs) -> None:
    if not created or instance.direction != Direction.OUT:
        return
    conversation = instance.conversation
    # conversation_reply saves the message before it sets first_response_at.
    clock_answered(
        conversation=conversation,
        at=instance.created_at,
        agent_id=instance.sent_by_id,
        first=conversation.first_response_at is None,
    )


@receiver(post_save, sender=Conversation, dispatch_uid="care_conversation_status")
def on_conversation_saved(sender, instance: Conversation, created: bool, **kwargs) -> None:
    fields = kwargs.get("update_fields")
    if created or not fields or "status" not in fields:
        return
    if instance.status == Status.CLOSED:
        clock_closed(conversation=instance, at=instance.closed_at or now())
    else:
        clock_reopened(conversation=instance, at=now())
