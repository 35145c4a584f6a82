# ruff: noqa: S101 - pytest asserts; pyproject ignores S101 only under tests/
"""The Matrix connector against a real Synapse: polling, threading, replies, errors."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from nio import AsyncClient, RoomMessagesResponse

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.connectors.matrix.connector import MatrixConnector, thread_ref
from relais.inbox.actions import conversation_reply
from relais.inbox.models import Conversation, Message


def make_account(personas, synapse, rooms: list[dict[str, Any]], **overrides) -> ChannelAccount:
    config = {"homeserver": synapse.url, "user_id": synapse.bot.user_id, "rooms": rooms}
    config.update(overrides.pop("config", {}))
    credentials = overrides.pop("credentials", {"access_token": synapse.bot.access_token})
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="matrix",
        network="matrix",
        handle=f"{synapse.bot.user_id}-{secrets.token_hex(3)}",
        name="Alpha on Matrix",
        default_team=personas.team_a,
        config=config,
        credentials=credentials,
        **overrides,
    )


def read_room(synapse, user, room_id: str, limit: int = 30) -> list[dict[str, Any]]:
    """The room's latest messages as a citizen's own nio client sees them."""

    async def main() -> list[dict[str, Any]]:
        client = AsyncClient(synapse.url, user.user_id)
        client.access_token = user.access_token
        try:
            resp = await client.room_messages(room_id, start="", limit=limit)
            assert isinstance(resp, RoomMessagesResponse), resp
            return [e.source for e in resp.chunk if e.source.get("type") == "m.room.message"]
        finally:
            await client.close()

    return asyncio.run(main())


def test_citizen_message_becomes_a_conversation_and_our_reply_lands_in_the_room(
    personas, synapse, citizens_room, django_capture_on_commit_callbacks
):
    account = make_account(personas, synapse, [{"room_id": citizens_room, "public": True}])
    # The first poll starts from "now": nothing said before is replayed.
    synapse.send_text(synapse.citizen, citizens_room, "old message, before the account existed")
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.cursor and account.status == AccountStatus.ACTIVE

    question = synapse.send_text(synapse.citizen, citizens_room, "Le tram T2 circule-t-il ?")
    assert poll_account(account.pk) == 1
    process_pending()
    message = Message.objects.get(account=account, external_id=question)
    conversation = message.conversation
    assert conversation.thread_external_id == thread_ref(citizens_room, synapse.citizen.user_id)
    assert message.text == "Le tram T2 circule-t-il ?"
    assert not conversation.is_private

    # A second message of the same citizen joins the same conversation.
    follow_up = synapse.send_text(synapse.citizen, citizens_room, "Direction Porte de Versailles")
    assert poll_account(account.pk) == 1
    process_pending()
    assert Message.objects.get(external_id=follow_up).conversation_id == conversation.pk

    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Oui, le T2 circule normalement ce matin.",
        )
    reply.refresh_from_db()
    delivery = Delivery.objects.get(pk=reply.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    seen = {e["event_id"]: e for e in read_room(synapse, synapse.citizen, citizens_room)}
    ours = seen[delivery.external_id]
    assert ours["sender"] == synapse.bot.user_id
    assert ours["content"]["body"] == "Oui, le T2 circule normalement ce matin."
    # Answers the citizen's latest message, and mentions the citizen.
    assert ours["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == follow_up
    assert ours["content"]["m.mentions"] == {"user_ids": [synapse.citizen.user_id]}

    # Our own reply is not polled back in; nothing new means nothing stored.
    assert poll_account(account.pk) == 0
    assert Conversation.objects.filter(account=account).count() == 1


def test_another_citizen_gets_a_conversation_of_their_own(personas, synapse, citizens_room):
    # A new account of the same bot, set up shortly after another one: its first sync must
    # not get Synapse's cached answer to the earlier first sync (an old "now").
    account = make_account(personas, synapse, [{"room_id": citizens_room}])
    connector = MatrixConnector(account)
    _, cursor = connector.poll("")
    # An empty poll, then the same request once messages exist.
    assert connector.poll(cursor) == ([], cursor)
    a = synapse.send_text(synapse.citizen, citizens_room, "Bus 38 en retard ?")
    b = synapse.send_text(synapse.citizen2, citizens_room, "Ascenseur en panne à Nation")
    messages, cursor = connector.poll(cursor)
    by_id = {m.external_id: m for m in messages}
    assert set(by_id) == {a, b}
    assert by_id[a].thread_id == thread_ref(citizens_room, synapse.citizen.user_id)
    assert by_id[b].thread_id == thread_ref(citizens_room, synapse.citizen2.user_id)
    assert by_id[b].author.handle == synapse.citizen2.user_id
    assert by_id[b].kind == MessageKind.MENTION
    assert connector.poll(cursor)[0] == []


def test_crisis_room_follows_threads_and_reply_chains(personas, synapse, crisis_room):
    account = make_account(personas, synapse, [{"room_id": crisis_room, "public": False}])
    connector = MatrixConnector(account)
    _, cursor = connector.poll("")
    root = synapse.send_text(synapse.citizen2, crisis_room, "Incident ligne 4: colis suspect")
    in_thread = synapse.send_text(
        synapse.citizen2,
        crisis_room,
        "Trafic interrompu entre Montparnasse et Châtelet",
        {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    )
    reply = synapse.send_text(
        synapse.citizen2,
        crisis_room,
        "> <@x> colis\n\nLevée de doute en cours",
        {"m.in_reply_to": {"event_id": root}},
    )
    reply_of_reply = synapse.send_text(
        synapse.citizen2, crisis_room, "Fin d'alerte", {"m.in_reply_to": {"event_id": reply}}
    )
    messages, cursor = connector.poll(cursor)
    by_id = {m.external_id: m for m in messages}
    assert by_id[root].thread_id == thread_ref(crisis_room, root)
    assert by_id[root].reply_to_id == ""
    assert by_id[in_thread].thread_id == thread_ref(crisis_room, root)
    assert by_id[in_thread].reply_to_id == root
    assert by_id[reply].thread_id == thread_ref(crisis_room, root)
    assert by_id[reply].text == "Levée de doute en cours"  # the quoted fallback is dropped
    assert by_id[reply_of_reply].thread_id == thread_ref(crisis_room, root)
    assert by_id[reply_of_reply].reply_to_id == reply
    assert by_id[reply_of_reply].kind == MessageKind.REPLY

    # Our answer goes into the Matrix thread, quoting the message answered.
    receipt = connector.send(
        OutboundMessage(
            idempotency_key=f"k-{secrets.token_hex(6)}",
            kind=MessageKind.REPLY,
            text="Bien reçu, la cellule est informée.",
            reply_to_id=reply_of_reply,
            thread_id=thread_ref(crisis_room, root),
        )
    )
    assert receipt.thread_id == thread_ref(crisis_room, root)
    sent = {e["event_id"]: e for e in read_room(synapse, synapse.citizen2, crisis_room)}
    relates = sent[receipt.external_id]["content"]["m.relates_to"]
    assert relates["rel_type"] == "m.thread" and relates["event_id"] == root
    assert relates["m.in_reply_to"]["event_id"] == reply_of_reply
    assert connector.poll(cursor)[0] == []


def test_a_retried_send_with_the_same_key_posts_once(personas, synapse, citizens_room):
    account = make_account(personas, synapse, [{"room_id": citizens_room}])
    connector = MatrixConnector(account)
    outbound = OutboundMessage(
        idempotency_key=f"msg-1-{secrets.token_hex(6)}",
        kind=MessageKind.POST,
        text=f"Information trafic {secrets.token_hex(4)}",
    )
    first = connector.send(outbound)
    again = MatrixConnector(account).send(outbound)
    assert first.external_id == again.external_id
    bodies = [e["content"].get("body") for e in read_room(synapse, synapse.citizen, citizens_room)]
    assert bodies.count(outbound.text) == 1
    assert first.thread_id == thread_ref(citizens_room, first.external_id)


def test_wrong_token_marks_the_account_to_reconnect(personas, synapse, citizens_room):
    account = make_account(
        personas,
        synapse,
        [{"room_id": citizens_room}],
        credentials={"access_token": "syt_revoked_or_wrong"},
    )
    with pytest.raises(ConnectorError) as caught:
        MatrixConnector(account).poll("")
    assert caught.value.reconnect and caught.value.permanent
    assert "M_UNKNOWN_TOKEN" in str(caught.value)
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT
    assert "M_UNKNOWN_TOKEN" in account.last_error


def test_homeserver_down_is_temporary_and_the_account_recovers(personas, synapse, citizens_room):
    from .conftest import free_port

    account = make_account(
        personas,
        synapse,
        [{"room_id": citizens_room}],
        config={"homeserver": f"http://127.0.0.1:{free_port()}", "request_timeout": 5},
    )
    with pytest.raises(ConnectorError) as caught:
        MatrixConnector(account).poll("")
    assert not caught.value.permanent and not caught.value.reconnect
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ERROR and "unreachable" in account.last_error

    # The homeserver is back: the next poll clears the error by itself.
    account.config = {**account.config, "homeserver": synapse.url}
    account.polled_at = None
    account.save(update_fields=["config", "polled_at"])
    poll_account(account.pk)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.last_error == ""


def test_test_connection_says_what_is_wrong(personas, synapse, citizens_room, crisis_room):
    ok = make_account(personas, synapse, [{"room_id": citizens_room}])
    assert synapse.bot.user_id in MatrixConnector(ok).test_connection()

    # Password instead of a token: logs in, keeps the token in memory only.
    by_password = make_account(
        personas, synapse, [], credentials={"password": synapse.bot.password}
    )
    assert "room(s) watched" in MatrixConnector(by_password).test_connection()
    assert "access_token" not in by_password.credentials

    outside = synapse.create_room(synapse.citizen, "Not for the bot", [])
    not_joined = make_account(personas, synapse, [{"room_id": outside}])
    with pytest.raises(ConnectorError, match="has not joined"):
        MatrixConnector(not_joined).test_connection()

    wrong_password = make_account(personas, synapse, [], credentials={"password": "nope"})
    with pytest.raises(ConnectorError, match="login refused") as caught:
        MatrixConnector(wrong_password).test_connection()
    assert caught.value.reconnect


def test_missing_settings_are_a_clear_permanent_error(personas, synapse):
    account = make_account(personas, synapse, [], credentials={}, config={"user_id": "bot"})
    with pytest.raises(ConnectorError) as caught:
        MatrixConnector(account).poll("")
    assert caught.value.permanent
    assert "user_id" in str(caught.value) and "access_token or a password" in str(caught.value)
