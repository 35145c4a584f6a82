"""Listening pages and API: monitor CRUD by role, query errors pointing at the position,
the dashboard (chart data, bursts, authors, terms, sentiment, drill-down), the alert page."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse

from relais.channels.ingest import ingest
from relais.channels.pipeline import process_pending
from relais.common.testing import inbound
from relais.listening import actions
from relais.listening.models import Alert, AlertState, Monitor
from tests.api.helpers import post_json, token_client
from tests.listening.helpers import at_clock

FORM = {
    "name": "Bomb",
    "query": "bombe aéroport",
    "sources": "all",
    "team": "",
    "alerts_enabled": "on",
    "escalate_after_minutes": "10",
    "active": "on",
}


def test_only_supervisors_and_admins_edit_monitors(personas, client_as):
    url = reverse("listening:monitor_new")
    for member in (personas.agent_a, personas.viewer, personas.operations):
        assert client_as(member).get(url).status_code == 403
        assert client_as(member).post(url, FORM).status_code == 403
    assert not Monitor.objects.exists()
    response = client_as(personas.supervisor).post(url, FORM)
    monitor = Monitor.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "listening:monitor", args=[monitor.pk]
    )
    # Everyone of the organisation reads it.
    assert client_as(personas.viewer).get(response["Location"]).status_code == 200


def test_a_bad_query_is_shown_with_its_position_and_nothing_is_saved(personas, client_as):
    client = client_as(personas.admin)
    response = client.post(
        reverse("listening:monitor_new"), FORM | {"query": "bombe AND (aéroport OR"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "caractère 21" in html  # the OR with nothing after it (French, the default)
    assert "OR demande un terme à sa droite" in html
    assert "<mark>" in html
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(reverse("listening:monitor_new"), FORM | {"query": "NOT bombe"})
    assert "would match nearly every message" in response.content.decode()
    response = client.post(reverse("listening:monitor_new"), FORM | {"query": "line:Z99 bombe"})
    assert "no line" in response.content.decode()
    assert not Monitor.objects.exists()


def test_edit_and_delete(personas, client_as):
    monitor = actions.monitor_create(membership=personas.admin, name="Bomb", query_text="bombe")
    client = client_as(personas.supervisor)
    response = client.post(
        reverse("listening:monitor_edit", args=[monitor.pk]),
        FORM | {"query": "bombe gare", "active": ""},
    )
    assert response.status_code == 302
    monitor.refresh_from_db()
    assert monitor.query == "bombe gare" and not monitor.active
    assert client.post(reverse("listening:monitor_delete", args=[monitor.pk])).status_code == 302
    assert not Monitor.objects.exists()


def test_monitor_page_shows_volume_bursts_authors_terms_and_drill_down(personas, client_as):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with at_clock(now - timedelta(hours=1)):
        monitor = actions.monitor_create(membership=personas.admin, name="Bomb", query_text="bombe")
    t = now - timedelta(minutes=10)
    with at_clock(t):
        ingest(
            account=personas.account,
            messages=[
                inbound(
                    "bombe <script>alert(1)</script> aéroport évacué",
                    handle="agence",
                    reach=400000,
                    created_at=t,
                ),
                inbound(
                    "encore une bombe à l'aéroport, évacué", handle="lea", reach=80, created_at=t
                ),
            ],
        )
        process_pending()
    client = client_as(personas.agent_a)
    html = client.get(reverse("listening:monitor", args=[monitor.pk]) + "?hours=1").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "@agence" in html and "@lea" in html
    chart = json.loads(
        html.split('id="monitor-chart" type="application/json">')[1].split("</script>")[0]
    )
    assert chart["granularity"] == 60
    assert sum(p["count"] for p in chart["points"]) == 2
    assert len(chart["points"]) in (60, 61)  # the current, unfinished minute included
    # Top terms leave out the query's own words and stop words.
    response = client.get(reverse("listening:monitor", args=[monitor.pk]) + "?hours=1")
    terms = dict(response.context["terms"])
    assert "bombe" not in terms and terms.get("evacue") == 2
    # Drill-down on the bucket: its messages only.
    start = int(t.timestamp())
    response = client.get(
        reverse("listening:monitor", args=[monitor.pk])
        + f"?hours=1&from={start - 600}&to={start - 60}"
    )
    assert response.context["messages"] == []
    response = client.get(
        reverse("listening:monitor", args=[monitor.pk]) + f"?hours=1&from={start}&to={start + 60}"
    )
    assert len(response.context["messages"]) == 2


def test_alert_page_ack_and_crisis_button(personas, client_as):
    monitor = actions.monitor_create(membership=personas.admin, name="Bomb", query_text="bombe")
    at = datetime.now(UTC)
    alert = Alert.objects.create(
        organization=personas.org,
        monitor=monitor,
        granularity=60,
        bucket_start=at,
        last_bucket_start=at,
        score=0.8,
        count=12,
        created_at=at,
    )
    html = (
        client_as(personas.supervisor)
        .get(reverse("listening:alert", args=[alert.pk]))
        .content.decode()
    )
    assert "Switch crisis mode on" in html or "Passer en mode crise" in html
    assert 'id="alert-chart"' in html
    # A viewer sees it but cannot acknowledge.
    assert (
        client_as(personas.viewer).post(reverse("listening:alert_ack", args=[alert.pk])).status_code
        == 403
    )
    assert (
        client_as(personas.agent_a)
        .post(reverse("listening:alert_ack", args=[alert.pk]))
        .status_code
        == 302
    )
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED
    # The crisis button on the alert: audited with the alert's id.
    client_as(personas.supervisor).post(
        reverse("listening:crisis"), {"active": "1", "alert": alert.pk}
    )
    from relais.accounts.models import AuditEntry

    entry = AuditEntry.objects.get(action="listening.crisis_on")
    assert entry.data == {"alert_id": alert.pk} and "Bomb" in entry.text


def test_api_monitor_crud_and_query_error_position(personas):
    client = token_client(personas.supervisor)
    response = post_json(
        client, "/api/listening/monitors", {"name": "Bomb", "query": "bombe (aéroport"}
    )
    assert response.status_code == 400
    assert response.json()["position"] == 6
    response = post_json(
        client, "/api/listening/monitors", {"name": "Bomb", "query": "bombe aéroport"}
    )
    assert response.status_code == 201, response.content
    monitor_id = response.json()["id"]
    volume = client.get(
        f"/api/listening/monitors/{monitor_id}/volume?hours=1&granularity=60"
    ).json()
    assert len(volume) in (60, 61) and all(p["count"] == 0 for p in volume)
    response = client.put(
        f"/api/listening/monitors/{monitor_id}",
        json.dumps({"name": "Bomb", "query": "bombe gare", "active": False}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert (
        token_client(personas.agent_a).delete(f"/api/listening/monitors/{monitor_id}").status_code
        == 403
    )
    assert client.delete(f"/api/listening/monitors/{monitor_id}").status_code == 204
    assert not Monitor.objects.exists()


@pytest.mark.parametrize("name", ["listening:dashboard", "listening:alerts"])
def test_pages_render_for_every_role(personas, client_as, name):
    for member in (personas.admin, personas.agent_a, personas.viewer):
        assert client_as(member).get(reverse(name)).status_code == 200


def test_dashboard_lists_listening_sources_with_their_queries_and_health(personas, client_as):
    from relais.channels.models import AccountStatus, ChannelAccount

    ChannelAccount.objects.create(
        organization=personas.org,
        kind="bluesky",
        network="bluesky",
        handle="search-bsky",
        name="Bluesky search",
        config={"listening": True, "search": ["<b>bombe</b> aéroport"]},
        status=AccountStatus.ERROR,
        last_error="429 rate limited",
    )
    ChannelAccount.objects.create(
        organization=personas.other_org,
        kind="x",
        network="x",
        handle="search-other",
        name="Other org search",
        config={"listening": True, "search": ["secret"]},
    )
    html = client_as(personas.agent_a).get(reverse("listening:dashboard")).content.decode()
    assert "Bluesky search" in html
    assert "&lt;b&gt;bombe&lt;/b&gt; aéroport" in html and "<b>bombe</b>" not in html
    assert "429 rate limited" in html
    assert "Other org search" not in html  # tenant isolation
    sources = html.split('class="cards sources"')[1].split("</ul>")[0]
    assert "Bluesky search" in sources and personas.account.name not in sources
