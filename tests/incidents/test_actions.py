from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from relais.accounts.models import AuditEntry
from relais.common.timeutils import now
from relais.incidents import actions, selectors
from relais.incidents.models import Incident, IncidentStatus, TimelineEntry
from relais.listening.signals import crisis_mode_changed
from tests.api.helpers import make_conversation
from tests.incidents.helpers import network


def _open(membership, **kw):
    values = {"title": "Malaise voyageur ligne a", "type": "passenger_ill", "severity": "high"}
    return actions.incident_open(membership=membership, **(values | kw))


def test_open_records_who_and_what(personas, django_capture_on_commit_callbacks):
    net = network(personas.org)
    with django_capture_on_commit_callbacks() as callbacks:
        incident = _open(
            personas.operations, lines=[net["a"]], stops=[net["Gares"]], cause="malaise"
        )
    assert incident.owner == personas.operations.user and incident.status == "open"
    assert list(incident.lines.all()) == [net["a"]]
    entry = incident.timeline.get()
    assert (entry.kind, entry.actor, entry.data["lines"]) == (
        "opened",
        personas.operations.user,
        ["a"],
    )
    assert AuditEntry.objects.filter(action="incident.open").count() == 1
    assert len(callbacks) == 1  # one live event


def test_viewers_cannot_open(personas):
    with pytest.raises(PermissionDenied):
        _open(personas.viewer)
    assert not Incident.objects.exists()


def test_another_organisations_lines_are_refused(personas):
    theirs = network(personas.other_org)
    with pytest.raises(PermissionDenied):
        _open(personas.agent_a, lines=[theirs["C4"]])


def test_bad_input_is_a_clear_error(personas):
    with pytest.raises(ValidationError):
        _open(personas.agent_a, title="  ")
    with pytest.raises(ValidationError):
        _open(personas.agent_a, type="earthquake")
    start = now()
    with pytest.raises(ValidationError):
        _open(personas.agent_a, started_at=start, expected_end_at=start - timedelta(hours=1))


def test_status_changes_are_on_the_timeline_with_who(personas):
    incident = _open(personas.agent_a)
    actions.incident_set_status(
        incident=incident,
        membership=personas.operations,
        status=IncidentStatus.MONITORING,
        text="Secours sur place",
    )
    actions.incident_set_status(
        incident=incident, membership=personas.supervisor, status=IncidentStatus.RESOLVED
    )
    actions.incident_set_status(
        incident=incident, membership=personas.supervisor, status=IncidentStatus.RESOLVED
    )  # no-op
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at is not None
    entries = list(incident.timeline.filter(kind="status").order_by("created_at", "pk"))
    assert [(e.data["from"], e.data["to"], e.actor.username) for e in entries] == [
        ("open", "monitoring", "operations"),
        ("monitoring", "resolved", "supervisor"),
    ]
    assert entries[0].text == "Secours sur place"
    actions.incident_set_status(
        incident=incident, membership=personas.agent_a, status=IncidentStatus.OPEN
    )
    incident.refresh_from_db()
    assert incident.resolved_at is None


def test_update_lists_what_changed(personas):
    net = network(personas.org)
    incident = _open(personas.agent_a, lines=[net["a"]])
    actions.incident_update(
        incident=incident,
        membership=personas.agent_a,
        lines=[net["a"], net["C4"]],
        cause="malaise",
        severity="high",
    )
    entry = incident.timeline.get(kind="updated")
    assert set(entry.data["changes"]) == {"lines", "cause"}  # severity was already high
    assert entry.data["changes"]["lines"] == ["a", "C4, a"]
    actions.incident_update(incident=incident, membership=personas.agent_a, cause="malaise")
    assert incident.timeline.filter(kind="updated").count() == 1  # nothing changed: no entry
    with pytest.raises(ValidationError):
        actions.incident_update(incident=incident, membership=personas.agent_a, status="resolved")


def test_link_conversation_once_with_timeline(personas, django_capture_on_commit_callbacks):
    incident = _open(personas.agent_a)
    conversation = make_conversation(
        personas.account,
        django_capture_on_commit_callbacks,
        text="Pourquoi le métro a est arrêté ?",
    )
    assert actions.incident_link_conversation(
        incident=incident, conversation=conversation, membership=personas.agent_a
    )
    assert not actions.incident_link_conversation(
        incident=incident, conversation=conversation, membership=personas.agent_a
    )
    entry = incident.timeline.get(kind="conversation")
    assert entry.data["conversation_id"] == conversation.pk and entry.data["handle"] == "maelle"
    assert entry.actor == personas.agent_a.user
    actions.incident_unlink_conversation(
        incident=incident, conversation=conversation, membership=personas.agent_a
    )
    assert not incident.conversations.exists()


def test_cannot_link_another_organisations_conversation(
    personas, django_capture_on_commit_callbacks
):
    incident = _open(personas.agent_a)
    theirs = make_conversation(personas.other_account, django_capture_on_commit_callbacks)
    with pytest.raises(PermissionDenied):
        actions.incident_link_conversation(
            incident=incident, conversation=theirs, membership=personas.agent_a
        )


def test_noted_action_and_operator_report(personas):
    incident = _open(personas.agent_a)
    actions.incident_note_action(
        incident=incident, membership=personas.operations, text="Pompiers appelés"
    )
    with pytest.raises(ValidationError):
        actions.incident_note_action(incident=incident, membership=personas.operations, text=" ")
    report = {"report_id": "R-2026-118", "vehicle": "Rame 12", "cause": "malaise"}
    assert actions.incident_add_operator_report(
        incident=incident, membership=personas.operations, report=report
    )
    assert not actions.incident_add_operator_report(
        incident=incident, membership=personas.operations, report=report
    )
    incident.refresh_from_db()
    assert incident.operator_refs == [report | {"at": ""}]
    kinds = list(incident.timeline.order_by("created_at", "pk").values_list("kind", flat=True))
    assert kinds == ["opened", "action", "operator_report"]
    with pytest.raises(ValidationError):
        actions.incident_add_operator_report(
            incident=incident, membership=personas.operations, report={"cause": "x"}
        )


def test_external_sync_is_idempotent(personas):
    net = network(personas.org)
    fields = {"title": "Grève", "type": "strike", "severity": "high", "lines": [net["C4"]]}
    first, created = actions.incident_sync_external(
        membership=personas.operations, external_id="OPS-1", **fields
    )
    assert created
    again, created = actions.incident_sync_external(
        membership=personas.operations, external_id="OPS-1", **fields
    )
    assert not created and again.pk == first.pk
    assert Incident.objects.count() == 1
    assert (
        TimelineEntry.objects.filter(incident=first).count() == 1
    )  # the second call changed nothing
    actions.incident_sync_external(
        membership=personas.operations, external_id="OPS-1", status="resolved"
    )
    first.refresh_from_db()
    assert first.status == "resolved"
    with pytest.raises(ValidationError):  # a new one needs a title and type
        actions.incident_sync_external(
            membership=personas.operations, external_id="OPS-2", cause="x"
        )


def test_crisis_mode_on_opens_one_incident(personas):
    crisis_mode_changed.send(
        sender=None,
        organization_id=personas.org.pk,
        active=True,
        by_user_id=personas.supervisor.user_id,
        reason="Rumeur alerte à la bombe aéroport",
    )
    incident = Incident.objects.get()
    assert (incident.type, incident.severity, incident.created_by) == (
        "security",
        "high",
        personas.supervisor.user,
    )
    # Already an incident active: none more. Crisis off: nothing.
    crisis_mode_changed.send(
        sender=None, organization_id=personas.org.pk, active=True, by_user_id=None, reason="encore"
    )
    crisis_mode_changed.send(
        sender=None, organization_id=personas.org.pk, active=False, by_user_id=None, reason=""
    )
    assert Incident.objects.count() == 1


def test_crisis_by_the_detector_is_opened_in_the_admins_name(personas):
    crisis_mode_changed.send(
        sender=None,
        organization_id=personas.org.pk,
        active=True,
        by_user_id=None,
        reason="pic de mentions",
    )
    incident = Incident.objects.get()
    assert incident.type == "other" and incident.created_by == personas.admin.user


def test_list_puts_active_first_by_severity(personas):
    low = _open(personas.agent_a, title="low", severity="low")
    critical = _open(personas.agent_a, title="critical", severity="critical")
    done = _open(personas.agent_a, title="done", severity="critical")
    actions.incident_set_status(
        incident=done, membership=personas.agent_a, status=IncidentStatus.RESOLVED
    )
    assert list(selectors.incident_list(organization_id=personas.org.pk)) == [critical, low, done]
    assert list(selectors.incident_list(organization_id=personas.org.pk, status="active")) == [
        critical,
        low,
    ]


def test_suggestions_by_line_and_time(personas, django_capture_on_commit_callbacks):
    net = network(personas.org)
    on_a = _open(
        personas.agent_a, title="a", lines=[net["a"]], started_at=now() - timedelta(minutes=20)
    )
    _open(personas.agent_a, title="12", lines=[net["12"]], started_at=now() - timedelta(minutes=5))
    later = _open(
        personas.agent_a, title="later", lines=[net["a"]], started_at=now() + timedelta(hours=3)
    )
    everywhere = _open(
        personas.agent_a, title="strike", all_lines=True, started_at=now() - timedelta(hours=2)
    )
    conversation = make_conversation(
        personas.account, django_capture_on_commit_callbacks, text="métro a arrêté ?"
    )
    conversation.lines.set([net["a"]])
    suggested = selectors.suggested_incidents(conversation=conversation)
    assert suggested == [on_a, everywhere]  # not line 12's, not one starting hours later
    assert later not in suggested
    actions.incident_link_conversation(
        incident=on_a, conversation=conversation, membership=personas.agent_a
    )
    assert selectors.suggested_incidents(conversation=conversation) == [everywhere]
    # And the other way: the incident page suggests the conversation.
    assert conversation in selectors.suggested_conversations(incident=everywhere)
    assert selectors.suggested_conversations(incident=on_a) == []  # already linked
