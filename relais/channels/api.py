"""Channel accounts over HTTP, and the generic signed ingest webhook.

The webhook lets any system (a relay, a script, a network we have no connector for) hand
messages to an account. It authenticates by an HMAC of the raw body with the account's
webhook secret, checked before a byte of the body is parsed.
"""

import logging
import re
from copy import deepcopy
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from relais.channels.contract import Author, InboundMessage, MessageKind
from relais.channels.ingest import ingest
from relais.channels.models import ChannelAccount
from relais.channels.registry import UnknownConnector
from relais.common import signing
from relais.common.timeutils import ensure_aware

logger = logging.getLogger(__name__)

router = Router(tags=["accounts"])
webhook_router = Router(tags=["webhooks"])

SIGNATURE_HEADER = "X-Relais-Signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
MAX_MESSAGES = 1_000
MAX_TEXT = 100_000
MAX_HANDLE = 200  # Contact.handle and .display_name
# Ids are stored 200 wide, but a conversation's thread key joins the thread id and the
# author's id ("t:<thread>:<author>") into 300 characters: 140 each always fits.
MAX_ID = 140


class WebhookErrorOut(Schema):
    detail: str | list[dict[str, Any]]


# --- Accounts ----------------------------------------------------------------------------


class AccountOut(Schema):
    """What members may know of an account: never its credentials, config or webhook secret."""

    id: int
    kind: str
    network: str
    handle: str
    name: str
    status: str
    last_error: str
    default_team_id: int | None
    message_length: int | None
    created_at: datetime

    @staticmethod
    def resolve_message_length(obj: ChannelAccount) -> int | None:
        try:
            return obj.message_length
        except UnknownConnector:
            return None


@router.get("/accounts", response=list[AccountOut], summary="The organisation's channel accounts")
@paginate(LimitOffsetPagination, max_limit=200)
def account_list(request: HttpRequest):
    membership = request.auth  # type: ignore[attr-defined]
    return ChannelAccount.objects.filter(organization_id=membership.organization_id).order_by(
        "name", "pk"
    )


# --- The ingest webhook ------------------------------------------------------------------


def _storable(value: str) -> str:
    # PostgreSQL refuses NUL in text and in jsonb: refuse it here, with the field's name,
    # rather than acknowledge something the database will not keep.
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000), which cannot be stored")
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID), AfterValidator(_storable)]
Handle = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_HANDLE), AfterValidator(_storable)
]
OptionalId = Annotated[str, StringConstraints(max_length=MAX_ID), AfterValidator(_storable)] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class WebhookAuthor(_Strict):
    external_id: Id
    handle: Handle
    display_name: (
        Annotated[str, StringConstraints(max_length=MAX_HANDLE), AfterValidator(_storable)] | None
    ) = None
    reach: Annotated[int, Field(ge=0, le=2_147_483_647)] | None = None


class WebhookMessage(_Strict):
    external_id: Id
    kind: Literal["mention", "reply", "dm"]
    author: WebhookAuthor
    text: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_storable)
    ]
    created_at: AwareDatetime
    thread_id: OptionalId = None
    reply_to_id: OptionalId = None

    def to_inbound(self) -> InboundMessage:
        return InboundMessage(
            external_id=self.external_id,
            kind=MessageKind(self.kind),
            author=Author(
                external_id=self.author.external_id,
                handle=self.author.handle,
                display_name=self.author.display_name or "",
                reach=self.author.reach or 0,
            ),
            text=self.text,
            created_at=ensure_aware(self.created_at),
            thread_id=self.thread_id or "",
            reply_to_id=self.reply_to_id or "",
            raw={"source": "webhook"},
        )


class WebhookBody(_Strict):
    messages: Annotated[list[WebhookMessage], Field(max_length=MAX_MESSAGES)]


class IngestOut(Schema):
    stored: int
    duplicates: int


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its $defs inlined, for an operation's requestBody."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(deepcopy(defs[ref.removeprefix("#/$defs/")]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def _signature_error(account: ChannelAccount, request: HttpRequest, body: bytes) -> str | None:
    secret = account.webhook_secret or settings.RELAIS_WEBHOOK_SECRET
    if not secret:
        return "This account has no webhook secret: nothing can be accepted for it."
    header = request.headers.get(SIGNATURE_HEADER, "")
    if not header:
        return f"Missing {SIGNATURE_HEADER} header: sign the raw body with HMAC-SHA256."
    match = _SIGNATURE.fullmatch(header.strip())
    if match is None:
        return f"Malformed {SIGNATURE_HEADER} header: expected sha256=<64 hex digits>."
    if not signing.signature_matches(body, secret, header):
        return "The signature does not match the body."
    return None


def _pydantic_errors(exc: PydanticValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


@webhook_router.post(
    "/webhooks/ingest/{int:account_id}",
    auth=None,
    response={
        202: IngestOut,
        400: WebhookErrorOut,
        401: WebhookErrorOut,
        404: WebhookErrorOut,
        413: WebhookErrorOut,
        422: WebhookErrorOut,
    },
    summary="Hand messages to an account (signed with the account's webhook secret)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_schema(WebhookBody)}},
        },
        "parameters": [
            {
                "in": "header",
                "name": SIGNATURE_HEADER,
                "required": True,
                "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                "description": "sha256=<hex HMAC-SHA256 of the raw body, keyed with the account's webhook secret>",
            }
        ],
    },
)
def ingest_webhook(request: HttpRequest, account_id: int):
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None:
        return Status(404, {"detail": "No such account."})
    try:
        body = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Status(
            413, {"detail": f"The body is larger than {limit} bytes: send fewer messages per call."}
        )
    error = _signature_error(account, request, body)
    if error is not None:
        logger.warning("ingest webhook, account %s: refused (%s)", account.pk, error)
        return Status(401, {"detail": error})
    try:
        payload = WebhookBody.model_validate_json(body)
    except PydanticValidationError as exc:
        errors = _pydantic_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return Status(
                400, {"detail": f"The body is not valid JSON (UTF-8): {errors[0]['msg']}"}
            )
        return Status(422, {"detail": errors})
    result = ingest(account=account, messages=[m.to_inbound() for m in payload.messages])
    return Status(202, {"stored": result.stored, "duplicates": result.duplicates})
