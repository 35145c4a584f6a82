"""Triage: rules that are useful with no label, the network's lines and stops, the pipeline
step, corrections by agents, the batch command and the API."""

import io
import json

import pytest
from django.core.management import call_command

from relais.channels.ingest import ingest
from relais.channels.pipeline import process_pending
from relais.common.testing import inbound
from relais.demo.setup import GTFS_DIR
from relais.inbox.models import Conversation, Message
from relais.transit.gtfs import import_feed
from relais.triage.engine import Triager
from relais.triage.entities import NetworkLexicon
from relais.triage.models import TriageLabel


@pytest.fixture(scope="module")
def star():
    return Triager(NetworkLexicon.from_gtfs(GTFS_DIR))


@pytest.mark.parametrize(
    ("text", "intent", "urgency"),
    [
        ("La C4 circule ce matin ?", "question", "normal"),
        ("Is the metro running today? I need to get to Gares", "question", "normal"),
        ("Le 11 n'est jamais passé à République, inadmissible", "incident_report", "blocking"),
        ("Encore en retard, j'en ai marre, remboursement svp", "complaint", "normal"),
        ("Le bus est en panne, on est bloqués", "incident_report", "blocking"),
        ("Inadmissible, service lamentable, c'est une honte", "complaint", "normal"),
        (
            "Un voyageur fait un malaise dans la rame, les pompiers arrivent",
            "incident_report",
            "safety",
        ),
        ("Someone is on the tracks at the station!", "other", "safety"),
        ("Tags sur le mur de l'école 12 rue de la Paix", "service_request", "normal"),
        ("Les poubelles débordent place Sainte-Anne depuis 3 jours", "service_request", "normal"),
        ("Merci au chauffeur de la C2, très sympa 🙏", "praise", "normal"),
        ("Honte à la mairie et à sa propagande politique", "polemic", "normal"),
        ("Gagnez un iPhone, cliquez ici", "spam_abuse", "normal"),
    ],
)
def test_rules_without_any_label(star, text, intent, urgency):
    result = star.triage(text)
    assert result.intent == intent
    assert result.urgency == urgency


def test_sentiment_and_priority(star):
    angry = star.triage("C'est scandaleux, toujours en retard 😡")
    happy = star.triage("Super service ce matin, merci !")
    safety = star.triage("Agression dans le bus 11, appelez la police")
    assert angry.sentiment == "negative" and happy.sentiment == "positive"
    assert star.triage("pas content du tout").sentiment == "negative"
    assert safety.priority == 3 > angry.priority >= happy.priority


@pytest.mark.parametrize(
    ("text", "lines", "stops"),
    [
        ("La C4 circule ?", ["C4"], []),
        ("la c4 est en retard", ["C4"], []),
        ("#C4 bloquée", ["C4"], []),
        ("le métro a est arrêté à Gares", ["a"], ["Gares"]),
        ("bus 11 direction ZI Ouest", ["11"], ["ZI Ouest"]),
        ("ligne 54 arrêt Republique", ["54"], ["République"]),
        ("#ligne54 ok", ["54"], []),
        ("rdv le 11 novembre à 11h, 4 minutes de retard", [], []),
        ("la 4e fois cette semaine", [], []),
        ("st anne et ste anne et Sainte-Anne", [], ["Sainte-Anne"]),
        ("arrivé à villejean universite", [], ["Villejean-Université"]),
        ("je vais à la poste puis au stade", [], []),
        ("je descends à l'arrêt La Poste", [], ["La Poste"]),
        ("@STAR_Rennes @C4_fan merci", [], []),
        ("les lignes 11, 12 et 14 sont déviées", ["11", "12", "14"], []),
        ("#ligne 54 en retard, la ligne10 aussi", ["54", "10"], []),
        ("bouchon entre Gares et Sainte-Anne", [], ["Gares", "Sainte-Anne"]),
        # The feed abbreviates, the passenger writes it in full (and the converse).
        ("Arret saint-jacques mairie, ligne C4 ?", ["C4"], ["St-Jacques Mairie"]),
        ("place saint sauveur ou vieux st etienne", [], ["Place St-Sauveur", "Vieux St-Etienne"]),
        ("la toussaint anne", [], []),
    ],
)
def test_lines_and_stops_as_people_write_them(star, text, lines, stops):
    result = star.triage(text)
    assert [name for name, _ in result.lines] == lines
    assert sorted(name for name, _ in result.stops) == sorted(stops)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🚍🚍🚍",
        "https://t.co/abc",
        "12345",
        "x" * 20_000,
        "La C4 ? Is it running? ¿Funciona?",
        "\u200b\u200f\u202e",
    ],
)
def test_bad_input_gives_a_clear_result(star, text):
    result = star.triage(text)
    assert result.intent in ("question", "other", "complaint")
    assert result.lang in ("fr", "en", "und")


def test_language(star):
    assert star.triage("Bonjour, le métro fonctionne ?").lang == "fr"
    assert star.triage("Hello, is the subway working this morning?").lang == "en"
    assert star.triage("🚍").lang == "und"
    assert star.triage("whatever", lang="fr").lang == "fr"


@pytest.fixture
def network(personas):
    import_feed(organization=personas.org, path=GTFS_DIR)
    return personas


def test_pipeline_fills_messages_and_conversations(network, client_as):
    ingest(
        account=network.account,
        messages=[
            inbound("La C4 passe à République ?", handle="ana", external_id="1"),
            inbound(
                "Malaise d'un voyageur dans le métro a à Gares !", handle="bob", external_id="2"
            ),
            inbound("merci pour l'info", handle="cyd", external_id="3"),
        ],
    )
    process_pending()
    ana = Message.objects.get(external_id="1")
    assert (ana.lang, ana.intent, ana.urgency) == ("fr", "question", "normal")
    assert ana.triage["lines"] == [["C4", "0004"]]
    bob = Conversation.objects.get(contact__handle="bob")
    assert bob.urgency == "safety" and bob.priority == 3
    assert [r.short_name for r in bob.lines.all()] == ["a"]
    # The inbox puts the safety message first and groups by line.
    client = client_as(network.agent_a)
    response = client.get("/inbox/")
    handles = [c.contact.handle for c in response.context["conversations"]]
    assert handles[0] == "bob"
    assert {r.short_name for r in response.context["busy_lines"]} == {"C4", "a"}
    c4 = next(r for r in response.context["busy_lines"] if r.short_name == "C4")
    assert [
        c.contact.handle for c in client.get("/inbox/", {"line": c4.pk}).context["conversations"]
    ] == ["ana"]
    assert [
        c.contact.handle
        for c in client.get("/inbox/", {"urgency": "safety"}).context["conversations"]
    ] == ["bob"]
    assert [
        c.contact.handle
        for c in client.get("/inbox/", {"intent": "praise"}).context["conversations"]
    ] == ["cyd"]
    body = response.content.decode()
    assert "chip urg-safety" in body and "chip line" in body


def test_an_agent_corrects_triage_in_one_click(network, client_as):
    ingest(account=network.account, messages=[inbound("ok la c4", handle="ana", external_id="1")])
    process_pending()
    conversation = Conversation.objects.get()
    response = client_as(network.agent_a).post(
        f"/inbox/c/{conversation.pk}/triage/",
        {
            "intent": "complaint",
            "sentiment": conversation.sentiment,
            "urgency": conversation.urgency,
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.intent == "complaint"
    label = TriageLabel.objects.get()
    assert (label.field, label.value, label.previous, label.text) == (
        "intent",
        "complaint",
        "other",
        "ok la c4",
    )
    assert (
        client_as(network.viewer)
        .post(f"/inbox/c/{conversation.pk}/triage/", {"intent": "praise"})
        .status_code
        == 403
    )
    assert (
        client_as(network.agent_a)
        .post(f"/inbox/c/{conversation.pk}/triage/", {"intent": "bogus"})
        .status_code
        == 400
    )
    assert TriageLabel.objects.count() == 1


def test_batch_command(network, monkeypatch, capsys):
    lines = [
        json.dumps({"text": "la C4 arrêt République ?"}),
        "not json",
        json.dumps({"text": "hello", "lang": "en"}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    call_command("triage", "--org", "alpha")
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (
        out[0]["lines"] == ["C4"]
        and out[0]["stops"] == ["République"]
        and out[0]["line_ids"] == ["0004"]
    )
    assert out[1] == {"line": 2, "error": "Expecting value: line 1 column 1 (char 0)"}
    assert out[2]["lang"] == "en"


def test_api(network):
    from django.test import Client

    from relais.accounts.models import ApiToken

    _, key = ApiToken.issue(membership=network.agent_a, name="t")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post(
        "/api/triage", {"text": "Bus 11 bloqué à République"}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (
        body["lines"] == ["11"]
        and body["urgency"] == "blocking"
        and body["stops"] == ["République"]
    )
    assert (
        client.post("/api/triage", {"nope": 1}, content_type="application/json").status_code == 422
    )
