# ruff: noqa: S101, S106 - pytest asserts, test tokens; pyproject ignores them only under tests/
"""A documented mention notification through the connector's parsing (no server needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from relais.channels.contract import MessageKind
from relais.connectors.mastodon import connector as mastodon
from relais.connectors.mastodon.connector import MastodonConnector, counted_length, html_to_text

FIXTURES = Path(__file__).parents[1] / "fixtures"
BASE = "https://mastodon.social"


def test_documented_mention_notification():
    notification = json.loads((FIXTURES / "notification_mention.json").read_text())
    account = SimpleNamespace(
        pk=1, config={"api_base_url": BASE}, credentials={"access_token": "t"}
    )
    # The thread root comes from /statuses/:id/context; here it is known already.
    mastodon._roots[(BASE, "103186038209478945")] = "103186000000000000"
    msg = MastodonConnector(account)._to_inbound(notification["status"])
    assert msg.external_id == "103186126728896492"
    assert msg.kind == MessageKind.REPLY
    assert msg.thread_id == "103186000000000000"
    assert msg.reply_to_id == "103186038209478945"
    assert msg.text == "@trwnh sup!"
    assert msg.author.handle == "zsc" and msg.author.external_id == "971724"
    assert msg.author.reach == 2
    assert msg.created_at == datetime(2019, 11, 23, 7, 49, 1, 940000, tzinfo=UTC)
    assert msg.raw["status"]["uri"].endswith("103186126728896492")


def test_text_helpers():
    assert html_to_text("<p>Bonjour</p><p>Ligne 2<br>ok</p>") == "Bonjour\n\nLigne 2\nok"
    # Mastodon counts a remote mention as its username only.
    assert counted_length("@maelle@piaille.fr salut") == len("@maelle salut")
