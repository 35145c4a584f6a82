from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from relais.accounts.models import AuditEntry
from relais.wording import actions, selectors
from relais.wording.models import Template, TemplateState


def _draft(membership, **kw):
    values = {
        "name": "Malaise voyageur",
        "category": "traffic",
        "text": "Ligne {line} : trafic interrompu (malaise voyageur). Reprise vers {eta}.",
        "short_text": "{line} interrompue, malaise voyageur.",
    }
    return actions.template_create(membership=membership, **(values | kw))


def test_create_is_a_draft_owned_by_its_author(personas):
    t = _draft(personas.agent_a)
    assert (t.state, t.version, t.owner, t.key) == (
        "draft",
        1,
        personas.agent_a.user,
        "malaise-voyageur",
    )
    assert t.language == "fr"  # the organisation's
    assert AuditEntry.objects.filter(action="template.create", object_id=str(t.pk)).exists()


def test_same_name_gets_its_own_key(personas):
    assert _draft(personas.agent_a).key != _draft(personas.agent_a).key


def test_unknown_variable_is_refused_with_the_known_ones(personas):
    with pytest.raises(ValidationError) as caught:
        _draft(personas.agent_a, text="Ligne {lgne} coupée")
    assert "{lgne}" in caught.value.messages[0] and "{line}" in caught.value.messages[0]
    assert not Template.objects.exists()


@pytest.mark.parametrize("field", ["name", "text"])
def test_empty_name_or_text_refused(personas, field):
    with pytest.raises(ValidationError):
        _draft(personas.agent_a, **{field: "  "})


def test_operations_and_viewers_cannot_write_templates(personas):
    for m in (personas.operations, personas.viewer):
        with pytest.raises(PermissionDenied):
            _draft(m)


def test_only_supervisors_and_admins_approve(personas):
    t = _draft(personas.agent_a)
    for m in (personas.agent_a, personas.operations, personas.viewer):
        with pytest.raises(PermissionDenied):
            actions.template_approve(template=t, membership=m)
    approved = actions.template_approve(template=t, membership=personas.supervisor)
    assert approved.state == "approved" and approved.approved_by == personas.supervisor.user
    assert approved.approved_at is not None


def test_editing_a_draft_changes_it_in_place(personas):
    t = _draft(personas.agent_a)
    saved = actions.template_update(
        template=t, membership=personas.agent_a, text="Ligne {line} coupée."
    )
    assert saved.pk == t.pk and saved.version == 1 and saved.text == "Ligne {line} coupée."


def test_editing_an_approved_template_makes_a_new_draft_version(personas):
    t = actions.template_approve(template=_draft(personas.agent_a), membership=personas.admin)
    new = actions.template_update(
        template=t, membership=personas.agent_a, text="Ligne {line} : secours en route."
    )
    assert new.pk != t.pk
    assert (new.version, new.state, new.previous_id, new.key) == (2, "draft", t.pk, t.key)
    t.refresh_from_db()
    assert t.state == "approved" and "malaise voyageur" in t.text  # still in force
    # A second edit goes to the same draft, not a third version.
    again = actions.template_update(template=t, membership=personas.agent_a, name="Malaise (v2)")
    assert again.pk == new.pk and again.text == "Ligne {line} : secours en route."
    # Approving the new version retires the old one.
    actions.template_approve(template=new, membership=personas.supervisor)
    t.refresh_from_db()
    assert t.state == "retired"
    assert list(selectors.template_versions(template=new).values_list("version", "state")) == [
        (2, "approved"),
        (1, "retired"),
    ]


def test_retired_cannot_be_edited_nor_approved(personas):
    t = _draft(personas.agent_a)
    actions.template_retire(template=t, membership=personas.supervisor)
    with pytest.raises(ValidationError):
        actions.template_update(template=t, membership=personas.agent_a, text="x")
    with pytest.raises(ValidationError):
        actions.template_approve(template=t, membership=personas.supervisor)


def test_translation_shares_the_key_and_is_found(personas):
    fr = actions.template_approve(template=_draft(personas.agent_a), membership=personas.admin)
    en = actions.template_create(
        membership=personas.agent_a,
        key=fr.key,
        name="Passenger taken ill",
        category="traffic",
        language="en",
        text="Line {line}: service interrupted (passenger taken ill).",
    )
    assert en.key == fr.key and en.language == "en"
    assert selectors.template_in_language(template=fr, language="en") is None  # not approved yet
    actions.template_approve(template=en, membership=personas.admin)
    assert selectors.template_in_language(template=fr, language="en") == en
    with pytest.raises(ValidationError):  # the same language twice
        actions.template_create(
            membership=personas.agent_a,
            key=fr.key,
            name="x",
            category="traffic",
            language="fr",
            text="x",
        )


def test_templates_past_their_review_date_are_listed(personas):
    today = date(2026, 3, 10)
    old = actions.template_approve(
        template=_draft(personas.agent_a, name="Vieux", review_at=today - timedelta(days=1)),
        membership=personas.admin,
    )
    actions.template_approve(
        template=_draft(personas.agent_a, name="Frais", review_at=today + timedelta(days=30)),
        membership=personas.admin,
    )
    _draft(personas.agent_a, name="Brouillon", review_at=today - timedelta(days=5))  # a draft
    due = selectors.templates_due_review(organization_id=personas.org.pk, today=today)
    assert list(due) == [old]


def test_alert_templates_put_the_incident_type_first(personas):
    a = actions.template_approve(
        template=_draft(personas.agent_a, name="A", incident_types=["strike"]),
        membership=personas.admin,
    )
    b = actions.template_approve(
        template=_draft(personas.agent_a, name="B", incident_types=["passenger_ill"]),
        membership=personas.admin,
    )
    _draft(personas.agent_a, name="C", incident_types=["passenger_ill"])  # draft: never offered
    actions.template_approve(
        template=_draft(personas.agent_a, name="D", category="reply"), membership=personas.admin
    )
    assert selectors.alert_templates(
        organization_id=personas.org.pk, incident_type="passenger_ill"
    ) == [b, a]
    assert b.state == TemplateState.APPROVED
