"""The Bluesky connector: notifications polled into conversations, posts and threaded replies
with rich-text facets, post search for listening. Talks XRPC through the atproto SDK."""

from __future__ import annotations

import hashlib
import logging
import threading
import unicodedata
from datetime import UTC, datetime
from typing import Any

from atproto import Client, models
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import (
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_client.request import Request
from atproto_core.exceptions import AtProtocolError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
from relais.common.http import USER_AGENT
from relais.common.timeutils import parse_iso
from relais.connectors.bluesky.config import BlueskyConfig, load_config

logger = logging.getLogger(__name__)

# The reasons that are somebody talking to or about us; likes, reposts, follows are not.
REASON_KINDS = {
    "mention": MessageKind.MENTION,
    "reply": MessageKind.REPLY,
    "quote": MessageKind.MENTION,
}
PAGE_SIZE = 50
# A first poll takes one page (no backlog flood); later polls read back to the cursor.
MAX_PAGES = 10
PROFILES_PER_CALL = 25  # app.bsky.actor.getProfiles accepts at most 25 actors
MAX_GRAPHEMES = 300  # app.bsky.feed.post: text maxGraphemes
TOKEN_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}

# Sessions by account, identifier and password: createSession is rate-limited hard on
# bsky.social (30 per 5 minutes, 300 a day), so a poll every minute cannot log in each time.
# A changed password gives another key, hence a fresh login.
_SESSIONS: dict[tuple[Any, str, str, str], str] = {}
_SESSIONS_LOCK = threading.Lock()


# --- the network's JSON, validated at the edge -----------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StrongRef(_Model):
    uri: str
    cid: str


class ReplyRef(_Model):
    root: StrongRef
    parent: StrongRef


class PostRecord(_Model):
    text: str = ""
    created_at: str = Field(default="", alias="createdAt")
    reply: ReplyRef | None = None
    embed: dict[str, Any] | None = None


class ProfileView(_Model):
    did: str
    handle: str
    display_name: str = Field(default="", alias="displayName")
    avatar: str = ""


class Notification(_Model):
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)  # as the network sent it
    uri: str
    cid: str
    author: ProfileView
    reason: str
    record: dict[str, Any]
    indexed_at: str = Field(alias="indexedAt")


class PostView(_Model):
    raw: dict[str, Any] = Field(default_factory=dict, exclude=True)
    uri: str
    cid: str
    author: ProfileView
    record: dict[str, Any]
    indexed_at: str = Field(alias="indexedAt")


# --- pure helpers (tested on recorded payloads) ----------------------------------------------


def grapheme_length(text: str) -> int:
    """User-perceived characters, as Bluesky counts its 300-grapheme limit: combining marks,
    variation selectors, skin tones and ZWJ sequences do not start a new grapheme, and a
    pair of regional indicators is one flag. Close to UAX #29 for text people write."""
    count = 0
    after_joiner = False
    regional_open = False
    for char in text:
        code = ord(char)
        if after_joiner:
            after_joiner = False
            continue
        if code == 0x200D:
            after_joiner = True
            continue
        if (
            unicodedata.category(char) in ("Mn", "Mc", "Me")
            or 0x1F3FB <= code <= 0x1F3FF
            or 0xE0020 <= code <= 0xE007F
        ):
            continue
        if 0x1F1E6 <= code <= 0x1F1FF:
            regional_open = not regional_open
            if not regional_open:
                continue
        else:
            regional_open = False
        count += 1
    return count


def _time(value: str) -> datetime:
    return parse_iso(value).astimezone(UTC)


def encode_cursor(indexed_at: str, uris: list[str]) -> str:
    """`<newest indexedAt> <uri> <uri>…`: the newest time seen and the notifications seen at
    exactly that time, so that a later one indexed in the same millisecond is not lost and
    none is returned twice. Kept under the 500 characters of ChannelAccount.cursor."""
    parts = [indexed_at]
    size = len(indexed_at)
    for uri in uris:
        if size + 1 + len(uri) > 500:
            break
        parts.append(uri)
        size += 1 + len(uri)
    return " ".join(parts)


def decode_cursor(cursor: str) -> tuple[datetime | None, set[str]]:
    if not cursor:
        return None, set()
    first, *uris = cursor.split(" ")
    try:
        return _time(first), set(uris)
    except ValueError:
        logger.warning("bluesky: unreadable cursor %r, starting afresh", cursor)
        return None, set()


def post_url(uri: str) -> str:
    """https://bsky.app/profile/<did>/post/<rkey> for at://<did>/app.bsky.feed.post/<rkey>."""
    rest = uri.removeprefix("at://")
    did, _, tail = rest.partition("/")
    rkey = tail.rpartition("/")[2]
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def quoted_uri(record: PostRecord) -> str:
    """The uri a post quotes (app.bsky.embed.record, or recordWithMedia), or ""."""
    embed = record.embed or {}
    kind = embed.get("$type", "")
    if kind == "app.bsky.embed.record":
        return str((embed.get("record") or {}).get("uri", ""))
    if kind == "app.bsky.embed.recordWithMedia":
        inner = (embed.get("record") or {}).get("record") or {}
        return str(inner.get("uri", ""))
    return ""


def to_inbound(
    *,
    uri: str,
    author: ProfileView,
    record_data: dict[str, Any],
    indexed_at: str,
    kind: MessageKind,
    reach: dict[str, int],
    raw: dict[str, Any],
) -> InboundMessage:
    record = PostRecord.model_validate(record_data)
    if record.reply is not None:
        thread_id, reply_to_id = record.reply.root.uri, record.reply.parent.uri
        if kind == MessageKind.MENTION and not quoted_uri(record):
            # a mention inside somebody's thread is still an answer in that thread
            kind = MessageKind.REPLY
    else:
        thread_id, reply_to_id = uri, ""  # a new post is the root of its own thread
    try:
        created_at = _time(record.created_at) if record.created_at else _time(indexed_at)
    except ValueError:
        created_at = _time(indexed_at)
    return InboundMessage(
        external_id=uri,
        kind=kind,
        author=Author(
            external_id=author.did,
            handle=author.handle,
            display_name=author.display_name,
            reach=reach.get(author.did, 0),
            avatar_url=author.avatar,
        ),
        text=record.text,
        created_at=created_at,
        thread_id=thread_id,
        reply_to_id=reply_to_id,
        raw=raw,
    )


def notifications_since(
    pages: list[dict[str, Any]], cursor: str
) -> tuple[list[Notification], str, bool]:
    """From listNotifications pages (newest first), the notifications newer than `cursor`,
    the next cursor, and whether the cursor was reached (no need for another page).
    Unknown reasons are skipped here, with a log line, by the caller."""
    since, seen_at_since = decode_cursor(cursor)
    fresh: list[Notification] = []
    newest: tuple[datetime, str] | None = None
    newest_uris: list[str] = []
    reached = False
    for page in pages:
        for item in page.get("notifications") or []:
            if not isinstance(item, dict):
                logger.warning("bluesky: notification skipped, not an object: %r", item)
                continue
            try:
                notification = Notification.model_validate({**item, "raw": item})
            except ValidationError as exc:
                logger.warning("bluesky: notification skipped, unexpected shape: %s", exc)
                continue
            t = _time(notification.indexed_at)
            if newest is None or t > newest[0]:
                newest, newest_uris = (t, notification.indexed_at), [notification.uri]
            elif t == newest[0]:
                newest_uris.append(notification.uri)
            if since is not None and (
                t < since or (t == since and notification.uri in seen_at_since)
            ):
                reached = True
                continue
            fresh.append(notification)
    if newest is None:
        return fresh, cursor, reached
    if since is not None and newest[0] == since:
        newest_uris = sorted(set(newest_uris) | seen_at_since)
    if since is not None and newest[0] < since:
        return fresh, cursor, reached
    return fresh, encode_cursor(newest[1], newest_uris), reached


# --- the connector ----------------------------------------------------------------------------


def _xrpc_error(exc: RequestErrorBase) -> tuple[str, str]:
    """(error name, message) as the network gave them."""
    response = exc.response
    if response is None:
        return "", ""
    content = response.content
    if isinstance(content, XrpcError):
        return content.error or "", content.message or ""
    if isinstance(content, dict):
        return str(content.get("error") or ""), str(content.get("message") or "")
    if isinstance(content, bytes):
        return "", content[:200].decode("utf-8", "replace")
    return "", ""


def classify(exc: Exception, doing: str) -> ConnectorError:
    """An atproto SDK error as the one error type of the contract."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, RateLimitExceededError):
        wait = exc.retry_after
        if wait is None and exc.reset_at is not None:
            wait = max((exc.reset_at - datetime.now(UTC)).total_seconds(), 1.0)
        return ConnectorError(
            f"Bluesky rate limit reached while {doing}; retry in {wait or 60:.0f} s",
            retry_after=wait if wait is not None else 60.0,
        )
    if isinstance(exc, RequestErrorBase):
        status = exc.response.status_code if exc.response is not None else None
        error, message = _xrpc_error(exc)
        detail = ": ".join(p for p in (error, message) if p) or (str(status) if status else "")
        if status is None:  # transport failure: refused, reset, DNS, timeout
            what = "timed out" if isinstance(exc, InvokeTimeoutError) else "unreachable"
            cause = exc.__cause__ or exc.__context__
            return ConnectorError(
                f"Bluesky server {what} while {doing}" + (f" ({cause})" if cause else "")
            )
        if isinstance(exc, UnauthorizedError) or error in TOKEN_ERRORS:
            return ConnectorError(
                f"Bluesky refused the credentials while {doing} ({detail}): "
                "check the identifier and create a new app password",
                permanent=True,
                reconnect=True,
            )
        if status >= 500 or status == 409 or isinstance(exc, NetworkError) and status != 413:
            return ConnectorError(f"Bluesky server error {status} while {doing}: {detail}")
        return ConnectorError(
            f"Bluesky refused the request while {doing} ({status} {detail})", permanent=True
        )
    if isinstance(exc, AtProtocolError | ValidationError):
        return ConnectorError(f"unexpected answer from Bluesky while {doing}: {exc}")
    return ConnectorError(f"{type(exc).__name__} while {doing}: {exc}")


class BlueskyConnector(Connector):
    kind = "bluesky"
    label = "Bluesky"
    capabilities = frozenset(
        {Capability.POLL, Capability.REPLY, Capability.PUBLISH, Capability.SEARCH}
    )
    # 300 graphemes (the app.bsky.feed.post lexicon); no media yet, no DMs (chat.bsky).
    limits = Limits(message_length=MAX_GRAPHEMES, media_per_message=0)

    def text_length(self, text: str) -> int:
        return grapheme_length(text)

    def __init__(self, account: Any):
        super().__init__(account)
        self._client: Client | None = None
        self._session: Session | None = None

    # --- session ---------------------------------------------------------------------------

    @property
    def config(self) -> BlueskyConfig:
        return load_config(self.account)

    def _session_key(self, config: BlueskyConfig) -> tuple[Any, str, str, str]:
        digest = hashlib.sha256(config.app_password.get_secret_value().encode()).hexdigest()
        return (getattr(self.account, "pk", None), config.service, config.identifier, digest)

    def _new_client(self, config: BlueskyConfig) -> Client:
        request = Request(timeout=config.timeout, headers={"User-Agent": USER_AGENT})
        return Client(base_url=config.xrpc_url, request=request)

    def _login(self, *, fresh: bool = False) -> Client:
        """A signed-in client: the session kept from an earlier call when there is one."""
        if self._client is not None and not fresh:
            return self._client
        config = self.config
        key = self._session_key(config)
        client = self._new_client(config)

        def remember(event: SessionEvent, session: Session) -> None:
            with _SESSIONS_LOCK:
                _SESSIONS[key] = session.export()
            self._session = session

        client.on_session_change(remember)
        with _SESSIONS_LOCK:
            kept = None if fresh else _SESSIONS.get(key)
        try:
            if kept:
                client.login(session_string=kept, fetch_bsky_profile=False)
            else:
                client.login(
                    config.identifier,
                    config.app_password.get_secret_value(),
                    fetch_bsky_profile=False,
                )
        except Exception as exc:
            raise classify(exc, f"signing in as {config.identifier} on {config.service}") from exc
        self._session = Session.decode(client.export_session_string())
        self._client = client
        return client

    def _forget_session(self) -> None:
        with _SESSIONS_LOCK:
            _SESSIONS.pop(self._session_key(self.config), None)
        self._client = None
        self._session = None

    def _call(self, doing: str, fn):
        """Run fn(client); a kept session that the server no longer accepts is dropped and
        the call made once more after a fresh login with the app password."""
        client = self._login()
        try:
            return fn(client)
        except Exception as exc:
            error = classify(exc, doing)
            if not error.reconnect:
                raise error from exc
        self._forget_session()
        client = self._login(fresh=True)
        try:
            return fn(client)
        except Exception as exc:
            raise classify(exc, doing) from exc

    @property
    def did(self) -> str:
        self._login()
        if self._session is None:  # _login sets it or raises
            raise ConnectorError("Bluesky session missing after sign-in")
        return self._session.did

    # --- the admin's button ----------------------------------------------------------------

    def test_connection(self) -> str:
        config = self.config
        client = self._login(fresh=True)
        try:
            info = client.com.atproto.server.get_session()
        except Exception as exc:
            raise classify(exc, "reading the session") from exc
        return f"Signed in to {config.service} as @{info.handle} ({info.did})"

    # --- receiving -------------------------------------------------------------------------

    def poll(self, cursor: str) -> tuple[list[InboundMessage], str]:
        pages: list[dict[str, Any]] = []
        page_cursor: str | None = None
        for _ in range(MAX_PAGES):
            # Only the reasons we read, so that a burst of likes does not push a mention
            # past the pages read; filtered here too, for a server that ignores `reasons`.
            params = models.AppBskyNotificationListNotifications.Params(
                limit=PAGE_SIZE, cursor=page_cursor, reasons=sorted(REASON_KINDS)
            )
            response = self._call(
                "reading notifications",
                lambda c, p=params: c.invoke_query("app.bsky.notification.listNotifications", p),
            )
            page = response.content if isinstance(response.content, dict) else {}
            pages.append(page)
            _, _, reached = notifications_since([page], cursor)
            page_cursor = page.get("cursor")
            if reached or not cursor or not page_cursor or not page.get("notifications"):
                break
        fresh, next_cursor, _ = notifications_since(pages, cursor)
        wanted: list[Notification] = []
        seen: set[str] = set()
        me = self.did
        for notification in fresh:
            if notification.reason not in REASON_KINDS:
                logger.debug("bluesky: notification %s skipped", notification.reason)
                continue
            if notification.uri in seen or notification.author.did == me:
                continue
            seen.add(notification.uri)
            wanted.append(notification)
        reach = self._reach({n.author.did for n in wanted})
        messages = []
        for notification in reversed(wanted):  # oldest first
            try:
                messages.append(
                    to_inbound(
                        uri=notification.uri,
                        author=notification.author,
                        record_data=notification.record,
                        indexed_at=notification.indexed_at,
                        kind=REASON_KINDS[notification.reason],
                        reach=reach,
                        raw=notification.raw,
                    )
                )
            except (ValidationError, ValueError) as exc:
                logger.warning("bluesky: %s skipped, unreadable record: %s", notification.uri, exc)
        return messages, next_cursor

    def _reach(self, dids: set[str]) -> dict[str, int]:
        """Followers of each author, in batches of 25 (getProfiles), for this poll only."""
        reach: dict[str, int] = {}
        ordered = sorted(dids)
        for start in range(0, len(ordered), PROFILES_PER_CALL):
            params = models.AppBskyActorGetProfiles.Params(
                actors=ordered[start : start + PROFILES_PER_CALL]
            )
            response = self._call(
                "looking up profiles",
                lambda c, p=params: c.invoke_query("app.bsky.actor.getProfiles", p),
            )
            content = response.content if isinstance(response.content, dict) else {}
            for profile in content.get("profiles") or []:
                reach[str(profile.get("did"))] = int(profile.get("followersCount") or 0)
        return reach

    def lookup_profile(self, handle: str) -> Author | None:
        params = models.AppBskyActorGetProfile.Params(actor=handle.removeprefix("@"))
        try:
            response = self._call(
                "looking up a profile",
                lambda c: c.invoke_query("app.bsky.actor.getProfile", params),
            )
        except ConnectorError as exc:
            if exc.permanent and not exc.reconnect:
                return None
            raise
        data = response.content if isinstance(response.content, dict) else {}
        return Author(
            external_id=str(data.get("did", "")),
            handle=str(data.get("handle", handle)),
            display_name=str(data.get("displayName") or ""),
            reach=int(data.get("followersCount") or 0),
            avatar_url=str(data.get("avatar") or ""),
        )

    def search(self, query: str, cursor: str = "") -> tuple[list[InboundMessage], str]:
        """Listening: posts matching `query` (app.bsky.feed.searchPosts, newest first) that
        were indexed since `cursor` (the newest indexedAt seen), read back page by page to
        it; returns them with the new cursor. A first call takes the latest page only.
        Posts indexed at exactly the cursor's time are returned again: ingest deduplicates
        them, and none indexed in the same millisecond is lost."""
        try:
            since = _time(cursor) if cursor else None
        except ValueError:
            logger.warning("bluesky: search cursor %r unreadable, starting again", cursor)
            since, cursor = None, ""
        posts: list[PostView] = []
        page_cursor: str | None = None
        for _ in range(MAX_PAGES):
            params = models.AppBskyFeedSearchPosts.Params(
                q=query,
                limit=PAGE_SIZE,
                cursor=page_cursor,
                sort="latest",
                since=cursor or None,  # a hint: the loop below does not rely on it
            )
            response = self._call(
                "searching posts",
                lambda c, p=params: c.invoke_query("app.bsky.feed.searchPosts", p),
            )
            content = response.content if isinstance(response.content, dict) else {}
            reached = since is None
            for item in content.get("posts") or []:
                if not isinstance(item, dict):
                    continue
                try:
                    post = PostView.model_validate({**item, "raw": item})
                    indexed = _time(post.indexed_at)
                except (ValidationError, ValueError) as exc:
                    logger.warning("bluesky: search result skipped, unexpected shape: %s", exc)
                    continue
                if since is not None and indexed < since:
                    reached = True
                    continue
                posts.append(post)
            page_cursor = content.get("cursor") or None
            if reached or not page_cursor:
                break
        newest = cursor
        for post in posts:
            if not newest or _time(post.indexed_at) > _time(newest):
                newest = post.indexed_at
        reach = self._reach({p.author.did for p in posts})
        messages = [
            to_inbound(
                uri=post.uri,
                author=post.author,
                record_data=post.record,
                indexed_at=post.indexed_at,
                kind=MessageKind.MENTION,
                reach=reach,
                raw=post.raw,
            )
            for post in posts
            if post.author.did != self.did
        ]
        return messages, newest

    # --- sending ---------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> Receipt:
        if message.kind == MessageKind.DM:
            raise ConnectorError(
                "Bluesky direct messages (chat.bsky) are not supported by this connector",
                permanent=True,
            )
        if message.attachments:
            raise ConnectorError("Bluesky media are not supported yet", permanent=True)
        text = message.text
        if not text.strip():
            raise ConnectorError("empty post", permanent=True)
        length = grapheme_length(text)
        if length > MAX_GRAPHEMES:
            raise ConnectorError(
                f"Bluesky allows {MAX_GRAPHEMES} characters; this post has {length}",
                permanent=True,
            )
        reply_ref = None
        parent_uri = message.reply_to_id or (
            message.thread_id if message.kind == MessageKind.REPLY else ""
        )
        if parent_uri:
            reply_ref = self._reply_ref(parent_uri)
        facets = self._call("resolving mentions", lambda c: c.detect_facets(text))
        me = self.did
        langs = self.config.langs or None
        created = self._call(
            "posting",
            lambda c: c.send_post(
                text=text,
                profile_identify=me,
                reply_to=reply_ref,
                facets=facets or None,
                langs=langs,
            ),
        )
        root = reply_ref.root.uri if reply_ref is not None else created.uri
        return Receipt(external_id=created.uri, url=post_url(created.uri), thread_id=root)

    def _reply_ref(self, parent_uri: str) -> models.AppBskyFeedPost.ReplyRef:
        """root + parent strong refs (uri and cid): the parent as the AppView has it, and
        its own root when it is itself a reply."""
        params = models.AppBskyFeedGetPosts.Params(uris=[parent_uri])
        response = self._call(
            "reading the post answered",
            lambda c: c.invoke_query("app.bsky.feed.getPosts", params),
        )
        content = response.content if isinstance(response.content, dict) else {}
        found = content.get("posts") or []
        if not found:
            raise ConnectorError(
                f"the post answered ({parent_uri}) no longer exists or is not visible",
                permanent=True,
            )
        try:
            parent = PostView.model_validate(found[0])
            record = PostRecord.model_validate(parent.record)
        except ValidationError as exc:
            raise ConnectorError(f"unexpected post from Bluesky: {exc}") from exc
        parent_ref = models.ComAtprotoRepoStrongRef.Main(uri=parent.uri, cid=parent.cid)
        if record.reply is not None:
            root_ref = models.ComAtprotoRepoStrongRef.Main(
                uri=record.reply.root.uri, cid=record.reply.root.cid
            )
        else:
            root_ref = parent_ref
        return models.AppBskyFeedPost.ReplyRef(root=root_ref, parent=parent_ref)
