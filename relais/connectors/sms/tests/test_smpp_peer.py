"""The SMS connector over SMPP against a real SMPP server (npm `smpp` simulator), through the
product's polling, pipeline and delivery paths."""

# ruff: noqa: S101, S105, S106

import socket
import uuid

import pytest

from relais.channels.contract import ConnectorError, MessageKind, OutboundMessage
from relais.channels.delivery import apply_delivery_reports
from relais.channels.models import AccountStatus, ChannelAccount, DeliveryState
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.connectors.sms.connector import SmsConnector, decode_short_message, parse_receipt
from relais.inbox.actions import conversation_reply
from relais.inbox.models import Conversation, Message

OUR_NUMBER = "+33700000001"


def _citizen() -> str:
    return "+336" + str(uuid.uuid4().int)[:8]


def _account(personas, smsc, **overrides) -> ChannelAccount:
    config = {
        "gateway": "smpp",
        "host": "127.0.0.1",
        "port": smsc.smpp_port,
        "system_id": smsc.system_id,
        "source_address": OUR_NUMBER,
        "timeout": 5,
        "poll_seconds": 3,
        "poll_idle_seconds": 0.3,
    }
    config.update(overrides)
    return ChannelAccount.objects.create(
        organization=personas.org,
        kind="sms",
        network="sms",
        handle=f"{OUR_NUMBER}-{uuid.uuid4().hex[:6]}",
        name="Alpha Transit SMS",
        config=config,
        credentials={"password": smsc.password},  # type: ignore[misc]
    )


def _receipts(account) -> list:
    """Bind and read what the SMSC has queued; the receipts go through the product's
    apply_delivery_reports (the polling path does not carry them yet)."""
    connector = SmsConnector(account)
    messages, reports = connector.read_pending()
    assert messages == []
    apply_delivery_reports(account=account, reports=reports)
    return reports


@pytest.mark.django_db
def test_stop_arrives_as_a_conversation_and_our_reply_is_delivered(
    personas, smsc, django_capture_on_commit_callbacks
):
    citizen = _citizen()
    account = _account(personas, smsc)
    smsc.inject_mo(citizen.lstrip("+"), OUR_NUMBER.lstrip("+"), "STOP")

    assert poll_account(account.pk) == 1
    process_pending()
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE, account.last_error
    conversation = Conversation.objects.get(account=account)
    assert conversation.is_private
    assert conversation.contact.handle == citizen
    assert Message.objects.get(conversation=conversation).text == "STOP"
    assert conversation.thread_external_id == f"sms:{citizen}"

    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=conversation,
            membership=personas.agent_a,
            text="Vous ne recevrez plus nos alertes.",
        )
    reply.refresh_from_db()
    delivery = reply.delivery
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT, delivery.last_error
    at_smsc = [m for m in smsc.submitted() if m["message_id"] == delivery.external_id]
    assert len(at_smsc) == 1
    assert at_smsc[0]["destination"] == citizen.lstrip("+")
    assert at_smsc[0]["source"] == OUR_NUMBER.lstrip("+")
    assert at_smsc[0]["text"] == "Vous ne recevrez plus nos alertes."
    assert at_smsc[0]["registered_delivery"] == 1

    # The SMSC's receipt (stat:DELIVRD) confirms: the delivery stays sent.
    reports = _receipts(account)
    assert [(r.external_id, r.delivered) for r in reports] == [(delivery.external_id, True)]
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    # Read once and acknowledged: the next poll finds nothing.
    assert poll_account(account.pk) == 0


@pytest.mark.django_db
def test_undelivered_receipt_fails_the_delivery_with_the_reason(
    personas, smsc, django_capture_on_commit_callbacks
):
    citizen = _citizen()
    account = _account(personas, smsc)
    smsc.inject_mo(citizen.lstrip("+"), OUR_NUMBER.lstrip("+"), "Le tram T2 est bloqué ?")
    assert poll_account(account.pk) == 1
    process_pending()
    conversation = Conversation.objects.get(account=account)
    assert Message.objects.get(conversation=conversation).text == "Le tram T2 est bloqué ?"
    smsc.next_receipt("UNDELIV", "001")
    with django_capture_on_commit_callbacks(execute=True):
        reply = conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Oui, jusqu'à 18 h."
        )
    delivery = reply.delivery
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SENT
    # Through the product's polling path this time: poll() returns the receipt with the messages.
    ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
    assert poll_account(account.pk) == 0  # no message, one receipt
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED
    assert "UNDELIV" in delivery.last_error and "001" in delivery.last_error


@pytest.mark.django_db
def test_long_message_is_split_with_udh(personas, smsc):
    account = _account(personas, smsc)
    citizen = _citizen()
    text = "Perturbation sur la ligne 42 entre Gare et Mairie. " * 7  # 357 GSM-7 characters
    receipt = SmsConnector(account).send(
        OutboundMessage(idempotency_key="long-1", kind=MessageKind.DM, text=text, recipient=citizen)
    )
    parts = [m for m in smsc.submitted() if m["destination"] == citizen.lstrip("+")]
    assert len(parts) == 3
    assert receipt.external_id == parts[0]["message_id"]
    assert all(p["esm_class"] & 0x40 for p in parts)  # UDH indicator
    udhs = [p["udh"][0] for p in parts]
    # Information element 0x00 (concatenation, 8-bit reference), length 3: one reference,
    # 3 parts, numbered 1..3.
    assert {u[:4] for u in udhs} == {"0003"}
    assert len({u[4:6] for u in udhs}) == 1
    assert [u[6:8] for u in udhs] == ["03", "03", "03"]
    assert [u[8:10] for u in udhs] == ["01", "02", "03"]
    _receipts(account)  # leave the SMSC's queue empty for the other tests

    # Beyond the declared number of parts: refused before anything is sent, permanently.
    with pytest.raises(ConnectorError) as err:
        SmsConnector(account).send(
            OutboundMessage(
                idempotency_key="long-2", kind=MessageKind.DM, text="é🚌" * 300, recipient=citizen
            )
        )
    assert err.value.permanent and "more than the 6 allowed" in str(err.value)


@pytest.mark.django_db
def test_wrong_password_marks_the_account_to_reconnect(personas, smsc):
    account = _account(personas, smsc)
    account.credentials = {"password": "wrong"}
    account.save()
    with pytest.raises(ConnectorError) as err:
        SmsConnector(account).test_connection()
    assert err.value.reconnect and err.value.permanent
    assert "refused the bind" in str(err.value)
    assert poll_account(account.pk) == 0
    account.refresh_from_db()
    assert account.status == AccountStatus.RECONNECT


@pytest.mark.django_db
def test_test_connection_and_smsc_down(personas, smsc):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    account = _account(personas, smsc)
    assert "accepted the bind of 'relais'" in SmsConnector(account).test_connection()
    down = _account(personas, smsc, port=closed_port)
    with pytest.raises(ConnectorError) as err:
        SmsConnector(down).send(
            OutboundMessage(
                idempotency_key="d1", kind=MessageKind.DM, text="x", recipient="+33600000000"
            )
        )
    assert not err.value.permanent and "unreachable" in str(err.value)


def test_receipt_and_alphabet_parsing():
    text = "id:abc123 sub:001 dlvrd:000 submit date:2611230616 done date:2611230617 stat:UNDELIV err:001 text:hello stat:x"
    assert parse_receipt(text) == ("abc123", "UNDELIV", "001")
    assert decode_short_message("Arrêt".encode("utf-16-be"), 0x08) == "Arrêt"
    assert decode_short_message(b"STOP", 0x00) == "STOP"
    assert decode_short_message(b"caf\xe9", 0x03) == "café"
