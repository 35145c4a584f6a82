"""The WhatsApp connector on payloads shaped as Meta documents them (fixtures/README.md),
through the shared webhook endpoint and the delivery path, with the Cloud API on a
MockTransport."""

# ruff: noqa: S101, S105, S106 - a test module (pyproject's per-file ignores cover tests/ only)

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState, RawEvent
from relais.channels.pipeline import process_pending
from relais.common.timeutils import now
from relais.connectors.whatsapp import connector as wa
from relais.connectors.whatsapp.connector import WhatsAppConnector

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
APP_SECRET = "wa-app-secret-for-tests"
PHONE_ID = "106540352242922"
SENT_ID = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI3NkI5NjI1MDc5MEE4RTc5MDgA"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"HTTP_X_HUB_SIGNATURE_256": f"sha256={digest}"}


class FakeCloudApi:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: list[tuple[int, bytes]] = []  # served in order, the last one repeats
        self.down = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectTimeout("timed out", request=request)
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


@pytest.fixture
def cloud(monkeypatch) -> FakeCloudApi:
    fake = FakeCloudApi()
    monkeypatch.setattr(
        wa, "_http", lambda: httpx.Client(transport=httpx.MockTransport(fake.handler))
    )
    return fake


def make_account(personas, **config) -> ChannelAccount:
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="whatsapp",
        network="whatsapp",
        handle="15550783881",
        name="Metro on WhatsApp",
        config={"phone_number_id": PHONE_ID, **config},
        credentials={
            "access_token": "EAAJ-system-user-token",
            "app_secret": APP_SECRET,
            "verify_token": "relais-verify-me",
        },
    )


@pytest.fixture
def account(personas) -> ChannelAccount:
    return make_account(personas)


def post_webhook(client, account, body: bytes, headers=None):
    return client.post(
        f"/webhooks/whatsapp/{account.pk}/",
        data=body,
        content_type="application/json",
        **(signed(body) if headers is None else headers),
    )


def reply(**kwargs) -> OutboundMessage:
    values = {
        "idempotency_key": "k1",
        "kind": MessageKind.DM,
        "text": "Yes, it runs.",
        "recipient": "16505551234",
    }
    return OutboundMessage(**{**values, **kwargs})


def test_handshake(client, account):
    url = f"/webhooks/whatsapp/{account.pk}/"
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    ok = client.get(url, {**params, "hub.verify_token": "relais-verify-me"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    assert client.get(url, {**params, "hub.verify_token": "nope"}).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, signed(b"{}"), signed(fixture("message_text.json"), secret="forged")],
    ids=["missing", "other-body", "other-secret"],
)
def test_forged_signature_is_refused_and_nothing_stored(client, account, headers):
    response = post_webhook(client, account, fixture("message_text.json"), headers)
    assert response.status_code == 401
    assert not RawEvent.objects.exists()


def test_unknown_object_and_field_are_logged_and_acknowledged(client, account, caplog):
    body = json.dumps({"object": "page", "entry": []}).encode()
    response = post_webhook(client, account, body)
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert "webhook object 'page' ignored" in caplog.text
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {}}]}],
        }
    ).encode()
    response = post_webhook(client, account, body)
    assert response.status_code == 200 and response.json()["stored"] == 0
    assert "change field 'account_update' ignored" in caplog.text


def test_message_parsing(account):
    connector = WhatsAppConnector(account)
    [text] = connector.parse_webhook(fixture("message_text.json"), {})
    assert text.kind == MessageKind.DM
    assert text.author.handle == "16505551234" and text.author.display_name == "Sheena Nelson"
    assert text.text == "Is the 7:40 bus to the airport running today?"
    assert text.created_at.timestamp() == 1749416383
    [image] = connector.parse_webhook(fixture("message_image.json"), {})
    assert image.text == "[image] The stop sign is broken"
    [answer] = connector.parse_webhook(fixture("message_reply_context.json"), {})
    assert answer.reply_to_id == SENT_ID


def test_another_numbers_events_are_not_ours(personas):
    account = make_account(personas, phone_number_id="999")
    assert WhatsAppConnector(account).parse_webhook(fixture("message_text.json"), {}) == []


def test_message_in_reply_out_then_failed_receipt(
    client, personas, account, cloud, django_capture_on_commit_callbacks
):
    from relais.inbox.actions import conversation_reply
    from relais.inbox.models import Conversation, Message

    cloud.answers = [(200, fixture("send_response.json"))]
    assert post_webhook(client, account, fixture("message_text.json")).json()["stored"] == 1
    process_pending()
    conversation = Conversation.objects.get(account=account)
    # The documented payload is dated 2025: make it "just now", inside the 24-hour window.
    Conversation.objects.filter(pk=conversation.pk).update(last_inbound_at=timezone.now())
    conversation.refresh_from_db()
    assert conversation.is_private
    inbound = Message.objects.get(conversation=conversation)
    assert inbound.author.display_name == "Sheena Nelson"
    with django_capture_on_commit_callbacks(execute=True):
        message = conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Yes, at 7:40 sharp."
        )
    delivery = Delivery.objects.get(pk=message.delivery_id)
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    assert delivery.external_id == SENT_ID
    [request] = cloud.requests
    assert request.url.path == f"/v21.0/{PHONE_ID}/messages"
    assert request.headers["authorization"] == "Bearer EAAJ-system-user-token"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": "Yes, at 7:40 sharp."},
        "context": {"message_id": inbound.external_id},
    }
    # Delivered: nothing changes. Failed (the window closed meanwhile): the delivery says why.
    assert post_webhook(client, account, fixture("status_delivered.json")).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    response = post_webhook(client, account, fixture("status_failed_outside_window.json"))
    assert response.json()["reports"] == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert "131047" in delivery.last_error and "24-hour" in delivery.last_error


def test_outside_the_window_without_template_is_refused_clearly(account, cloud):
    cloud.answers = [(400, fixture("error_outside_window.json"))]
    with pytest.raises(ConnectorError) as caught:
        WhatsAppConnector(account).send(reply())
    assert caught.value.permanent and not caught.value.reconnect
    assert "within 24 hours" in str(caught.value) and "template_name" in str(caught.value)


def test_outside_the_window_the_template_is_sent(personas, cloud):
    account = make_account(personas, template_name="service_follow_up", template_language="fr")
    cloud.answers = [
        (400, fixture("error_outside_window.json")),
        (200, fixture("send_template_response.json")),
    ]
    receipt = WhatsAppConnector(account).send(reply())
    assert receipt.external_id == "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBJUMDAwVEVNUExBVEUwMDEA"
    assert cloud.bodies()[-1] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "template",
        "template": {"name": "service_follow_up", "language": {"code": "fr"}},
    }


def test_a_known_closed_window_skips_the_free_form_attempt(account, cloud):
    # When the delivery path tells the last inbound time (a proposed contract field),
    # the connector refuses before calling Meta.
    message = reply()
    object.__setattr__(message, "last_inbound_at", (now() - timedelta(hours=25)).isoformat())
    with pytest.raises(ConnectorError, match="within 24 hours"):
        WhatsAppConnector(account).send(message)
    assert cloud.requests == []
    assert wa.window_open(now() - timedelta(hours=23), now())
    assert not wa.window_open(None, now())


def test_error_classification(account, cloud):
    connector = WhatsAppConnector(account)
    cloud.answers = [(401, fixture("error_token_expired.json"))]
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply())
    assert caught.value.permanent and caught.value.reconnect
    cloud.answers = [(429, fixture("error_rate_limit.json"))]
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply())
    assert not caught.value.permanent and caught.value.retry_after == wa.RATE_LIMIT_DEFAULT_WAIT
    cloud.answers = [(400, fixture("error_invalid_parameter.json"))]
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply())
    assert caught.value.permanent and "not a valid phone number" in str(caught.value)
    cloud.answers = [(503, b"Service Unavailable")]
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply())
    assert not caught.value.permanent
    cloud.down = True
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply())
    assert not caught.value.permanent and "in time" in str(caught.value)


def test_revoked_token_marks_the_account_for_reconnection(account, cloud):
    from relais.channels.delivery import delivery_attempt, delivery_create

    cloud.answers = [(401, fixture("error_token_expired.json"))]
    delivery = delivery_create(account=account, outbound=reply())
    delivery_attempt(delivery.pk)
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT


def test_test_connection(account, cloud, personas):
    cloud.answers = [(200, fixture("phone_number.json"))]
    assert "Metro Transit (test)" in WhatsAppConnector(account).test_connection()
    cloud.answers = [(401, fixture("error_token_expired.json"))]
    with pytest.raises(ConnectorError, match="reconnect"):
        WhatsAppConnector(account).test_connection()
    incomplete = ChannelAccount.objects.create(
        organization=personas.org, kind="whatsapp", network="whatsapp", handle="1", name="1"
    )
    with pytest.raises(ConnectorError, match="phone_number_id"):
        WhatsAppConnector(incomplete).test_connection()
