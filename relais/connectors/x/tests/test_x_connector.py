"""The X connector on payloads shaped as X documents them (fixtures/README.md): tweepy runs
for real, its requests session answers from the fixtures. Polling and replies go through
the product (poll_account, the pipeline, conversation_reply, the delivery path); the
Account Activity webhook through the shared endpoint."""

# ruff: noqa: S101, S105, S106 - a test module (pyproject's per-file ignores cover tests/ only)

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState, RawEvent
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.connectors.x import connector as xmod
from relais.connectors.x.connector import XConnector, crc_response_token

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ME = "1509930262345678848"
CONSUMER_SECRET = "x-consumer-secret-for-tests"
DM_CONVERSATION = f"1122334455-{ME}"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class FakeX(BaseAdapter):
    """A requests adapter answering X API calls from fixtures; remembers every request."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}
        self.requests: list[requests.PreparedRequest] = []
        self.down = False

    def route(self, method: str, path: str, status: int, body, headers=None) -> None:
        self.routes[(method, path)] = (status, body, headers or {})

    def send(self, request, **kwargs):  # type: ignore[override]
        self.requests.append(request)
        if self.down:
            raise requests.ConnectionError("connection refused")
        path = urlsplit(str(request.url)).path
        status, body, headers = self.routes.get(
            (request.method, path), (404, b'{"title": "Not Found Error", "status": 404}', {})
        )
        if isinstance(body, list):  # pages, one per call
            body = body.pop(0) if len(body) > 1 else body[0]
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers = CaseInsensitiveDict({"content-type": "application/json", **headers})
        response.url = request.url
        response.request = request
        response.reason = "test"
        return response

    def close(self) -> None:
        pass

    def calls(self, method: str, path: str) -> list[requests.PreparedRequest]:
        return [
            r for r in self.requests if r.method == method and urlsplit(str(r.url)).path == path
        ]

    @staticmethod
    def query(request: requests.PreparedRequest) -> dict[str, list[str]]:
        return parse_qs(urlsplit(str(request.url)).query)


@pytest.fixture
def fake_x(monkeypatch) -> FakeX:
    fake = FakeX()

    def session() -> requests.Session:
        s = requests.Session()
        s.mount("https://", fake)
        return s

    monkeypatch.setattr(xmod, "_session", session)
    fake.route("GET", f"/2/users/{ME}/mentions", 200, fixture("mentions.json"))
    fake.route("GET", "/2/dm_events", 200, fixture("dm_events.json"))
    fake.route("POST", "/2/tweets", 201, fixture("create_tweet.json"))
    fake.route(
        "POST", f"/2/dm_conversations/{DM_CONVERSATION}/messages", 201, fixture("create_dm.json")
    )
    return fake


def make_account(personas, handle: str = "metro_lyon", **config: Any) -> ChannelAccount:
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="x",
        network="x",
        handle=handle,
        name="TCL on X",
        config={"user_id": ME, **config},
        credentials={
            "consumer_key": "ck",
            "consumer_secret": CONSUMER_SECRET,
            "access_token": "at",
            "access_token_secret": "ats",
            "bearer_token": "AAAA-bearer",
        },
    )


@pytest.fixture
def account(personas) -> ChannelAccount:
    return make_account(personas)


# -- polling through the product ------------------------------------------------------------


def test_mentions_polled_into_one_thread_and_reply_lands_in_it(
    personas, account, fake_x, django_capture_on_commit_callbacks
):
    from relais.inbox.actions import conversation_reply
    from relais.inbox.models import Conversation, Message

    assert poll_account(account.pk) == 3  # two mentions and one DM; our post and a repost skipped
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE
    assert account.cursor == "m:1860312345678901255;d:1860400000000000002"
    [mentions_call] = fake_x.calls("GET", f"/2/users/{ME}/mentions")
    query = fake_x.query(mentions_call)
    assert "conversation_id" in query["tweet.fields"][0]
    assert query["expansions"] == ["author_id"]
    assert mentions_call.headers["authorization"].startswith("OAuth ")
    process_pending()

    conversation = Conversation.objects.get(account=account, is_private=False)
    assert conversation.thread_external_id == "1860312345678901249"  # the root
    assert conversation.contact.handle == "camille_m" and conversation.contact.reach == 532
    reply_in = Message.objects.get(external_id="1860312345678901250")
    assert reply_in.conversation_id == conversation.pk
    assert reply_in.kind == MessageKind.REPLY
    assert reply_in.reply_to_external_id == "1860312345678901249"
    assert Message.objects.get(external_id="1860312345678901249").kind == MessageKind.MENTION

    with django_capture_on_commit_callbacks(execute=True):
        message = conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Reprise vers 9 h."
        )
    delivery = Delivery.objects.get(pk=message.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    assert delivery.external_id == "1860312399999999999"
    assert delivery.external_url == "https://x.com/metro_lyon/status/1860312399999999999"
    [post] = fake_x.calls("POST", "/2/tweets")
    assert json.loads(post.body) == {
        "text": "Reprise vers 9 h.",
        "reply": {"in_reply_to_tweet_id": "1860312345678901250"},  # the latest in the thread
    }

    # A second poll starts after what it saw and finds nothing new.
    fake_x.route("GET", f"/2/users/{ME}/mentions", 200, fixture("mentions_empty.json"))
    assert poll_account(account.pk) == 0
    second = fake_x.calls("GET", f"/2/users/{ME}/mentions")[-1]
    assert fake_x.query(second)["since_id"] == ["1860312345678901255"]
    account.refresh_from_db()
    assert account.cursor == "m:1860312345678901255;d:1860400000000000002"


def test_direct_message_polled_and_answered_in_its_conversation(
    personas, account, fake_x, django_capture_on_commit_callbacks
):
    from relais.inbox.actions import conversation_reply
    from relais.inbox.models import Conversation

    poll_account(account.pk)
    process_pending()
    conversation = Conversation.objects.get(account=account, is_private=True)
    assert conversation.contact.handle == "louis_b"
    assert conversation.thread_external_id == DM_CONVERSATION
    assert conversation.messages.count() == 1  # our own DM is not an inbound message
    with django_capture_on_commit_callbacks(execute=True):
        message = conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Je regarde votre dossier."
        )
    delivery = Delivery.objects.get(pk=message.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    assert delivery.external_id == "1860400000000000099"
    [sent] = fake_x.calls("POST", f"/2/dm_conversations/{DM_CONVERSATION}/messages")
    assert json.loads(sent.body) == {"text": "Je regarde votre dossier."}


def test_rate_limited_poll_shows_the_error_then_recovers(account, fake_x):
    reset = int(time.time()) + 120
    fake_x.route(
        "GET",
        f"/2/users/{ME}/mentions",
        429,
        fixture("error_429.json"),
        {
            "x-rate-limit-limit": "180",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(reset),
        },
    )
    with pytest.raises(ConnectorError) as caught:
        XConnector(account).poll("")
    assert not caught.value.permanent and 100 < caught.value.retry_after <= 120
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ERROR and "rate limit" in account.last_error
    fake_x.route("GET", f"/2/users/{ME}/mentions", 200, fixture("mentions.json"))
    assert poll_account(account.pk) == 3
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE and account.last_error == ""


def test_network_down_then_back(account, fake_x):
    fake_x.down = True
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.ERROR and "unreachable" in account.last_error
    fake_x.down = False
    assert poll_account(account.pk) == 3
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_revoked_token_marks_the_account_for_reconnection(account, fake_x):
    fake_x.route("GET", f"/2/users/{ME}/mentions", 401, fixture("error_401.json"))
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT and "reconnect" in account.last_error


# -- sending and errors ---------------------------------------------------------------------


def test_post_and_delete(account, fake_x):
    receipt = XConnector(account).send(
        OutboundMessage(idempotency_key="k", kind=MessageKind.POST, text="Trafic normal.")
    )
    assert receipt.external_id == receipt.thread_id == "1860312399999999999"
    assert json.loads(fake_x.calls("POST", "/2/tweets")[0].body) == {"text": "Trafic normal."}
    fake_x.route("DELETE", "/2/tweets/1860312399999999999", 200, b'{"data": {"deleted": true}}')
    XConnector(account).delete("1860312399999999999")
    assert fake_x.calls("DELETE", "/2/tweets/1860312399999999999")


def test_dm_to_a_handle_without_a_conversation(account, fake_x):
    fake_x.route(
        "GET",
        "/2/users/by/username/louis_b",
        200,
        b'{"data": {"id": "1122334455", "name": "Louis B.", "username": "louis_b"}}',
    )
    fake_x.route(
        "POST", "/2/dm_conversations/with/1122334455/messages", 201, fixture("create_dm.json")
    )
    receipt = XConnector(account).send(
        OutboundMessage(
            idempotency_key="k", kind=MessageKind.DM, text="Bonjour", recipient="louis_b"
        )
    )
    assert receipt.thread_id == DM_CONVERSATION


SEND = OutboundMessage(idempotency_key="k", kind=MessageKind.REPLY, text="ok", reply_to_id="1")


@pytest.mark.parametrize(
    ("status", "name", "permanent", "reconnect", "words"),
    [
        (403, "error_403_duplicate.json", True, False, "duplicate content"),
        (403, "error_403_not_enrolled.json", True, True, "reconnect"),
        (401, "error_401.json", True, True, "reconnect"),
        (400, "error_429.json", True, False, "refused"),
        (503, b"", False, False, "server error"),
    ],
)
def test_send_errors_are_classified(account, fake_x, status, name, permanent, reconnect, words):
    body = fixture(name) if name else b'{"title": "Service Unavailable", "status": 503}'
    fake_x.route("POST", "/2/tweets", status, body)
    with pytest.raises(ConnectorError) as caught:
        XConnector(account).send(SEND)
    assert caught.value.permanent is permanent
    assert caught.value.reconnect is reconnect
    assert words in str(caught.value)


def test_send_rate_limited_uses_the_reset_header(account, fake_x):
    fake_x.route(
        "POST",
        "/2/tweets",
        429,
        fixture("error_429.json"),
        {"x-rate-limit-reset": str(int(time.time()) + 60)},
    )
    with pytest.raises(ConnectorError) as caught:
        XConnector(account).send(SEND)
    assert not caught.value.permanent and 50 < caught.value.retry_after <= 60


def test_search_recent_for_listening(account, fake_x):
    fake_x.route("GET", "/2/tweets/search/recent", 200, fixture("search_recent.json"))
    posts, newest = XConnector(account).search("panne métro lyon -is:retweet", "1860")
    assert newest == "1860500000000000001"
    assert posts[0].author.handle == "ana_lyon" and posts[0].thread_id == posts[0].external_id
    [call] = fake_x.calls("GET", "/2/tweets/search/recent")
    assert fake_x.query(call)["query"] == ["panne métro lyon -is:retweet"]
    assert fake_x.query(call)["since_id"] == ["1860"]
    assert call.headers["authorization"] == "Bearer AAAA-bearer"  # app-only search


def test_search_reads_back_page_by_page_to_the_newest_id_seen(account, fake_x):
    def page(ids: list[str], next_token: str | None) -> bytes:
        meta: dict[str, Any] = {"newest_id": ids[0], "result_count": len(ids)}
        if next_token:
            meta["next_token"] = next_token
        data = [
            {
                "id": i,
                "text": f"bombe aéroport {i}",
                "author_id": "998877",
                "created_at": "2024-11-23T07:45:00.000Z",
            }
            for i in ids
        ]
        users = [{"id": "998877", "username": "ana_lyon", "name": "Ana"}]
        return json.dumps({"data": data, "includes": {"users": users}, "meta": meta}).encode()

    fake_x.route(
        "GET", "/2/tweets/search/recent", 200, [page(["30", "29"], "tok"), page(["28"], None)]
    )
    posts, newest = XConnector(account).search("bombe aéroport", "27")
    assert [p.external_id for p in posts] == ["30", "29", "28"] and newest == "30"
    first, second = fake_x.calls("GET", "/2/tweets/search/recent")
    assert "next_token" not in fake_x.query(first)
    assert fake_x.query(second)["next_token"] == ["tok"]
    assert fake_x.query(second)["since_id"] == ["27"]
    # A first search (no cursor) takes the latest page only.
    fake_x.route("GET", "/2/tweets/search/recent", 200, [page(["30", "29"], "tok")])
    posts, newest = XConnector(account).search("bombe aéroport", "")
    assert len(posts) == 2 and newest == "30"


def test_test_connection(account, fake_x, personas):
    fake_x.route("GET", "/2/users/me", 200, fixture("users_me.json"))
    assert "@metro_lyon" in XConnector(account).test_connection()
    other = make_account(personas, handle="someone", user_id="42")
    with pytest.raises(ConnectorError, match="not to the configured user_id 42"):
        XConnector(other).test_connection()
    fake_x.route("GET", "/2/users/me", 401, fixture("error_401.json"))
    with pytest.raises(ConnectorError, match="reconnect"):
        XConnector(account).test_connection()
    incomplete = ChannelAccount.objects.create(
        organization=personas.org, kind="x", network="x", handle="n", name="n"
    )
    with pytest.raises(ConnectorError, match="consumer_key"):
        XConnector(incomplete).test_connection()


# -- Account Activity webhook -------------------------------------------------------------


def signature(body: bytes, secret: str = CONSUMER_SECRET) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def post_webhook(client, account, body: bytes, sig: str | None = None):
    return client.post(
        f"/webhooks/x/{account.pk}/",
        data=body,
        content_type="application/json",
        HTTP_X_TWITTER_WEBHOOKS_SIGNATURE=signature(body) if sig is None else sig,
    )


def test_crc_challenge(client, account):
    response = client.get(f"/webhooks/x/{account.pk}/", {"crc_token": "9b4507b3-2f0e"})
    assert response.status_code == 200
    expected = base64.b64encode(
        hmac.new(CONSUMER_SECRET.encode(), b"9b4507b3-2f0e", hashlib.sha256).digest()
    ).decode()
    assert json.loads(response.content) == {"response_token": f"sha256={expected}"}
    assert crc_response_token(CONSUMER_SECRET, "9b4507b3-2f0e") == f"sha256={expected}"
    assert client.get(f"/webhooks/x/{account.pk}/").status_code == 403


def test_signed_events_are_stored_threaded_on_the_root(client, account, fake_x):
    fake_x.route("GET", "/2/tweets/1860312345678901260", 200, fixture("tweet_conversation.json"))
    response = post_webhook(client, account, fixture("aaa_tweet_create.json"))
    assert response.status_code == 200 and response.json()["stored"] == 1  # ours, a repost skipped
    response = post_webhook(client, account, fixture("aaa_dm.json"))
    assert response.json()["stored"] == 1
    process_pending()
    from relais.inbox.models import Message

    reply = Message.objects.get(external_id="1860312345678901260")
    assert reply.thread_external_id == "1860312345678901249"
    assert reply.reply_to_external_id == "1860312345678901250"
    assert reply.author.handle == "camille_m"
    dm = Message.objects.get(external_id="1860400000000000010")
    assert dm.conversation.is_private
    assert dm.conversation.thread_external_id == DM_CONVERSATION


@pytest.mark.parametrize(
    "sig",
    ["", "sha256=AAAA", signature(b"other"), signature(fixture("aaa_dm.json"), "forged")],
    ids=["missing", "garbage", "other-body", "other-secret"],
)
def test_forged_signature_is_refused_and_nothing_stored(client, account, sig):
    response = post_webhook(client, account, fixture("aaa_dm.json"), sig)
    assert response.status_code == 401
    assert not RawEvent.objects.exists()


def test_unknown_events_are_logged_and_acknowledged(client, account, caplog):
    response = post_webhook(client, account, fixture("aaa_favorite.json"))
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert "webhook event 'favorite_events' ignored" in caplog.text
    body = json.dumps({"for_user_id": "1", "tweet_create_events": []}).encode()
    assert post_webhook(client, account, body).json()["stored"] == 0
    assert "event for user '1' ignored" in caplog.text


def test_dm_polling_can_be_turned_off(personas, fake_x):
    account = make_account(personas, poll_direct_messages=False)
    fake_x.route("GET", "/2/dm_events", 403, fixture("error_403_not_enrolled.json"))
    assert poll_account(account.pk) == 2
    assert not fake_x.calls("GET", "/2/dm_events")
