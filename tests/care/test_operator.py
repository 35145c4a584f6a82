"""The operator hooks: reports for a line and time (Python entry point and signed webhook,
against a fake operator system), the customer look-up and its personal-data guard."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from relais.accounts.models import AuditEntry
from relais.care import operator
from relais.care.models import CustomerLookup, OperatorIntegration
from relais.channels.contract import MessageKind
from relais.common.signing import signature_matches
from relais.common.testing import free_port
from relais.demo.setup import GTFS_DIR
from relais.inbox import actions
from relais.transit.gtfs import import_feed
from tests.api.helpers import token_client
from tests.care.helpers import converse

PARIS = ZoneInfo("Europe/Paris")
SECRET = "operator-test-secret"  # noqa: S105

# The fake operator system's database: vehicle reports by line.
REPORTS = {
    "11": [
        {"report_id": "R-7731", "vehicle": "Bus 742", "cause": "Panne de porte", "minute": 457},
        {"report_id": "R-7740", "vehicle": "Bus 615", "cause": "Retard trafic", "minute": 525},
    ]
}
CUSTOMERS = {"STAR-88123": {"name": "Camille Martin", "email": "camille@example.org", "pass": 1}}


def fake_reports(organization, line, at):
    """The Python entry point: reports within an hour of `at` (the day of `at`, Paris)."""
    day = at.astimezone(PARIS).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for r in REPORTS.get(line, []):
        when = day + timedelta(minutes=r["minute"])
        if abs(when - at) <= timedelta(hours=1):
            out.append({**{k: v for k, v in r.items() if k != "minute"}, "at": when.isoformat()})
    return out


def fake_customer(organization, reference):
    return CUSTOMERS.get(reference)


def broken_reports(organization, line, at):
    return [{"report_id": "x", "vehicle": "", "cause": "?", "at": "soon"}]


class FakeOperator(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not signature_matches(body, SECRET, self.headers.get("X-Relais-Signature", "")):
            self.send_response(401)
            self.end_headers()
            return
        data = json.loads(body)
        FakeOperator.received.append(data)
        if self.path == "/reports":
            answer = {
                "reports": fake_reports(None, data["line"], datetime.fromisoformat(data["at"]))
            }
        else:
            answer = {"customer": fake_customer(None, data["reference"])}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_server():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeOperator)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeOperator.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def bus11(personas, django_capture_on_commit_callbacks):
    import_feed(organization=personas.org, path=GTFS_DIR)
    written = datetime(2026, 3, 10, 7, 58, tzinfo=PARIS).astimezone(UTC)
    return converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "Le 11 de 7h42 n'est jamais passé à l'arrêt Jaurès",
        handle="voyageur",
        created_at=written,
    )


def test_line_and_time_guessed_from_the_message(bus11):
    line, at = operator.guess_line_and_time(bus11)
    assert line == "11"
    assert at == datetime(2026, 3, 10, 7, 42, tzinfo=PARIS)


def test_python_hook_reports_logged(personas, bus11, settings):
    settings.RELAIS_OPERATOR_REPORTS = "tests.care.test_operator.fake_reports"
    at = datetime(2026, 3, 10, 7, 42, tzinfo=PARIS)
    reports = operator.operator_reports_lookup(
        conversation=bus11, membership=personas.agent_a, line="11", at=at
    )
    assert [r.report_id for r in reports] == ["R-7731"]
    assert reports[0].vehicle == "Bus 742" and reports[0].cause == "Panne de porte"
    entry = AuditEntry.objects.get(action="operator.reports_looked_up")
    assert entry.actor_id == personas.agent_a.user_id and entry.object_id == str(bus11.pk)
    assert entry.data["reports"][0]["report_id"] == "R-7731"
    assert (
        operator.operator_reports_lookup(
            conversation=bus11, membership=personas.agent_a, line="12", at=at
        )
        == []
    )


def test_bad_reports_and_missing_configuration(personas, bus11, settings):
    at = datetime(2026, 3, 10, 7, 42, tzinfo=PARIS)
    settings.RELAIS_OPERATOR_REPORTS = ""
    with pytest.raises(operator.NotConfigured):
        operator.fetch_reports(organization=personas.org, line="11", at=at)
    settings.RELAIS_OPERATOR_REPORTS = "tests.care.test_operator.broken_reports"
    with pytest.raises(operator.OperatorError, match="vehicle"):
        operator.fetch_reports(organization=personas.org, line="11", at=at)
    with pytest.raises(ValidationError):
        operator.operator_reports_lookup(
            conversation=bus11, membership=personas.agent_a, line=" ", at=at
        )
    assert not AuditEntry.objects.filter(action="operator.reports_looked_up").exists()


def test_webhook_variant_signed(personas, bus11, settings, fake_server):
    settings.RELAIS_OPERATOR_REPORTS = ""
    integration = OperatorIntegration.objects.create(
        organization=personas.org, reports_url=f"{fake_server}/reports", secret=SECRET
    )
    at = datetime(2026, 3, 10, 7, 42, tzinfo=PARIS)
    reports = operator.fetch_reports(organization=personas.org, line="11", at=at)
    assert [r.report_id for r in reports] == ["R-7731"]
    assert FakeOperator.received == [{"organization": "alpha", "line": "11", "at": at.isoformat()}]
    integration.secret = "wrong"
    integration.save()
    with pytest.raises(operator.OperatorError, match="401"):
        operator.fetch_reports(organization=personas.org, line="11", at=at)
    integration.reports_url = "http://127.0.0.1:9/nothing-listens"
    integration.save()
    with pytest.raises(operator.OperatorError, match="did not answer"):
        operator.fetch_reports(organization=personas.org, line="11", at=at)


def test_ui_reports_from_within_the_conversation(personas, bus11, client_as, settings):
    settings.RELAIS_OPERATOR_REPORTS = "tests.care.test_operator.fake_reports"
    client = client_as(personas.agent_a)
    page = client.get(f"/inbox/c/{bus11.pk}/").content.decode()
    assert 'value="11"' in page and 'value="2026-03-10T07:42"' in page
    response = client.post(
        f"/care/c/{bus11.pk}/operator/", {"line": "11", "at": "2026-03-10T07:42"}
    )
    html = response.content.decode()
    assert (
        response.status_code == 200 and "R-7731" in html and "Bus 742" in html and "07:37" in html
    )
    response = client.post(f"/care/c/{bus11.pk}/operator/", {"line": "11", "at": "7h42"})
    assert response.status_code == 400
    response = client.post(
        f"/care/c/{bus11.pk}/operator/",
        {"line": "11", "at": "7h42"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and response["X-Relais-Error"] == "1"
    settings.RELAIS_OPERATOR_REPORTS = "tests.care.test_operator.broken_reports"
    response = client.post(
        f"/care/c/{bus11.pk}/operator/", {"line": "11", "at": "2026-03-10T07:42"}
    )
    assert response.status_code == 400 and "error" in response.content.decode()


def test_api_reports(personas, bus11, settings):
    client = token_client(personas.agent_a)
    url = f"/api/conversations/{bus11.pk}/operator-reports"
    settings.RELAIS_OPERATOR_REPORTS = ""
    body = json.dumps({"line": "11", "at": "2026-03-10T07:42:00"})
    assert client.post(url, data=body, content_type="application/json").status_code == 501
    settings.RELAIS_OPERATOR_REPORTS = "tests.care.test_operator.fake_reports"
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 200
    assert [r["report_id"] for r in response.json()] == ["R-7731"]
    settings.RELAIS_OPERATOR_REPORTS = "tests.care.test_operator.broken_reports"
    assert client.post(url, data=body, content_type="application/json").status_code == 502


# --- S9: customer look-up in private messages ---------------------------------------------


@pytest.fixture
def dm(personas, django_capture_on_commit_callbacks):
    return converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "Bonjour, ma réservation STAR-88123 n'apparaît pas",
        handle="camille",
        kind=MessageKind.DM,
    )


def test_customer_lookup_private_only_and_guarded(
    personas, dm, settings, django_capture_on_commit_callbacks
):
    settings.RELAIS_CUSTOMER_LOOKUP = "tests.care.test_operator.fake_customer"
    public = converse(
        personas.account, django_capture_on_commit_callbacks, "Au fait", handle="camille"
    )
    with pytest.raises(ValidationError, match="private"):
        operator.customer_lookup(
            conversation=public, membership=personas.agent_a, reference="STAR-88123"
        )
    lookup = operator.customer_lookup(
        conversation=dm, membership=personas.agent_a, reference="STAR-88123"
    )
    assert lookup.result["name"] == "Camille Martin"
    entry = AuditEntry.objects.get(action="operator.customer_looked_up")
    assert "Camille" not in json.dumps(entry.data) + entry.text  # no personal data in the log
    # Private reply with the personal data: allowed.
    actions.conversation_reply(
        conversation=dm, membership=personas.agent_a, text="Camille Martin, c'est réglé."
    )
    # The same author in public: refused, whatever the case.
    for text in (
        "Bonjour camille martin !",
        "Votre dossier STAR-88123 est ok",
        "écrivez à CAMILLE@example.org",
    ):
        with pytest.raises(ValidationError, match="personal data"):
            actions.conversation_reply(conversation=public, membership=personas.agent_a, text=text)
    actions.conversation_reply(
        conversation=public, membership=personas.agent_a, text="Nous vous répondons en privé."
    )


def test_customer_lookup_webhook_and_not_found(personas, dm, settings, fake_server, client_as):
    settings.RELAIS_CUSTOMER_LOOKUP = ""
    OperatorIntegration.objects.create(
        organization=personas.org, lookup_url=f"{fake_server}/lookup", secret=SECRET
    )
    client = client_as(personas.agent_a)
    response = client.post(f"/care/c/{dm.pk}/customer/", {"reference": "STAR-00000"})
    assert (
        response.status_code == 200
        and "No file found" in response.content.decode()
        or ("Aucun dossier" in response.content.decode())
    )
    response = client.post(f"/care/c/{dm.pk}/customer/", {"reference": "STAR-88123"})
    assert "camille@example.org" in response.content.decode()
    assert CustomerLookup.objects.filter(conversation=dm).count() == 2
    assert client.post(f"/care/c/{dm.pk}/customer/", {"reference": ""}).status_code == 400
