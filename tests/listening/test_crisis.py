"""Crisis mode: one switch, audited on and off, a banner for everyone, a live event, the
crisis_mode_changed signal (incidents open one), promotional posts held (crisis_active),
crisis templates first (crisis_first)."""

import pytest
from django.urls import reverse

from relais.accounts.models import AuditEntry
from relais.listening import actions, selectors
from relais.listening.models import CrisisMode
from relais.listening.signals import crisis_mode_changed
from relais.realtime import broker as broker_module


@pytest.fixture
def received():
    calls = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    crisis_mode_changed.connect(receiver, dispatch_uid="test-crisis")
    yield calls
    crisis_mode_changed.disconnect(dispatch_uid="test-crisis")


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        broker_module, "publish", lambda org_id, message: sent.append((org_id, message))
    )
    return sent


def test_switch_on_and_off(personas, received, published, django_capture_on_commit_callbacks):
    p = personas
    assert not selectors.crisis_active(organization_id=p.org.pk)
    with django_capture_on_commit_callbacks(execute=True):
        actions.crisis_switch(
            organization=p.org,
            active=True,
            by_user_id=p.supervisor.user_id,
            reason="Rumeur alerte à la bombe",
        )
    assert selectors.crisis_active(organization_id=p.org.pk)
    assert not selectors.crisis_active(organization_id=p.other_org.pk)
    assert received == [
        {
            "signal": crisis_mode_changed,
            "organization_id": p.org.pk,
            "active": True,
            "by_user_id": p.supervisor.user_id,
            "reason": "Rumeur alerte à la bombe",
        }
    ]
    assert [m["data"]["active"] for _, m in published if m["type"] == "crisis"] == [True]
    # Switching on twice changes nothing and sends nothing.
    with django_capture_on_commit_callbacks(execute=True):
        actions.crisis_switch(organization=p.org, active=True, by_user_id=p.admin.user_id)
    assert len(received) == 1
    with django_capture_on_commit_callbacks(execute=True):
        actions.crisis_switch(organization=p.org, active=False, by_user_id=p.admin.user_id)
    assert not selectors.crisis_active(organization_id=p.org.pk)
    assert [r["active"] for r in received] == [True, False]
    audit = list(
        AuditEntry.objects.filter(action__startswith="listening.crisis")
        .order_by("pk")
        .values_list("action", "actor_id", "text")
    )
    assert audit == [
        ("listening.crisis_on", p.supervisor.user_id, "Rumeur alerte à la bombe"),
        ("listening.crisis_off", p.admin.user_id, ""),
    ]


def test_no_signal_when_the_switch_is_rolled_back(
    personas, received, django_capture_on_commit_callbacks
):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                actions.crisis_switch(organization=personas.org, active=True, by_user_id=None)
                raise RuntimeError
        except RuntimeError:
            pass
    assert received == []
    assert not CrisisMode.objects.filter(active=True).exists()


def test_banner_for_everyone_of_the_organisation_only(personas, client_as):
    p = personas
    actions.crisis_switch(
        organization=p.org, active=True, by_user_id=p.admin.user_id, reason="Alerte <b>bombe</b>"
    )
    for member in (p.agent_a, p.viewer, p.operations):
        page = client_as(member).get(reverse("inbox:list")).content.decode()
        assert 'class="crisis-banner"' in page
        assert "Alerte &lt;b&gt;bombe&lt;/b&gt;" in page  # hostile text shown escaped
    page = client_as(p.outsider).get(reverse("inbox:list")).content.decode()
    assert 'class="crisis-banner"' not in page


def test_only_supervisors_switch_from_the_page(personas, client_as):
    p = personas
    url = reverse("listening:crisis")
    assert client_as(p.agent_a).post(url, {"active": "1", "reason": "x"}).status_code == 403
    assert not selectors.crisis_active(organization_id=p.org.pk)
    response = client_as(p.supervisor).post(url, {"active": "1", "reason": "rumeur"})
    assert response.status_code == 302
    assert selectors.crisis_active(organization_id=p.org.pk)
    client_as(p.supervisor).post(url, {"active": "0"})
    assert not selectors.crisis_active(organization_id=p.org.pk)


def test_crisis_templates_come_first_in_crisis_mode(personas):
    from relais.wording.models import Template

    p = personas

    def make(key, category):
        return Template.objects.create(
            organization=p.org, key=key, name=key, category=category, language="fr", text=key
        )

    make("a-reply", "reply")
    make("b-crisis", "crisis")
    make("c-traffic", "traffic")
    qs = Template.objects.filter(organization=p.org).order_by("key")
    assert [t.key for t in selectors.crisis_first(organization_id=p.org.pk, templates=qs)] == [
        "a-reply",
        "b-crisis",
        "c-traffic",
    ]
    actions.crisis_switch(organization=p.org, active=True, by_user_id=None)
    assert [t.key for t in selectors.crisis_first(organization_id=p.org.pk, templates=qs)] == [
        "b-crisis",
        "a-reply",
        "c-traffic",
    ]
