"""The supervisor's lock ("monitored, no answer"): set, shown, enforced everywhere, lifted."""

import json

import pytest
from django.core.exceptions import PermissionDenied

from relais.accounts.models import AuditEntry
from relais.care import profile
from relais.inbox import actions
from relais.inbox.actions import ConversationLocked
from relais.inbox.models import Direction, Message
from tests.api.helpers import token_client
from tests.care.helpers import converse


@pytest.fixture
def locked(personas, django_capture_on_commit_callbacks):
    conversation = converse(personas.account, django_capture_on_commit_callbacks)
    stale = type(conversation).objects.get(pk=conversation.pk)  # loaded before the lock
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        profile.conversation_lock(
            conversation=conversation, membership=personas.supervisor, reason="Polémique affiche"
        )
    assert len(callbacks) == 1  # one live event
    return stale


def _outbound() -> int:
    return Message.objects.filter(direction=Direction.OUT).count()


def test_lock_refuses_every_reply_even_from_a_stale_object(personas, locked):
    for who in (personas.agent_a, personas.supervisor, personas.admin):
        with pytest.raises(ConversationLocked, match="Polémique affiche"):
            actions.conversation_reply(conversation=locked, membership=who, text="Bonjour !")
    assert _outbound() == 0
    entry = AuditEntry.objects.get(action="conversation.locked")
    assert entry.actor_id == personas.supervisor.user_id
    assert entry.text == "Polémique affiche"


def test_only_supervisors_lock_and_unlock(personas, locked):
    with pytest.raises(PermissionDenied):
        profile.conversation_unlock(conversation=locked, membership=personas.agent_a)
    with pytest.raises(PermissionDenied):
        profile.conversation_lock(conversation=locked, membership=personas.agent_a)
    profile.conversation_unlock(conversation=locked, membership=personas.supervisor)
    locked.refresh_from_db()
    assert locked.locked_at is None and locked.lock_reason == ""
    actions.conversation_reply(conversation=locked, membership=personas.agent_a, text="Bonjour")
    assert _outbound() == 1
    assert AuditEntry.objects.filter(action="conversation.unlocked").count() == 1


def test_ui_reply_refused_with_the_reason_and_draft_kept(personas, locked, client_as):
    client = client_as(personas.agent_a)
    response = client.post(f"/inbox/c/{locked.pk}/reply/", {"text": "Mon brouillon"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "verrouillée par un superviseur" in html  # the default language is French
    assert "Mon brouillon" in html
    response = client.post(
        f"/inbox/c/{locked.pk}/reply/", {"text": "Encore"}, headers={"HX-Request": "true"}
    )
    assert response["X-Relais-Error"] == "1"
    assert _outbound() == 0


def test_api_reply_refused(personas, locked):
    client = token_client(personas.agent_a)
    response = client.post(
        f"/api/conversations/{locked.pk}/reply",
        data=json.dumps({"text": "Bonjour"}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "Polémique affiche" in response.json()["detail"]
    assert _outbound() == 0


def test_api_lock_unlock_and_roles(personas, django_capture_on_commit_callbacks):
    conversation = converse(personas.account, django_capture_on_commit_callbacks)
    agent = token_client(personas.agent_a)
    url = f"/api/conversations/{conversation.pk}"
    assert agent.post(url + "/lock", data="{}", content_type="application/json").status_code == 403
    supervisor = token_client(personas.supervisor)
    response = supervisor.post(
        url + "/lock", data=json.dumps({"reason": "vu"}), content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["locked"] is True
    assert agent.get(url + "/profile").json()["lock_reason"] == "vu"
    response = supervisor.post(url + "/unlock")
    assert response.json()["locked"] is False


def test_lock_shown_in_list_side_and_composer(personas, locked, client_as):
    client = client_as(personas.agent_a)
    html = client.get("/inbox/").content.decode()
    assert 'class="chip locked"' in html
    page = client.get(f"/inbox/c/{locked.pk}/").content.decode()
    assert 'data-locked="1"' in page and "lock-warning" in page
    # An agent sees the lock but no unlock button; the supervisor has it.
    assert "/unlock/" not in page
    page = client_as(personas.supervisor).get(f"/inbox/c/{locked.pk}/").content.decode()
    assert f"/care/c/{locked.pk}/unlock/" in page


def test_ui_lock_by_supervisor_and_refusal_for_agent(
    personas, client_as, django_capture_on_commit_callbacks
):
    conversation = converse(personas.account, django_capture_on_commit_callbacks)
    response = client_as(personas.agent_a).post(f"/care/c/{conversation.pk}/lock/", {"reason": "x"})
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.locked_at is None
    response = client_as(personas.supervisor).post(
        f"/care/c/{conversation.pk}/lock/",
        {"reason": "<b>surveillé</b>"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "&lt;b&gt;surveillé&lt;/b&gt;" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.locked_by_id == personas.supervisor.user_id
