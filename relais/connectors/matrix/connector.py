"""The Matrix connector: each watched room is a channel, polled through /sync.

Ids. A Matrix event id is unique on its own, so it is the message's external id; sending
needs the room as well, so thread ids carry it: ``<room_id>|<root>``.
- In an internal (crisis) room a conversation follows Matrix threads: the root is the
  m.thread root event, or the first event of a chain of m.in_reply_to replies, or the
  event itself.
- In a citizens' room (``public: true``, the default) every sender's messages form one
  conversation, whatever they reply to: the root is the sender's user id.
Our replies quote the event answered (m.in_reply_to), inside its m.thread when the
conversation is a thread of an internal room, and use the delivery's idempotency key as
the transaction id, so that the homeserver deduplicates a retried send.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinedRoomsResponse,
    LoginResponse,
    RoomGetEventResponse,
    RoomSendResponse,
    SyncResponse,
    WhoamiResponse,
)

from relais.channels.contract import (
    Author,
    Capability,
    Connector,
    ConnectorError,
    InboundMessage,
    Limits,
    MessageKind,
    OutboundMessage,
    Receipt,
)
from relais.connectors.matrix.config import MatrixConfig, load_config

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEP = "|"  # between the room id and the root in thread ids; in neither room nor event ids
TEXT_TYPES = ("m.text", "m.notice")
# Reply chains are walked up to find a root; past this depth the last event reached is used.
MAX_REPLY_DEPTH = 20
# The first poll must not replay history, and later ones fetch at most this many events
# per room (a busier room than that between two polls marks the gap in the log).
SYNC_FILTER: dict[str, Any] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"types": ["m.room.message"], "limit": 200},
        "state": {"lazy_load_members": True, "types": []},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}
FIRST_SYNC_FILTER: dict[str, Any] = {**SYNC_FILTER, "room": {"timeline": {"limit": 1}}}


def first_sync_timeout_ms() -> int:
    """Synapse caches a non-empty /sync answer for two minutes under its exact parameters,
    timeout included, and a first sync (no since token) has the same parameters for every
    account of the same bot: a second account set up within two minutes would get the
    first one's old "now" and replay what was said since. A first sync never waits, so a
    timeout that follows the clock (100 ms steps over a 150 s cycle) costs nothing and
    makes each first sync a request of its own."""
    return 1 + (time.time_ns() // 100_000_000) % 1500


TOKEN_ERRORS = {"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED"}

# Tokens obtained by password login, kept in memory only (never stored), per account and
# password so that a changed password logs in again.
_login_tokens: dict[tuple[str, str, str], str] = {}


def thread_ref(room_id: str, root: str) -> str:
    return f"{room_id}{SEP}{root}"


def split_thread(thread_id: str) -> tuple[str, str]:
    room_id, _, root = thread_id.partition(SEP)
    return room_id, root


def classify(resp: Any, action: str) -> ConnectorError:
    """A nio error response → ConnectorError, by the Matrix errcode."""
    code = getattr(resp, "status_code", None)
    message = getattr(resp, "message", "") or str(resp)
    text = f"Matrix {action} failed: {code or 'error'} {message}".strip()
    if code == "M_LIMIT_EXCEEDED":
        retry_ms = getattr(resp, "retry_after_ms", None)
        return ConnectorError(text, retry_after=(retry_ms / 1000) if retry_ms else 5.0)
    if code in TOKEN_ERRORS:
        return ConnectorError(text, permanent=True, reconnect=True)
    if code is None or code == "M_UNKNOWN":
        # No errcode: a proxy's 5xx page or a body nio could not read. Try again later.
        return ConnectorError(text)
    return ConnectorError(text, permanent=True)


class MatrixConnector(Connector):
    kind = "matrix"
    label = "Matrix"
    capabilities = frozenset(
        {Capability.POLL, Capability.REPLY, Capability.PUBLISH, Capability.IDEMPOTENT_SEND}
    )
    # Matrix caps an event at 64 KiB; the default keeps messages readable, config overrides.
    limits = Limits(message_length=4000, direct_message_length=None, media_per_message=0)

    def __init__(self, account: Any):
        super().__init__(account)
        self._config: MatrixConfig | None = None

    @property
    def config(self) -> MatrixConfig:
        if self._config is None:
            self._config = load_config(self.account)
        return self._config

    def effective_limits(self) -> Limits:
        try:
            return Limits(message_length=self.config.max_characters)
        except ConnectorError:
            return self.limits

    # --- plumbing -------------------------------------------------------------------------

    def _run(self, work: Callable[[AsyncClient], Awaitable[T]], action: str) -> T:
        """Run one batch of calls in a fresh event loop: we are called from sync threads."""
        config = self.config

        async def main() -> T:
            client = AsyncClient(
                config.homeserver,
                config.user_id,
                device_id=config.device_id,
                config=AsyncClientConfig(
                    # Retries and backoff belong to the delivery path, not to nio.
                    max_limit_exceeded=0,
                    max_timeouts=0,
                    request_timeout=config.request_timeout,
                    store_sync_tokens=False,
                    encryption_enabled=False,
                ),
            )
            try:
                await self._authenticate(client)
                return await work(client)
            finally:
                await client.close()

        try:
            return asyncio.run(main())
        except ConnectorError:
            raise
        except (ClientError, TimeoutError, OSError) as exc:
            raise ConnectorError(
                f"Matrix homeserver {config.homeserver} unreachable during {action}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _token_key(self) -> tuple[str, str, str]:
        config = self.config
        secret = config.password.get_secret_value() if config.password else ""
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return (config.homeserver, config.user_id, digest)

    async def _authenticate(self, client: AsyncClient) -> None:
        config = self.config
        if config.access_token is not None:
            client.access_token = config.access_token.get_secret_value()
            client.user_id = config.user_id
            return
        key = self._token_key()
        token = _login_tokens.get(key)
        if token is None:
            assert config.password is not None  # noqa: S101 - the config model requires one
            resp = await client.login(
                config.password.get_secret_value(),
                device_name="Relais",
            )
            if not isinstance(resp, LoginResponse):
                err = classify(resp, "login")
                if getattr(resp, "status_code", None) == "M_FORBIDDEN":
                    err = ConnectorError(
                        f"Matrix login refused for {config.user_id}: wrong password or "
                        "deactivated account",
                        permanent=True,
                        reconnect=True,
                    )
                raise err
            token = resp.access_token
            _login_tokens[key] = token
        client.access_token = token
        client.user_id = config.user_id

    def _forget_login(self) -> None:
        if self.config.access_token is None:
            _login_tokens.pop(self._token_key(), None)

    def _check(self, resp: Any, expected: type, action: str) -> Any:
        if isinstance(resp, expected):
            return resp
        err = classify(resp, action)
        if err.reconnect:
            self._forget_login()
        raise err

    # --- contract -------------------------------------------------------------------------

    def test_connection(self) -> str:
        config = self.config

        async def work(client: AsyncClient) -> str:
            who = self._check(await client.whoami(), WhoamiResponse, "sign-in check")
            if who.user_id != config.user_id:
                raise ConnectorError(
                    f"the token belongs to {who.user_id}, not to {config.user_id}",
                    permanent=True,
                )
            joined = self._check(
                await client.joined_rooms(), JoinedRoomsResponse, "joined rooms"
            ).rooms
            missing = [r.room_id for r in config.rooms if r.room_id not in joined]
            if missing:
                raise ConnectorError(
                    f"{config.user_id} has not joined {', '.join(missing)}: invite it there "
                    "and accept the invitation",
                    permanent=True,
                )
            watched = len(config.rooms) or len(joined)
            return f"Signed in as {who.user_id} on {config.homeserver}; {watched} room(s) watched"

        return self._run(work, "test connection")

    def poll(self, cursor: str) -> tuple[list[InboundMessage], str]:
        config = self.config

        async def work(client: AsyncClient) -> tuple[list[InboundMessage], str]:
            if not cursor:
                # Start from now: one small sync for its token, its events ignored.
                first = self._check(
                    await client.sync(
                        timeout=first_sync_timeout_ms(),
                        sync_filter=FIRST_SYNC_FILTER,
                        full_state=False,
                    ),
                    SyncResponse,
                    "first sync",
                )
                return [], first.next_batch
            resp = self._check(
                await client.sync(
                    # Synapse never caches an empty answer, so polling again with the
                    # same since token always sees new events.
                    timeout=0,
                    since=cursor,
                    sync_filter=SYNC_FILTER,
                    full_state=False,
                ),
                SyncResponse,
                "sync",
            )
            watched = {r.room_id for r in config.rooms}
            roots: dict[tuple[str, str], str] = {}
            messages: list[InboundMessage] = []
            for room_id, room in resp.rooms.join.items():
                if watched and room_id not in watched:
                    continue
                if room.timeline.limited:
                    logger.warning(
                        "matrix %s: more than %d events in %s since the last poll; older "
                        "ones were skipped",
                        self.account.pk,
                        SYNC_FILTER["room"]["timeline"]["limit"],
                        room_id,
                    )
                for event in room.timeline.events:
                    source = getattr(event, "source", None) or {}
                    inbound = await self._to_inbound(client, room_id, source, roots)
                    if inbound is not None:
                        messages.append(inbound)
            return messages, resp.next_batch

        return self._run(work, "poll")

    async def _to_inbound(
        self,
        client: AsyncClient,
        room_id: str,
        event: dict[str, Any],
        roots: dict[tuple[str, str], str],
    ) -> InboundMessage | None:
        if event.get("type") != "m.room.message":
            return None
        sender = event.get("sender", "")
        content = event.get("content") or {}
        if sender == self.config.user_id or content.get("msgtype") not in TEXT_TYPES:
            return None
        relates = content.get("m.relates_to") or {}
        if relates.get("rel_type") == "m.replace":
            return None  # an edit of an earlier message, not a new one
        event_id = event["event_id"]
        reply_to = (relates.get("m.in_reply_to") or {}).get("event_id", "")
        thread_root = relates.get("event_id", "") if relates.get("rel_type") == "m.thread" else ""
        if self.config.room(room_id).public:
            root = sender
        elif thread_root:
            root = thread_root
        elif reply_to:
            root = await self._chain_root(client, room_id, reply_to, roots)
        else:
            root = event_id
        reply_to = reply_to or thread_root
        stamp = event.get("origin_server_ts") or 0
        return InboundMessage(
            external_id=event_id,
            kind=MessageKind.REPLY if reply_to else MessageKind.MENTION,
            author=Author(external_id=sender, handle=sender, display_name=sender),
            text=_strip_reply_fallback(content.get("body", "")),
            created_at=datetime.fromtimestamp(stamp / 1000, tz=UTC),
            thread_id=thread_ref(room_id, root),
            reply_to_id=reply_to,
            raw={"room_id": room_id, "event": event},
        )

    async def _chain_root(
        self, client: AsyncClient, room_id: str, event_id: str, cache: dict[tuple[str, str], str]
    ) -> str:
        """The first event of a chain of replies (or the thread it belongs to)."""
        seen: list[str] = []
        current = event_id
        for _ in range(MAX_REPLY_DEPTH):
            if (room_id, current) in cache:
                current = cache[(room_id, current)]
                break
            seen.append(current)
            resp = await client.room_get_event(room_id, current)
            if not isinstance(resp, RoomGetEventResponse):
                break  # redacted or not visible: the chain stops here
            relates = (resp.event.source.get("content") or {}).get("m.relates_to") or {}
            if relates.get("rel_type") == "m.thread" and relates.get("event_id"):
                current = relates["event_id"]
                break
            parent = (relates.get("m.in_reply_to") or {}).get("event_id")
            if not parent:
                break
            current = parent
        for e in seen:
            cache[(room_id, e)] = current
        return current

    def send(self, message: OutboundMessage) -> Receipt:
        config = self.config
        room_id, root = split_thread(message.thread_id)
        if not room_id:
            room_id = config.publish_room or (config.rooms[0].room_id if config.rooms else "")
        if not room_id:
            raise ConnectorError(
                "no room to post in: set publish_room or list a room", permanent=True
            )
        length = self.effective_limits().message_length
        if len(message.text) > length:
            raise ConnectorError(f"text longer than {length} characters", permanent=True)
        content: dict[str, Any] = {"msgtype": "m.text", "body": message.text}
        relates: dict[str, Any] = {}
        if message.reply_to_id:
            relates["m.in_reply_to"] = {"event_id": message.reply_to_id}
        threaded = root.startswith("$") and not config.room(room_id).public
        if threaded:
            relates.update(
                {
                    "rel_type": "m.thread",
                    "event_id": root,
                    "is_falling_back": not message.reply_to_id,
                }
            )
            relates.setdefault("m.in_reply_to", {"event_id": root})
        if relates:
            content["m.relates_to"] = relates
        if root.startswith("@"):
            content["m.mentions"] = {"user_ids": [root]}

        async def work(client: AsyncClient) -> Receipt:
            resp = self._check(
                await client.room_send(
                    room_id,
                    "m.room.message",
                    content,
                    tx_id=message.idempotency_key,
                    ignore_unverified_devices=True,
                ),
                RoomSendResponse,
                "send",
            )
            thread = message.thread_id if root else thread_ref(room_id, resp.event_id)
            return Receipt(
                external_id=resp.event_id,
                url=f"https://matrix.to/#/{room_id}/{resp.event_id}",
                thread_id=thread,
            )

        return self._run(work, "send")


def _strip_reply_fallback(body: str) -> str:
    """Older clients quote the message answered as '> ' lines before the reply."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:]) or body
