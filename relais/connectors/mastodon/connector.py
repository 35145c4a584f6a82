"""The Mastodon connector: mentions and direct messages from the notifications API, replies
that keep the visibility of what they answer, and posts, through Mastodon.py.

The cursor is the id of the newest notification seen (Mastodon's since_id/min_id). A
status's thread root is the first of its ancestors (GET /api/v1/statuses/:id/context),
cached per process. Replies start with the @acct of the person answered, as Mastodon
requires for them to be notified (and, for direct messages, to see the reply at all).
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, TypeVar

from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)

from relais.channels.contract import (
    Attachment,
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
from relais.connectors.mastodon.config import MastodonConfig, load_config

T = TypeVar("T")

PAGE = 40  # Mastodon's maximum page of notifications
MAX_PAGES = 10  # per poll; the cursor resumes where a long backlog stopped
# Mention notifications carry public, unlisted, private and direct statuses alike.
NOTIFICATION_TYPES = ["mention"]
ROOT_CACHE_SIZE = 5000
_roots: OrderedDict[tuple[str, str], str] = OrderedDict()  # (instance, status id) → root id

# Mastodon counts a mention as its username only, whatever the domain.
_MENTION_DOMAIN = re.compile(r"(@[A-Za-z0-9_]+)@[A-Za-z0-9.-]+\w")


def counted_length(text: str) -> int:
    return len(_MENTION_DOMAIN.sub(r"\1", text))


class _TextExtractor(HTMLParser):
    """Mastodon serves statuses as HTML: paragraphs and line breaks become new lines."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    if "<" not in html:
        return html
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts).strip()


def _id_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if obj is None:
        return default
    try:
        value = obj[key]
    except (KeyError, TypeError, IndexError):
        value = getattr(obj, key, default)
    return default if value is None else value


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(tz=UTC)


def _plain(obj: Any) -> Any:
    """Mastodon.py's attribute dicts (with datetimes) → JSON-ready data for `raw`."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


class MastodonConnector(Connector):
    kind = "mastodon"
    label = "Mastodon"
    capabilities = frozenset(
        {
            Capability.POLL,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.DIRECT_MESSAGE,
            # Mastodon keeps Idempotency-Key for an hour on POST /api/v1/statuses.
            Capability.IDEMPOTENT_SEND,
        }
    )
    limits = Limits(message_length=500, direct_message_length=500, media_per_message=0)

    def __init__(self, account: Any):
        super().__init__(account)
        self._config: MastodonConfig | None = None
        self._api: Mastodon | None = None

    @property
    def config(self) -> MastodonConfig:
        if self._config is None:
            self._config = load_config(self.account)
        return self._config

    @property
    def api(self) -> Mastodon:
        if self._api is None:
            config = self.config
            self._api = Mastodon(
                access_token=config.access_token.get_secret_value(),
                api_base_url=config.api_base_url,
                request_timeout=config.request_timeout,
                # Never sleep in a worker: a rate limit becomes retry_after for the caller.
                ratelimit_method="throw",
                version_check_mode="none",
            )
        return self._api

    def effective_limits(self) -> Limits:
        try:
            n = self.config.max_characters
        except ConnectorError:
            return self.limits
        return Limits(message_length=n, direct_message_length=n)

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except MastodonError as exc:
            raise self._classify(exc, action) from exc

    def _classify(self, exc: MastodonError, action: str) -> ConnectorError:
        where = self.config.api_base_url
        if isinstance(exc, MastodonRatelimitError):
            reset = getattr(self.api, "ratelimit_reset", None)
            wait = (reset - time.time()) if reset else 0.0
            return ConnectorError(
                f"Mastodon rate limit on {where} during {action}",
                retry_after=max(wait, 1.0) if reset else 60.0,
            )
        if isinstance(exc, MastodonUnauthorizedError):
            return ConnectorError(
                f"Mastodon refused the access token on {where} ({action}): {_api_message(exc)}",
                permanent=True,
                reconnect=True,
            )
        if isinstance(exc, MastodonNotFoundError):
            return ConnectorError(
                f"Mastodon {action}: not found on {where}: {_api_message(exc)}", permanent=True
            )
        if isinstance(exc, MastodonServerError):
            return ConnectorError(
                f"Mastodon {action}: server error on {where}: {_api_message(exc)}"
            )
        if isinstance(exc, MastodonNetworkError):
            return ConnectorError(f"Mastodon {action}: {where} unreachable: {exc}")
        if isinstance(exc, MastodonAPIError):
            status = exc.args[1] if len(exc.args) > 1 else None
            message = f"Mastodon {action} refused ({status}): {_api_message(exc)}"
            if status == 403:
                # Revoked scopes, a suspended or disabled login: a person must reconnect.
                return ConnectorError(message, permanent=True, reconnect=True)
            if status in (408, 409):
                return ConnectorError(message)
            return ConnectorError(message, permanent=True)
        if isinstance(exc, MastodonIllegalArgumentError | MastodonVersionError):
            return ConnectorError(f"Mastodon {action}: {exc}", permanent=True)
        return ConnectorError(f"Mastodon {action}: {type(exc).__name__}: {exc}")

    # --- contract -------------------------------------------------------------------------

    def test_connection(self) -> str:
        me = self._call("sign-in check", self.api.account_verify_credentials)
        try:
            instance = self._call("instance check", self.api.instance_v1)
        except ConnectorError:
            instance = self._call("instance check", self.api.instance_v2)
        allowed = _get(_get(_get(instance, "configuration"), "statuses"), "max_characters")
        configured = self.config.max_characters
        if allowed and configured > int(allowed):
            raise ConnectorError(
                f"signed in as @{_get(me, 'acct')}, but this instance allows {allowed} "
                f"characters per status: set max_characters to {allowed} (now {configured})",
                permanent=True,
            )
        return (
            f"Signed in as @{_get(me, 'acct')} on {self.config.api_base_url}; "
            f"{configured} characters per status (the instance allows {allowed or 'unknown'})"
        )

    def poll(self, cursor: str) -> tuple[list[InboundMessage], str]:
        notifications: dict[str, Any] = {}
        newest = cursor
        for _ in range(MAX_PAGES):
            page = self._notifications_page(newest)
            for n in page or []:
                notifications[str(n["id"])] = n
            if not page:
                break
            newest = max((str(n["id"]) for n in page), key=_id_key)
            if not cursor or len(page) < PAGE:
                # First poll: the latest page only, not the whole history.
                break
        messages = []
        for nid in sorted(notifications, key=_id_key):
            status = _get(notifications[nid], "status")
            if status is not None:
                messages.append(self._to_inbound(status))
        return messages, newest or ""

    def _notifications_page(self, after: str) -> list[Any]:
        return self._call(
            "notifications",
            lambda: self.api.notifications(
                types=NOTIFICATION_TYPES, min_id=after or None, limit=PAGE
            ),
        )

    def _thread_root(self, status: Any) -> str:
        status_id = str(status["id"])
        parent = _get(status, "in_reply_to_id")
        if not parent:
            return status_id
        key = (self.config.api_base_url, str(parent))
        if key in _roots:
            _roots.move_to_end(key)
            return _roots[key]
        try:
            context = self._call("thread lookup", lambda: self.api.status_context(status_id))
            ancestors = _get(context, "ancestors", [])
        except ConnectorError as exc:
            if exc.permanent and not exc.reconnect:
                ancestors = []  # the parent was deleted or is hidden from us
            else:
                raise
        root = str(ancestors[0]["id"]) if ancestors else str(parent)
        _roots[key] = root
        while len(_roots) > ROOT_CACHE_SIZE:
            _roots.popitem(last=False)
        return root

    def _to_inbound(self, status: Any) -> InboundMessage:
        account = _get(status, "account", {})
        visibility = _get(status, "visibility", "public")
        reply_to = str(_get(status, "in_reply_to_id", "") or "")
        if visibility == "direct":
            kind = MessageKind.DM
        elif reply_to:
            kind = MessageKind.REPLY
        else:
            kind = MessageKind.MENTION
        return InboundMessage(
            external_id=str(status["id"]),
            kind=kind,
            author=Author(
                external_id=str(_get(account, "id", "")),
                handle=str(_get(account, "acct", "")),
                display_name=str(_get(account, "display_name", "")),
                reach=int(_get(account, "followers_count", 0) or 0),
                avatar_url=str(_get(account, "avatar", "")),
            ),
            text=html_to_text(str(_get(status, "content", ""))),
            created_at=_time(_get(status, "created_at")),
            thread_id=self._thread_root(status),
            reply_to_id=reply_to,
            attachments=tuple(
                Attachment(
                    url=str(_get(m, "url", "")),
                    mime_type=str(_get(m, "type", "")),
                    description=str(_get(m, "description", "")),
                )
                for m in _get(status, "media_attachments", [])
            ),
            raw={"status": _plain(status)},
        )

    def send(self, message: OutboundMessage) -> Receipt:
        text = message.text
        visibility = "direct" if message.kind == MessageKind.DM else "public"
        in_reply_to = message.reply_to_id or None
        mention = ""
        if in_reply_to:
            parent = self._call("reply lookup", lambda: self.api.status(in_reply_to))
            mention = str(_get(_get(parent, "account"), "acct", ""))
            parent_visibility = _get(parent, "visibility", "public")
            # Direct stays direct, followers-only stays followers-only; a public thread
            # is answered publicly unless we were asked for a private message.
            if visibility != "direct":
                visibility = parent_visibility
        elif message.kind == MessageKind.DM:
            mention = message.recipient.lstrip("@")
            if not mention:
                raise ConnectorError("a direct message needs a recipient", permanent=True)
        if mention and f"@{mention}".lower() not in text.lower():
            text = f"@{mention} {text}"
        limit = self.config.max_characters
        if counted_length(text) > limit:
            raise ConnectorError(
                f"the status is {counted_length(text)} characters long; the limit is {limit}",
                permanent=True,
            )
        status = self._call(
            "post",
            lambda: self.api.status_post(
                text,
                in_reply_to_id=in_reply_to,
                visibility=visibility,
                idempotency_key=message.idempotency_key,
            ),
        )
        status_id = str(status["id"])
        return Receipt(
            external_id=status_id,
            url=str(_get(status, "url", "") or _get(status, "uri", "")),
            thread_id=message.thread_id
            or (self._thread_root(status) if in_reply_to else status_id),
        )


def _api_message(exc: MastodonError) -> str:
    # MastodonAPIError args: (text, status code, reason, the server's error message)
    args = exc.args
    if len(args) >= 4 and args[3]:
        return str(args[3])
    if len(args) >= 3 and args[2]:
        return str(args[2])
    return str(exc)
