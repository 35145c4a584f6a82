"""Passenger feeds: GTFS-realtime Service Alerts parsed with the reference bindings, JSON,
RSS and Atom; per organisation; only active incidents."""

from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from django.test import Client
from google.protobuf import text_format
from google.transit import gtfs_realtime_pb2 as rt

from relais.common.timeutils import now
from relais.incidents.actions import incident_open, incident_set_status
from relais.incidents.models import IncidentStatus
from relais.publishing.alerts import alert_publish
from tests.incidents.helpers import approved, network

FIXTURE = Path(__file__).parent / "fixtures" / "reference_alert.textproto"
REAL_FEEDS = Path(__file__).resolve().parents[3] / "shared" / "data" / "gtfs_rt_alerts"


def _feed(client, path) -> rt.FeedMessage:
    response = client.get(path)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/x-protobuf"
    message = rt.FeedMessage()
    message.ParseFromString(response.content)
    return message


def _kinds(feed: rt.FeedMessage) -> set[str]:
    """Which alert fields are set, and which informed-entity selectors and translations."""
    kinds = set()
    for entity in feed.entity:
        alert = entity.alert
        for field, value in alert.ListFields():
            kinds.add(field.name)
            if field.name == "informed_entity":
                kinds |= {f"informed_entity.{f.name}" for e in value for f, _v in e.ListFields()}
            if field.name in ("header_text", "description_text", "url"):
                kinds |= {f"{field.name}.language" for t in value.translation if t.language}
    return kinds


@pytest.fixture
def world(personas, django_capture_on_commit_callbacks):
    net = network(personas.org)
    en = approved(personas.supervisor, personas.supervisor)
    approved(
        personas.supervisor,
        personas.supervisor,
        key=en.key,
        language="en",
        name="Strike",
        text="Strike: service disrupted on lines {line}. More: {incident_url}",
    )
    start = now() - timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        publication = alert_publish(
            membership=personas.operations, template=en, incident_type="strike", lines=[net["C4"]]
        )
    incident = publication.incident
    incident.stops.add(net["Jaurès"])
    incident.started_at, incident.expected_end_at = start, start + timedelta(hours=4)
    incident.save()
    resolved = incident_open(
        membership=personas.agent_a, title="Fini", type="works", lines=[net["12"]]
    )
    incident_set_status(
        incident=resolved, membership=personas.agent_a, status=IncidentStatus.RESOLVED
    )
    theirs = incident_open(
        membership=personas.outsider, title="Beta only", type="weather", all_lines=True
    )
    return {
        "net": net,
        "incident": incident,
        "resolved": resolved,
        "theirs": theirs,
        "publication": publication,
    }


def test_protobuf_feed_carries_the_active_incident(world):
    feed = _feed(Client(), "/o/alpha/gtfs-rt/alerts.pb")
    assert feed.header.gtfs_realtime_version == "2.0"
    assert feed.header.incrementality == rt.FeedHeader.FULL_DATASET
    assert abs(feed.header.timestamp - now().timestamp()) < 60
    assert [e.id for e in feed.entity] == [f"alpha-incident-{world['incident'].pk}"]
    alert = feed.entity[0].alert
    assert alert.cause == rt.Alert.STRIKE and alert.effect == rt.Alert.REDUCED_SERVICE
    assert alert.severity_level == rt.Alert.SEVERE
    assert [(e.route_id, e.stop_id) for e in alert.informed_entity] == [("0004", ""), ("", "1234")]
    incident = world["incident"]
    assert alert.active_period[0].start == int(incident.started_at.timestamp())
    assert alert.active_period[0].end == int(incident.expected_end_at.timestamp())
    headers = {t.language: t.text for t in alert.header_text.translation}
    assert headers == {"fr": incident.title, "en": "Strike — C4"}
    descriptions = {t.language: t.text for t in alert.description_text.translation}
    assert descriptions["fr"] == world["publication"].text
    assert descriptions["en"].startswith("Strike: service disrupted on lines C4. More: http")
    assert alert.url.translation[0].text.endswith(f"/o/alpha/alerts/{incident.pk}/")


def test_same_kinds_of_fields_as_the_reference(world):
    reference = text_format.Parse(FIXTURE.read_text(), rt.FeedMessage())
    ours = _kinds(_feed(Client(), "/o/alpha/gtfs-rt/alerts.pb"))
    assert _kinds(reference) <= ours


@pytest.mark.skipif(not REAL_FEEDS.is_dir(), reason="the shared real feeds are not here")
def test_same_kinds_of_fields_as_real_agency_feeds(world):
    """BART and Carris Metropolitana (read in place, never copied): every kind of field they
    use, we use, except images and agency-wide selectors (we name the lines)."""
    ours = _kinds(_feed(Client(), "/o/alpha/gtfs-rt/alerts.pb"))
    for path in sorted(REAL_FEEDS.glob("*.pb")):
        real = rt.FeedMessage()
        real.ParseFromString(path.read_bytes())
        missing = _kinds(real) - ours - {"image", "informed_entity.agency_id"}
        assert not missing, f"{path.name}: {missing}"


def test_the_issue_url_with_org_and_json(world):
    client = Client()
    assert len(_feed(client, "/gtfs-rt/alerts.pb?org=alpha").entity) == 1
    assert client.get("/gtfs-rt/alerts.pb").status_code == 404  # which organisation?
    assert client.get("/o/nope/gtfs-rt/alerts.pb").status_code == 404
    body = client.get("/o/alpha/gtfs-rt/alerts.pb?format=json").json()
    alert = body["entity"][0]["alert"]
    assert alert["cause"] == "STRIKE" and alert["informed_entity"][0] == {"route_id": "0004"}


def test_each_organisation_has_its_own_feed(world):
    ids = [e.id for e in _feed(Client(), "/o/beta/gtfs-rt/alerts.pb").entity]
    assert ids == [f"beta-incident-{world['theirs'].pk}"]
    alpha = _feed(Client(), "/o/alpha/gtfs-rt/alerts.pb").SerializeToString()
    assert b"Beta only" not in alpha


def test_network_wide_incident_names_every_line(personas, world):
    incident_open(
        membership=personas.agent_a, title="Grève générale", type="strike", all_lines=True
    )
    feed = _feed(Client(), "/o/alpha/gtfs-rt/alerts.pb")
    routes = {e.route_id for e in feed.entity[1].alert.informed_entity}
    assert routes == {"0004", "0012", "1001"}


def test_resolving_removes_it_from_the_feed(personas, world):
    incident_set_status(
        incident=world["incident"], membership=personas.agent_a, status=IncidentStatus.RESOLVED
    )
    assert len(_feed(Client(), "/o/alpha/gtfs-rt/alerts.pb").entity) == 0


def test_rss_and_atom(world):
    client = Client()
    rss = client.get("/o/alpha/alerts.rss")
    assert rss.status_code == 200 and rss["Content-Type"].startswith("application/rss+xml")
    channel = ElementTree.fromstring(rss.content).find("channel")  # noqa: S314 - our own feed
    items = channel.findall("item")
    assert len(items) == 1
    assert items[0].findtext("description") == world["publication"].text
    assert items[0].findtext("link").endswith(f"/o/alpha/alerts/{world['incident'].pk}/")
    atom = client.get("/o/alpha/alerts.atom")
    assert atom.status_code == 200 and b"<feed" in atom.content
    assert b"Beta only" not in client.get("/o/alpha/alerts.rss").content
    assert client.get("/o/nope/alerts.rss").status_code == 404


def test_public_pages_show_published_words_only(world, django_capture_on_commit_callbacks):
    client = Client()
    page = client.get("/o/alpha/alerts/").content.decode()
    assert world["incident"].title in page and "Beta only" not in page
    detail = client.get(f"/o/alpha/alerts/{world['incident'].pk}/")
    assert detail.status_code == 200 and world["publication"].text[:40] in detail.content.decode()
    # Another organisation's incident through this organisation's URL: 404.
    assert client.get(f"/o/alpha/alerts/{world['theirs'].pk}/").status_code == 404


def test_hostile_text_is_escaped_on_public_pages(personas, world):
    incident_open(membership=personas.agent_a, title="<script>alert(1)</script>", type="other")
    html = Client().get("/o/alpha/alerts/").content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_feed_queries_do_not_grow_with_incidents(personas, world, django_assert_max_num_queries):
    """The feed is read on every poll by every journey planner: a fixed number of queries."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        _feed(Client(), "/o/alpha/gtfs-rt/alerts.pb")
    for n in range(5):
        incident_open(
            membership=personas.agent_a, title=f"more {n}", type="works", lines=[world["net"]["12"]]
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(_feed(Client(), "/o/alpha/gtfs-rt/alerts.pb").entity) == 6
