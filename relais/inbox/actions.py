"""Writes to the inbox: each in a transaction, with its audit entry and its live event."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, audit
from relais.accounts.permissions import require_answering
from relais.channels.contract import MessageKind, OutboundMessage
from relais.channels.delivery import delivery_create, delivery_retry_now
from relais.channels.registry import connector_for
from relais.common.timeutils import now
from relais.inbox.models import Conversation, ConversationViewer, Direction, Message, Note, Status
from relais.realtime.events import ConversationChanged, Presence, send_event_on_commit

PRESENCE_TTL = timedelta(seconds=30)


def _changed(conversation: Conversation, change: str, user_id: int | None) -> None:
    send_event_on_commit(
        conversation.organization_id,
        ConversationChanged(conversation_id=conversation.pk, change=change, by_user_id=user_id),
    )


def _clean_text(text: str) -> str:
    # Keep the text as typed (emoji, right-to-left, zero-width characters included); only
    # the line endings are made uniform.
    return text.replace("\r\n", "\n").strip()


class ConversationLocked(ValidationError):
    """A supervisor marked the conversation "monitored, no answer" (relais.care.profile)."""


@transaction.atomic
def conversation_reply(*, conversation: Conversation, membership: Membership, text: str) -> Message:
    require_answering(membership)
    # Read the lock from the database, not from the caller's possibly stale object.
    lock = (
        Conversation.objects.filter(pk=conversation.pk).values("locked_at", "lock_reason").first()
    )
    if lock and lock["locked_at"] is not None:
        raise ConversationLocked(
            _(
                "This conversation is locked for answers by a supervisor (%(reason)s): no reply is sent."
            )
            % {"reason": lock["lock_reason"] or _("monitored, no answer")},
            code="locked",
        )
    text = _clean_text(text)
    if not text:
        raise ValidationError(_("The reply is empty."))
    from relais.care.operator import guard_reply  # unfilled variables, personal data

    guard_reply(conversation=conversation, text=text)
    connector = connector_for(conversation.account)
    limit = connector.effective_limits().message_length
    length = connector.text_length(text)
    if length > limit:
        raise ValidationError(
            _("The reply is %(length)d characters long; %(network)s allows %(limit)d.")
            % {
                "length": length,
                "network": conversation.account.get_network_display(),
                "limit": limit,
            }
        )
    answered = conversation.messages.filter(direction=Direction.IN).order_by("-created_at").first()
    kind = MessageKind.DM if conversation.is_private else MessageKind.REPLY
    t = now()
    message = Message.objects.create(
        organization_id=conversation.organization_id,
        account=conversation.account,
        conversation=conversation,
        direction=Direction.OUT,
        kind=str(kind),
        thread_external_id=conversation.thread_external_id,
        reply_to_external_id=(answered.external_id or "") if answered else "",
        sent_by=membership.user,
        text=text,
        created_at=t,
    )
    outbound = OutboundMessage(
        idempotency_key=f"msg-{message.pk}-{uuid.uuid4().hex[:12]}",
        kind=kind,
        text=text,
        reply_to_id=message.reply_to_external_id or "",
        thread_id=conversation.thread_external_id,
        recipient=conversation.contact.handle if conversation.is_private else "",
        last_inbound_at=conversation.last_inbound_at.isoformat()
        if conversation.last_inbound_at
        else "",
    )
    message.delivery = delivery_create(account=conversation.account, outbound=outbound)
    message.save(update_fields=["delivery"])
    fields = ["last_activity_at", "status"]
    conversation.last_activity_at = t
    if conversation.first_response_at is None:
        conversation.first_response_at = t
        fields.append("first_response_at")
    if conversation.status in (Status.NEW, Status.OPEN):
        conversation.status = Status.PENDING
    if conversation.assignee_id is None:
        # Whoever answers an unowned conversation owns it.
        conversation.assignee = membership.user
        fields.append("assignee")
    conversation.save(update_fields=fields)
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="reply.sent",
        obj=message,
        text=text,
        data={
            "conversation": conversation.pk,
            "account": conversation.account_id,
            "delivery": message.delivery_id,
        },
    )
    _changed(conversation, "replied", membership.user_id)
    return message


@transaction.atomic
def conversation_assign(
    *, conversation: Conversation, membership: Membership, assignee: Membership | None
) -> Conversation:
    require_answering(membership)
    if assignee is not None and assignee.organization_id != conversation.organization_id:
        raise PermissionDenied("The assignee is not in this organisation.")
    conversation.assignee = assignee.user if assignee else None
    fields = ["assignee"]
    if conversation.status == Status.NEW and assignee is not None:
        conversation.status = Status.OPEN
        fields.append("status")
    conversation.save(update_fields=fields)
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="conversation.assigned",
        obj=conversation,
        text=assignee.user.get_username() if assignee else "",
    )
    _changed(conversation, "assigned", membership.user_id)
    return conversation


@transaction.atomic
def conversation_set_status(
    *, conversation: Conversation, membership: Membership, status: Status
) -> Conversation:
    require_answering(membership)
    if status not in Status.values:
        raise ValidationError(_("Unknown status."))
    conversation.status = status
    conversation.closed_at = now() if status == Status.CLOSED else None
    conversation.save(update_fields=["status", "closed_at"])
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action=f"conversation.{status}",
        obj=conversation,
    )
    _changed(conversation, str(status), membership.user_id)
    return conversation


@transaction.atomic
def note_add(*, conversation: Conversation, membership: Membership, text: str) -> Note:
    require_answering(membership)
    text = _clean_text(text)
    if not text:
        raise ValidationError(_("The note is empty."))
    note = Note.objects.create(conversation=conversation, author=membership.user, text=text)
    audit(
        organization_id=conversation.organization_id,
        actor_id=membership.user_id,
        action="note.added",
        obj=note,
        text=text,
    )
    _changed(conversation, "noted", membership.user_id)
    return note


@transaction.atomic
def message_retry(*, message: Message, membership: Membership) -> None:
    require_answering(membership)
    if message.delivery is not None:
        delivery_retry_now(delivery=message.delivery)
        audit(
            organization_id=message.organization_id,
            actor_id=membership.user_id,
            action="reply.retried",
            obj=message,
            text=message.text,
        )


@transaction.atomic
def conversations_bulk(
    *,
    membership: Membership,
    conversations: list[Conversation],
    action: str,
    assignee: Membership | None = None,
) -> int:
    for conversation in conversations:
        if action == "close":
            conversation_set_status(
                conversation=conversation, membership=membership, status=Status.CLOSED
            )
        elif action == "reopen":
            conversation_set_status(
                conversation=conversation, membership=membership, status=Status.OPEN
            )
        elif action == "assign":
            conversation_assign(conversation=conversation, membership=membership, assignee=assignee)
        else:
            raise ValidationError(_("Unknown bulk action."))
    return len(conversations)


def presence_touch(*, conversation: Conversation, membership: Membership) -> list[int]:
    """Record that this person has the conversation open; return the others who do. A live
    event goes out only when someone arrives, so that viewers refreshing each other's
    warning never loop."""
    t = now()
    with transaction.atomic():
        previous = ConversationViewer.objects.filter(
            conversation=conversation, user=membership.user
        ).first()
        arrived = previous is None or previous.last_seen_at < t - PRESENCE_TTL
        ConversationViewer.objects.update_or_create(
            conversation=conversation, user=membership.user, defaults={"last_seen_at": t}
        )
        others = list(
            ConversationViewer.objects.filter(
                conversation=conversation, last_seen_at__gte=t - PRESENCE_TTL
            )
            .exclude(user=membership.user)
            .values_list("user_id", flat=True)
        )
        if arrived:
            send_event_on_commit(
                conversation.organization_id,
                Presence(
                    conversation_id=conversation.pk, user_ids=sorted([*others, membership.user_id])
                ),
            )
    return others


def presence_leave(*, conversation: Conversation, membership: Membership) -> None:
    ConversationViewer.objects.filter(conversation=conversation, user=membership.user).delete()
