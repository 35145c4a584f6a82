"""The author profile panel: history, flags, signals, and the advice with its reasons."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from relais.accounts.models import AuditEntry
from relais.care import profile
from relais.care.models import AuthorProfile
from relais.care.profile import Advice, advise
from relais.inbox.models import Message
from tests.care.helpers import converse

ORDINARY = dict(
    flags=set(),
    polemic_thread=False,
    many_polemic=False,
    large_reach=False,
    in_burst=False,
    urgency="normal",
)


def test_ordinary_author_answer_quickly():
    advice, reasons = advise(**ORDINARY)
    assert advice == Advice.QUICKLY and reasons
    advice, reasons = advise(**{**ORDINARY, "urgency": "safety"})
    assert advice == Advice.QUICKLY and "safety" in reasons[0]


@pytest.mark.parametrize("flag", ["journalist", "elected", "institution", "vip"])
def test_public_figures_answer_carefully(flag):
    advice, reasons = advise(**{**ORDINARY, "flags": {flag}})
    assert advice == Advice.CAREFULLY and len(reasons) == 1


def test_large_reach_answer_carefully():
    assert advise(**{**ORDINARY, "large_reach": True})[0] == Advice.CAREFULLY


@pytest.mark.parametrize("flag", ["politicised", "abusive"])
def test_politicised_or_abusive_do_not_answer(flag):
    advice, reasons = advise(**{**ORDINARY, "flags": {flag}, "large_reach": True})
    assert advice == Advice.DO_NOT_ANSWER
    assert len(reasons) == 2  # the silence reason first, the reach after
    if flag == "politicised":
        assert "Streisand" in reasons[0]


def test_repeated_polemic_do_not_answer_but_a_single_one_is_fine():
    assert (
        advise(**{**ORDINARY, "polemic_thread": True, "many_polemic": True})[0]
        == Advice.DO_NOT_ANSWER
    )
    assert advise(**{**ORDINARY, "polemic_thread": True, "in_burst": True})[0] == (
        Advice.DO_NOT_ANSWER
    )
    assert advise(**{**ORDINARY, "polemic_thread": True})[0] == Advice.QUICKLY


def test_a_politicised_journalist_is_answered_carefully():
    advice, reasons = advise(**{**ORDINARY, "flags": {"journalist", "politicised"}})
    assert advice == Advice.CAREFULLY and any("Streisand" in r for r in reasons)


def test_profile_figures(personas, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    first = converse(personas.account, capture, "Merci pour l'info, super service", handle="ana")
    converse(personas.account, capture, "C'est scandaleux, honte à vous", handle="ana")
    c = converse(personas.account, capture, "La C4 circule ?", handle="ana", reach=25_000)
    converse(personas.account, capture, "Rien à voir", handle="bob")
    p = profile.author_profile(conversation=c)
    assert p.conversations == 3 and p.messages_30d == 3
    assert sum(p.sentiments.values()) == 3
    expected = Message.objects.filter(author=first.contact).values_list("sentiment", flat=True)
    assert p.sentiments == {s: list(expected).count(s) for s in set(expected)}
    assert any("25000" in s for s in p.signals)  # large reach
    assert p.advice == Advice.CAREFULLY


def test_many_polemic_messages_signal(personas, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    for i in range(3):
        c = converse(personas.account, capture, f"affiche scandaleuse {i}", handle="mil")
    Message.objects.filter(author=c.contact).update(intent="polemic")
    c.intent = "polemic"
    p = profile.author_profile(conversation=c)
    assert p.polemic_30d == 3 and p.advice == Advice.DO_NOT_ANSWER
    assert any("3" in s for s in p.signals)


def test_flags_set_by_supervisors_only(personas, django_capture_on_commit_callbacks):
    c = converse(personas.account, django_capture_on_commit_callbacks, handle="gwen")
    with pytest.raises(PermissionDenied):
        profile.profile_set_flags(contact=c.contact, membership=personas.agent_a, flags=["vip"])
    with pytest.raises(ValidationError, match="Unknown flag"):
        profile.profile_set_flags(contact=c.contact, membership=personas.supervisor, flags=["spy"])
    profile.profile_set_flags(
        contact=c.contact, membership=personas.supervisor, flags=["vip", "journalist"], note="OF"
    )
    stored = AuthorProfile.objects.get(contact=c.contact)
    assert stored.flags == ["journalist", "vip"] and stored.note == "OF"
    assert AuditEntry.objects.filter(action="author.flags_set").count() == 1
    beta = converse(personas.other_account, django_capture_on_commit_callbacks, handle="b").contact
    with pytest.raises(ValidationError):
        profile.profile_set_flags(contact=beta, membership=personas.supervisor, flags=["vip"])
    assert not AuthorProfile.objects.filter(contact=beta).exists()


def test_side_panel_shows_advice_flags_and_escapes(
    personas, client_as, django_capture_on_commit_callbacks
):
    c = converse(personas.account, django_capture_on_commit_callbacks, handle="gwen")
    c.contact.display_name = "<img src=x onerror=alert(1)>"
    c.contact.save()
    AuthorProfile.objects.create(
        organization=personas.org,
        contact=c.contact,
        flags=["journalist"],
        note="<script>alert(2)</script>",
        updated_at=c.first_message_at,
    )
    html = client_as(personas.agent_a).get(f"/inbox/c/{c.pk}/").content.decode()
    assert 'data-advice="carefully"' in html
    assert "Journalist" in html or "Journaliste" in html
    assert "<script>alert(2)" not in html and "<img src=x" not in html
    assert "flags-form" not in html  # agents see flags, supervisors set them


def test_flags_form_via_ui(personas, client_as, django_capture_on_commit_callbacks):
    c = converse(personas.account, django_capture_on_commit_callbacks, handle="elu")
    client = client_as(personas.supervisor)
    assert "flags-form" in client.get(f"/inbox/c/{c.pk}/").content.decode()
    response = client.post(
        f"/care/c/{c.pk}/flags/", {"flags": ["elected"]}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and 'data-advice="carefully"' in response.content.decode()
    response = client.post(
        f"/care/c/{c.pk}/flags/", {"flags": ["nope"]}, headers={"HX-Request": "true"}
    )
    # htmx swaps only 2xx answers: the error comes back as a 200, flagged.
    assert response.status_code == 200 and response["X-Relais-Error"] == "1"
    assert "nope" in response.content.decode()
    assert client.post(f"/care/c/{c.pk}/flags/", {"flags": ["nope"]}).status_code == 400
    assert AuthorProfile.objects.get(contact=c.contact).flags == ["elected"]
    assert (
        client_as(personas.agent_a).post(f"/care/c/{c.pk}/flags/", {"flags": []}).status_code == 403
    )


def test_api_profile_and_flags(personas, django_capture_on_commit_callbacks):
    import json

    from tests.api.helpers import token_client

    c = converse(personas.account, django_capture_on_commit_callbacks, handle="coll")
    supervisor = token_client(personas.supervisor)
    response = supervisor.post(
        f"/api/conversations/{c.pk}/author-flags",
        data=json.dumps({"flags": ["politicised"]}),
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["advice"] == "do_not_answer" and body["flags"] == ["politicised"]
    agent = token_client(personas.agent_a)
    response = agent.post(
        f"/api/conversations/{c.pk}/author-flags",
        data=json.dumps({"flags": []}),
        content_type="application/json",
    )
    assert response.status_code == 403


def test_part_of_a_current_burst(personas, django_capture_on_commit_callbacks):
    from relais.common.timeutils import now
    from relais.listening.models import Alert, AlertState, Monitor

    c = converse(personas.account, django_capture_on_commit_callbacks, handle="Relayeur")
    monitor = Monitor.objects.create(organization=personas.org, name="m", query="bombe")
    t = now()
    alert = Alert.objects.create(
        organization=personas.org,
        monitor=monitor,
        granularity=60,
        bucket_start=t,
        last_bucket_start=t,
        score=0.9,
        count=40,
        created_at=t,
        top_authors=[{"handle": "relayeur", "reach": 10, "messages": 5}],
    )
    assert profile.author_profile(conversation=c).signals == ["Part of a current burst"]
    c.intent = "polemic"
    assert profile.author_profile(conversation=c).advice == Advice.DO_NOT_ANSWER
    alert.state = AlertState.CLOSED
    alert.save()
    assert profile.author_profile(conversation=c).signals == []
