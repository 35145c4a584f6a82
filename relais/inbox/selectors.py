"""Reads of the inbox, always scoped to one organisation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from relais.accounts.models import Membership
from relais.inbox.models import Contact, Conversation, Message, Note, Status
from relais.inbox.search import matching_message_ids


@dataclass(frozen=True)
class ConversationFilters:
    status: str = ""  # "" = every open status; "all"; or one Status
    account_id: int | None = None
    team_id: int | None = None
    mine: bool = False
    unassigned: bool = False
    q: str = ""
    intent: str = ""
    sentiment: str = ""
    urgency: str = ""
    lang: str = ""
    line_id: int | None = None  # a transit Route id


def conversation_list(
    *, membership: Membership, filters: ConversationFilters
) -> QuerySet[Conversation]:
    qs = Conversation.objects.filter(organization_id=membership.organization_id)
    if filters.status == "all":
        pass
    elif filters.status in Status.values:
        qs = qs.filter(status=filters.status)
    else:
        qs = qs.exclude(status=Status.CLOSED)
    if filters.account_id:
        qs = qs.filter(account_id=filters.account_id)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    if filters.mine:
        qs = qs.filter(assignee_id=membership.user_id)
    if filters.unassigned:
        qs = qs.filter(assignee__isnull=True)
    for field in ("intent", "sentiment", "urgency", "lang"):
        value = getattr(filters, field)
        if value:
            qs = qs.filter(**{field: value})
    if filters.line_id:
        qs = qs.filter(lines__id=filters.line_id)
    if filters.q:
        ids = matching_message_ids(filters.q)
        if ids is not None:
            qs = qs.filter(
                pk__in=Message.objects.filter(
                    organization_id=membership.organization_id, pk__in=ids
                ).values("conversation_id")
            )
    return (
        qs.select_related("contact", "account", "assignee", "team")
        # The list shows the account's name and network: its credentials are not decrypted
        # for each row (Fernet costs more than the rest of the row; bench/inbox.py).
        .defer("account__credentials", "account__config")
        .prefetch_related("lines", "tags")  # tags: the routing part's list chips
        .order_by("-priority", "-last_activity_at", "-pk")
    )


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.select_related("author", "sent_by", "delivery").order_by(
        "created_at", "pk"
    )


def conversation_notes(*, conversation: Conversation) -> QuerySet[Note]:
    return conversation.notes.select_related("author").order_by("created_at")


def contact_other_conversations(
    *, conversation: Conversation, limit: int = 10
) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(
            organization_id=conversation.organization_id, contact=conversation.contact
        )
        .exclude(pk=conversation.pk)
        .select_related("account")
        .order_by("-last_activity_at")[:limit]
    )


def contact_detail(*, membership: Membership, contact_id: int) -> Contact | None:
    return Contact.objects.filter(organization_id=membership.organization_id, pk=contact_id).first()


def busy_lines(*, membership: Membership, limit: int = 12) -> list:
    """The lines the open conversations are about, busiest first: the inbox groups by them."""
    from django.db.models import Count, Q

    from relais.transit.models import Route

    open_here = Q(conversations__organization_id=membership.organization_id) & ~Q(
        conversations__status=Status.CLOSED
    )
    return list(
        Route.objects.filter(organization_id=membership.organization_id)
        .annotate(open_count=Count("conversations", filter=open_here))
        .filter(open_count__gt=0)
        .order_by("-open_count", "short_name")[:limit]
    )
