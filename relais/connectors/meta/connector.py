"""Facebook Page comments and posts, Messenger, Instagram comments and direct messages,
through the Meta Graph API: signed webhooks in, Graph API calls out.

One account speaks for one network: network "facebook" takes the webhook object "page"
(feed comments and visitor posts, Messenger), network "instagram" the object "instagram"
(comments, Instagram messaging). Meta lets an app set one callback URL per object, so each
account has its own URL.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from relais.channels.contract import (
    Author,
    Capability,
    Connector,
    ConnectorError,
    DeliveryReport,
    InboundMessage,
    Limits,
    MessageKind,
    OutboundMessage,
    Receipt,
)
from relais.common import http, signing
from relais.common.timeutils import now, parse_iso
from relais.connectors.meta.config import MetaConfig, load_config

logger = logging.getLogger(__name__)

# Graph API error codes (https://developers.facebook.com/docs/graph-api/guides/error-handling)
TOKEN_ERRORS = {190, 102}  # access token expired, revoked or invalid; session key invalid
PERMISSION_ERRORS = {10, *range(200, 300)}  # a permission was removed: a person must re-grant
RATE_LIMIT_ERRORS = {4, 17, 32, 613, 80001, 80002, 80004, 80006}
TRANSIENT_ERRORS = {1, 2}
RATE_LIMIT_DEFAULT_WAIT = 300.0  # Meta gives no reset time for these codes
OUTSIDE_WINDOW_SUBCODE = 2018278  # code 10: "This message is sent outside of allowed window"
UNAVAILABLE = 551  # the person blocked the Page or left
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)

LIMITS = {
    "facebook": Limits(message_length=8_000, direct_message_length=2_000),
    "instagram": Limits(message_length=2_200, direct_message_length=1_000),
}


def _http() -> httpx.Client:
    """The HTTP client; the tests replace it with one on a MockTransport."""
    return http.client()


def _from_epoch(value: Any) -> datetime:
    if isinstance(value, str) and not value.isdigit():
        # Some feed changes carry an ISO time ("2024-11-23T08:20:00+0000").
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)
    seconds = float(value)
    if seconds > 1e11:  # Messenger timestamps are in milliseconds
        seconds /= 1000
    return datetime.fromtimestamp(seconds, tz=UTC)


def graph_error(response: httpx.Response) -> ConnectorError:
    """Classify a Graph API error answer."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = error.get("message") or response.text[:300] or f"HTTP {response.status_code}"
    text = f"Meta: {message} (HTTP {response.status_code}, code {code}"
    text += f", subcode {subcode})" if subcode else ")"
    if code == 10 and subcode == OUTSIDE_WINDOW_SUBCODE:
        return OutsideWindow(f"{text}: the person last wrote more than 24 hours ago")
    if code == UNAVAILABLE:
        return ConnectorError(
            f"{text}: the person cannot receive messages from the Page now", permanent=True
        )
    if code in TOKEN_ERRORS or response.status_code == 401:
        return ConnectorError(
            f"{text}: the access token expired or was revoked; reconnect the account",
            permanent=True,
            reconnect=True,
        )
    if code in PERMISSION_ERRORS:
        return ConnectorError(
            f"{text}: a permission is missing; reconnect the account and grant it",
            permanent=True,
            reconnect=True,
        )
    if response.status_code == 429 or code in RATE_LIMIT_ERRORS:
        return ConnectorError(
            f"{text}: rate limited", retry_after=_retry_after(response) or RATE_LIMIT_DEFAULT_WAIT
        )
    if response.status_code >= 500 or code in TRANSIENT_ERRORS or error.get("is_transient"):
        return ConnectorError(text)
    return ConnectorError(text, permanent=True)


class OutsideWindow(ConnectorError):
    """Messenger and Instagram allow a reply within 24 h of the person's last message (7 days
    with the HUMAN_AGENT tag)."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value and value.isdigit():
        return float(value)
    # X-Business-Use-Case-Usage: {"<id>": [{"estimated_time_to_regain_access": minutes, ...}]}
    usage = response.headers.get("x-business-use-case-usage")
    if usage:
        try:
            minutes = max(
                (u.get("estimated_time_to_regain_access") or 0)
                for entries in json.loads(usage).values()
                for u in entries
            )
        except (ValueError, AttributeError, TypeError):
            return None
        if minutes:
            return float(minutes) * 60
    return None


def verify_signature(app_secret: str, body: bytes, headers: dict[str, str]) -> None:
    """X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>."""
    header = headers.get("x-hub-signature-256", "")
    if not header.startswith("sha256="):
        raise ConnectorError("missing X-Hub-Signature-256 header", permanent=True)
    if not signing.signature_matches(body, app_secret, header):
        raise ConnectorError("X-Hub-Signature-256 does not match the app secret", permanent=True)


def verify_handshake(verify_token: str, params: dict[str, str]) -> tuple[int, str]:
    """GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=… → echo the challenge."""
    if params.get("hub.mode") != "subscribe":
        raise ConnectorError("hub.mode is not 'subscribe'", permanent=True)
    challenge = signing.hub_challenge(verify_token, params)
    if challenge is None:
        raise ConnectorError("hub.verify_token does not match the account's", permanent=True)
    return 200, challenge


class MetaConnector(Connector):
    kind = "meta"
    label = "Facebook / Instagram (Meta)"
    capabilities = frozenset(
        {
            Capability.WEBHOOK,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.DIRECT_MESSAGE,
            Capability.DELETE,
        }
    )
    limits = LIMITS["facebook"]

    def effective_limits(self) -> Limits:
        return LIMITS.get(self.account.network, self.limits)

    @property
    def config(self) -> MetaConfig:
        return load_config(self.account)

    @property
    def is_instagram(self) -> bool:
        return self.account.network == "instagram"

    # -- webhooks ---------------------------------------------------------------------

    def webhook_challenge(self, params: dict[str, str]) -> tuple[int, str]:
        return verify_handshake(self.config.verify_token.get_secret_value(), params)

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> None:
        verify_signature(self.config.app_secret.get_secret_value(), body, headers)

    def parse_webhook(
        self, body: bytes, headers: dict[str, str]
    ) -> list[InboundMessage | DeliveryReport]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ConnectorError(f"webhook body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConnectorError("webhook body is not a JSON object")
        wanted = "instagram" if self.is_instagram else "page"
        obj = data.get("object")
        if obj != wanted:
            logger.warning(
                "meta account %s (%s): webhook object %r ignored, this account takes %r",
                self.account.pk,
                self.account.network,
                obj,
                wanted,
            )
            return []
        items: list[InboundMessage | DeliveryReport] = []
        for entry in data.get("entry") or []:
            for change in entry.get("changes") or []:
                items.extend(self._guarded(self._parse_change, entry, change))
            for event in entry.get("messaging") or []:
                items.extend(self._guarded(self._parse_messaging, event))
        return items

    def _guarded(self, parse: Any, *args: Any) -> list[InboundMessage]:
        # One malformed event must not turn the whole delivery into a 500 that Meta retries
        # and finally disables the subscription for: it is logged and the rest is stored.
        try:
            message = parse(*args)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            logger.error(
                "meta account %s: malformed event skipped (%r): %s", self.account.pk, exc, args[-1]
            )
            return []
        return [message] if message is not None else []

    def _own_ids(self) -> set[str]:
        config = self.config
        return {i for i in (config.page_id, config.instagram_account_id) if i}

    def _parse_change(self, entry: dict[str, Any], change: dict[str, Any]) -> InboundMessage | None:
        field = change.get("field")
        value = change.get("value") or {}
        if field == "feed" and not self.is_instagram:
            return self._parse_feed(value)
        if field == "comments" and self.is_instagram:
            return self._parse_instagram_comment(entry, value)
        logger.info("meta account %s: change field %r ignored", self.account.pk, field)
        return None

    def _parse_feed(self, value: dict[str, Any]) -> InboundMessage | None:
        item, verb = value.get("item"), value.get("verb")
        sender = value.get("from") or {}
        if verb != "add" or item not in ("comment", "post", "status"):
            logger.info("meta account %s: feed %s/%s ignored", self.account.pk, item, verb)
            return None
        if str(sender.get("id", "")) in self._own_ids():
            return None  # our own comment or post, echoed back
        created = value.get("created_time")
        author = Author(
            external_id=str(sender.get("id", "")),
            handle=str(sender.get("id", "")),
            display_name=sender.get("name", ""),
        )
        if item == "comment":
            post_id = str(value.get("post_id", ""))
            return InboundMessage(
                external_id=str(value["comment_id"]),
                kind=MessageKind.REPLY,
                author=author,
                text=value.get("message", ""),
                created_at=_from_epoch(created) if created else datetime.now(tz=UTC),
                thread_id=post_id,
                reply_to_id=str(value.get("parent_id") or post_id),
                raw=value,
            )
        # A visitor's post on the Page: the root of its own thread.
        return InboundMessage(
            external_id=str(value["post_id"]),
            kind=MessageKind.MENTION,
            author=author,
            text=value.get("message", ""),
            created_at=_from_epoch(created) if created else datetime.now(tz=UTC),
            thread_id=str(value["post_id"]),
            raw=value,
        )

    def _parse_instagram_comment(
        self, entry: dict[str, Any], value: dict[str, Any]
    ) -> InboundMessage | None:
        sender = value.get("from") or {}
        if str(sender.get("id", "")) in self._own_ids():
            return None
        media_id = str((value.get("media") or {}).get("id", ""))
        return InboundMessage(
            external_id=str(value["id"]),
            kind=MessageKind.REPLY,
            author=Author(
                external_id=str(sender.get("id", "")),
                handle=sender.get("username", "") or str(sender.get("id", "")),
            ),
            text=value.get("text", ""),
            created_at=_from_epoch(entry.get("time") or datetime.now(tz=UTC).timestamp()),
            thread_id=media_id,
            reply_to_id=str(value.get("parent_id") or media_id),
            raw=value,
        )

    def _parse_messaging(self, event: dict[str, Any]) -> InboundMessage | None:
        message = event.get("message")
        if not message:
            # delivery, read, postback, reaction …: acknowledged, not stored
            logger.info(
                "meta account %s: messaging event without a message ignored (%s)",
                self.account.pk,
                sorted(k for k in event if k not in ("sender", "recipient", "timestamp")),
            )
            return None
        if message.get("is_echo"):
            return None  # what we (or the Page inbox) sent
        sender = str((event.get("sender") or {}).get("id", ""))
        text = message.get("text") or ""
        attachments = message.get("attachments") or []
        if not text and attachments:
            text = " ".join(f"[{a.get('type', 'attachment')}]" for a in attachments)
        return InboundMessage(
            external_id=str(message["mid"]),
            kind=MessageKind.DM,
            # Messenger and Instagram give only a page-scoped id; the name needs a profile
            # call that the lead's lookup_profile may add.
            author=Author(external_id=sender, handle=sender),
            text=text,
            created_at=_from_epoch(event.get("timestamp") or 0),
            reply_to_id=str((message.get("reply_to") or {}).get("mid", "")),
            raw=event,
        )

    # -- sending ----------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        config = self.config
        url = f"{config.graph_url.rstrip('/')}/{config.graph_version}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {config.page_access_token.get_secret_value()}"}
        try:
            with _http() as client:
                response = client.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ConnectorError(f"Meta did not answer in time: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ConnectorError(f"Meta unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise graph_error(response)
        try:
            result = response.json()
        except ValueError as exc:
            raise ConnectorError(f"Meta answered something that is not JSON: {exc}") from exc
        if isinstance(result, dict) and "error" in result:
            raise graph_error(response)
        return result if isinstance(result, dict) else {"data": result}

    def send(self, message: OutboundMessage) -> Receipt:
        limits = self.effective_limits()
        limit = (
            limits.direct_message_length
            if message.kind == MessageKind.DM
            else limits.message_length
        ) or limits.message_length
        if len(message.text) > limit:
            raise ConnectorError(f"text longer than {limit} characters", permanent=True)
        if message.kind == MessageKind.DM:
            return self._send_dm(message)
        if message.kind == MessageKind.POST:
            return self._publish(message)
        if not message.reply_to_id:
            raise ConnectorError("a reply needs the id of the comment answered", permanent=True)
        if self.is_instagram:
            # POST /{ig-comment-id}/replies; Instagram threads one level under the media.
            answer = self._call(
                "POST", f"{message.reply_to_id}/replies", data={"message": message.text}
            )
        else:
            # POST /{object-id}/comments: a comment on a post, or a reply to a comment.
            answer = self._call(
                "POST", f"{message.reply_to_id}/comments", data={"message": message.text}
            )
        return Receipt(external_id=str(answer["id"]), thread_id=message.thread_id)

    def _send_dm(self, message: OutboundMessage) -> Receipt:
        if not message.recipient:
            raise ConnectorError("a direct message needs the recipient's id", permanent=True)
        human_agent = self.config.human_agent_tag
        # The delivery path may tell when the person last wrote (a proposed contract field,
        # see docs/connectors/meta.md); then a closed window is known before calling Meta.
        last = getattr(message, "last_inbound_at", None)
        last_at = parse_iso(last) if isinstance(last, str) and last else None
        if last_at is not None and now() - last_at >= STANDARD_WINDOW:
            if not human_agent or now() - last_at >= HUMAN_AGENT_WINDOW:
                raise self._window_closed(human_agent)
            return self._send_api(message, tagged=True)
        try:
            return self._send_api(message, tagged=False)
        except OutsideWindow:
            if not human_agent:
                raise self._window_closed(human_agent) from None
            return self._send_api(message, tagged=True)

    @staticmethod
    def _window_closed(human_agent: bool) -> OutsideWindow:
        if human_agent:
            return OutsideWindow(
                "Meta allows a reply only within 7 days of the person's last message "
                "(HUMAN_AGENT tag); wait until they write again"
            )
        return OutsideWindow(
            "Meta allows a reply only within 24 hours of the person's last message; with "
            "Meta's Human Agent permission, set human_agent_tag to answer within 7 days"
        )

    def _send_api(self, message: OutboundMessage, *, tagged: bool) -> Receipt:
        body: dict[str, Any] = {
            "recipient": {"id": message.recipient},
            "messaging_type": "RESPONSE",
            "message": {"text": message.text},
        }
        if tagged:
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = "HUMAN_AGENT"
        answer = self._call("POST", "me/messages", json=body)
        return Receipt(external_id=str(answer.get("message_id", "")), thread_id=message.thread_id)

    def _publish(self, message: OutboundMessage) -> Receipt:
        if self.is_instagram:
            raise ConnectorError(
                "Instagram publishing needs an image or video; text-only posts are not possible",
                permanent=True,
            )
        page_id = self.config.page_id
        answer = self._call("POST", f"{page_id}/feed", data={"message": message.text})
        post_id = str(answer["id"])
        return Receipt(
            external_id=post_id, url=f"https://www.facebook.com/{post_id}", thread_id=post_id
        )

    def delete(self, external_id: str) -> None:
        """Delete one of our posts or comments (DELETE /{object-id})."""
        self._call("DELETE", external_id)

    def test_connection(self) -> str:
        config = self.config
        if self.is_instagram:
            if not config.instagram_account_id:
                raise ConnectorError(
                    "instagram_account_id is missing from the account's config", permanent=True
                )
            found = self._call("GET", config.instagram_account_id, params={"fields": "id,username"})
            return f"Instagram account @{found.get('username', '?')} ({found.get('id')}) reachable"
        found = self._call("GET", config.page_id, params={"fields": "id,name"})
        return f"Facebook Page “{found.get('name', '?')}” ({found.get('id')}) reachable"
