"""Publication fan-out: one target and one delivery per channel, its state followed from
the deliveries, threading, a channel down, nothing posted twice."""

import pytest
from django.core.exceptions import PermissionDenied

from relais.channels.models import ChannelAccount, Delivery, DeliveryState
from relais.channels.tasks import deliver
from relais.connectors.sandbox.models import SandboxPost
from relais.incidents.actions import incident_open
from relais.publishing import actions
from relais.publishing.models import Publication, PublicationState, PublicationTarget
from relais.publishing.signals import publication_started
from relais.realtime import broker as broker_module
from tests.incidents.helpers import more_accounts

TEXT = "Grève : trafic perturbé sur l'ensemble du réseau ce matin."


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        broker_module, "publish", lambda org_id, message: sent.append((org_id, message))
    )
    return sent


@pytest.fixture
def started():
    received = []

    def on_started(sender, publication_id, **kwargs):
        received.append(publication_id)

    publication_started.connect(on_started)
    yield received
    publication_started.disconnect(on_started)


def _publication(membership, *, incident=None, kind="alert", text=TEXT):
    return actions.publication_create(
        membership=membership, kind=kind, category="traffic", text=text, incident=incident
    )


def _posts(account):
    return SandboxPost.objects.filter(account=account, from_organization=True)


def test_one_target_and_one_delivery_per_channel(personas, capture, started, published):
    accounts = [personas.account, *more_accounts(personas.org, "facebook", "bluesky", "mastodon")]
    incident = incident_open(
        membership=personas.operations, title="Grève", type="strike", all_lines=True
    )
    publication = _publication(personas.operations, incident=incident)
    published.clear()
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.operations)
    publication.refresh_from_db()
    assert publication.state == PublicationState.PUBLISHED
    assert publication.requested_at <= publication.completed_at
    targets = PublicationTarget.objects.filter(publication=publication)
    assert {t.account_id for t in targets} == {a.pk for a in accounts}
    assert all(t.delivery.state == DeliveryState.SENT for t in targets)
    assert publication.completed_at == max(t.delivery.sent_at for t in targets)
    for account in accounts:
        assert list(_posts(account).values_list("text", flat=True)) == [TEXT]
    assert started == [publication.pk]
    # Live events: the start, then one per channel accepted; all for this organisation.
    kinds = [m["type"] for _, m in published]
    assert kinds.count("publication") == 1 + len(accounts)
    assert {org for org, _ in published} == {personas.org.pk}
    timeline = list(incident.timeline.filter(kind="publication").values_list("data", flat=True))
    assert [d["event"] for d in timeline] == ["started", "published"]
    assert timeline[1]["seconds"] >= 0


def test_starting_twice_posts_once(personas, capture, started):
    publication = _publication(personas.agent_a)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    assert Delivery.objects.count() == 1 and _posts(personas.account).count() == 1
    assert started == [publication.pk]


def test_a_redelivered_task_posts_once(personas, capture):
    publication = _publication(personas.agent_a)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    delivery = Delivery.objects.get()
    # The queue hands the same task again (a lost acknowledgement): nothing is sent.
    deliver.call_local(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.PENDING)
    deliver.call_local(delivery.pk)  # even re-sent, the network deduplicates on the key
    assert _posts(personas.account).count() == 1


def test_viewers_cannot_publish_operations_can(personas):
    with pytest.raises(PermissionDenied):
        _publication(personas.viewer)
    publication = _publication(personas.operations)
    with pytest.raises(PermissionDenied):
        actions.publication_start(publication=publication, membership=personas.viewer)
    with pytest.raises(PermissionDenied):
        actions.publication_start(publication=publication, membership=personas.outsider)


def test_a_channel_down_the_others_go_out_and_it_is_retried(personas, capture):
    facebook, bluesky = more_accounts(personas.org, "facebook", "bluesky")
    ChannelAccount.objects.filter(pk=bluesky.pk).update(
        config={"flavour": "bluesky", "outage": True}
    )
    publication = _publication(personas.agent_a)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    publication.refresh_from_db()
    assert publication.state == PublicationState.PUBLISHING  # bluesky still to come
    assert _posts(personas.account).count() == 1 and _posts(facebook).count() == 1
    down = Delivery.objects.get(account=bluesky)
    assert down.state == DeliveryState.PENDING and "unreachable" in down.last_error
    assert down.next_attempt_at is not None  # retried with backoff
    # The network is back; the retry sweep sends it.
    ChannelAccount.objects.filter(pk=bluesky.pk).update(config={"flavour": "bluesky"})
    Delivery.objects.filter(pk=down.pk).update(next_attempt_at=None)
    with capture(execute=True):
        deliver.call_local(down.pk)
    publication.refresh_from_db()
    assert publication.state == PublicationState.PUBLISHED and _posts(bluesky).count() == 1


def test_a_refusal_makes_it_partial_then_a_person_retries(personas, capture):
    (mastodon,) = more_accounts(personas.org, "mastodon", reject="account suspended")
    incident = incident_open(membership=personas.agent_a, title="Travaux", type="works")
    publication = _publication(personas.agent_a, incident=incident)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    publication.refresh_from_db()
    assert publication.state == PublicationState.PARTIAL and publication.completed_at
    from django.core import mail

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["agent_a@example.test"]
    assert "refused by the network: account suspended" in mail.outbox[0].body
    last = incident.timeline.filter(kind="publication").last()
    assert last.data["event"] == "partial"
    assert last.data["failed"][0]["error"] == "refused by the network: account suspended"
    ChannelAccount.objects.filter(pk=mastodon.pk).update(config={"flavour": "mastodon"})
    target = PublicationTarget.objects.get(publication=publication, account=mastodon)
    with capture(execute=True):
        actions.publication_retry_target(target=target, membership=personas.agent_a)
    publication.refresh_from_db()
    assert publication.state == PublicationState.PUBLISHED
    assert _posts(mastodon).count() == 1 and _posts(personas.account).count() == 1


def test_all_channels_refuse_is_failed(personas, capture):
    ChannelAccount.objects.filter(pk=personas.account.pk).update(
        config={"flavour": "x", "reject": "no"}
    )
    publication = _publication(personas.agent_a)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    publication.refresh_from_db()
    assert publication.state == PublicationState.FAILED


def test_too_long_for_one_network_fails_there_only(personas, capture):
    (facebook,) = more_accounts(personas.org, "facebook")
    long_text = "Perturbations. " * 30  # 450 characters: over X's 280
    publication = _publication(personas.agent_a, text=long_text)
    with capture(execute=True):
        actions.publication_start(publication=publication, membership=personas.agent_a)
    x_delivery = Delivery.objects.get(account=personas.account)
    assert x_delivery.state == DeliveryState.FAILED and "280" in x_delivery.last_error
    assert _posts(personas.account).count() == 0 and _posts(facebook).count() == 1
    publication.refresh_from_db()
    assert publication.state == PublicationState.PARTIAL


def test_updates_and_closing_are_threaded_under_the_first_alert(personas, capture):
    (facebook,) = more_accounts(personas.org, "facebook")
    incident = incident_open(
        membership=personas.operations, title="Grève", type="strike", all_lines=True
    )
    made = []
    for kind, text in (
        ("alert", "Grève."),
        ("update", "Reprise partielle."),
        ("closing", "Trafic normal."),
    ):
        publication = _publication(personas.operations, incident=incident, kind=kind, text=text)
        with capture(execute=True):
            actions.publication_start(publication=publication, membership=personas.operations)
        made.append(publication)
    alert, update, closing = (Publication.objects.get(pk=p.pk) for p in made)
    assert update.parent == alert and closing.parent == alert
    for account in (personas.account, facebook):
        root = _posts(account).get(text="Grève.")
        for text in ("Reprise partielle.", "Trafic normal."):
            post = _posts(account).get(text=text)
            assert post.reply_to == root and post.root == root


def test_accounts_of_another_organisation_are_ignored(personas, capture):
    publication = _publication(personas.agent_a)
    with capture(execute=True):
        actions.publication_start(
            publication=publication, membership=personas.agent_a, accounts=[personas.other_account]
        )
    assert not Delivery.objects.exists()
    assert not SandboxPost.objects.filter(account=personas.other_account).exists()


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks
