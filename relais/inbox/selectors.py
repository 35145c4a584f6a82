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


def _matching(*, membership: Membership, filters: ConversationFilters) -> QuerySet[Conversation]:
    """The conversations the filters keep, unordered and with no related rows."""
    qs = Conversation.objects.filter(organization_id=membership.organization_id)
    if filters.status == "all":
        pass
    elif filters.status == Status.CLOSED:
        qs = qs.filter(status=Status.CLOSED)
    elif filters.status in Status.values:
        # "not closed" is redundant here but lets the database use the partial index of
        # the conversations not closed (conv_open_filters) for the count.
        qs = qs.filter(status=filters.status).exclude(status=Status.CLOSED)
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
    return qs


QUEUE_ORDER = ("-priority", "-last_activity_at", "-pk")


def conversation_list(
    *, membership: Membership, filters: ConversationFilters
) -> QuerySet[Conversation]:
    """Whole conversations with their related rows: the REST API's list."""
    return (
        _matching(membership=membership, filters=filters)
        .select_related("contact", "account", "assignee", "team")
        # The list shows the account's name and network: its credentials are not decrypted
        # for each row (Fernet costs more than the rest of the row; bench/inbox.py).
        .defer("account__credentials", "account__config")
        .prefetch_related("lines", "tags")  # tags: the routing part's list chips
        .order_by(*QUEUE_ORDER)
    )


# What the inbox list shows of a conversation (inbox/_list.html, the care part's SLA and
# routing chips): the rest of the row is not read.
LIST_FIELDS = (
    "id",
    "organization_id",
    "account_id",
    "contact_id",
    "assignee_id",
    "team_id",
    "status",
    "priority",
    "is_private",
    "preview",
    "intent",
    "sentiment",
    "urgency",
    "message_count",
    "last_activity_at",
    "locked_at",
    "lock_reason",
    "contact__handle",
    "contact__display_name",
)


@dataclass
class ConversationPage:
    conversations: list[Conversation]
    total: int  # every conversation the filters keep, not only the page's


def conversation_page(
    *, membership: Membership, filters: ConversationFilters, limit: int = 100
) -> ConversationPage:
    """The inbox list's page: the first `limit` conversations in queue order with what the
    list shows, and the count. A fixed number of queries whatever the number of rows: the
    page (with its contacts), its accounts, teams and assignees (few: read once per page,
    not joined on each row), its lines and its tags; the count only when the page is full.
    Each conversation gets `list_lines` (routes) and `list_tags` (tag names)."""
    from django.contrib.auth import get_user_model

    from relais.accounts.models import Team
    from relais.care.models import ConversationTag
    from relais.channels.models import ChannelAccount

    matching = _matching(membership=membership, filters=filters)
    rows = list(
        matching.select_related("contact").only(*LIST_FIELDS).order_by(*QUEUE_ORDER)[:limit]
    )
    total = len(rows) if len(rows) < limit else matching.count()
    if not rows:
        return ConversationPage(conversations=rows, total=total)

    def by_pk(model, ids: set, *fields: str) -> dict:
        ids.discard(None)
        return (
            {o.pk: o for o in model.objects.filter(pk__in=ids).only("id", *fields)} if ids else {}
        )

    accounts = by_pk(ChannelAccount, {c.account_id for c in rows}, "name", "network")
    teams = by_pk(Team, {c.team_id for c in rows}, "name")
    User = get_user_model()
    users = by_pk(User, {c.assignee_id for c in rows}, User.USERNAME_FIELD)
    ids = [c.pk for c in rows]
    lines: dict[int, list] = {pk: [] for pk in ids}
    through = Conversation.lines.through
    for link in (
        through.objects.filter(conversation_id__in=ids)
        .select_related("route")
        .only(
            "conversation_id", "route__id", "route__short_name", "route__color", "route__text_color"
        )
        .order_by("route__sort_order", "route__short_name")
    ):
        lines[link.conversation_id].append(link.route)
    tags: dict[int, list[str]] = {pk: [] for pk in ids}
    for conversation_id, name in (
        ConversationTag.objects.filter(conversation_id__in=ids)
        .order_by("name")
        .values_list("conversation_id", "name")
    ):
        tags[conversation_id].append(name)
    for c in rows:
        c.account = accounts[c.account_id]
        c.team = teams.get(c.team_id)
        c.assignee = users.get(c.assignee_id)
        c.list_lines = lines[c.pk]  # type: ignore[attr-defined]
        c.list_tags = tags[c.pk]  # type: ignore[attr-defined]
    return ConversationPage(conversations=rows, total=total)


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
