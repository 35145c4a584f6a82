"""The typed live events. A browser receives `event: <type>` with the payload as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from django.db import transaction

from relais.realtime import broker


@dataclass(frozen=True)
class Event:
    type: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InboxChanged(Event):
    """New inbound messages were threaded into these conversations."""

    type: ClassVar[str] = "inbox"
    conversation_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)
    sent_at: float = 0.0  # wall clock at publish, for latency measurement


@dataclass(frozen=True)
class ConversationChanged(Event):
    """A conversation's state changed (assigned, closed, replied, noted)."""

    type: ClassVar[str] = "conversation"
    conversation_id: int = 0
    change: str = ""
    by_user_id: int | None = None


@dataclass(frozen=True)
class DeliveryChanged(Event):
    type: ClassVar[str] = "delivery"
    conversation_id: int = 0
    message_id: int = 0
    state: str = ""


@dataclass(frozen=True)
class Presence(Event):
    """Who is looking at a conversation; drives the collision warning."""

    type: ClassVar[str] = "presence"
    conversation_id: int = 0
    user_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class IncidentChanged(Event):
    """An incident was opened or changed, or its timeline grew."""

    type: ClassVar[str] = "incident"
    incident_id: int = 0
    change: str = ""
    status: str = ""


@dataclass(frozen=True)
class PublicationChanged(Event):
    """A publication started going out, or one of its channels accepted or failed it."""

    type: ClassVar[str] = "publication"
    publication_id: int = 0
    incident_id: int | None = None
    state: str = ""


def send_event_on_commit(organization_id: int, event: Event) -> None:
    """Live events leave only once the change they describe is committed."""
    message = {"type": event.type, "org": organization_id, "data": event.payload()}
    transaction.on_commit(lambda: broker.publish(organization_id, message))
