# ruff: noqa: S101, S106 - pytest asserts, test tokens; pyproject ignores them only under tests/
"""The Mastodon connector against the mastodon_mock stand-in server (not a real Mastodon)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from relais.channels.contract import Capability, ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.connectors.mastodon.connector import MastodonConnector
from relais.inbox.actions import conversation_reply
from relais.inbox.models import Message


def name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def make_account(personas, mock, bot, **config: Any) -> ChannelAccount:
    # The model field is an encrypted JSON field, typed as text for mypy.
    credentials: Any = {"access_token": config.pop("access_token", bot.access_token)}
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="mastodon",
        network="mastodon",
        handle=bot.username,
        name="Alpha on Mastodon",
        default_team=personas.team_a,
        config={"api_base_url": mock.url, **config},
        credentials=credentials,
    )


def context(mock, user, status_id: str) -> dict[str, Any]:
    return mock.call("GET", f"/api/v1/statuses/{status_id}/context", user.access_token)


def test_a_mention_becomes_a_conversation_and_our_reply_lands_in_its_thread(
    personas, mastodon_mock, django_capture_on_commit_callbacks
):
    bot, citizen = mastodon_mock.user(name("alpha")), mastodon_mock.user(name("maelle"))
    account = make_account(personas, mastodon_mock, bot)
    question = mastodon_mock.post(citizen, f"@{bot.username} Le RER B circule-t-il ?")
    assert poll_account(account.pk) == 1
    process_pending()
    message = Message.objects.get(account=account, external_id=str(question["id"]))
    conversation = message.conversation
    assert conversation.thread_external_id == str(question["id"])
    assert message.text == f"@{bot.username} Le RER B circule-t-il ?"
    assert message.kind == MessageKind.MENTION
    account.refresh_from_db()
    assert account.cursor and account.status == AccountStatus.ACTIVE

    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Oui, trafic normal sur la ligne B.",
        )
    reply.refresh_from_db()
    delivery = Delivery.objects.get(pk=reply.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    # Read back from the server as the citizen: our reply sits under their status,
    # starts with their @acct (so they are notified), and stays public like the question.
    descendants = context(mastodon_mock, citizen, str(question["id"]))["descendants"]
    ours = next(s for s in descendants if str(s["id"]) == delivery.external_id)
    assert str(ours["in_reply_to_id"]) == str(question["id"])
    assert ours["account"]["username"] == bot.username
    assert ours["visibility"] == "public"
    assert f"@{citizen.username} Oui, trafic normal" in ours["content"]
    mentions = mastodon_mock.call(
        "GET", "/api/v1/notifications", citizen.access_token, params={"types[]": "mention"}
    )
    assert delivery.external_id in {str(n["status"]["id"]) for n in mentions}

    # The cursor moved past the mention: nothing new on the next poll.
    assert poll_account(account.pk) == 0


def test_replies_in_a_thread_resolve_to_the_root_and_first_poll_takes_the_recent_page(
    personas, mastodon_mock
):
    bot, citizen = mastodon_mock.user(name("alpha")), mastodon_mock.user(name("yanis"))
    account = make_account(personas, mastodon_mock, bot)
    connector = MastodonConnector(account)
    post = connector.send(
        OutboundMessage(
            idempotency_key=name("k"), kind=MessageKind.POST, text="Travaux ce week-end sur la 4."
        )
    )
    assert post.thread_id == post.external_id
    first = mastodon_mock.post(
        citizen, f"@{bot.username} Quelles stations ?", in_reply_to_id=post.external_id
    )
    second = mastodon_mock.post(
        citizen, f"@{bot.username} Et la navette ?", in_reply_to_id=str(first["id"])
    )
    messages, cursor = connector.poll("")
    by_id = {m.external_id: m for m in messages}
    assert set(by_id) == {str(first["id"]), str(second["id"])}
    assert [m.external_id for m in messages] == [str(first["id"]), str(second["id"])]
    assert by_id[str(second["id"])].thread_id == post.external_id
    assert by_id[str(second["id"])].reply_to_id == str(first["id"])
    assert by_id[str(second["id"])].kind == MessageKind.REPLY
    assert by_id[str(first["id"])].author.handle == citizen.username
    assert connector.poll(cursor) == ([], cursor)

    # Our reply to the second one keeps the thread.
    receipt = connector.send(
        OutboundMessage(
            idempotency_key=name("k"),
            kind=MessageKind.REPLY,
            text="Navette toutes les 10 minutes.",
            reply_to_id=str(second["id"]),
            thread_id=post.external_id,
        )
    )
    assert receipt.thread_id == post.external_id
    ids = {str(s["id"]) for s in context(mastodon_mock, citizen, post.external_id)["descendants"]}
    assert receipt.external_id in ids


def test_a_direct_message_is_answered_directly(
    personas, mastodon_mock, django_capture_on_commit_callbacks
):
    bot, citizen = mastodon_mock.user(name("alpha")), mastodon_mock.user(name("ines"))
    account = make_account(personas, mastodon_mock, bot)
    dm = mastodon_mock.post(
        citizen, f"@{bot.username} Mon pass Navigo a été débité deux fois", visibility="direct"
    )
    assert poll_account(account.pk) == 1
    process_pending()
    message = Message.objects.get(account=account, external_id=str(dm["id"]))
    assert message.kind == MessageKind.DM and message.conversation.is_private

    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=message.conversation,
            membership=personas.agent_a,
            text="Écrivez-nous votre numéro de passe, nous vérifions.",
        )
    reply.refresh_from_db()
    delivery = Delivery.objects.get(pk=reply.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    ours = mastodon_mock.call(
        "GET", f"/api/v1/statuses/{delivery.external_id}", citizen.access_token
    )
    assert ours["visibility"] == "direct"
    assert str(ours["in_reply_to_id"]) == str(dm["id"])
    assert citizen.username in {m["username"] for m in ours["mentions"]}


def test_a_retried_post_with_the_same_key_is_posted_once(personas, mastodon_mock):
    bot = mastodon_mock.user(name("alpha"))
    connector = MastodonConnector(make_account(personas, mastodon_mock, bot))
    assert Capability.IDEMPOTENT_SEND in connector.capabilities
    outbound = OutboundMessage(
        idempotency_key=name("msg-"), kind=MessageKind.POST, text="Info trafic: ligne 1 rétablie."
    )
    assert connector.send(outbound).external_id == connector.send(outbound).external_id
    statuses = mastodon_mock.call("GET", f"/api/v1/accounts/{bot.id}/statuses", bot.access_token)
    assert len(statuses) == 1


def test_too_long_and_limits_follow_the_config(personas, mastodon_mock):
    bot = mastodon_mock.user(name("alpha"))
    account = make_account(personas, mastodon_mock, bot, max_characters=100)
    assert account.message_length == 100
    with pytest.raises(ConnectorError, match="limit is 100") as caught:
        MastodonConnector(account).send(
            OutboundMessage(idempotency_key=name("k"), kind=MessageKind.POST, text="x" * 101)
        )
    assert caught.value.permanent


def test_rate_limit_gives_retry_after_from_the_reset_header(personas, mastodon_mock):
    bot = mastodon_mock.user(name("alpha"))
    connector = MastodonConnector(make_account(personas, mastodon_mock, bot))
    mastodon_mock.fault(
        {"match": {"path": "/api/v1/notifications"}, "effect": {"type": "ratelimit"}, "count": 1}
    )
    try:
        with pytest.raises(ConnectorError) as caught:
            connector.poll("")
    finally:
        mastodon_mock.clear_faults()
    err = caught.value
    assert not err.permanent and not err.reconnect
    assert (
        err.retry_after is not None and 250 < err.retry_after <= 302
    )  # reset = now + 300 (whole seconds)


@pytest.mark.parametrize(
    ("status", "permanent", "reconnect"),
    [(500, False, False), (503, False, False), (403, True, True), (422, True, False)],
)
def test_http_errors_are_classified(personas, mastodon_mock, status, permanent, reconnect):
    bot = mastodon_mock.user(name("alpha"))
    connector = MastodonConnector(make_account(personas, mastodon_mock, bot))
    mastodon_mock.fault(
        {
            "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
            "effect": {
                "type": "status",
                "status": status,
                "body": {"error": "Refusé par le serveur"},
            },
            "count": 1,
        }
    )
    try:
        with pytest.raises(ConnectorError) as caught:
            connector.send(
                OutboundMessage(idempotency_key=name("k"), kind=MessageKind.POST, text="t")
            )
    finally:
        mastodon_mock.clear_faults()
    assert (caught.value.permanent, caught.value.reconnect) == (permanent, reconnect)
    if status == 422:
        assert "Refusé par le serveur" in str(caught.value)


def test_revoked_token_marks_the_account_to_reconnect(personas, mastodon_mock):
    bot = mastodon_mock.user(name("alpha"))
    account = make_account(personas, mastodon_mock, bot, access_token="revoked-token")
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT
    assert "refused the access token" in account.last_error


def test_server_down_is_temporary_and_the_account_recovers(personas, mastodon_mock):
    from .conftest import free_port

    bot = mastodon_mock.user(name("alpha"))
    account = make_account(
        personas,
        mastodon_mock,
        bot,
        api_base_url=f"http://127.0.0.1:{free_port()}",
        request_timeout=5,
    )
    with pytest.raises(ConnectorError) as caught:
        MastodonConnector(account).poll("")
    assert not caught.value.permanent and not caught.value.reconnect
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ERROR and "unreachable" in account.last_error

    account.config = {**account.config, "api_base_url": mastodon_mock.url}
    account.polled_at = None
    account.save(update_fields=["config", "polled_at"])
    poll_account(account.pk)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.last_error == ""


def test_test_connection_reads_the_instance_limit(personas, mastodon_mock):
    bot = mastodon_mock.user(name("alpha"))
    ok = MastodonConnector(make_account(personas, mastodon_mock, bot))
    text = ok.test_connection()
    assert f"@{bot.username}" in text and "allows 500" in text

    too_high = make_account(
        personas, mastodon_mock, mastodon_mock.user(name("beta")), max_characters=5000
    )
    with pytest.raises(ConnectorError, match="set max_characters to 500"):
        MastodonConnector(too_high).test_connection()


def test_missing_settings_are_a_clear_permanent_error(personas):
    account = ChannelAccount.objects.create(
        organization=personas.org, kind="mastodon", network="mastodon", handle="x", name="x"
    )
    with pytest.raises(ConnectorError) as caught:
        MastodonConnector(account).poll("")
    assert caught.value.permanent
    assert "api_base_url" in str(caught.value) and "access_token" in str(caught.value)
