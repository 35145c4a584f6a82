# ruff: noqa: S101 - pytest asserts; pyproject ignores S101 only under tests/
"""Parsing of each m.room.message shape of the specification (no server needed)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from relais.channels.contract import ConnectorError, MessageKind
from relais.connectors.matrix.connector import MatrixConnector, classify, thread_ref

EVENTS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "room_message_events.json").read_text()
)
ROOM = "!jEsUZKDJdhlrceRyVU:example.org"


def connector(public: bool) -> MatrixConnector:
    account = SimpleNamespace(
        pk=1,
        config={
            "homeserver": "http://127.0.0.1:9",
            "user_id": "@relais:example.org",
            "rooms": [{"room_id": ROOM, "public": public}],
        },
        credentials={"access_token": "syt_x"},
    )
    return MatrixConnector(account)


def parse(c: MatrixConnector, name: str):
    return asyncio.run(c._to_inbound(None, ROOM, EVENTS[name], {}))  # type: ignore[arg-type]


def test_citizens_room_threads_per_sender():
    c = connector(public=True)
    plain, reply = parse(c, "plain"), parse(c, "reply")
    assert plain.thread_id == reply.thread_id == thread_ref(ROOM, "@example:example.org")
    assert plain.kind == MessageKind.MENTION and plain.reply_to_id == ""
    assert plain.created_at == datetime.fromtimestamp(1432735824.653, tz=UTC)
    assert reply.kind == MessageKind.REPLY
    assert reply.reply_to_id == "$another_event:example.org"
    assert reply.text == "Bir-Hakeim"


def test_internal_room_follows_the_thread_root():
    msg = parse(connector(public=False), "thread")
    assert msg.thread_id == thread_ref(ROOM, "$root:example.org")
    assert msg.reply_to_id == "$latest_in_thread:example.org"
    assert msg.raw["room_id"] == ROOM


def test_edits_and_our_own_messages_are_not_new_messages():
    c = connector(public=True)
    assert parse(c, "edit") is None
    own = {**EVENTS["plain"], "sender": "@relais:example.org"}
    assert asyncio.run(c._to_inbound(None, ROOM, own, {})) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("errcode", "permanent", "reconnect", "retry_after"),
    [
        ("M_LIMIT_EXCEEDED", False, False, 2.5),
        ("M_UNKNOWN_TOKEN", True, True, None),
        ("M_FORBIDDEN", True, False, None),
        (None, False, False, None),
    ],
)
def test_error_classification(errcode, permanent, reconnect, retry_after):
    resp = SimpleNamespace(status_code=errcode, message="x", retry_after_ms=2500)
    err = classify(resp, "send")
    assert isinstance(err, ConnectorError)
    assert (err.permanent, err.reconnect, err.retry_after) == (permanent, reconnect, retry_after)
