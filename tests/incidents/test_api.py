"""The API: the operator's operations system opens and updates incidents by its own id;
templates; the one-click alert."""

from relais.channels.models import Delivery
from relais.incidents.models import Incident
from tests.api.helpers import post_json, token_client
from tests.incidents.helpers import approved, network


def _put(client, external_id, data):
    import json

    return client.put(
        f"/api/incidents/external/{external_id}",
        data=json.dumps(data),
        content_type="application/json",
    )


def test_operations_system_opens_and_updates_idempotently(personas):
    network(personas.org)
    client = token_client(personas.operations)
    body = {
        "title": "Panne rame",
        "type": "technical",
        "severity": "high",
        "lines": ["1001"],
        "stops": ["5678"],
        "started_at": "2026-03-04T07:40:00+01:00",
        "operator_refs": [{"report_id": "SAE-77", "vehicle": "MA-12", "cause": "porte"}],
    }
    first = _put(client, "SAE-2026-0301", body)
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["external_id"] == "SAE-2026-0301" and [
        line["gtfs_id"] for line in data["lines"]
    ] == ["1001"]
    assert data["operator_refs"][0]["report_id"] == "SAE-77"
    again = _put(client, "SAE-2026-0301", body)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert Incident.objects.count() == 1
    assert len(again.json()["timeline"]) == 1  # the repeat changed nothing
    closed = _put(
        client,
        "SAE-2026-0301",
        {"status": "resolved", "operator_refs": [{"report_id": "SAE-78", "cause": "réparée"}]},
    )
    assert closed.status_code == 200 and closed.json()["status"] == "resolved"
    assert [r["report_id"] for r in closed.json()["operator_refs"]] == ["SAE-77", "SAE-78"]
    kinds = [e["kind"] for e in closed.json()["timeline"]]
    assert kinds == ["opened", "operator_report", "status"]


def test_bad_input_is_a_clear_422(personas):
    network(personas.org)
    client = token_client(personas.operations)
    unknown = _put(client, "X-1", {"title": "x", "type": "strike", "lines": ["0004", "9999"]})
    assert unknown.status_code == 422 and "9999" in unknown.json()["detail"]
    naive = _put(
        client, "X-1", {"title": "x", "type": "strike", "started_at": "2026-03-04T07:40:00"}
    )
    assert naive.status_code == 422 and "offset" in naive.json()["detail"]
    no_title = _put(client, "X-2", {"cause": "x"})
    assert no_title.status_code == 422
    bad_type = _put(client, "X-3", {"title": "x", "type": "earthquake"})
    assert bad_type.status_code == 422
    assert not Incident.objects.exists()


def test_viewer_token_cannot_write(personas):
    response = post_json(
        token_client(personas.viewer), "/api/incidents", {"title": "x", "type": "strike"}
    )
    assert response.status_code == 403 and not Incident.objects.exists()


def test_api_incident_flow(personas, django_capture_on_commit_callbacks):
    from tests.api.helpers import make_conversation

    client = token_client(personas.agent_a)
    created = post_json(client, "/api/incidents", {"title": "Malaise", "type": "passenger_ill"})
    assert created.status_code == 201
    iid = created.json()["id"]
    conversation = make_conversation(personas.account, django_capture_on_commit_callbacks)
    assert post_json(
        client, f"/api/incidents/{iid}/conversations", {"conversation_id": conversation.pk}
    ).json()["conversation_ids"] == [conversation.pk]
    assert (
        post_json(client, f"/api/incidents/{iid}/actions", {"text": "SAMU prévenu"}).status_code
        == 201
    )
    assert (
        post_json(client, f"/api/incidents/{iid}/status", {"status": "monitoring"}).json()["status"]
        == "monitoring"
    )
    patched = client.patch(
        f"/api/incidents/{iid}", data='{"cause": "malaise"}', content_type="application/json"
    )
    assert patched.json()["cause"] == "malaise"
    listed = client.get("/api/incidents?status=active").json()
    assert [i["id"] for i in listed["items"]] == [iid]


def test_templates_api(personas):
    agent, supervisor = token_client(personas.agent_a), token_client(personas.supervisor)
    created = post_json(
        agent,
        "/api/templates",
        {
            "name": "Grève",
            "category": "traffic",
            "text": "Grève sur {line}.",
            "short_text": "Grève {line}",
        },
    )
    assert created.status_code == 201 and created.json()["state"] == "draft"
    tid = created.json()["id"]
    assert post_json(agent, f"/api/templates/{tid}/approve").status_code == 403
    assert post_json(supervisor, f"/api/templates/{tid}/approve").json()["state"] == "approved"
    rendered = post_json(agent, f"/api/templates/{tid}/render", {"values": {"line": "C4"}})
    assert rendered.json() == {"text": "Grève sur C4.", "short_text": "Grève C4"}
    missing = post_json(agent, f"/api/templates/{tid}/render", {"values": {}})
    assert missing.status_code == 422 and "{line}" in missing.json()["detail"]
    new = agent.patch(
        f"/api/templates/{tid}", data='{"text": "Grève : {line}."}', content_type="application/json"
    )
    assert new.json()["version"] == 2 and new.json()["state"] == "draft" and new.json()["id"] != tid
    assert (
        post_json(
            agent, "/api/templates", {"name": "x", "category": "traffic", "text": "{nope}"}
        ).status_code
        == 422
    )


def test_alert_api_publishes_once_per_key(personas, django_capture_on_commit_callbacks):
    network(personas.org)
    template = approved(personas.supervisor, personas.supervisor)
    client = token_client(personas.operations)
    body = {"template_id": template.pk, "type": "strike", "lines": ["0004"], "request_key": "k1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(client, "/api/alerts", body)
    assert response.status_code == 201, response.content
    data = client.get(f"/api/publications/{response.json()['id']}").json()  # once sent
    assert data["state"] == "published" and data["seconds"] is not None
    assert data["targets"][0]["state"] == "sent"
    with django_capture_on_commit_callbacks(execute=True):
        assert post_json(client, "/api/alerts", body).json()["id"] == data["id"]
    assert Delivery.objects.count() == 1
    assert client.get(f"/api/publications/{data['id']}").json()["id"] == data["id"]
    viewer = post_json(token_client(personas.viewer), "/api/alerts", body | {"request_key": "k2"})
    assert viewer.status_code == 403
