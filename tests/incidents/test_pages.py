"""Incident and template pages: who sees and does what; the inbox's one-click link."""

import pytest

from relais.incidents import actions
from relais.incidents.models import Incident, IncidentStatus
from relais.wording.models import Template
from tests.api.helpers import make_conversation
from tests.incidents.helpers import approved, network


def _open(membership, **kw):
    return actions.incident_open(
        membership=membership, **({"title": "Malaise ligne a", "type": "passenger_ill"} | kw)
    )


def test_list_active_first(personas, client_as):
    done = _open(personas.agent_a, title="Terminé")
    actions.incident_set_status(
        incident=done, membership=personas.agent_a, status=IncidentStatus.RESOLVED
    )
    live = _open(personas.agent_a, title="En cours")
    response = client_as(personas.viewer).get("/incidents/")
    assert response.status_code == 200
    assert [i.pk for i in response.context["incidents"]] == [live.pk, done.pk]
    assert (
        "New incident" not in response.content.decode()
        and "Nouvel incident" not in response.content.decode()
    )


def test_new_incident_form(personas, client_as):
    net = network(personas.org)
    client = client_as(personas.operations)
    assert client.get("/incidents/new/").status_code == 200
    response = client.post(
        "/incidents/new/",
        {
            "title": "Malaise voyageur",
            "type": "passenger_ill",
            "severity": "high",
            "lines": [net["a"].pk],
            "stops": "Gares, jau",
            "places": "Station République",
            "started_at": "2026-03-04T07:40",
            "expected_end_at": "2026-03-04T08:10",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
    assert [s.name for s in incident.stops.order_by("name")] == ["Gares", "Jaurès"]
    assert incident.places == ["Station République"]
    # 07:40 in Paris (winter) is 06:40 UTC.
    assert incident.started_at.isoformat() == "2026-03-04T06:40:00+00:00"


def test_new_incident_bad_input_keeps_what_was_typed(personas, client_as):
    network(personas.org)
    response = client_as(personas.operations).post(
        "/incidents/new/",
        {
            "title": "Malaise",
            "type": "passenger_ill",
            "severity": "high",
            "stops": "Nulle Part",
            "started_at": "2026-03-04T08:00",
            "expected_end_at": "2026-03-04T07:00",
        },
    )
    assert response.status_code == 200 and not Incident.objects.exists()
    html = response.content.decode()
    assert "Nulle Part" in html and 'value="Malaise"' in html


def test_viewer_cannot_open_nor_change(personas, client_as):
    incident = _open(personas.agent_a)
    client = client_as(personas.viewer)
    assert client.get("/incidents/new/").status_code == 403
    assert (
        client.post(f"/incidents/{incident.pk}/status/", {"status": "resolved"}).status_code == 403
    )
    assert client.post(f"/incidents/{incident.pk}/action/", {"text": "x"}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == "open"


def test_detail_status_action_report_edit(personas, client_as):
    incident = _open(personas.agent_a)
    client = client_as(personas.operations)
    assert client.get(f"/incidents/{incident.pk}/").status_code == 200
    client.post(f"/incidents/{incident.pk}/status/", {"status": "monitoring"})
    client.post(
        f"/incidents/{incident.pk}/action/",
        {"text": "Pompiers sur place"},
        headers={"HX-Request": "true"},
    )
    client.post(f"/incidents/{incident.pk}/report/", {"report_id": "R-118", "vehicle": "MA-12"})
    response = client.post(
        f"/incidents/{incident.pk}/action/", {"text": "  "}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    response = client.get(f"/incidents/{incident.pk}/?part=timeline")
    html = response.content.decode()
    assert "Pompiers sur place" in html and "open → monitoring" in html
    assert "R-118" in client.get(f"/incidents/{incident.pk}/").content.decode()
    edit = client.post(
        f"/incidents/{incident.pk}/edit/",
        {
            "title": "Malaise voyageur (rame 12)",
            "type": "passenger_ill",
            "severity": "critical",
            "started_at": "2026-03-04T07:40",
        },
    )
    assert edit.status_code == 302
    incident.refresh_from_db()
    assert incident.severity == "critical"


def test_inbox_side_panel_suggests_and_links_in_one_click(
    personas, client_as, django_capture_on_commit_callbacks
):
    net = network(personas.org)
    incident = _open(personas.agent_a, lines=[net["a"]])
    conversation = make_conversation(
        personas.account, django_capture_on_commit_callbacks, text="le métro a est bloqué ?"
    )
    conversation.lines.set([net["a"]])
    client = client_as(personas.agent_a)
    side = client.get(f"/inbox/c/{conversation.pk}/thread/?part=side").content.decode()
    assert f'action="/incidents/{incident.pk}/link/"' in side
    response = client.post(
        f"/incidents/{incident.pk}/link/",
        {"conversation": conversation.pk, "from": "inbox"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and 'id="incidents-side"' in response.content.decode()
    assert list(incident.conversations.all()) == [conversation]
    assert incident.timeline.filter(kind="conversation", actor=personas.agent_a.user).exists()
    # Now linked: shown, no longer offered.
    side = client.get(f"/inbox/c/{conversation.pk}/thread/?part=side").content.decode()
    assert f'action="/incidents/{incident.pk}/link/"' not in side and incident.title in side


def test_viewer_sees_no_link_button(personas, client_as, django_capture_on_commit_callbacks):
    net = network(personas.org)
    incident = _open(personas.agent_a, lines=[net["a"]])
    conversation = make_conversation(personas.account, django_capture_on_commit_callbacks)
    conversation.lines.set([net["a"]])
    client = client_as(personas.viewer)
    side = client.get(f"/inbox/c/{conversation.pk}/thread/?part=side").content.decode()
    assert f'action="/incidents/{incident.pk}/link/"' not in side
    assert (
        client.post(
            f"/incidents/{incident.pk}/link/", {"conversation": conversation.pk}
        ).status_code
        == 403
    )


# --- templates ----------------------------------------------------------------------


def test_template_pages_and_approval(personas, client_as):
    client = client_as(personas.agent_a)
    response = client.post(
        "/templates/new/",
        {
            "name": "Retour à la normale",
            "category": "traffic",
            "language": "fr",
            "text": "Trafic normal sur {line}.",
        },
    )
    template = Template.objects.get()
    assert response.status_code == 302 and template.state == "draft"
    assert client.post(f"/templates/{template.pk}/approve/").status_code == 403  # an agent
    assert (
        client_as(personas.supervisor).post(f"/templates/{template.pk}/approve/").status_code == 302
    )
    template.refresh_from_db()
    assert template.state == "approved"
    # Editing the approved one: a new draft version.
    response = client_as(personas.agent_a).post(
        f"/templates/{template.pk}/edit/",
        {
            "name": "Retour à la normale",
            "category": "traffic",
            "text": "Le trafic est rétabli sur {line}.",
        },
    )
    new = Template.objects.exclude(pk=template.pk).get()
    assert response["Location"] == f"/templates/{new.pk}/" and (new.version, new.state) == (
        2,
        "draft",
    )
    page = client.get("/templates/").content.decode()
    assert "Retour à la normale" in page


def test_template_bad_variable_is_shown(personas, client_as):
    response = client_as(personas.agent_a).post(
        "/templates/new/",
        {"name": "x", "category": "traffic", "language": "fr", "text": "Ligne {lign}"},
    )
    assert response.status_code == 200 and "{lign}" in response.content.decode()
    assert not Template.objects.exists()


def test_operations_reads_templates_but_does_not_write(personas, client_as):
    approved(personas.supervisor, personas.supervisor)
    client = client_as(personas.operations)
    assert client.get("/templates/").status_code == 200
    assert client.get("/templates/new/").status_code == 403


def test_due_for_review_listed_on_the_page(personas, client_as):
    from datetime import date

    template = approved(personas.supervisor, personas.supervisor)
    Template.objects.filter(pk=template.pk).update(review_at=date(2020, 1, 1))
    html = client_as(personas.agent_a).get("/templates/").content.decode()
    assert 'id="due-review"' in html


@pytest.mark.parametrize("path", ["/incidents/", "/templates/", "/publishing/alert/"])
def test_pages_need_sign_in(client, path, personas):
    response = client.get(path)
    assert response.status_code == 302 and "/login/" in response["Location"]
