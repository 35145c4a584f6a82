"""The Meta connector on payloads shaped as Meta documents them (fixtures/README.md), through
the shared webhook endpoint and the delivery path, with the Graph API on a MockTransport."""

# ruff: noqa: S101, S105, S106 - a test module (pyproject's per-file ignores cover tests/ only)

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState, RawEvent
from relais.channels.pipeline import process_pending
from relais.connectors.meta import connector as meta
from relais.connectors.meta.connector import MetaConnector

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
APP_SECRET = "meta-app-secret-for-tests"
PAGE_ID = "104520118352921"
IG_ID = "17841405822304914"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"HTTP_X_HUB_SIGNATURE_256": f"sha256={digest}"}


class FakeGraph:
    """Answers Graph API calls from fixtures and remembers what was asked."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = {}
        self.down = False

    def route(self, method: str, path: str, status: int, body: bytes, headers=None) -> None:
        self.routes[(method, path)] = (status, body, headers or {})

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        path = request.url.path.split("/", 2)[2]  # strip /v21.0/
        status, body, headers = self.routes.get(
            (request.method, path), (404, fixture("error_invalid_parameter.json"), {})
        )
        return httpx.Response(
            status, content=body, headers={"content-type": "application/json", **headers}
        )

    def form(self, index: int = -1) -> dict[str, list[str]]:
        from urllib.parse import parse_qs

        return parse_qs(self.requests[index].content.decode())


@pytest.fixture
def graph(monkeypatch) -> FakeGraph:
    fake = FakeGraph()
    monkeypatch.setattr(
        meta, "_http", lambda: httpx.Client(transport=httpx.MockTransport(fake.handler))
    )
    return fake


def make_account(personas, network: str = "facebook", **config) -> ChannelAccount:
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="meta",
        network=network,
        handle=f"tcl-{network}",
        name=f"TCL on {network}",
        config={"page_id": PAGE_ID, "instagram_account_id": IG_ID, **config},
        credentials={
            "page_access_token": "EAAG-page-token",
            "app_secret": APP_SECRET,
            "verify_token": "relais-verify-me",
        },
    )


@pytest.fixture
def account(personas) -> ChannelAccount:
    return make_account(personas)


def post_webhook(client, account, body: bytes, headers=None):
    return client.post(
        f"/webhooks/meta/{account.pk}/",
        data=body,
        content_type="application/json",
        **(signed(body) if headers is None else headers),
    )


# -- webhooks through the shared endpoint --------------------------------------------------


def test_handshake_echoes_the_challenge_with_the_right_token(client, account):
    url = f"/webhooks/meta/{account.pk}/"
    ok = client.get(
        url,
        {
            "hub.mode": "subscribe",
            "hub.verify_token": "relais-verify-me",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    wrong = client.get(
        url, {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}
    )
    assert wrong.status_code == 403


def test_signed_comment_is_stored_and_threaded(client, account):
    response = post_webhook(client, account, fixture("page_feed_comment.json"))
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 1
    process_pending()
    from relais.inbox.models import Conversation, Message

    message = Message.objects.get(external_id="122101234567890123_1093458723465432")
    assert message.thread_external_id == "104520118352921_122101234567890123"
    assert message.reply_to_external_id == "104520118352921_122101234567890123"
    assert message.author.display_name == "Camille Martin"
    conversation = Conversation.objects.get(pk=message.conversation_id)
    # The documented payload is dated 2025: make it "just now", inside the 24-hour window.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    conversation.refresh_from_db()
    assert conversation.thread_external_id == "104520118352921_122101234567890123"
    assert not conversation.is_private


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature
        {"HTTP_X_HUB_SIGNATURE_256": "sha256=" + "0" * 64},
        signed(b"another body"),
        signed(fixture("page_feed_comment.json"), secret="not-the-app-secret"),
    ],
    ids=["missing", "zeros", "other-body", "other-secret"],
)
def test_forged_signature_is_refused_and_nothing_stored(client, account, headers):
    response = post_webhook(client, account, fixture("page_feed_comment.json"), headers)
    assert response.status_code == 401
    assert not RawEvent.objects.filter(account=account).exists()


@pytest.mark.parametrize(
    "name", ["page_feed_reaction.json", "messenger_delivery.json", "messenger_echo.json"]
)
def test_events_we_do_not_store_are_acknowledged(client, account, name, caplog):
    response = post_webhook(client, account, fixture(name))
    assert response.status_code == 200
    assert response.json()["stored"] == 0
    assert not RawEvent.objects.filter(account=account).exists()


def test_unknown_object_and_field_are_logged_and_acknowledged(client, account, caplog):
    body = json.dumps(
        {"object": "user", "entry": [{"id": "1", "time": 1, "changes": [{"field": "photos"}]}]}
    ).encode()
    response = post_webhook(client, account, body)
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert "webhook object 'user' ignored" in caplog.text
    body = json.dumps(
        {
            "object": "page",
            "entry": [{"id": PAGE_ID, "time": 1, "changes": [{"field": "ratings", "value": {}}]}],
        }
    ).encode()
    response = post_webhook(client, account, body)
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert "change field 'ratings' ignored" in caplog.text


def test_reply_to_a_comment_stays_in_the_post_thread(account):
    items = MetaConnector(account).parse_webhook(fixture("page_feed_comment_reply.json"), {})
    [message] = items
    assert message.kind == MessageKind.REPLY
    assert message.thread_id == "104520118352921_122101234567890123"
    assert message.reply_to_id == "122101234567890123_1093458723465432"


def test_visitor_post_is_the_root_of_its_thread(account):
    [message] = MetaConnector(account).parse_webhook(fixture("page_feed_visitor_post.json"), {})
    assert message.kind == MessageKind.MENTION
    assert message.thread_id == message.external_id == "104520118352921_122101299999990001"


def test_messenger_message_is_a_direct_message(account):
    [message] = MetaConnector(account).parse_webhook(fixture("messenger_message.json"), {})
    assert message.kind == MessageKind.DM
    assert message.author.external_id == message.author.handle == "6789012345678901"
    assert message.created_at.year == 2024  # milliseconds understood


def test_instagram_account_takes_comments_and_messages(personas):
    account = make_account(personas, network="instagram")
    connector = MetaConnector(account)
    [comment] = connector.parse_webhook(fixture("instagram_comment.json"), {})
    assert comment.kind == MessageKind.REPLY
    assert comment.author.handle == "lea.velo"
    assert comment.thread_id == comment.reply_to_id == "18020304050607080"
    [dm] = connector.parse_webhook(fixture("instagram_message.json"), {})
    assert dm.kind == MessageKind.DM and dm.author.external_id == "1146893253456789"
    # A Page event sent to the Instagram account's URL is not ours: acknowledged, skipped.
    assert connector.parse_webhook(fixture("page_feed_comment.json"), {}) == []


# -- the product path: webhook in, reply out ------------------------------------------------


def test_comment_in_reply_out_through_the_product(
    client, personas, account, graph, django_capture_on_commit_callbacks
):
    from relais.inbox.actions import conversation_reply
    from relais.inbox.models import Conversation

    graph.route(
        "POST", "122101234567890123_1093458723465432/comments", 200, fixture("comment_created.json")
    )
    assert post_webhook(client, account, fixture("page_feed_comment.json")).status_code == 200
    process_pending()
    conversation = Conversation.objects.get(account=account)
    # The documented payload is dated 2025: make it "just now", inside the 24-hour window.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    conversation.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        message = conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Oui, reprise vers 9 h."
        )
    delivery = Delivery.objects.get(pk=message.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    assert delivery.external_id == "122101234567890123_1093459000000001"
    [request] = graph.requests
    assert request.method == "POST"
    assert request.url.path == "/v21.0/122101234567890123_1093458723465432/comments"
    assert request.headers["authorization"] == "Bearer EAAG-page-token"
    assert graph.form() == {"message": ["Oui, reprise vers 9 h."]}


def test_messenger_in_reply_out_through_the_product(
    client, personas, account, graph, django_capture_on_commit_callbacks
):
    from relais.inbox.actions import conversation_reply
    from relais.inbox.models import Conversation

    graph.route("POST", "me/messages", 200, fixture("send_api_response.json"))
    assert post_webhook(client, account, fixture("messenger_message.json")).status_code == 200
    process_pending()
    conversation = Conversation.objects.get(account=account)
    # The documented payload is dated 2025: make it "just now", inside the 24-hour window.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    conversation.refresh_from_db()
    assert conversation.is_private
    with django_capture_on_commit_callbacks(execute=True):
        message = conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Il est aux objets trouvés.",
        )
    delivery = Delivery.objects.get(pk=message.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    assert json.loads(graph.requests[-1].content) == {
        "recipient": {"id": "6789012345678901"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Il est aux objets trouvés."},
    }


# -- sending and errors -------------------------------------------------------------------


def test_publish_to_the_page(account, graph):
    graph.route("POST", f"{PAGE_ID}/feed", 200, fixture("page_post_created.json"))
    receipt = MetaConnector(account).send(
        OutboundMessage(idempotency_key="k1", kind=MessageKind.POST, text="Trafic perturbé ligne A")
    )
    assert receipt.external_id == receipt.thread_id == "104520118352921_122101300000000001"
    assert graph.form() == {"message": ["Trafic perturbé ligne A"]}


def test_instagram_reply_uses_the_replies_edge(personas, graph):
    account = make_account(personas, network="instagram")
    graph.route("POST", "17865799348089039/replies", 200, b'{"id": "17870000000000001"}')
    receipt = MetaConnector(account).send(
        OutboundMessage(
            idempotency_key="k2",
            kind=MessageKind.REPLY,
            text="Travaux jusqu'à vendredi.",
            reply_to_id="17865799348089039",
            thread_id="18020304050607080",
        )
    )
    assert receipt.external_id == "17870000000000001"


REPLY = OutboundMessage(idempotency_key="k3", kind=MessageKind.REPLY, text="ok", reply_to_id="c1")


def test_expired_token_marks_the_account_for_reconnection(account, graph):
    graph.route("POST", "c1/comments", 400, fixture("error_token_expired.json"))
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(REPLY)
    assert caught.value.permanent and caught.value.reconnect
    assert "Session has expired" in str(caught.value)


def test_rate_limit_is_retried_later(account, graph):
    usage = json.dumps({PAGE_ID: [{"type": "pages", "estimated_time_to_regain_access": 7}]})
    graph.route(
        "POST",
        "c1/comments",
        400,
        fixture("error_rate_limit.json"),
        {"X-Business-Use-Case-Usage": usage},
    )
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(REPLY)
    assert not caught.value.permanent and caught.value.retry_after == 420
    graph.route("POST", "c1/comments", 429, fixture("error_rate_limit.json"), {"Retry-After": "30"})
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(REPLY)
    assert caught.value.retry_after == 30


def test_other_errors_are_permanent_or_temporary(account, graph):
    graph.route("POST", "c1/comments", 400, fixture("error_invalid_parameter.json"))
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(REPLY)
    assert caught.value.permanent and not caught.value.reconnect
    assert "(#100) Invalid parameter" in str(caught.value)
    graph.route("POST", "c1/comments", 500, fixture("error_transient.json"))
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(REPLY)
    assert not caught.value.permanent
    graph.down = True
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(REPLY)
    assert not caught.value.permanent and "unreachable" in str(caught.value)


def test_network_down_then_back_through_the_delivery_path(account, graph):
    from relais.channels.delivery import delivery_attempt, delivery_create

    graph.route("POST", "c1/comments", 200, fixture("comment_created.json"))
    graph.down = True
    delivery = delivery_create(account=account, outbound=REPLY)
    delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.PENDING and "unreachable" in delivery.last_error
    graph.down = False
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
    delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT


def test_revoked_token_on_send_marks_the_account(account, graph):
    from relais.channels.delivery import delivery_attempt, delivery_create

    graph.route("POST", "c1/comments", 400, fixture("error_token_expired.json"))
    delivery = delivery_create(account=account, outbound=REPLY)
    delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    account.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert account.status == AccountStatus.RECONNECT
    assert "reconnect" in account.last_error


def test_test_connection_names_the_page_or_says_what_is_wrong(account, graph, personas):
    graph.route("GET", PAGE_ID, 200, fixture("page_info.json"))
    assert "TCL Lyon (test)" in MetaConnector(account).test_connection()
    graph.route("GET", PAGE_ID, 400, fixture("error_token_expired.json"))
    with pytest.raises(ConnectorError, match="reconnect"):
        MetaConnector(account).test_connection()
    incomplete = ChannelAccount.objects.create(
        organization=personas.org, kind="meta", network="facebook", handle="x", name="x", config={}
    )
    with pytest.raises(ConnectorError, match="page_id") as caught:
        MetaConnector(incomplete).test_connection()
    assert caught.value.permanent


def test_a_malformed_event_is_logged_and_the_others_stored(client, account, caplog):
    data = json.loads(fixture("page_feed_comment.json"))
    broken = json.loads(json.dumps(data["entry"][0]["changes"][0]))
    del broken["value"]["comment_id"]
    data["entry"][0]["changes"].insert(0, broken)
    iso = json.loads(fixture("page_feed_visitor_post.json"))["entry"][0]
    iso["changes"][0]["value"]["created_time"] = "2024-11-23T08:20:00+0000"
    data["entry"].append(iso)
    response = post_webhook(client, account, json.dumps(data).encode())
    assert response.status_code == 200 and response.json()["stored"] == 2
    assert "malformed event skipped" in caplog.text


DM = OutboundMessage(idempotency_key="k4", kind=MessageKind.DM, text="Bonjour", recipient="6789")


def test_messenger_outside_the_window_is_refused_clearly(account, graph):
    graph.route("POST", "me/messages", 400, fixture("error_outside_window.json"))
    with pytest.raises(ConnectorError) as caught:
        MetaConnector(account).send(DM)
    assert caught.value.permanent and not caught.value.reconnect
    assert "24 hours" in str(caught.value) and "human_agent_tag" in str(caught.value)


def test_messenger_outside_the_window_uses_the_human_agent_tag(personas, graph):
    account = make_account(personas, human_agent_tag=True)
    answers = [
        httpx.Response(400, content=fixture("error_outside_window.json")),
        httpx.Response(200, content=fixture("send_api_response.json")),
    ]
    graph.handler = lambda request: (graph.requests.append(request), answers.pop(0))[1]  # type: ignore[method-assign]
    receipt = MetaConnector(account).send(DM)
    assert receipt.external_id == "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_reply0001"
    tagged = json.loads(graph.requests[-1].content)
    assert tagged["messaging_type"] == "MESSAGE_TAG" and tagged["tag"] == "HUMAN_AGENT"


def test_a_known_closed_window_is_decided_before_calling_meta(personas, graph):
    from datetime import timedelta

    from relais.common.timeutils import now

    message = OutboundMessage(**{**DM.to_json(), "kind": MessageKind.DM})
    object.__setattr__(message, "last_inbound_at", (now() - timedelta(days=8)).isoformat())
    with pytest.raises(ConnectorError, match="24 hours"):
        MetaConnector(make_account(personas)).send(message)
    assert graph.requests == []
