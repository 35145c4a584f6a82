"""Subscribers: the public page with double opt-in, bad input, the broadcast of an alert to
the subscribers of its lines, SMS through a real SMPP server (the npm `smpp` simulator) at
a configured rate with receipts, STOP by SMS, and the e-mail path."""

# ruff: noqa: S101, S105, S106, S107, F811

import re
import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation

from relais.channels.models import ChannelAccount, Delivery
from relais.channels.pipeline import process_pending
from relais.channels.polling import poll_account
from relais.common.timeutils import now
from relais.connectors.sms.tests.conftest import smsc  # noqa: F401 - the SMPP peer fixture
from relais.inbox.models import Conversation
from relais.publishing.models import (
    Publication,
    SendRateBucket,
    Subscriber,
    SubscriberBroadcast,
    SubscriberMessage,
    SubscriberMessageState,
    SubscriberState,
)
from relais.publishing.signals import publication_started
from relais.publishing.subscribers import actions, sending
from relais.publishing.subscribers.phones import InvalidPhone, normalise_phone
from relais.publishing.subscribers.pipeline import is_stop
from tests.publishing.part2 import incident, route

pytestmark = pytest.mark.django_db
OUR_NUMBER = "+33700000001"


@pytest.fixture(autouse=True)
def _english_and_fresh_limits():
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


def _mobile() -> str:
    return "+3361" + f"{uuid.uuid4().int % 10**7:07d}"


def _sms_account(org, *, port: int, rate: float = 1000.0, system_id="relais", password="x"):
    return ChannelAccount.objects.create(
        organization=org,
        kind="sms",
        network="sms",
        handle=f"{OUR_NUMBER}-{uuid.uuid4().hex[:6]}",
        name="SMS",
        config={
            "gateway": "smpp",
            "host": "127.0.0.1",
            "port": port,
            "system_id": system_id,
            "source_address": OUR_NUMBER,
            "timeout": 5,
            "poll_seconds": 3,
            "poll_idle_seconds": 0.3,
            "send_rate": rate,
        },
        credentials={"password": password},  # type: ignore[misc]
    )


@pytest.fixture
def closed_port():
    from relais.common.testing import free_port

    return free_port()  # nothing listens there: sends fail as "unreachable"


@pytest.fixture
def lines(personas):
    return {"A": route(personas.org, "A"), "B": route(personas.org, "B")}


def _confirmed(org, address, lines, channel="sms"):
    subscriber = Subscriber.objects.create(
        organization=org,
        channel=channel,
        address=address,
        state=SubscriberState.CONFIRMED,
        token=uuid.uuid4().hex,
    )
    subscriber.lines.set(lines)
    return subscriber


def _code_sent_to(number: str) -> str:
    delivery = Delivery.objects.filter(payload__recipient=number).latest("pk")
    return re.search(r"\b(\d{6})\b", delivery.payload["text"]).group(1)


# --- Phone numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("06 12 34 56 78", "+33612345678"),
        ("+33 7 56 12 34 56", "+33756123456"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_numbers_are_stored_in_e164(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "Enter a mobile phone number"),
        ("bonjour", "not a phone number"),
        ("0612", "too short"),
        ("+33 6 12 34 56 78 99 99", "too long"),
        ("01 42 00 00 00", "landline"),
        ("+999 123 456", "not a phone number"),
        ("08 00 00 00 00", "toll-free"),
    ],
)
def test_a_number_that_is_not_valid_is_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidPhone, match=reason):
        normalise_phone(raw)


# --- The public page: double opt-in -----------------------------------------------------------


def test_sms_subscription_with_the_code(personas, lines, client, closed_port):
    _sms_account(personas.org, port=closed_port)
    page = client.get(reverse("publishing:subscribe", args=["alpha"]))
    assert page.status_code == 200
    number = _mobile()
    response = client.post(
        reverse("publishing:subscribe", args=["alpha"]),
        {"channel": "sms", "address": number.replace("+33", "0"), "lines": [lines["B"].pk]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 200
    subscriber = Subscriber.objects.get(address=number)
    assert subscriber.state == SubscriberState.PENDING
    assert list(subscriber.lines.all()) == []  # nothing before the code
    code = _code_sent_to(number)
    assert code not in subscriber.code_hash  # only a hash is stored
    response = client.post(
        reverse("publishing:subscribe_confirm", args=["alpha"]), {"address": number, "code": code}
    )
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.CONFIRMED
    assert list(subscriber.lines.all()) == [lines["B"]]


def test_invalid_number_is_refused_on_the_page_and_nothing_is_stored(
    personas, lines, client, closed_port
):
    _sms_account(personas.org, port=closed_port)
    response = client.post(
        reverse("publishing:subscribe", args=["alpha"]),
        {"channel": "sms", "address": "01 42 00 00 00", "lines": [lines["B"].pk]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "landline number cannot receive SMS" in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not Delivery.objects.exists()


def test_cannot_subscribe_to_another_organisations_line(personas, lines, client, closed_port):
    _sms_account(personas.org, port=closed_port)
    theirs = route(personas.other_org, "Z")
    response = client.post(
        reverse("publishing:subscribe", args=["alpha"]),
        {"channel": "sms", "address": _mobile(), "lines": [lines["B"].pk, theirs.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    assert "Unknown line" in response.content.decode()
    assert not Subscriber.objects.exists()
    # Nor does the other organisation's page show or take alpha's lines.
    page = client.get(reverse("publishing:subscribe", args=["beta"]))
    assert "lines" in page.content.decode()
    assert list(page.context["routes"]) == [theirs]
    response = client.post(
        reverse("publishing:subscribe", args=["beta"]),
        {"channel": "email", "address": "a@example.test", "lines": [lines["B"].pk]},
    )
    assert response.status_code == 400
    assert not Subscriber.objects.exists()


def test_double_subscription_sends_nothing_more(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    number = _mobile()
    _confirmed(personas.org, number, [lines["B"]])
    outcome = actions.subscribe_request(
        organization=personas.org, channel="sms", address=number, line_ids=[lines["B"].pk]
    )
    assert outcome.already and not outcome.sent
    assert not Delivery.objects.exists()
    assert Subscriber.objects.count() == 1
    # Adding a line is confirmed again; the current lines keep working meanwhile.
    outcome = actions.subscribe_request(
        organization=personas.org, channel="sms", address=number, line_ids=[lines["A"].pk]
    )
    assert outcome.sent
    subscriber = Subscriber.objects.get()
    assert subscriber.state == SubscriberState.CONFIRMED
    assert list(subscriber.lines.all()) == [lines["B"]]
    actions.confirm_code(organization=personas.org, address=number, code=_code_sent_to(number))
    assert set(subscriber.lines.all()) == {lines["A"], lines["B"]}


def test_code_brute_force_is_stopped(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    number = _mobile()
    actions.subscribe_request(
        organization=personas.org, channel="sms", address=number, line_ids=[lines["B"].pk]
    )
    code = _code_sent_to(number)
    wrong = [f"{(int(code) + i) % 10**6:06d}" for i in range(1, 6)]
    for guess in wrong[:4]:
        with pytest.raises(actions.SubscribeError, match="Wrong or expired"):
            actions.confirm_code(organization=personas.org, address=number, code=guess)
    with pytest.raises(actions.SubscribeError, match="Too many wrong codes"):
        actions.confirm_code(organization=personas.org, address=number, code=wrong[4])
    # The right code does not work any more: a new one must be asked for.
    with pytest.raises(actions.SubscribeError):
        actions.confirm_code(organization=personas.org, address=number, code=code)
    assert Subscriber.objects.get().state == SubscriberState.PENDING


def test_expired_code_and_unknown_number(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    number = _mobile()
    actions.subscribe_request(
        organization=personas.org, channel="sms", address=number, line_ids=[lines["B"].pk]
    )
    code = _code_sent_to(number)
    Subscriber.objects.update(code_sent_at=now() - timedelta(hours=2))
    with pytest.raises(actions.SubscribeError, match="expired"):
        actions.confirm_code(organization=personas.org, address=number, code=code)
    with pytest.raises(actions.SubscribeError, match="expired"):
        actions.confirm_code(organization=personas.org, address=_mobile(), code=code)


def test_codes_and_requests_are_rate_limited(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    number = _mobile()
    for _ in range(actions.MAX_CODES_PER_HOUR):
        actions.subscribe_request(
            organization=personas.org, channel="sms", address=number, line_ids=[lines["B"].pk]
        )
    with pytest.raises(actions.SubscribeError, match="several times"):
        actions.subscribe_request(
            organization=personas.org, channel="sms", address=number, line_ids=[lines["B"].pk]
        )
    assert Delivery.objects.count() == actions.MAX_CODES_PER_HOUR
    cache.clear()
    for _ in range(actions.MAX_REQUESTS_PER_IP):
        actions.subscribe_request(
            organization=personas.org,
            channel="email",
            address=f"{uuid.uuid4().hex[:8]}@example.test",
            line_ids=[lines["B"].pk],
            client_ip="10.0.0.1",
        )
    with pytest.raises(actions.SubscribeError, match="Too many attempts"):
        actions.subscribe_request(
            organization=personas.org,
            channel="email",
            address="last@example.test",
            line_ids=[lines["B"].pk],
            client_ip="10.0.0.1",
        )


def test_without_an_sms_account_only_email_is_offered(personas, lines, client):
    page = client.get(reverse("publishing:subscribe", args=["alpha"]))
    assert 'value="sms"' not in page.content.decode()
    with translation.override("en"), pytest.raises(actions.SubscribeError, match="not available"):
        actions.subscribe_request(
            organization=personas.org, channel="sms", address=_mobile(), line_ids=[lines["B"].pk]
        )


def test_email_subscription_link_and_unsubscribe_link(
    personas, lines, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("publishing:subscribe", args=["alpha"]),
            {"channel": "email", "address": " Lea@Example.TEST ", "lines": [lines["A"].pk]},
        )
    assert response.status_code == 200
    subscriber = Subscriber.objects.get()
    assert subscriber.address == "lea@example.test"
    assert len(mail.outbox) == 1
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    path = link.split("8000", 1)[-1]
    assert path == reverse("publishing:subscribe_email_confirm", args=["alpha", subscriber.token])
    # A GET (a mail scanner) confirms nothing; the button does.
    assert client.get(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.PENDING
    assert client.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.CONFIRMED
    # Another organisation's page cannot confirm or unsubscribe alpha's subscriber.
    assert (
        client.post(reverse("publishing:unsubscribe", args=["beta", subscriber.token])).status_code
        == 404
    )
    assert (
        client.post(reverse("publishing:unsubscribe", args=["alpha", subscriber.token])).status_code
        == 200
    )
    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.UNSUBSCRIBED
    assert list(subscriber.lines.all()) == []


# --- The broadcast ---------------------------------------------------------------------------


def _alert(org, lines, *, inc=None, kind="alert"):
    publication = Publication.objects.create(
        organization=org,
        kind=kind,
        category="traffic",
        state="publishing",
        text="Ligne B : trafic interrompu entre Gares et République jusqu'à 10 h 30 "
        "en raison d'un incident technique. Des bus de remplacement circulent. " * 2,
        incident=inc,
    )
    publication.lines.set(lines)
    return publication


def test_alert_is_queued_once_for_the_confirmed_subscribers_of_its_lines(
    personas, lines, closed_port, django_capture_on_commit_callbacks
):
    _sms_account(personas.org, port=closed_port)
    on_b = [_confirmed(personas.org, _mobile(), [lines["B"]]) for _ in range(3)]
    both = _confirmed(personas.org, _mobile(), [lines["A"], lines["B"]])
    _confirmed(personas.org, _mobile(), [lines["A"]])
    pending = _confirmed(personas.org, _mobile(), [lines["B"]])
    pending.state = SubscriberState.PENDING
    pending.save()
    email = _confirmed(personas.org, "lea@example.test", [lines["B"]], channel="email")
    theirs = _confirmed(personas.other_org, _mobile(), [route(personas.other_org, "B")])
    publication = _alert(personas.org, [lines["B"]])

    with django_capture_on_commit_callbacks(execute=False):
        publication_started.send(sender=Publication, publication_id=publication.pk)
    # The receiver queues a task; run the broadcast itself here.
    queued = actions.broadcast_publication(publication_id=publication.pk)
    assert queued == {"sms": 4, "email": 1}
    sms = SubscriberBroadcast.objects.get(publication=publication, channel="sms")
    assert set(sms.messages.values_list("subscriber_id", flat=True)) == {
        s.pk for s in [*on_b, both]
    }
    assert len(sms.text) <= 160 and sms.text.endswith("…")
    assert theirs.pk not in SubscriberMessage.objects.values_list("subscriber_id", flat=True)
    assert email.messages.count() == 1
    # Sent twice (a retried task, a duplicated signal): nobody is queued twice.
    assert actions.broadcast_publication(publication_id=publication.pk) == {"sms": 0, "email": 0}
    assert SubscriberMessage.objects.count() == 5


def test_network_wide_incident_reaches_every_subscriber(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    _confirmed(personas.org, _mobile(), [lines["A"]])
    _confirmed(personas.org, _mobile(), [lines["B"]])
    strike = incident(personas.org, all_lines=True)
    publication = _alert(personas.org, [], inc=strike)
    assert actions.broadcast_publication(publication_id=publication.pk)["sms"] == 2


def test_a_post_is_not_sent_to_subscribers(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    _confirmed(personas.org, _mobile(), [lines["B"]])
    post = _alert(personas.org, [lines["B"]], kind="post")
    assert actions.broadcast_publication(publication_id=post.pk) == {}


def test_signal_runs_the_broadcast_through_the_task(
    personas, lines, closed_port, django_capture_on_commit_callbacks
):
    _sms_account(personas.org, port=closed_port)
    _confirmed(personas.org, _mobile(), [lines["B"]])
    publication = _alert(personas.org, [lines["B"]])
    with django_capture_on_commit_callbacks(execute=True):
        publication_started.send(sender=Publication, publication_id=publication.pk)
    message = SubscriberMessage.objects.get()
    # The gateway is unreachable: queued again for later, with the reason.
    assert message.state == SubscriberMessageState.QUEUED
    assert message.attempts == 1 and "unreachable" in message.error
    assert message.next_attempt_at > now()


def test_retries_are_bounded(personas, lines, closed_port):
    account = _sms_account(personas.org, port=closed_port)
    _confirmed(personas.org, _mobile(), [lines["B"]])
    actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk)
    for attempt in range(1, sending.MAX_ATTEMPTS + 1):
        SubscriberMessage.objects.update(next_attempt_at=None)
        sending.send_sms(account_id=account.pk, budget_seconds=5)
        message = SubscriberMessage.objects.get()
        assert message.attempts == attempt
    assert message.state == SubscriberMessageState.FAILED
    SubscriberMessage.objects.update(next_attempt_at=None)
    assert sending.send_sms(account_id=account.pk, budget_seconds=1).sent == 0
    assert SubscriberMessage.objects.get().attempts == sending.MAX_ATTEMPTS


def test_a_message_interrupted_mid_send_is_never_sent_again(personas, lines, closed_port):
    _sms_account(personas.org, port=closed_port)
    _confirmed(personas.org, _mobile(), [lines["B"]])
    actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk)
    SubscriberMessage.objects.update(
        state=SubscriberMessageState.SENDING, claimed_at=now() - timedelta(minutes=10)
    )
    assert sending.recover_stuck_sending() == 1
    message = SubscriberMessage.objects.get()
    assert message.state == SubscriberMessageState.FAILED
    assert "interrupted" in message.error
    assert sending.accounts_with_due_messages() == []


def test_token_bucket_is_shared_and_bounded(personas, closed_port):
    account = _sms_account(personas.org, port=closed_port, rate=10)
    granted, wait = sending.take_tokens(account_id=account.pk, rate=10, want=50)
    assert granted == 0 and 0 < wait <= 0.1  # a new bucket starts empty
    SendRateBucket.objects.filter(account=account).update(refilled_at=now() - timedelta(seconds=30))
    granted, _ = sending.take_tokens(account_id=account.pk, rate=40, want=50)
    assert granted == 10  # a quarter of a second of sending, however long it was idle
    granted, wait = sending.take_tokens(account_id=account.pk, rate=10, want=50)
    assert granted == 0 and wait > 0


# --- Through the SMPP server ------------------------------------------------------------------


def test_sms_go_out_at_the_configured_rate_and_receipts_are_stored(personas, lines, smsc):
    account = _sms_account(
        personas.org, port=smsc.smpp_port, rate=20, system_id=smsc.system_id, password=smsc.password
    )
    subscribers = [_confirmed(personas.org, _mobile(), [lines["B"]]) for _ in range(40)]
    publication = _alert(personas.org, [lines["B"]])
    actions.broadcast_publication(publication_id=publication.pk)
    started = time.monotonic()
    result = sending.send_sms(account_id=account.pk, budget_seconds=30)
    elapsed = time.monotonic() - started
    assert result.sent == 40 and result.failed == 0
    # 40 messages at 20 a second from an empty bucket: two seconds, not less.
    assert elapsed >= 1.8, elapsed
    submitted = {
        m["destination"]: m for m in smsc.submitted() if m["source"] == OUR_NUMBER.lstrip("+")
    }
    for subscriber in subscribers:
        at_smsc = submitted[subscriber.address.lstrip("+")]
        assert at_smsc["registered_delivery"] == 1
    messages = list(SubscriberMessage.objects.all())
    assert all(m.state == SubscriberMessageState.SENT and m.external_id for m in messages)
    # The receipts come back through the product's polling path.
    ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
    poll_account(account.pk)
    states = set(SubscriberMessage.objects.values_list("state", flat=True))
    assert states == {SubscriberMessageState.DELIVERED}
    assert SubscriberMessage.objects.filter(receipt_at__isnull=False).count() == 40


def test_undelivered_receipt_is_stored_on_the_message(personas, lines, smsc):
    account = _sms_account(
        personas.org, port=smsc.smpp_port, system_id=smsc.system_id, password=smsc.password
    )
    _confirmed(personas.org, _mobile(), [lines["B"]])
    actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk)
    smsc.next_receipt("UNDELIV", "001")
    assert sending.send_sms(account_id=account.pk, budget_seconds=10).sent == 1
    ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
    poll_account(account.pk)
    message = SubscriberMessage.objects.get()
    assert message.state == SubscriberMessageState.UNDELIVERED
    assert "UNDELIV" in message.receipt


def test_a_wrong_password_keeps_the_messages_queued(personas, lines, smsc):
    account = _sms_account(
        personas.org, port=smsc.smpp_port, system_id=smsc.system_id, password="wrongpw"
    )
    _confirmed(personas.org, _mobile(), [lines["B"]])
    actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk)
    result = sending.send_sms(account_id=account.pk, budget_seconds=5)
    assert result.sent == 0
    message = SubscriberMessage.objects.get()
    # A refused bind is permanent for the account (reconnect), and says so.
    assert "refused the bind" in message.error
    account.refresh_from_db()
    assert account.status == "reconnect"


@pytest.mark.parametrize("text", ["STOP", "stop", " Arrêt ", "ARRET", "Stop."])
def test_stop_words(text):
    assert is_stop(text)


def test_not_stop_words():
    assert not is_stop("stop au bus qui ne s'arrête pas")
    assert not is_stop("")


def test_stop_by_sms_unsubscribes_and_is_answered_once(
    personas,
    lines,
    smsc,
    django_capture_on_commit_callbacks,
):
    account = _sms_account(
        personas.org, port=smsc.smpp_port, system_id=smsc.system_id, password=smsc.password
    )
    subscriber = _confirmed(personas.org, _mobile(), [lines["B"]])
    stranger = _mobile()
    smsc.inject_mo(subscriber.address.lstrip("+"), OUR_NUMBER.lstrip("+"), "STOP")
    smsc.inject_mo(stranger.lstrip("+"), OUR_NUMBER.lstrip("+"), "STOP")
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_account(account.pk) == 2
        process_pending()
    subscriber.refresh_from_db()
    assert subscriber.state == SubscriberState.UNSUBSCRIBED
    assert list(subscriber.lines.all()) == []
    answers = Delivery.objects.filter(payload__recipient=subscriber.address)
    assert answers.count() == 1
    assert answers.get().state == "sent", answers.get().last_error
    # The subscriber's STOP is handled, not a conversation; the stranger's is one.
    conversations = Conversation.objects.filter(account=account)
    assert [c.contact.handle for c in conversations] == [stranger]
    # A second STOP is not answered again.
    time.sleep(0.01)
    smsc.inject_mo(subscriber.address.lstrip("+"), OUR_NUMBER.lstrip("+"), "STOP")
    ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        poll_account(account.pk)
        process_pending()
    assert Delivery.objects.filter(payload__recipient=subscriber.address).count() == 1
    # And no alert reaches them any more.
    assert actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk) == {
        "sms": 0,
        "email": 0,
    }


# --- The HTTP SMS gateway, the second option -------------------------------------------------


def test_http_gateway_sends_retries_and_takes_receipts_from_its_webhook(
    personas, lines, client, monkeypatch
):
    import hashlib
    import hmac
    import json

    import httpx

    from relais.connectors.sms.connector import SmsConnector

    account = ChannelAccount.objects.create(
        organization=personas.org,
        kind="sms",
        network="sms",
        handle=OUR_NUMBER,
        name="SMS (HTTP)",
        config={
            "gateway": "http",
            "base_url": "https://sms-gateway.example/api",
            "source_address": OUR_NUMBER,
            "send_rate": 1000,
        },
        credentials={"api_key": "key-123", "webhook_secret": "whsec"},  # type: ignore[misc]
    )
    ok, refused, busy = (
        _confirmed(personas.org, n, [lines["B"]])
        for n in ("+33612000001", "+33612000002", "+33612000003")
    )
    seen: list[dict] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if body["to"] == refused.address:
            return httpx.Response(400, json={"error": "blocked number"})
        if body["to"] == busy.address:
            return httpx.Response(429, headers={"retry-after": "120"}, json={"error": "slow"})
        return httpx.Response(201, json={"id": "gw-1001"})

    real_init = SmsConnector.__init__

    def with_mock(self, account, *, transport=None):
        real_init(self, account, transport=httpx.MockTransport(gateway))

    monkeypatch.setattr(SmsConnector, "__init__", with_mock)
    actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk)
    SendRateBucket.objects.create(account=account, tokens=10, refilled_at=now())
    result = sending.send_sms(account_id=account.pk, budget_seconds=5)
    assert result.sent == 1
    assert {b["to"] for b in seen} == {ok.address, refused.address, busy.address}
    assert all(b["from"] == OUR_NUMBER for b in seen)
    states = {m.subscriber_id: m for m in SubscriberMessage.objects.all()}
    assert states[ok.pk].state == SubscriberMessageState.SENT
    assert states[ok.pk].external_id == "gw-1001"
    assert states[refused.pk].state == SubscriberMessageState.FAILED
    assert "blocked number" in states[refused.pk].error
    assert states[busy.pk].state == SubscriberMessageState.QUEUED
    assert states[busy.pk].next_attempt_at >= now() + timedelta(seconds=100)

    body = json.dumps({"type": "status", "message_id": "gw-1001", "status": "delivered"}).encode()
    signature = "sha256=" + hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/webhooks/sms/{account.pk}/",
        data=body,
        content_type="application/json",
        HTTP_X_SMS_SIGNATURE=signature,
    )
    assert response.status_code in (200, 202, 204)
    delivered = SubscriberMessage.objects.get(subscriber=ok)
    assert delivered.state == SubscriberMessageState.DELIVERED
    assert delivered.receipt == "delivered" and delivered.receipt_at is not None


# --- E-mail -----------------------------------------------------------------------------------


def test_email_subscribers_receive_the_alert_with_an_unsubscribe_link(personas, lines):
    subscriber = _confirmed(personas.org, "lea@example.test", [lines["B"]], channel="email")
    _confirmed(personas.org, "other@example.test", [lines["A"]], channel="email")
    publication = _alert(personas.org, [lines["B"]])
    assert actions.broadcast_publication(publication_id=publication.pk) == {"email": 1}
    mail.outbox.clear()
    assert sending.send_emails(budget_seconds=5).sent == 1
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["lea@example.test"]
    assert publication.text in email.body
    link = reverse("publishing:unsubscribe", args=["alpha", subscriber.token])
    assert link in email.body and link in email.extra_headers["List-Unsubscribe"]
    assert SubscriberMessage.objects.get().state == SubscriberMessageState.SENT
    # Sent once: a second run finds nothing to send.
    assert sending.send_emails(budget_seconds=1).sent == 0


def test_http_gateway_failing_midway_keeps_what_went_out(personas, lines, monkeypatch):
    import httpx

    from relais.connectors.sms.connector import SmsConnector

    account = ChannelAccount.objects.create(
        organization=personas.org,
        kind="sms",
        network="sms",
        handle=OUR_NUMBER,
        name="SMS (HTTP)",
        config={
            "gateway": "http",
            "base_url": "https://gw.example",
            "source_address": OUR_NUMBER,
            "send_rate": 1000,
        },
        credentials={"api_key": "k", "webhook_secret": "w"},  # type: ignore[misc]
    )
    subscribers = [_confirmed(personas.org, f"+3361200000{i}", [lines["B"]]) for i in range(3)]
    calls: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(201, json={"id": "gw-1"})
        return httpx.Response(503, text="maintenance")

    real_init = SmsConnector.__init__
    monkeypatch.setattr(
        SmsConnector,
        "__init__",
        lambda self, account, transport=None: real_init(
            self, account, transport=httpx.MockTransport(gateway)
        ),
    )
    actions.broadcast_publication(publication_id=_alert(personas.org, [lines["B"]]).pk)
    SendRateBucket.objects.create(account=account, tokens=10, refilled_at=now())
    sending.send_sms(account_id=account.pk, budget_seconds=2)
    assert len(calls) == 2  # the third was not tried while the gateway fails
    by_subscriber = {m.subscriber_id: m for m in SubscriberMessage.objects.all()}
    first, second, third = (by_subscriber[s.pk] for s in subscribers)
    assert first.state == SubscriberMessageState.SENT and first.external_id == "gw-1"
    for message in (second, third):
        assert message.state == SubscriberMessageState.QUEUED
        assert message.next_attempt_at is not None and "503" in message.error


def test_an_alert_started_by_part_one_reaches_the_subscribers(
    personas, lines, closed_port, django_capture_on_commit_callbacks
):
    """publication_start (the one-click alert's fan-out) → publication_started → queued."""
    from relais.publishing.actions import publication_create, publication_start

    _sms_account(personas.org, port=closed_port)
    subscriber = _confirmed(personas.org, _mobile(), [lines["B"]])
    on_b = incident(personas.org, lines=[lines["B"]])
    publication = publication_create(
        membership=personas.operations,
        kind="alert",
        category="traffic",
        text="Ligne B interrompue",
        incident=on_b,
    )
    with django_capture_on_commit_callbacks(execute=True):
        publication_start(publication=publication, membership=personas.operations)
    message = SubscriberMessage.objects.get()
    assert message.subscriber == subscriber
    assert message.broadcast.publication == publication
    assert message.broadcast.text == "Ligne B interrompue"
