"""The Bluesky connector's pure parts on payloads shaped as the lexicons and docs show them:
threading from reply refs, the notification cursor, the grapheme limit, error classes."""

# ruff: noqa: S101 - pytest asserts (the tests/** rule of pyproject does not reach relais/**/tests)

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from atproto_client.exceptions import (
    BadRequestError,
    InvokeTimeoutError,
    NetworkError,
    RateLimitExceededError,
    RequestException,
    UnauthorizedError,
)
from atproto_client.models.common import XrpcError
from atproto_client.request import Response

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.connectors.bluesky.config import load_config
from relais.connectors.bluesky.connector import (
    REASON_KINDS,
    BlueskyConnector,
    classify,
    decode_cursor,
    grapheme_length,
    notifications_since,
    post_url,
    to_inbound,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _page() -> dict:
    return json.loads((FIXTURES / "list_notifications.json").read_text())


def _inbound(page: dict, cursor: str = ""):
    fresh, next_cursor, _ = notifications_since([page], cursor)
    messages = [
        to_inbound(
            uri=n.uri,
            author=n.author,
            record_data=n.record,
            indexed_at=n.indexed_at,
            kind=REASON_KINDS[n.reason],
            reach={"did:plc:maellecitizen000000000000": 42},
            raw=n.raw,
        )
        for n in fresh
        if n.reason in REASON_KINDS
    ]
    return {m.external_id.rsplit("/", 1)[1]: m for m in messages}, next_cursor


def test_notifications_become_threaded_messages():
    messages, cursor = _inbound(_page())
    assert set(messages) == {"3lbyann2quote2", "3lbmaelle2reply", "3lbmaelle1ment"}  # no like

    mention = messages["3lbmaelle1ment"]
    assert mention.kind == MessageKind.MENTION
    assert mention.thread_id == mention.external_id  # a new post roots its own thread
    assert mention.reply_to_id == ""
    assert mention.author.external_id == "did:plc:maellecitizen000000000000"
    assert mention.author.handle == "maelle.bsky.social"
    assert mention.author.display_name == "Maëlle"
    assert mention.author.reach == 42
    assert mention.text == "Bonjour 👋 @alpha-transit.fr la C4 circule ce matin ?"
    assert mention.created_at == datetime(2026, 11, 20, 8, 10, tzinfo=UTC)

    reply = messages["3lbmaelle2reply"]
    assert reply.kind == MessageKind.REPLY
    assert reply.thread_id == mention.external_id  # record.reply.root.uri
    assert reply.reply_to_id.endswith("/3lbalpha2answer")  # record.reply.parent.uri
    assert reply.raw["reasonSubject"].endswith("/3lbalpha2answer")  # the payload as sent

    quote = messages["3lbyann2quote2"]
    assert quote.kind == MessageKind.MENTION
    assert quote.thread_id == quote.external_id
    assert quote.author.reach == 0

    assert cursor.split(" ") == [
        "2026-11-20T08:15:04.512Z",
        "at://did:plc:yanncitizen0000000000000/app.bsky.feed.post/3lbyann2quote2",
    ]


def test_the_cursor_returns_nothing_twice_and_keeps_ties():
    page = _page()
    _, cursor = _inbound(page)
    again, same = _inbound(page, cursor)
    assert again == {} and same == cursor

    # Another notification indexed in the very same millisecond as the newest one is new.
    twin = json.loads(json.dumps(page["notifications"][0]))
    twin["uri"] = twin["uri"].replace("3lbyann2quote2", "3lbyann3twin00")
    page["notifications"].insert(0, twin)
    fresh, cursor2 = _inbound(page, cursor)
    assert list(fresh) == ["3lbyann3twin00"]
    assert decode_cursor(cursor2)[1] == {twin["uri"], page["notifications"][1]["uri"]}

    # An older page after a newer cursor: nothing, and the cursor does not go back.
    older = {"notifications": page["notifications"][-1:]}
    assert _inbound(older, cursor2) == ({}, cursor2)


def test_unknown_reasons_and_bad_shapes_are_skipped():
    page = _page()
    page["notifications"].append({"reason": "starterpack-joined", "uri": "at://x"})  # no author
    page["notifications"].append("not an object")
    page["notifications"][2]["reason"] = "verified"
    messages, _ = _inbound(page)
    assert len(messages) == 3


def test_a_mention_inside_a_thread_is_a_reply_in_that_thread():
    item = _page()["notifications"][3]
    item["record"]["reply"] = _page()["notifications"][1]["record"]["reply"]
    fresh, _, _ = notifications_since([{"notifications": [item]}], "")
    message = to_inbound(
        uri=fresh[0].uri,
        author=fresh[0].author,
        record_data=fresh[0].record,
        indexed_at=fresh[0].indexed_at,
        kind=MessageKind.MENTION,
        reach={},
        raw={},
    )
    assert message.kind == MessageKind.REPLY
    assert message.thread_id.endswith("/3lbmaelle1ment")


def test_graphemes_not_code_points():
    assert grapheme_length("é") == 1
    assert grapheme_length("e\u0301") == 1  # e + combining acute
    assert grapheme_length("👩‍👩‍👧") == 1  # ZWJ family
    assert grapheme_length("👍🏽") == 1  # skin tone
    assert grapheme_length("🇫🇷🇧🇪") == 2  # two flags
    assert grapheme_length("❤️") == 1  # variation selector
    assert grapheme_length("Île-de-France 🚇") == 15


def _account(**credentials):
    return SimpleNamespace(
        pk=None,
        config={"service": "http://127.0.0.1:9"},
        credentials={"identifier": "alpha.test", "app_password": "x", **credentials},
    )


def test_the_300_grapheme_limit_is_checked_before_any_network_call():
    connector = BlueskyConnector(_account())
    # 300 emoji families are 300 graphemes but 2,400 code points: accepted by the check
    # (then the closed port answers), 301 are refused permanently.
    with pytest.raises(ConnectorError) as caught:
        connector.send(OutboundMessage(idempotency_key="a", kind=MessageKind.POST, text="🇫🇷" * 301))
    assert caught.value.permanent and "300" in str(caught.value)
    with pytest.raises(ConnectorError) as caught:
        connector.send(OutboundMessage(idempotency_key="b", kind=MessageKind.POST, text="🇫🇷" * 300))
    assert not caught.value.permanent  # got past the limit, to the unreachable server
    assert BlueskyConnector.limits.message_length == 300


def test_direct_messages_are_refused_plainly():
    with pytest.raises(ConnectorError) as caught:
        BlueskyConnector(_account()).send(
            OutboundMessage(idempotency_key="c", kind=MessageKind.DM, text="x", recipient="a.test")
        )
    assert caught.value.permanent and "direct messages" in str(caught.value)


def test_settings_missing_are_named():
    account = SimpleNamespace(pk=1, config={"service": "ftp://x"}, credentials={})
    with pytest.raises(ConnectorError) as caught:
        load_config(account)
    message = str(caught.value)
    assert caught.value.permanent
    assert "identifier" in message and "app_password" in message and "service" in message
    config = load_config(
        SimpleNamespace(
            config={}, credentials={"identifier": "@a.test", "app_password": "sekr-et12-abcd-wxyz"}
        )
    )
    assert config.xrpc_url == "https://bsky.social/xrpc"
    assert config.identifier == "a.test"
    assert "sekr-et12" not in repr(config)


def _response(status: int, error: str = "", message: str = "", **headers: str) -> Response:
    content = XrpcError(error=error, message=message) if error else None
    return Response(success=False, status_code=status, content=content, headers=headers)


def test_errors_are_classified():
    limited = classify(
        RateLimitExceededError(
            _response(429, "RateLimitExceeded", "slow", **{"retry-after": "42"})
        ),
        "posting",
    )
    assert not limited.permanent and limited.retry_after == 42

    reset = int(datetime.now(UTC).timestamp()) + 120
    limited = classify(
        RateLimitExceededError(
            _response(429, "RateLimitExceeded", **{"ratelimit-reset": str(reset)})
        ),
        "posting",
    )
    assert limited.retry_after is not None and 100 < limited.retry_after <= 121

    auth = classify(UnauthorizedError(_response(401, "AuthenticationRequired", "Invalid")), "x")
    assert auth.permanent and auth.reconnect and "AuthenticationRequired: Invalid" in str(auth)
    expired = classify(BadRequestError(_response(400, "ExpiredToken", "Token has expired")), "x")
    assert expired.permanent and expired.reconnect

    bad = classify(BadRequestError(_response(400, "InvalidRequest", "Record/text too long")), "x")
    assert bad.permanent and not bad.reconnect and "Record/text too long" in str(bad)
    gone = classify(RequestException(_response(404, "NotFound", "no such post")), "x")
    assert gone.permanent and "no such post" in str(gone)

    for error in (
        RequestException(_response(500, "InternalServerError")),
        NetworkError(_response(502)),
        NetworkError(),
        InvokeTimeoutError(),
    ):
        temporary = classify(error, "polling")
        assert not temporary.permanent and not temporary.reconnect, error


def test_post_url():
    assert post_url("at://did:plc:abc/app.bsky.feed.post/3lb") == (
        "https://bsky.app/profile/did:plc:abc/post/3lb"
    )
