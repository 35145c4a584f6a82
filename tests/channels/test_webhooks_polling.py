"""The shared webhook endpoint and the poller, with a small fake network."""

import hashlib
import hmac
import json

import pytest

from relais.channels import polling, registry
from relais.channels.contract import (
    Author,
    Capability,
    Connector,
    ConnectorError,
    DeliveryReport,
    InboundMessage,
    MessageKind,
    OutboundMessage,
)
from relais.channels.delivery import delivery_attempt, delivery_create
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState, RawEvent
from relais.common.timeutils import now, parse_iso

SECRET = b"fake-secret"


class FakeConnector(Connector):
    kind = "fake"
    label = "Fake"
    capabilities = frozenset({Capability.WEBHOOK, Capability.POLL, Capability.REPLY})
    pages: dict = {}

    def verify_webhook(self, body, headers):
        expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-fake-signature", ""), expected):
            raise ConnectorError("bad signature", permanent=True)

    def webhook_challenge(self, params):
        if params.get("token") != "verify-me":
            raise ConnectorError("wrong verify token", permanent=True)
        return 200, params["challenge"]

    def parse_webhook(self, body, headers):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ConnectorError(f"not JSON: {exc}") from exc
        items = []
        for event in data["events"]:
            if event["type"] == "message":
                items.append(
                    InboundMessage(
                        external_id=event["id"],
                        kind=MessageKind.MENTION,
                        author=Author(external_id=event["from"], handle=event["from"]),
                        text=event["text"],
                        created_at=parse_iso(event["at"]),
                    )
                )
            elif event["type"] == "receipt":
                items.append(
                    DeliveryReport(
                        external_id=event["id"], delivered=event["ok"], error=event.get("why", "")
                    )
                )
        return items

    def poll(self, cursor):
        page = FakeConnector.pages.get(cursor)
        if isinstance(page, Exception):
            raise page
        if page is None:
            return [], cursor
        messages, next_cursor = page
        return messages, next_cursor

    def send(self, message):
        from relais.channels.contract import Receipt

        return Receipt(external_id="sent-1")


@pytest.fixture
def fake(personas, monkeypatch):
    monkeypatch.setitem(
        registry.CONNECTORS, "fake", "tests.channels.test_webhooks_polling.FakeConnector"
    )
    registry.connector_class.cache_clear()
    yield ChannelAccount.objects.create(
        organization=personas.org,
        kind="fake",
        network="x",
        handle="f",
        name="F",
        default_team=personas.team_a,
    )
    registry.connector_class.cache_clear()


def _post(client, account, payload, signature=None):
    body = json.dumps(payload).encode()
    sig = signature if signature is not None else hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return client.post(
        f"/webhooks/fake/{account.pk}/",
        body,
        content_type="application/json",
        HTTP_X_FAKE_SIGNATURE=sig,
    )


def _message(i):
    return {
        "type": "message",
        "id": f"m{i}",
        "from": "ana",
        "text": f"hello {i}",
        "at": "2026-11-23T06:40:00Z",
    }


def test_signed_webhook_is_ingested_once(fake, client):
    payload = {"events": [_message(1), {"type": "typing"}, _message(2)]}
    first = _post(client, fake, payload)
    assert first.status_code == 200
    assert first.json()["stored"] == 2
    assert _post(client, fake, payload).json() == {"stored": 0, "duplicates": 2, "reports": 0}
    assert RawEvent.objects.filter(account=fake).count() == 2


def test_forged_or_missing_signature_stores_nothing(fake, client):
    assert _post(client, fake, {"events": [_message(1)]}, signature="0" * 64).status_code == 401
    assert _post(client, fake, {"events": [_message(1)]}, signature="").status_code == 401
    assert not RawEvent.objects.exists()


def test_malformed_payload_is_a_clear_400(fake, client):
    body = b"{not json"
    sig = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/webhooks/fake/{fake.pk}/",
        body,
        content_type="application/json",
        HTTP_X_FAKE_SIGNATURE=sig,
    )
    assert response.status_code == 400
    assert "not JSON" in response.json()["error"]


def test_handshake_and_unknown_accounts(fake, client):
    assert (
        client.get(f"/webhooks/fake/{fake.pk}/", {"token": "verify-me", "challenge": "abc"}).content
        == b"abc"
    )
    assert (
        client.get(f"/webhooks/fake/{fake.pk}/", {"token": "nope", "challenge": "abc"}).status_code
        == 403
    )
    assert (
        client.post(
            f"/webhooks/fake/{fake.pk + 1000}/", b"{}", content_type="application/json"
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/webhooks/sandbox/{fake.pk}/", b"{}", content_type="application/json"
        ).status_code
        == 404
    )


def test_receipt_of_an_undelivered_message_fails_its_delivery(fake, client):
    d = delivery_create(
        account=fake, outbound=OutboundMessage("k", MessageKind.DM, "hi", recipient="ana")
    )
    delivery_attempt(d.pk)
    d.refresh_from_db()
    assert d.state == DeliveryState.SENT
    _post(
        client,
        fake,
        {"events": [{"type": "receipt", "id": "sent-1", "ok": False, "why": "absent subscriber"}]},
    )
    d.refresh_from_db()
    assert d.state == DeliveryState.FAILED
    assert "absent subscriber" in d.last_error


def _inbound(i):
    return InboundMessage(
        external_id=f"p{i}",
        kind=MessageKind.MENTION,
        author=Author("bob", "bob"),
        text=f"poll {i}",
        created_at=now(),
    )


def test_polling_moves_the_cursor_with_the_messages(fake):
    FakeConnector.pages = {"": ([_inbound(1), _inbound(2)], "c1"), "c1": ([_inbound(3)], "c2")}
    assert fake.pk in polling.due_accounts()
    assert polling.poll_account(fake.pk) == 2
    fake.refresh_from_db()
    assert fake.cursor == "c1"
    assert fake.pk not in polling.due_accounts()  # polled a moment ago
    ChannelAccount.objects.filter(pk=fake.pk).update(polled_at=None)
    assert polling.poll_account(fake.pk) == 1
    assert RawEvent.objects.filter(account=fake).count() == 3


def test_a_network_that_is_down_shows_on_the_account_and_recovers(fake):
    FakeConnector.pages = {"": ConnectorError("503 Service Unavailable")}
    assert polling.poll_account(fake.pk) == 0
    fake.refresh_from_db()
    assert fake.status == AccountStatus.ERROR and "503" in fake.last_error
    FakeConnector.pages = {"": ([_inbound(9)], "c1")}
    ChannelAccount.objects.filter(pk=fake.pk).update(polled_at=None)
    assert fake.pk in polling.due_accounts()  # errors are retried
    assert polling.poll_account(fake.pk) == 1
    fake.refresh_from_db()
    assert fake.status == AccountStatus.ACTIVE and fake.last_error == ""


def test_revoked_token_marks_the_account_to_reconnect(fake):
    FakeConnector.pages = {"": ConnectorError("401 token expired", permanent=True, reconnect=True)}
    polling.poll_account(fake.pk)
    fake.refresh_from_db()
    assert fake.status == AccountStatus.RECONNECT
    assert fake.pk not in polling.due_accounts()


def test_two_workers_never_poll_one_account_together(fake):
    FakeConnector.pages = {"": ([_inbound(1)], "c1")}
    stale = ChannelAccount.objects.get(pk=fake.pk)  # what a second worker loaded
    assert polling.poll_account(fake.pk) == 1
    assert polling._claim(stale) is False
    assert Delivery.objects.count() == 0


# -- listening sources: keyword search instead of the account's own mentions ---------------


class SearchingConnector(FakeConnector):
    """A network with a keyword search: per query, pages keyed by the cursor."""

    capabilities = frozenset({Capability.POLL, Capability.SEARCH})
    results: dict = {}
    asked: list = []

    def poll(self, cursor):
        raise AssertionError("a listening source is polled by its searches, not its mentions")

    def search(self, query, cursor):
        SearchingConnector.asked.append((query, cursor))
        page = SearchingConnector.results.get((query, cursor))
        if isinstance(page, Exception):
            raise page
        return page if page is not None else ([], cursor)


@pytest.fixture
def searching(personas, monkeypatch):
    monkeypatch.setitem(
        registry.CONNECTORS, "searching", "tests.channels.test_webhooks_polling.SearchingConnector"
    )
    registry.connector_class.cache_clear()
    SearchingConnector.results, SearchingConnector.asked = {}, []
    yield ChannelAccount.objects.create(
        organization=personas.org,
        kind="searching",
        network="bluesky",
        handle="search-1",
        name="Search",
        config={"listening": True, "search": ["bombe aéroport", "bomb airport"]},
    )
    registry.connector_class.cache_clear()


def test_listening_source_polls_each_query_from_its_own_cursor(searching):
    one, two, both = _inbound(1), _inbound(2), _inbound(3)
    SearchingConnector.results = {
        ("bombe aéroport", ""): ([one, both], "t1"),
        ("bomb airport", ""): ([two, both], "u1"),
        ("bombe aéroport", "t1"): ([_inbound(4)], "t2"),
    }
    assert searching.pk in polling.due_accounts()
    assert polling.poll_account(searching.pk) == 3  # the post found by both queries once
    searching.refresh_from_db()
    cursors = json.loads(searching.cursor)
    assert sorted(cursors.values()) == ["t1", "u1"]
    ChannelAccount.objects.filter(pk=searching.pk).update(polled_at=None)
    assert polling.poll_account(searching.pk) == 1
    assert SearchingConnector.asked[-2:] == [("bombe aéroport", "t1"), ("bomb airport", "u1")]
    assert RawEvent.objects.filter(account=searching).count() == 4
    # Editing one query restarts that query alone; the other keeps its place.
    searching.config = {"listening": True, "search": ["bombe aéroport", "colis suspect"]}
    searching.save(update_fields=["config"])
    ChannelAccount.objects.filter(pk=searching.pk).update(polled_at=None)
    polling.poll_account(searching.pk)
    assert SearchingConnector.asked[-2:] == [("bombe aéroport", "t2"), ("colis suspect", "")]


def test_a_failing_search_moves_no_cursor_and_shows_on_the_account(searching):
    SearchingConnector.results = {
        ("bombe aéroport", ""): ([_inbound(1)], "t1"),
        ("bomb airport", ""): ConnectorError("429 rate limited", retry_after=30),
    }
    assert polling.poll_account(searching.pk) == 0
    searching.refresh_from_db()
    assert searching.cursor == "" and searching.status == AccountStatus.ERROR
    assert "429" in searching.last_error
    assert RawEvent.objects.filter(account=searching).count() == 0


def test_an_unreadable_cursor_restarts_the_searches(searching):
    ChannelAccount.objects.filter(pk=searching.pk).update(cursor="not json")
    SearchingConnector.results = {("bombe aéroport", ""): ([_inbound(1)], "t1")}
    assert polling.poll_account(searching.pk) == 1


def test_an_account_without_queries_or_not_listening_is_polled_as_usual(fake):
    fake.config = {"search": "bombe"}  # not a listening source: the query is ignored
    fake.save(update_fields=["config"])
    FakeConnector.pages = {"": ([_inbound(1)], "c1")}
    assert polling.poll_account(fake.pk) == 1
    fake.refresh_from_db()
    assert fake.cursor == "c1"
    assert fake.search_queries == []
    fake.config = {"listening": True, "search": ["  ", 3, "grève"]}
    assert fake.search_queries == ["grève"]
