"""The inbox over HTTP: conversations, their messages and notes, and the writes on them.

Every lookup goes through `relais.accounts.permissions.access_*` with `request.auth` (a
Membership), so another organisation's conversation answers 404 like a missing one.
"""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from relais.accounts.models import Membership
from relais.accounts.permissions import access_conversation, access_member
from relais.inbox import actions, selectors
from relais.inbox.models import Status as ConversationStatus

router = Router(tags=["conversations"])

MAX_PAGE = 200
# A request body bigger than any network's limit is refused by the schema before the
# action measures it against the account's real limit.
MAX_TEXT = 100_000


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]]


class UserRef(Schema):
    id: int
    username: str

    @staticmethod
    def resolve_username(obj) -> str:
        return obj.get_username()


class TeamRef(Schema):
    id: int
    name: str


class AccountRef(Schema):
    id: int
    name: str
    network: str
    handle: str


class ContactOut(Schema):
    id: int
    network: str
    handle: str
    display_name: str
    reach: int


class DeliveryOut(Schema):
    state: str
    attempts: int
    last_error: str
    external_url: str
    next_attempt_at: datetime | None
    sent_at: datetime | None


class MessageOut(Schema):
    id: int
    direction: Literal["in", "out"]
    kind: str
    text: str
    created_at: datetime
    external_id: str | None
    thread_external_id: str
    reply_to_external_id: str
    author: ContactOut | None
    sent_by: UserRef | None
    delivery: DeliveryOut | None


class NoteOut(Schema):
    id: int
    text: str
    author: UserRef | None
    created_at: datetime


class ConversationOut(Schema):
    id: int
    status: str
    priority: int
    is_private: bool
    preview: str
    message_count: int
    account: AccountRef
    contact: ContactOut
    assignee: UserRef | None
    team: TeamRef | None
    first_message_at: datetime
    first_response_at: datetime | None
    last_inbound_at: datetime | None
    last_activity_at: datetime
    closed_at: datetime | None


class ConversationDetailOut(ConversationOut):
    messages: list[MessageOut]
    notes: list[NoteOut]

    @staticmethod
    def resolve_messages(obj) -> list:
        return list(selectors.conversation_messages(conversation=obj))

    @staticmethod
    def resolve_notes(obj) -> list:
        return list(selectors.conversation_notes(conversation=obj))


class ConversationQuery(Schema):
    status: Literal["", "all", "new", "open", "pending", "closed"] = Field(
        "", description='"" (default) = every status but closed; "all"; or one status'
    )
    account: int | None = Field(None, description="a channel account id")
    team: int | None = Field(None, description="a team id")
    mine: bool = Field(False, description="only those assigned to the caller")
    unassigned: bool = False
    q: str = Field("", max_length=200, description="full-text search in the messages")
    intent: str = Field("", max_length=20, description="question, complaint, incident_report, …")
    sentiment: str = Field("", max_length=10, description="negative, neutral or positive")
    urgency: str = Field("", max_length=10, description="safety, blocking or normal")
    lang: str = Field("", max_length=8, description="ISO 639-1 code")
    line: int | None = Field(None, description="a line (transit route) id")


class TextIn(Schema):
    text: str = Field(..., max_length=MAX_TEXT)


class AssignIn(Schema):
    user_id: int | None = Field(
        ..., description="a member of the organisation, or null to unassign"
    )


def _membership(request: HttpRequest) -> Membership:
    return request.auth  # type: ignore[attr-defined, return-value]


@router.get("/conversations", response=list[ConversationOut], summary="List conversations")
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def conversation_list(request: HttpRequest, filters: Query[ConversationQuery]):
    return selectors.conversation_list(
        membership=_membership(request),
        filters=selectors.ConversationFilters(
            status=filters.status,
            account_id=filters.account,
            team_id=filters.team,
            mine=filters.mine,
            unassigned=filters.unassigned,
            q=filters.q.strip(),
            intent=filters.intent,
            sentiment=filters.sentiment,
            urgency=filters.urgency,
            lang=filters.lang,
            line_id=filters.line,
        ),
    )


@router.get(
    "/conversations/{int:conversation_id}",
    response={200: ConversationDetailOut, 404: ErrorOut},
    summary="One conversation with its contact, messages and notes",
)
def conversation_detail(request: HttpRequest, conversation_id: int):
    return access_conversation(_membership(request), conversation_id)


@router.get(
    "/conversations/{int:conversation_id}/messages",
    response=list[MessageOut],
    summary="A conversation's messages, oldest first",
)
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def conversation_messages(request: HttpRequest, conversation_id: int):
    conversation = access_conversation(_membership(request), conversation_id)
    return selectors.conversation_messages(conversation=conversation)


@router.post(
    "/conversations/{int:conversation_id}/reply",
    response={201: MessageOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Answer the citizen on the conversation's network",
)
def conversation_reply(request: HttpRequest, conversation_id: int, payload: TextIn):
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    message = actions.conversation_reply(
        conversation=conversation, membership=membership, text=payload.text
    )
    # The delivery may already have moved on (sent, or failed) once the reply committed.
    message.refresh_from_db()
    if message.delivery is not None:
        message.delivery.refresh_from_db()
    return Status(201, message)


@router.post(
    "/conversations/{int:conversation_id}/assign",
    response={200: ConversationOut, 403: ErrorOut, 404: ErrorOut},
    summary="Assign to a member of the organisation, or unassign with null",
)
def conversation_assign(request: HttpRequest, conversation_id: int, payload: AssignIn):
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    assignee = access_member(membership, payload.user_id) if payload.user_id is not None else None
    return actions.conversation_assign(
        conversation=conversation, membership=membership, assignee=assignee
    )


@router.post(
    "/conversations/{int:conversation_id}/close",
    response={200: ConversationOut, 403: ErrorOut, 404: ErrorOut},
    summary="Close",
)
def conversation_close(request: HttpRequest, conversation_id: int):
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    return actions.conversation_set_status(
        conversation=conversation, membership=membership, status=ConversationStatus.CLOSED
    )


@router.post(
    "/conversations/{int:conversation_id}/reopen",
    response={200: ConversationOut, 403: ErrorOut, 404: ErrorOut},
    summary="Reopen",
)
def conversation_reopen(request: HttpRequest, conversation_id: int):
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    return actions.conversation_set_status(
        conversation=conversation, membership=membership, status=ConversationStatus.OPEN
    )


@router.get(
    "/conversations/{int:conversation_id}/notes",
    response=list[NoteOut],
    summary="A conversation's internal notes, oldest first",
)
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def note_list(request: HttpRequest, conversation_id: int):
    conversation = access_conversation(_membership(request), conversation_id)
    return selectors.conversation_notes(conversation=conversation)


@router.post(
    "/conversations/{int:conversation_id}/notes",
    response={201: NoteOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Add an internal note (never sent to the network)",
)
def note_add(request: HttpRequest, conversation_id: int, payload: TextIn):
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    return Status(
        201, actions.note_add(conversation=conversation, membership=membership, text=payload.text)
    )
