"""Shared by the API and isolation tests: token clients, signed webhook calls, a world to attack."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

from relais.accounts.models import ApiToken, AuditEntry, Membership
from relais.channels.ingest import ingest
from relais.channels.models import ChannelAccount, Delivery, DeliveryState, RawEvent
from relais.common.testing import Personas, inbound
from relais.inbox import actions
from relais.inbox.models import Conversation, ConversationViewer, Message, Note


def token_client(membership: Membership, **kwargs: Any) -> Client:
    _, key = ApiToken.issue(membership=membership, name="tests")
    return Client(headers={"Authorization": f"Bearer {key}"}, **kwargs)


def post_json(client: Client, path: str, data: Any = None):
    return client.post(
        path, data=json.dumps(data if data is not None else {}), content_type="application/json"
    )


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_message(
    external_id: str = "w-1", text: str = "Le tram T2 est-il à l'arrêt ?", **extra: Any
) -> dict:
    message = {
        "external_id": external_id,
        "kind": "mention",
        "author": {"external_id": "u-42", "handle": "lea", "display_name": "Léa", "reach": 150},
        "text": text,
        "created_at": "2025-03-04T07:12:00+01:00",
    }
    message.update(extra)
    return message


def post_webhook(
    client: Client,
    account: ChannelAccount,
    payload: Any = None,
    *,
    body: bytes | None = None,
    secret: str | None = None,
    sig: str | None = None,
):
    if body is None:
        body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {}
    if sig is None:
        sig = signature(body, account.webhook_secret if secret is None else secret)
    if sig:
        headers["X-Relais-Signature"] = sig
    return client.post(
        f"/api/webhooks/ingest/{account.pk}",
        data=body,
        content_type="application/json",
        headers=headers,
    )


def make_conversation(
    account: ChannelAccount,
    capture,
    *,
    handle: str = "maelle",
    text: str = "La C4 circule ce matin ?",
) -> Conversation:
    with capture(execute=True):
        message = inbound(text, handle=handle)
        ingest(account=account, messages=[message])
    return Conversation.objects.get(account=account, messages__external_id=message.external_id)


@dataclass
class World:
    """Organisation A's conversation with a reply (failed, so retry would act) and a note;
    organisation B's own conversation, so that empty lists prove nothing by accident."""

    personas: Personas
    conversation: Conversation
    reply: Message
    note: Note
    other_conversation: Conversation


def make_world(personas: Personas, capture) -> World:
    conversation = make_conversation(personas.account, capture, handle="maelle_alpha")
    with capture(execute=True):
        reply = actions.conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Bonjour, elle circule."
        )
    Delivery.objects.filter(pk=reply.delivery_id).update(
        state=DeliveryState.FAILED, last_error="test"
    )
    note = actions.note_add(
        conversation=conversation, membership=personas.agent_a, text="Client régulier."
    )
    other = make_conversation(personas.other_account, capture, handle="bob_beta")
    conversation.refresh_from_db()
    reply.refresh_from_db()
    return World(
        personas=personas,
        conversation=conversation,
        reply=reply,
        note=note,
        other_conversation=other,
    )


def db_state() -> dict[str, Any]:
    """Everything a write could change, to compare before and after an attempt."""
    return {
        "conversations": list(
            Conversation.objects.order_by("pk").values(
                "pk",
                "status",
                "assignee_id",
                "team_id",
                "closed_at",
                "last_activity_at",
                "first_response_at",
                "priority",
            )
        ),
        "messages": list(
            Message.objects.order_by("pk").values("pk", "text", "external_id", "delivery_id")
        ),
        "notes": list(Note.objects.order_by("pk").values("pk", "text")),
        "deliveries": list(
            Delivery.objects.order_by("pk").values(
                "pk", "state", "attempts", "max_attempts", "next_attempt_at"
            )
        ),
        "viewers": list(
            ConversationViewer.objects.order_by("pk").values("pk", "user_id", "last_seen_at")
        ),
        "audit": AuditEntry.objects.count(),
        "raw_events": RawEvent.objects.count(),
        **_broadcast_state(),
    }


def _broadcast_state() -> dict[str, Any]:
    from tests.incidents.helpers import broadcast_state

    return broadcast_state()
