"""The outbound path: sent once, retried with backoff, failures kept with their reason."""

from datetime import timedelta

import pytest

from relais.channels import delivery as delivery_path
from relais.channels import registry
from relais.channels.contract import (
    Connector,
    ConnectorError,
    MessageKind,
    OutboundMessage,
    Receipt,
)
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState
from relais.common.timeutils import now
from relais.connectors.sandbox import network
from relais.connectors.sandbox.models import SandboxPost
from relais.inbox import actions
from relais.inbox.models import Conversation


@pytest.fixture
def conversation(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        network.citizen_post(account=personas.account, handle="maelle", text="La C4 ?")
    return Conversation.objects.get()


def _reply(conversation, personas, callbacks, text="Bonjour !"):
    with callbacks(execute=True):
        message = actions.conversation_reply(
            conversation=conversation, membership=personas.agent_a, text=text
        )
    message.refresh_from_db()
    return message


def test_network_down_then_back(conversation, personas, django_capture_on_commit_callbacks):
    ChannelAccount.objects.filter(pk=personas.account.pk).update(
        config={"flavour": "x", "outage": True}
    )
    conversation.account.refresh_from_db()
    message = _reply(conversation, personas, django_capture_on_commit_callbacks)
    d = message.delivery
    assert d.state == DeliveryState.PENDING
    assert d.attempts == 1
    assert "unreachable" in d.last_error
    assert d.next_attempt_at > now()
    assert SandboxPost.objects.filter(from_organization=True).count() == 0

    # Not due yet: a second call does nothing (no hammering a network that is down).
    assert delivery_path.delivery_attempt(d.pk) is None

    ChannelAccount.objects.filter(pk=personas.account.pk).update(config={"flavour": "x"})
    Delivery.objects.filter(pk=d.pk).update(next_attempt_at=now() - timedelta(seconds=1))
    assert delivery_path.due_deliveries() == [d.pk]
    delivery_path.delivery_attempt(d.pk)
    d.refresh_from_db()
    assert d.state == DeliveryState.SENT
    assert d.attempts == 2
    assert SandboxPost.objects.filter(from_organization=True).count() == 1


def test_refused_reply_fails_with_reason_and_can_be_retried(
    conversation, personas, django_capture_on_commit_callbacks
):
    ChannelAccount.objects.filter(pk=personas.account.pk).update(
        config={"flavour": "x", "reject": "duplicate content"}
    )
    conversation.account.refresh_from_db()
    message = _reply(conversation, personas, django_capture_on_commit_callbacks)
    assert message.delivery.state == DeliveryState.FAILED
    assert "duplicate content" in message.delivery.last_error
    assert message.text == "Bonjour !"  # the words are never lost

    ChannelAccount.objects.filter(pk=personas.account.pk).update(config={"flavour": "x"})
    with django_capture_on_commit_callbacks(execute=True):
        actions.message_retry(message=message, membership=personas.agent_a)
    message.delivery.refresh_from_db()
    assert message.delivery.state == DeliveryState.SENT
    assert SandboxPost.objects.filter(from_organization=True).count() == 1


def test_attempts_are_bounded(conversation, personas, django_capture_on_commit_callbacks, settings):
    settings.RELAIS_DELIVERY_MAX_ATTEMPTS = 3
    ChannelAccount.objects.filter(pk=personas.account.pk).update(
        config={"flavour": "x", "outage": True}
    )
    conversation.account.refresh_from_db()
    message = _reply(conversation, personas, django_capture_on_commit_callbacks)
    for _ in range(5):
        Delivery.objects.filter(pk=message.delivery_id).update(next_attempt_at=None)
        delivery_path.delivery_attempt(message.delivery_id)
    d = Delivery.objects.get(pk=message.delivery_id)
    assert d.state == DeliveryState.FAILED
    assert d.attempts == 3


def test_two_workers_sending_the_same_delivery_post_once(
    conversation, personas, django_capture_on_commit_callbacks
):
    message = _reply(conversation, personas, django_capture_on_commit_callbacks)
    assert message.delivery.state == DeliveryState.SENT
    # A second worker got the same task (a queue redelivery): the claim refuses it.
    assert delivery_path.delivery_attempt(message.delivery_id) is None
    assert SandboxPost.objects.filter(from_organization=True).count() == 1


def test_worker_killed_mid_send_on_idempotent_network(conversation, personas):
    outbound = OutboundMessage(idempotency_key="k-1", kind=MessageKind.REPLY, text="hello")
    d = delivery_path.delivery_create(account=personas.account, outbound=outbound)
    # The network accepted it, then the worker died before recording the result.
    personas.account.refresh_from_db()
    registry.connector_for(personas.account).send(outbound)
    Delivery.objects.filter(pk=d.pk).update(
        state=DeliveryState.SENDING, claimed_at=now() - timedelta(hours=1)
    )
    assert delivery_path.recover_stuck_sending() == 1
    delivery_path.delivery_attempt(d.pk)
    d.refresh_from_db()
    assert d.state == DeliveryState.SENT
    assert SandboxPost.objects.filter(idempotency_key="k-1").count() == 1


class FragileConnector(Connector):
    """A network without idempotency keys whose token gets revoked, for the tests below."""

    kind = "fragile"
    label = "Fragile"
    calls = 0

    def send(self, message):
        FragileConnector.calls += 1
        mode = self.account.config.get("mode")
        if mode == "revoked":
            raise ConnectorError("token revoked", permanent=True, reconnect=True)
        if mode == "rate":
            raise ConnectorError("429 Too Many Requests", retry_after=120)
        return Receipt(external_id=f"f-{FragileConnector.calls}")


@pytest.fixture
def fragile(personas, monkeypatch):
    monkeypatch.setitem(
        registry.CONNECTORS, "fragile", "tests.channels.test_delivery.FragileConnector"
    )
    registry.connector_class.cache_clear()
    yield ChannelAccount.objects.create(
        organization=personas.org, kind="fragile", network="x", handle="f", name="F"
    )
    registry.connector_class.cache_clear()


def test_worker_killed_mid_send_without_idempotency_is_not_resent(fragile):
    d = delivery_path.delivery_create(
        account=fragile, outbound=OutboundMessage("k-2", MessageKind.POST, "x")
    )
    Delivery.objects.filter(pk=d.pk).update(
        state=DeliveryState.SENDING, claimed_at=now() - timedelta(hours=1)
    )
    calls = FragileConnector.calls
    assert delivery_path.recover_stuck_sending() == 1
    d.refresh_from_db()
    assert d.state == DeliveryState.FAILED
    assert "check the network" in d.last_error
    assert delivery_path.delivery_attempt(d.pk) is None
    assert FragileConnector.calls == calls


def test_rate_limit_retry_after_is_honoured(fragile):
    ChannelAccount.objects.filter(pk=fragile.pk).update(config={"mode": "rate"})
    d = delivery_path.delivery_create(
        account=fragile, outbound=OutboundMessage("k-3", MessageKind.POST, "x")
    )
    before = now()
    delivery_path.delivery_attempt(d.pk)
    d.refresh_from_db()
    assert d.state == DeliveryState.PENDING
    assert timedelta(seconds=115) < d.next_attempt_at - before < timedelta(seconds=125)


def test_revoked_token_marks_account_to_reconnect(fragile):
    ChannelAccount.objects.filter(pk=fragile.pk).update(config={"mode": "revoked"})
    d = delivery_path.delivery_create(
        account=fragile, outbound=OutboundMessage("k-4", MessageKind.POST, "x")
    )
    delivery_path.delivery_attempt(d.pk)
    d.refresh_from_db()
    fragile.refresh_from_db()
    assert d.state == DeliveryState.FAILED
    assert fragile.status == AccountStatus.RECONNECT
    assert "revoked" in fragile.last_error


def test_backoff_grows_and_is_capped():
    values = [delivery_path.backoff_seconds(n) for n in range(1, 12)]
    assert 4 <= values[0] <= 6
    assert 8 <= values[1] <= 12
    assert max(values) <= delivery_path.BACKOFF_CAP * 1.2


def test_reply_longer_than_the_network_allows_is_refused(conversation, personas):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="280"):
        actions.conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="x" * 281
        )
    assert not Delivery.objects.exists()


def test_credentials_are_encrypted_at_rest(personas):
    from django.db import connection

    personas.account.credentials = {"token": "s3cret-token-value"}
    personas.account.save(update_fields=["credentials"])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM channels_channelaccount WHERE id = %s", [personas.account.pk]
        )
        stored = cursor.fetchone()[0]
    assert "s3cret" not in stored
    personas.account.refresh_from_db()
    assert personas.account.credentials == {"token": "s3cret-token-value"}
