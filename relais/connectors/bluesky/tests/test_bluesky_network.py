"""The Bluesky connector against a real local network (PLC + PDS + AppView from
@atproto/dev-env): mentions polled into conversations, replies arriving in the right thread,
quotes, facets, a wrong app password, a server that is down."""

# ruff: noqa: S101 - pytest asserts (the tests/** rule of pyproject does not reach relais/**/tests)

from __future__ import annotations

import secrets
from typing import Any

import pytest
from atproto import Client, client_utils, models

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.connectors.bluesky.connector import BlueskyConnector
from relais.connectors.bluesky.tests.conftest import BlueskyPeer, Citizen, free_port, wait_for
from relais.inbox.actions import conversation_reply
from relais.inbox.models import Conversation, Direction, Message


def _account(personas, peer: BlueskyPeer, **overrides: Any) -> ChannelAccount:
    fields: dict[str, Any] = {
        "organization": personas.org,
        "kind": "bluesky",
        "network": "bluesky",
        "handle": peer.org_handle,
        "name": "Alpha on Bluesky",
        "default_team": personas.team_a,
        "config": peer.config(),
        "credentials": peer.credentials(),
    }
    fields.update(overrides)
    return ChannelAccount.objects.create(**fields)


def _mention(citizen: Citizen, peer: BlueskyPeer, before: str, after: str) -> str:
    """A post by `citizen` with a real mention facet of our account; returns its uri."""
    text = (
        client_utils.TextBuilder()
        .text(before)
        .mention(f"@{peer.org_handle}", peer.org_did)
        .text(after)
    )
    return citizen.client.send_post(text).uri


def _notified(peer: BlueskyPeer, uri: str) -> None:
    """Wait until the AppView has turned `uri` into a notification for our account."""

    def seen() -> bool:
        page = peer.org_client.app.bsky.notification.list_notifications(
            models.AppBskyNotificationListNotifications.Params(limit=50)
        )
        return any(n.uri == uri for n in page.notifications)

    wait_for(seen, what=f"notification of {uri}")


def _thread_replies(citizen: Citizen, uri: str, depth: int = 6) -> dict[str, Any]:
    """Every post under `uri`, by uri, as the AppView shows the thread."""
    thread = citizen.client.get_post_thread(uri=uri, depth=depth).thread
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        for child in getattr(node, "replies", None) or []:
            found[child.post.uri] = child.post
            walk(child)

    walk(thread)
    return found


def _poll(account: ChannelAccount) -> int:
    stored = poll_account(account.pk)
    process_pending()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE, account.last_error
    return stored


@pytest.mark.django_db
def test_mention_reply_and_follow_up_in_one_conversation(
    bluesky_peer, personas, django_capture_on_commit_callbacks
):
    peer = bluesky_peer
    maelle = peer.citizens["maelle"]
    account = _account(personas, peer)

    # 1. A citizen mentions us (a real mention facet): polled into a conversation.
    mention_uri = _mention(maelle, peer, "Bonjour ", " la ligne C4 circule ce matin ?")
    _notified(peer, mention_uri)
    assert _poll(account) >= 1
    conversation = Conversation.objects.get(account=account, thread_external_id=mention_uri)
    inbound = conversation.messages.get(external_id=mention_uri)
    assert inbound.direction == Direction.IN
    assert inbound.kind == MessageKind.MENTION
    assert inbound.text == f"Bonjour @{peer.org_handle} la ligne C4 circule ce matin ?"
    assert conversation.contact.handle == maelle.handle
    assert conversation.contact.external_id == maelle.did
    assert conversation.contact.reach == 1  # Yann follows her (getProfiles)
    # The cursor holds: a second poll brings nothing twice.
    assert _poll(account) == 0

    # 2. Our reply, through the product path, arrives under her post.
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Bonjour ! Oui, la C4 circule normalement ce matin.",
        )
    delivery = Delivery.objects.get(pk=reply.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    our_uri = delivery.external_id
    assert our_uri.startswith(f"at://{peer.org_did}/app.bsky.feed.post/")
    replies = wait_for(
        lambda: (r := _thread_replies(maelle, mention_uri)) and our_uri in r and r,
        what="our reply in the thread",
    )
    ours = replies[our_uri]
    assert ours.author.did == peer.org_did
    assert ours.record.text == "Bonjour ! Oui, la C4 circule normalement ce matin."
    assert ours.record.reply.root.uri == mention_uri
    assert ours.record.reply.parent.uri == mention_uri
    assert ours.record.reply.root.cid == ours.record.reply.parent.cid

    # 3. She answers our reply: same conversation, reply_to our post.
    our_ref = models.create_strong_ref(ours)
    root_ref = models.ComAtprotoRepoStrongRef.Main(uri=mention_uri, cid=ours.record.reply.root.cid)
    follow_up = maelle.client.send_post(
        "Merci ! Et pour le retour ce soir ?",
        reply_to=models.AppBskyFeedPost.ReplyRef(root=root_ref, parent=our_ref),
    )
    _notified(peer, follow_up.uri)
    assert _poll(account) == 1
    message = Message.objects.get(account=account, external_id=follow_up.uri)
    assert message.conversation_id == conversation.pk
    assert message.kind == MessageKind.REPLY
    assert message.thread_external_id == mention_uri
    assert message.reply_to_external_id == our_uri

    # 4. Our answer to her follow-up: parent is her reply, root still her first post.
    conversation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        second = conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Retour normal ce soir, dernier départ à 23 h 40.",
        )
    delivery = Delivery.objects.get(pk=second.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    replies = wait_for(
        lambda: (r := _thread_replies(maelle, mention_uri)) and delivery.external_id in r and r,
        what="our second reply in the thread",
    )
    record = replies[delivery.external_id].record
    assert record.reply.root.uri == mention_uri
    assert record.reply.parent.uri == follow_up.uri


@pytest.mark.django_db
def test_quote_of_our_post_is_a_conversation_of_its_own(bluesky_peer, personas):
    peer = bluesky_peer
    yann = peer.citizens["yann"]
    account = _account(personas, peer)
    connector = BlueskyConnector(account)

    # Publishing: a post of ours, then a citizen quotes it.
    receipt = connector.send(
        OutboundMessage(
            idempotency_key="pub-1",
            kind=MessageKind.POST,
            text="Travaux sur la ligne B ce week-end : bus de remplacement.",
        )
    )
    assert receipt.thread_id == receipt.external_id
    ours = wait_for(
        lambda: yann.client.get_posts([receipt.external_id]).posts, what="our post indexed"
    )[0]
    quote = yann.client.send_post(
        "Encore des travaux 🙄",
        embed=models.AppBskyEmbedRecord.Main(record=models.create_strong_ref(ours)),
    )
    _notified(peer, quote.uri)
    _poll(account)
    message = Message.objects.get(account=account, external_id=quote.uri)
    assert message.kind == MessageKind.MENTION
    assert message.text == "Encore des travaux 🙄"
    # A quote starts a thread of its own on Bluesky: our answer goes under the quote.
    assert message.conversation.thread_external_id == quote.uri
    assert message.reply_to_external_id == ""


@pytest.mark.django_db
def test_facets_mentions_links_hashtags_after_accents_and_emoji(bluesky_peer, personas):
    peer = bluesky_peer
    maelle = peer.citizens["maelle"]
    connector = BlueskyConnector(
        _account(personas, peer, config={**peer.config(), "langs": ["fr"]})
    )
    text = (
        f"Île-de-France 🚇👩‍👩‍👧 café ! @{maelle.handle} horaires : "
        "https://example.com/lignes/c4?jour=lundi #grève #C4"
    )
    receipt = connector.send(
        OutboundMessage(idempotency_key="facets-1", kind=MessageKind.POST, text=text)
    )
    record = peer.org_client.get_post(
        receipt.external_id.rsplit("/", 1)[1], profile_identify=peer.org_did
    ).value
    assert record.text == text
    assert record.langs == ["fr"]
    encoded = text.encode("utf-8")
    found = {}
    for facet in record.facets:
        span = encoded[facet.index.byte_start : facet.index.byte_end].decode("utf-8")
        feature = facet.features[0]
        found[span] = feature
    assert found[f"@{maelle.handle}"].did == maelle.did
    assert found["https://example.com/lignes/c4?jour=lundi"].uri == (
        "https://example.com/lignes/c4?jour=lundi"
    )
    assert found["#grève"].tag == "grève"
    assert found["#C4"].tag == "C4"
    assert len(found) == 4


@pytest.mark.django_db
def test_search_finds_posts_for_listening(bluesky_peer, personas):
    peer = bluesky_peer
    yann = peer.citizens["yann"]
    posted = yann.client.send_post("Panne de tramway à Gambetta, quelqu'un sait ?").uri
    connector = BlueskyConnector(_account(personas, peer))

    def found():
        messages, _ = connector.search("tramway")
        return [m for m in messages if m.external_id == posted]

    (message,) = wait_for(found, what="search result")
    assert message.author.handle == yann.handle
    assert message.thread_id == posted
    assert message.raw["uri"] == posted


@pytest.mark.django_db
def test_listening_source_polls_its_searches_into_monitors(bluesky_peer, personas):
    """A listening source on the real network: posts that do not address us, found by the
    account's keyword search, stored once, matched by a monitor, kept out of the inbox."""
    from relais.listening.actions import monitor_create
    from relais.listening.models import MonitorMatch

    peer = bluesky_peer
    word = f"funiculaire{secrets.token_hex(3)}"  # the session's network has other posts
    monitor = monitor_create(membership=personas.admin, name="Funi", query_text=word)
    account = _account(
        personas,
        peer,
        handle="search-funiculaire",
        name="Bluesky search",
        config={**peer.config(), "listening": True, "search": [word]},
    )
    assert poll_account(account.pk) == 0  # nothing posted yet: the first page is empty
    yann, maelle = peer.citizens["yann"], peer.citizens["maelle"]
    first = yann.client.send_post(f"Le {word} est encore en panne ce matin").uri
    unrelated = maelle.client.send_post("Rien à voir, beau temps à Rennes").uri

    def polled(uri: str):
        ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
        poll_account(account.pk)
        return Message.objects.filter(external_id=uri).first() or (
            process_pending() and Message.objects.filter(external_id=uri).first()
        )

    message = wait_for(lambda: polled(first), what="the first post found by search")
    process_pending()
    assert message.author.handle == yann.handle
    assert MonitorMatch.objects.filter(monitor=monitor, message=message).exists()
    assert not Message.objects.filter(external_id=unrelated).exists()
    assert message.conversation.status == "closed"  # listening: not in the inbox's queue
    # Polling again finds the same post: stored once, and the cursor has moved.
    ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
    assert poll_account(account.pk) == 0
    second = maelle.client.send_post(f"#{word} toujours à l'arrêt, une info ?").uri
    found = wait_for(lambda: polled(second), what="the second post found by search")
    process_pending()
    assert Message.objects.filter(external_id__in=[first, second]).count() == 2
    assert MonitorMatch.objects.filter(monitor=monitor).count() == 2
    assert found.author.handle == maelle.handle


@pytest.mark.django_db
def test_test_connection_names_the_account(bluesky_peer, personas):
    connector = BlueskyConnector(_account(personas, bluesky_peer))
    result = connector.test_connection()
    assert f"@{bluesky_peer.org_handle}" in result
    assert bluesky_peer.org_did in result


@pytest.mark.django_db
def test_wrong_app_password_marks_the_account_to_reconnect(bluesky_peer, personas):
    account = _account(
        personas,
        bluesky_peer,
        credentials={"identifier": bluesky_peer.org_handle, "app_password": "aaaa-bbbb-cccc-dddd"},
    )
    with pytest.raises(ConnectorError) as caught:
        BlueskyConnector(account).test_connection()
    assert caught.value.permanent and caught.value.reconnect
    assert "app password" in str(caught.value)

    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT
    assert "Invalid identifier or password" in account.last_error


@pytest.mark.django_db
def test_server_down_is_temporary_and_the_account_recovers(bluesky_peer, personas):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    account = _account(personas, bluesky_peer, config={"service": closed, "timeout": 3})
    with pytest.raises(ConnectorError) as caught:
        BlueskyConnector(account).poll("")
    assert not caught.value.permanent and not caught.value.reconnect
    assert "unreachable" in str(caught.value)

    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ERROR
    assert "unreachable" in account.last_error

    # The network comes back: the next poll clears the error by itself.
    account.config = bluesky_peer.config()
    account.polled_at = None
    account.save(update_fields=["config", "polled_at"])
    poll_account(account.pk)
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert account.last_error == ""


@pytest.mark.django_db
def test_revoked_app_password_marks_the_account_to_reconnect(bluesky_peer, personas, monkeypatch):
    peer = bluesky_peer
    server = peer.org_client.com.atproto.server
    password = server.create_app_password(
        models.ComAtprotoServerCreateAppPassword.Data(name="revoked-in-a-test")
    ).password
    account = _account(
        personas, peer, credentials={"identifier": peer.org_handle, "app_password": password}
    )
    _poll(account)  # signed in, the session kept for the next polls

    server.revoke_app_password(
        models.ComAtprotoServerRevokeAppPassword.Data(name="revoked-in-a-test")
    )
    # An access token stays valid until it expires (minutes): make the kept session look
    # expired, so that the SDK refreshes it, which the PDS refuses after the revocation;
    # the connector then signs in again with the app password, refused too.
    monkeypatch.setattr(Client, "_should_refresh_session", lambda self: True)
    account.polled_at = None
    account.save(update_fields=["polled_at"])
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT, account.last_error
    assert "app password" in account.last_error
