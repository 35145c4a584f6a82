"""An agent corrects a triage field in one click: the conversation changes at once and the
correction is kept as a label."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from relais.accounts.models import Membership
from relais.accounts.permissions import require_answering
from relais.triage.engine import INTENTS, SENTIMENTS, URGENCIES, priority_of
from relais.triage.models import TriageLabel

CHOICES = {"intent": INTENTS, "sentiment": SENTIMENTS, "urgency": URGENCIES}


@transaction.atomic
def triage_correct(*, conversation, membership: Membership, field: str, value: str) -> TriageLabel:
    from relais.inbox.models import Direction
    from relais.realtime.events import ConversationChanged, send_event_on_commit

    require_answering(membership)
    if field not in CHOICES or value not in CHOICES[field]:
        raise ValidationError(f"{field}={value!r} is not a triage value.")
    message = (
        conversation.messages.filter(direction=Direction.IN).order_by("-created_at", "-pk").first()
    )
    if message is None:
        raise ValidationError("This conversation has no message to label.")
    label = TriageLabel.objects.create(
        organization_id=conversation.organization_id,
        message=message,
        field=field,
        value=value,
        previous=getattr(message, field) or "",
        text=message.text,
        lang=message.lang,
        labelled_by=membership.user,
    )
    setattr(message, field, value)
    message.priority = priority_of(message.intent, message.sentiment, message.urgency)
    message.save(update_fields=[field, "priority"])
    setattr(conversation, field, value)
    conversation.priority = priority_of(
        conversation.intent, conversation.sentiment, conversation.urgency
    )
    conversation.save(update_fields=[field, "priority"])
    send_event_on_commit(
        conversation.organization_id,
        ConversationChanged(
            conversation_id=conversation.pk, change=f"triage.{field}", by_user_id=membership.user_id
        ),
    )
    return label
