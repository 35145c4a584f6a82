"""The connector contract: what every network module declares, receives and sends."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar


class MessageKind(enum.StrEnum):
    MENTION = "mention"  # a public post that names the account
    REPLY = "reply"  # a public reply in a thread
    DM = "dm"  # a private message
    POST = "post"  # the account's own public post


class Capability(enum.StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    REPLY = "reply"
    PUBLISH = "publish"
    DIRECT_MESSAGE = "direct_message"
    DELETE = "delete"
    MEDIA = "media"
    # Public posts matching a keyword query, whoever they address: a listening source.
    SEARCH = "search"
    # The network deduplicates on our idempotency key, so a send whose outcome is unknown
    # (worker killed mid-call) may be retried safely.
    IDEMPOTENT_SEND = "idempotent_send"


@dataclass(frozen=True)
class Limits:
    message_length: int
    direct_message_length: int | None = None
    media_per_message: int = 0


@dataclass(frozen=True)
class Author:
    external_id: str
    handle: str
    display_name: str = ""
    reach: int = 0  # followers, or the closest thing the network has
    avatar_url: str = ""


@dataclass(frozen=True)
class Attachment:
    url: str
    mime_type: str = ""
    description: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """One message as a network gave it, normalised."""

    external_id: str
    kind: MessageKind
    author: Author
    text: str
    created_at: datetime
    thread_id: str = ""  # id of the thread's root, when the network threads
    reply_to_id: str = ""
    attachments: tuple[Attachment, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id,
            "kind": str(self.kind),
            "author": {
                "external_id": self.author.external_id,
                "handle": self.author.handle,
                "display_name": self.author.display_name,
                "reach": self.author.reach,
                "avatar_url": self.author.avatar_url,
            },
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "thread_id": self.thread_id,
            "reply_to_id": self.reply_to_id,
            "attachments": [
                {"url": a.url, "mime_type": a.mime_type, "description": a.description}
                for a in self.attachments
            ],
            "raw": self.raw,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundMessage:
        from relais.common.timeutils import parse_iso

        return cls(
            external_id=str(data["external_id"]),
            kind=MessageKind(data["kind"]),
            author=Author(**data["author"]),
            text=data["text"],
            created_at=parse_iso(data["created_at"]),
            thread_id=data.get("thread_id") or "",
            reply_to_id=data.get("reply_to_id") or "",
            attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()),
            raw=data.get("raw") or {},
        )


@dataclass(frozen=True)
class OutboundMessage:
    idempotency_key: str
    kind: MessageKind
    text: str
    reply_to_id: str = ""  # the network id of the message answered
    thread_id: str = ""
    recipient: str = ""  # the handle, for direct messages
    # ISO time of the person's last message: networks with a reply window (Messenger,
    # WhatsApp: 24 hours) decide before calling out.
    last_inbound_at: str = ""
    attachments: tuple[Attachment, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "kind": str(self.kind),
            "text": self.text,
            "reply_to_id": self.reply_to_id,
            "thread_id": self.thread_id,
            "recipient": self.recipient,
            "last_inbound_at": self.last_inbound_at,
            "attachments": [
                {"url": a.url, "mime_type": a.mime_type, "description": a.description}
                for a in self.attachments
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutboundMessage:
        return cls(
            idempotency_key=data["idempotency_key"],
            kind=MessageKind(data["kind"]),
            text=data["text"],
            reply_to_id=data.get("reply_to_id", ""),
            thread_id=data.get("thread_id", ""),
            recipient=data.get("recipient", ""),
            last_inbound_at=data.get("last_inbound_at", ""),
            attachments=tuple(Attachment(**a) for a in data.get("attachments") or ()),
        )


@dataclass(frozen=True)
class DeliveryReport:
    """A network telling us what became of something we sent (an SMS receipt, say)."""

    external_id: str  # the id the network gave our message (Receipt.external_id)
    delivered: bool
    error: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    external_id: str
    url: str = ""
    thread_id: str = ""


class ConnectorError(Exception):
    """The one error a connector raises. `permanent` errors are not retried."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        reconnect: bool = False,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        # Credentials expired or revoked: the account must be reconnected by a person.
        self.reconnect = reconnect


class Connector:
    """Base class of every network module. One instance works for one ChannelAccount."""

    kind: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    limits: ClassVar[Limits] = Limits(message_length=280)

    def __init__(self, account: Any):
        # `account` is a ChannelAccount; connectors read its handle, config and credentials
        # and never write to other tables.
        self.account = account

    def effective_limits(self) -> Limits:
        return self.limits

    def text_length(self, text: str) -> int:
        """Length as the network counts it against its limit (code points by default;
        Bluesky counts graphemes)."""
        return len(text)

    def send(self, message: OutboundMessage) -> Receipt:
        raise ConnectorError(f"{self.kind} cannot send", permanent=True)

    def poll(self, cursor: str) -> tuple[Sequence[InboundMessage | DeliveryReport], str]:
        """Fetch what arrived since `cursor`: messages, and receipts of what we sent (SMS);
        return them with the next cursor."""
        raise ConnectorError(f"{self.kind} cannot poll", permanent=True)

    def search(self, query: str, cursor: str) -> tuple[list[InboundMessage], str]:
        """Listening: public posts matching `query` (in the network's own search syntax)
        that are newer than `cursor`, and the cursor for the next call. An empty cursor
        means a first call: the latest page only, never the whole history."""
        raise ConnectorError(f"{self.kind} cannot search", permanent=True)

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> None:
        """Raise ConnectorError(permanent=True) unless the request is signed by the network.
        Header names are lower-case."""
        raise ConnectorError(f"{self.kind} has no webhook", permanent=True)

    def webhook_challenge(self, params: dict[str, str]) -> tuple[int, str]:
        """Answer a network's subscription handshake (GET on the webhook URL): Meta's
        hub.challenge, X's CRC. Returns (HTTP status, body)."""
        raise ConnectorError(f"{self.kind} has no webhook handshake", permanent=True)

    def parse_webhook(
        self, body: bytes, headers: dict[str, str]
    ) -> list[InboundMessage | DeliveryReport]:
        """Called only after verify_webhook. Unknown event types are logged and skipped,
        never an error: the network must get its 200."""
        raise ConnectorError(f"{self.kind} has no webhook", permanent=True)

    def test_connection(self) -> str:
        """Check the credentials and reachability; return what was found (e.g. the account's
        name) or raise ConnectorError saying what is wrong, for the admin's button."""
        raise ConnectorError(f"{self.kind} cannot test its connection", permanent=True)

    def lookup_profile(self, handle: str) -> Author | None:
        return None
