"""The generic HTTP SMS gateway: sending through httpx.MockTransport, and its signed webhooks
(inbound messages, delivery receipts) through the real /webhooks/sms/<id>/ endpoint."""

# ruff: noqa: S101, S105, S106

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.models import ChannelAccount, Delivery, DeliveryState, RawEvent
from relais.channels.pipeline import process_pending
from relais.connectors.sms.connector import SmsConnector, parse_receipt
from relais.inbox.models import Conversation, Message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SECRET = "whsec-test"


def _fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def http_account(personas):
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="sms",
        network="sms",
        handle="+33700000001",
        name="Alpha SMS (HTTP)",
        config={
            "gateway": "http",
            "base_url": "https://sms-gateway.example/api",
            "source_address": "+33700000001",
        },
        credentials={"api_key": "key-123", "webhook_secret": SECRET},  # type: ignore[misc]
    )


def _post(client, account, body: bytes, signature: str | None):
    headers = {"HTTP_X_SMS_SIGNATURE": signature} if signature is not None else {}
    return client.post(
        f"/webhooks/sms/{account.pk}/", data=body, content_type="application/json", **headers
    )


def _outbound(text="Bonjour", key="k-1") -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=key, kind=MessageKind.DM, text=text, recipient="+33612345678"
    )


@pytest.mark.django_db
def test_send_posts_json_and_returns_the_gateway_id(http_account):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "gw-1001", "status": "queued"})

    receipt = SmsConnector(http_account, transport=httpx.MockTransport(handler)).send(_outbound())
    assert receipt.external_id == "gw-1001"
    assert receipt.thread_id == "sms:+33612345678"
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://sms-gateway.example/api/messages"
    assert request.headers["authorization"] == "Bearer key-123"
    assert json.loads(request.content) == {
        "from": "+33700000001",
        "to": "+33612345678",
        "text": "Bonjour",
        "reference": "k-1",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "headers", "permanent", "reconnect", "retry_after"),
    [
        (429, {"Retry-After": "17"}, False, False, 17.0),
        (401, {}, True, True, None),
        (403, {}, True, True, None),
        (503, {}, False, False, None),
        (400, {}, True, False, None),
    ],
)
def test_send_errors_are_classified(
    http_account, status, headers, permanent, reconnect, retry_after
):
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, headers=headers, json={"error": "invalid number"})
    )
    with pytest.raises(ConnectorError) as err:
        SmsConnector(http_account, transport=transport).send(_outbound())
    assert err.value.permanent is permanent
    assert err.value.reconnect is reconnect
    assert err.value.retry_after == retry_after
    if status == 400:
        assert "invalid number" in str(err.value)


@pytest.mark.django_db
def test_network_down_is_temporary(http_account):
    def handler(request):
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ConnectorError) as err:
        SmsConnector(http_account, transport=httpx.MockTransport(handler)).send(_outbound())
    assert not err.value.permanent


@pytest.mark.django_db
def test_signed_inbound_becomes_a_conversation(client, http_account):
    body = _fixture("http_inbound_message.json")
    response = _post(client, http_account, body, _sign(body))
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 1
    process_pending()
    conversation = Conversation.objects.get(account=http_account)
    assert conversation.contact.handle == "+33612345678"
    message = Message.objects.get(conversation=conversation)
    assert message.text == "STOP" and message.external_id == "in-7f3a9c"
    # The gateway retrying the same event stores nothing twice.
    assert _post(client, http_account, body, _sign(body)).json()["duplicates"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "forged"])
def test_forged_signature_is_refused_and_nothing_stored(client, http_account, signature):
    body = _fixture("http_inbound_message.json")
    response = _post(client, http_account, body, signature)
    assert response.status_code == 401
    assert not RawEvent.objects.filter(account=http_account).exists()
    # Signed with another secret: refused too.
    assert _post(client, http_account, body, _sign(body, "other")).status_code == 401


@pytest.mark.django_db
def test_delivery_receipts_through_the_webhook(client, http_account):
    delivery = Delivery.objects.create(
        account=http_account,
        idempotency_key="k-receipt",
        payload=_outbound(key="k-receipt").to_json(),
        state=DeliveryState.SENT,
        external_id="gw-1001",
    )
    ok = _fixture("http_status_delivered.json")
    assert _post(client, http_account, ok, _sign(ok)).json()["reports"] == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    failed = _fixture("http_status_failed.json")
    assert _post(client, http_account, failed, _sign(failed)).status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert "absent subscriber" in delivery.last_error


@pytest.mark.django_db
def test_unknown_event_is_acknowledged_and_ignored(client, http_account, caplog):
    body = _fixture("http_unknown_event.json")
    response = _post(client, http_account, body, _sign(body))
    assert response.status_code == 200
    assert response.json() == {"stored": 0, "duplicates": 0, "reports": 0}
    assert "unknown event type 'balance_low'" in caplog.text


@pytest.mark.django_db
def test_missing_settings_are_reported(personas):
    account = ChannelAccount(kind="sms", network="sms", config={"gateway": "http"})
    with pytest.raises(ConnectorError) as err:
        SmsConnector(account).send(_outbound())
    assert err.value.permanent
    assert "source_address" in str(err.value)


def test_recorded_receipt_texts():
    lines = (FIXTURES / "smpp_receipts.txt").read_text().splitlines()
    assert parse_receipt(lines[0]) == ("sim1", "DELIVRD", "000")
    assert parse_receipt(lines[1]) == ("0123456789", "UNDELIV", "001")
