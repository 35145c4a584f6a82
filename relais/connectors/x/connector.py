"""X (formerly Twitter) through API v2 with tweepy: mentions and direct messages by polling,
the Account Activity webhook (CRC, signed events) where the plan allows it, replies, posts,
direct messages and deletion; recent search for the listening part."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
import tweepy

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
from relais.common.http import USER_AGENT
from relais.common.timeutils import parse_iso
from relais.connectors.x.config import XConfig, load_config

logger = logging.getLogger(__name__)

TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "created_at",
    "in_reply_to_user_id",
    "referenced_tweets",
]
USER_FIELDS = ["username", "name", "public_metrics", "profile_image_url"]
DM_FIELDS = ["id", "text", "event_type", "dm_conversation_id", "created_at", "sender_id"]
MAX_PAGES = 5  # per poll: 500 mentions at most, the rest on the next poll
DEFAULT_RATE_LIMIT_WAIT = 900.0  # X's windows are 15 minutes
# 403s that mean the credentials (not the content) are refused.
AUTH_PROBLEMS = ("unsupported-authentication", "client-forbidden", "token", "oauth", "suspended")


def _session() -> requests.Session:
    """The requests session tweepy uses; the tests replace it with recorded answers."""
    return requests.Session()


def crc_response_token(consumer_secret: str, crc_token: str) -> str:
    digest = hmac.new(consumer_secret.encode(), crc_token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def classify(exc: Exception) -> ConnectorError:
    """Map tweepy's and requests' errors onto the contract's one error."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, tweepy.TooManyRequests):
        return ConnectorError(
            f"X rate limit reached: {exc}", retry_after=_retry_after(exc.response)
        )
    if isinstance(exc, tweepy.Unauthorized):
        return ConnectorError(
            f"X refused the credentials ({exc}); the token was revoked or is wrong: "
            "reconnect the account",
            permanent=True,
            reconnect=True,
        )
    if isinstance(exc, tweepy.Forbidden):
        text = f"{exc} {exc.response.text}".lower()
        if any(problem in text for problem in AUTH_PROBLEMS):
            return ConnectorError(
                f"X refused the app or token ({exc}): reconnect the account or check the "
                "app's access level",
                permanent=True,
                reconnect=True,
            )
        return ConnectorError(f"X refused the request: {exc}", permanent=True)
    if isinstance(exc, tweepy.TwitterServerError):
        return ConnectorError(f"X server error: {exc}")
    if isinstance(exc, tweepy.HTTPException):
        return ConnectorError(f"X refused the request: {exc}", permanent=True)
    if isinstance(exc, requests.Timeout):
        return ConnectorError(f"X did not answer in time: {exc}")
    if isinstance(exc, requests.RequestException):
        return ConnectorError(f"X unreachable: {exc}")
    if isinstance(exc, tweepy.TweepyException):
        return ConnectorError(f"X client error: {exc}")
    raise exc


def _retry_after(response: requests.Response) -> float:
    retry = response.headers.get("retry-after", "")
    if retry.isdigit():
        return float(retry)
    reset = response.headers.get("x-rate-limit-reset", "")
    if reset.isdigit():
        return max(float(reset) - time.time(), 1.0)
    return DEFAULT_RATE_LIMIT_WAIT


def _authors(payload: dict[str, Any]) -> dict[str, Author]:
    authors = {}
    for user in (payload.get("includes") or {}).get("users") or []:
        authors[str(user["id"])] = Author(
            external_id=str(user["id"]),
            handle=user.get("username", ""),
            display_name=user.get("name", ""),
            reach=(user.get("public_metrics") or {}).get("followers_count", 0),
            avatar_url=user.get("profile_image_url", ""),
        )
    return authors


def tweet_to_inbound(tweet: dict[str, Any], authors: dict[str, Author]) -> InboundMessage:
    """A v2 Post object (with conversation_id and referenced_tweets) to an InboundMessage."""
    author_id = str(tweet.get("author_id", ""))
    replied_to = next(
        (r["id"] for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"),
        "",
    )
    return InboundMessage(
        external_id=str(tweet["id"]),
        kind=MessageKind.REPLY if replied_to else MessageKind.MENTION,
        author=authors.get(author_id) or Author(external_id=author_id, handle=author_id),
        text=tweet.get("text", ""),
        created_at=parse_iso(tweet["created_at"]),
        thread_id=str(tweet.get("conversation_id") or tweet["id"]),
        reply_to_id=str(replied_to),
        raw=tweet,
    )


def _is_repost(tweet: dict[str, Any]) -> bool:
    """A repost of a mention repeats it: nothing to answer."""
    return any(r.get("type") == "retweeted" for r in tweet.get("referenced_tweets") or [])


def _parse_cursor(cursor: str) -> dict[str, str]:
    """'m:<mentions since_id>;d:<newest DM event id>'"""
    parts = {}
    for part in (cursor or "").split(";"):
        key, _, value = part.partition(":")
        if key and value:
            parts[key] = value
    return parts


def _pages(call, *, since_id: str, user_auth: bool, page_param: str):
    """Pages of a v2 timeline or search, newest first, back to `since_id` (at most
    MAX_PAGES); yields (page, is_first). A first read (no since_id) takes one page."""
    token = None
    for number in range(MAX_PAGES):
        params: dict[str, Any] = {
            "max_results": 100,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["author_id"],
            "user_fields": USER_FIELDS,
            "user_auth": user_auth,
        }
        if since_id:
            params["since_id"] = since_id
        if token:
            params[page_param] = token
        page = call(**params)
        yield page, number == 0
        token = (page.get("meta") or {}).get("next_token")
        if not token or not since_id:
            break


class XConnector(Connector):
    kind = "x"
    label = "X"
    capabilities = frozenset(
        {
            Capability.POLL,
            Capability.WEBHOOK,
            Capability.REPLY,
            Capability.PUBLISH,
            Capability.DIRECT_MESSAGE,
            Capability.DELETE,
            Capability.SEARCH,
        }
    )
    # 280 weighted characters (X counts a link as 23, some scripts double); DMs 10,000.
    limits = Limits(message_length=280, direct_message_length=10_000)

    @property
    def config(self) -> XConfig:
        return load_config(self.account)

    def _client(self) -> tweepy.Client:
        config = self.config
        client = tweepy.Client(
            bearer_token=config.bearer_token.get_secret_value() if config.bearer_token else None,
            consumer_key=config.consumer_key.get_secret_value(),
            consumer_secret=config.consumer_secret.get_secret_value(),
            access_token=config.access_token.get_secret_value(),
            access_token_secret=config.access_token_secret.get_secret_value(),
            return_type=dict,
            wait_on_rate_limit=False,  # the delivery path and the poller schedule retries
        )
        client.session = _session()
        client.user_agent = USER_AGENT
        return client

    # -- polling ------------------------------------------------------------------------

    def poll(self, cursor: str) -> tuple[list[InboundMessage], str]:
        state = _parse_cursor(cursor)
        try:
            client = self._client()
            mentions, newest_mention = self._poll_mentions(client, state.get("m", ""))
            dms, newest_dm = (
                self._poll_dms(client, state.get("d", ""))
                if self.config.poll_direct_messages
                else ([], state.get("d", ""))
            )
        except Exception as exc:
            raise classify(exc) from exc
        parts = []
        if newest_mention:
            parts.append(f"m:{newest_mention}")
        if newest_dm:
            parts.append(f"d:{newest_dm}")
        return mentions + dms, ";".join(parts)

    def _poll_mentions(
        self, client: tweepy.Client, since_id: str
    ) -> tuple[list[InboundMessage], str]:
        own = self.config.user_id
        messages: list[InboundMessage] = []
        newest = since_id
        for page, first in _pages(
            lambda **p: client.get_users_mentions(own, **p),
            since_id=since_id,
            user_auth=True,
            page_param="pagination_token",
        ):
            meta = page.get("meta") or {}
            if first and meta.get("newest_id"):
                newest = str(meta["newest_id"])
            authors = _authors(page)
            for tweet in page.get("data") or []:
                if str(tweet.get("author_id")) == own or _is_repost(tweet):
                    continue
                messages.append(tweet_to_inbound(tweet, authors))
        return messages, newest

    def _poll_dms(
        self, client: tweepy.Client, newest_seen: str
    ) -> tuple[list[InboundMessage], str]:
        own = self.config.user_id
        page = client.get_direct_message_events(
            event_types="MessageCreate",
            dm_event_fields=DM_FIELDS,
            expansions=["sender_id"],
            user_fields=USER_FIELDS,
            max_results=100,
            user_auth=True,
        )
        authors = _authors(page)
        seen = int(newest_seen) if newest_seen.isdigit() else 0
        newest = seen
        messages = []
        for event in page.get("data") or []:
            event_id = int(event["id"])
            newest = max(newest, event_id)
            if event_id <= seen or str(event.get("sender_id")) == own:
                continue
            if event.get("event_type") != "MessageCreate":
                continue
            sender = str(event.get("sender_id", ""))
            messages.append(
                InboundMessage(
                    external_id=str(event["id"]),
                    kind=MessageKind.DM,
                    author=authors.get(sender) or Author(external_id=sender, handle=sender),
                    text=event.get("text", ""),
                    created_at=parse_iso(event["created_at"]),
                    thread_id=str(event.get("dm_conversation_id", "")),
                    raw=event,
                )
            )
        return messages, str(newest) if newest else ""

    def search(self, query: str, cursor: str = "") -> tuple[list[InboundMessage], str]:
        """Recent search (last 7 days), for listening: the posts newer than `cursor` (the
        newest id seen), read back page by page to it, and the newest id. A first call
        takes the latest page only."""
        since_id = cursor if cursor.isdigit() else ""
        posts: list[InboundMessage] = []
        newest = since_id
        try:
            client = self._client()
            for page, first in _pages(
                lambda **p: client.search_recent_tweets(query, **p),
                since_id=since_id,
                user_auth=self.config.bearer_token is None,
                page_param="next_token",
            ):
                meta = page.get("meta") or {}
                if first and meta.get("newest_id"):
                    newest = str(meta["newest_id"])
                authors = _authors(page)
                posts.extend(tweet_to_inbound(t, authors) for t in page.get("data") or [])
        except Exception as exc:
            raise classify(exc) from exc
        return posts, newest

    # -- sending ------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> Receipt:
        limit = (
            self.limits.direct_message_length
            if message.kind == MessageKind.DM
            else self.limits.message_length
        ) or self.limits.message_length
        if len(message.text) > limit:
            raise ConnectorError(f"text longer than {limit} characters", permanent=True)
        try:
            client = self._client()
            if message.kind == MessageKind.DM:
                return self._send_dm(client, message)
            if message.kind == MessageKind.REPLY and not message.reply_to_id:
                raise ConnectorError("a reply needs the id of the post answered", permanent=True)
            answer = client.create_tweet(
                text=message.text,
                in_reply_to_tweet_id=message.reply_to_id or None,
                user_auth=True,
            )
        except Exception as exc:
            raise classify(exc) from exc
        post_id = str(answer["data"]["id"])
        return Receipt(
            external_id=post_id,
            url=f"https://x.com/{self.account.handle}/status/{post_id}",
            thread_id=message.thread_id or ("" if message.reply_to_id else post_id),
        )

    def _send_dm(self, client: tweepy.Client, message: OutboundMessage) -> Receipt:
        if message.thread_id:
            answer = client.create_direct_message(
                dm_conversation_id=message.thread_id, text=message.text, user_auth=True
            )
        elif message.recipient:
            user = client.get_user(username=message.recipient.lstrip("@"), user_auth=True)
            participant = (user.get("data") or {}).get("id")
            if not participant:
                raise ConnectorError(f"no X user @{message.recipient}", permanent=True)
            answer = client.create_direct_message(
                participant_id=participant, text=message.text, user_auth=True
            )
        else:
            raise ConnectorError(
                "a direct message needs a conversation or a recipient", permanent=True
            )
        data = answer["data"]
        return Receipt(
            external_id=str(data["dm_event_id"]), thread_id=str(data["dm_conversation_id"])
        )

    def delete(self, external_id: str) -> None:
        """Delete one of our posts."""
        try:
            self._client().delete_tweet(external_id, user_auth=True)
        except Exception as exc:
            raise classify(exc) from exc

    def test_connection(self) -> str:
        config = self.config
        try:
            me = self._client().get_me(user_fields=["username", "name"], user_auth=True)
        except Exception as exc:
            raise classify(exc) from exc
        data = me.get("data") or {}
        if str(data.get("id")) != config.user_id:
            raise ConnectorError(
                f"the tokens belong to @{data.get('username')} ({data.get('id')}), "
                f"not to the configured user_id {config.user_id}",
                permanent=True,
            )
        return f"X account @{data.get('username')} ({data.get('name')}) reachable"

    # -- Account Activity webhook ---------------------------------------------------------

    def webhook_challenge(self, params: dict[str, str]) -> tuple[int, str]:
        """The CRC: answer sha256=base64(HMAC-SHA256(consumer secret, crc_token)) as JSON."""
        crc_token = params.get("crc_token", "")
        if not crc_token:
            raise ConnectorError("crc_token missing", permanent=True)
        token = crc_response_token(self.config.consumer_secret.get_secret_value(), crc_token)
        return 200, json.dumps({"response_token": token})

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> None:
        header = headers.get("x-twitter-webhooks-signature", "")
        if not header.startswith("sha256="):
            raise ConnectorError("missing x-twitter-webhooks-signature header", permanent=True)
        secret = self.config.consumer_secret.get_secret_value().encode()
        expected = (
            "sha256=" + base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        )
        if not hmac.compare_digest(header, expected):
            raise ConnectorError(
                "x-twitter-webhooks-signature does not match the consumer secret", permanent=True
            )

    def parse_webhook(
        self, body: bytes, headers: dict[str, str]
    ) -> list[InboundMessage | DeliveryReport]:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ConnectorError(f"webhook body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConnectorError("webhook body is not a JSON object")
        own = self.config.user_id
        if str(data.get("for_user_id", "")) != own:
            logger.warning(
                "x account %s: event for user %r ignored (ours is %s)",
                self.account.pk,
                data.get("for_user_id"),
                own,
            )
            return []
        items: list[InboundMessage | DeliveryReport] = []
        for key in data:
            if key in ("for_user_id", "user_has_blocked", "users", "apps"):
                continue
            if key == "tweet_create_events":
                for tweet in data[key]:
                    if "retweeted_status" in tweet:
                        continue  # a repost repeats a post: nothing to answer
                    if str((tweet.get("user") or {}).get("id_str")) != own:
                        items.extend(self._guarded(self._v1_tweet, tweet))
            elif key == "direct_message_events":
                users = data.get("users") or {}
                for event in data[key]:
                    items.extend(self._guarded(self._v1_dm, event, users))
            else:
                logger.info("x account %s: webhook event %r ignored", self.account.pk, key)
        return items

    def _guarded(self, parse: Any, *args: Any) -> list[InboundMessage]:
        # One malformed event must not turn the whole delivery into a 500 that X retries
        # for ever: it is logged with its payload and the rest is stored.
        try:
            message = parse(*args)
        except (KeyError, ValueError, TypeError) as exc:
            logger.error(
                "x account %s: malformed event skipped (%r): %s", self.account.pk, exc, args[0]
            )
            return []
        return [message] if message is not None else []

    def _v1_tweet(self, tweet: dict[str, Any]) -> InboundMessage:
        # Account Activity events carry v1.1 tweets: no conversation_id. A reply's root is
        # looked up (GET /2/tweets/:id); without it, the parent stands in for the root.
        user = tweet.get("user") or {}
        text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("text", "")
        parent = tweet.get("in_reply_to_status_id_str") or ""
        root = self._conversation_of(tweet["id_str"]) if parent else tweet["id_str"]
        return InboundMessage(
            external_id=tweet["id_str"],
            kind=MessageKind.REPLY if parent else MessageKind.MENTION,
            author=Author(
                external_id=str(user.get("id_str", "")),
                handle=user.get("screen_name", ""),
                display_name=user.get("name", ""),
                reach=user.get("followers_count", 0),
                avatar_url=user.get("profile_image_url_https", ""),
            ),
            text=text,
            created_at=parsedate_to_datetime(tweet["created_at"]).astimezone(UTC),
            thread_id=root or parent,
            reply_to_id=parent,
            raw=tweet,
        )

    def _conversation_of(self, tweet_id: str) -> str:
        try:
            found = self._client().get_tweet(
                tweet_id, tweet_fields=["conversation_id"], user_auth=True
            )
        except Exception as exc:  # the message is stored anyway, threaded on its parent
            logger.warning(
                "x account %s: conversation of %s unknown: %s", self.account.pk, tweet_id, exc
            )
            return ""
        return str((found.get("data") or {}).get("conversation_id", ""))

    def _v1_dm(self, event: dict[str, Any], users: dict[str, Any]) -> InboundMessage | None:
        if event.get("type") != "message_create":
            logger.info("x account %s: DM event %r ignored", self.account.pk, event.get("type"))
            return None
        create = event.get("message_create") or {}
        sender = str(create.get("sender_id", ""))
        if sender == self.config.user_id:
            return None  # our own message, echoed
        recipient = str((create.get("target") or {}).get("recipient_id", ""))
        user = users.get(sender) or {}
        return InboundMessage(
            external_id=str(event["id"]),
            kind=MessageKind.DM,
            author=Author(
                external_id=sender,
                handle=user.get("screen_name", sender),
                display_name=user.get("name", ""),
                reach=user.get("followers_count", 0),
            ),
            text=(create.get("message_data") or {}).get("text", ""),
            created_at=datetime.fromtimestamp(int(event["created_timestamp"]) / 1000, tz=UTC),
            # A one-to-one conversation's id in API v2 is "<lower id>-<higher id>".
            thread_id="-".join(sorted((sender, recipient), key=int)) if recipient else "",
            raw=event,
        )
