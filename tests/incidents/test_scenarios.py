"""Scenarios S1 (broadcast part) and S2, end to end through the pages a person uses:
sandbox network → ingest → inbox → incident → one-click alert → networks and feed."""

from django.test import Client
from google.transit import gtfs_realtime_pb2 as rt

from relais.connectors.sandbox import network as sandbox
from relais.connectors.sandbox.models import SandboxPost
from relais.inbox.models import Conversation
from relais.incidents.models import Incident
from relais.publishing.models import Publication, PublicationState
from tests.incidents.helpers import approved, more_accounts, network


def _feed() -> rt.FeedMessage:
    message = rt.FeedMessage()
    message.ParseFromString(Client().get("/o/alpha/gtfs-rt/alerts.pb").content)
    return message


def test_s1_strike_alert_update_and_back_to_normal_threaded(
    personas, client_as, django_capture_on_commit_callbacks
):
    net = network(personas.org)
    accounts = [personas.account, *more_accounts(personas.org, "facebook", "bluesky", "mastodon")]
    strike = approved(
        personas.supervisor,
        personas.supervisor,
        name="Grève",
        text="Mouvement social : trafic perturbé sur toutes les lignes de bus. Infos ligne par ligne : {incident_url}",
    )
    update = approved(
        personas.supervisor,
        personas.supervisor,
        name="Point de situation",
        text="Point de situation : reprise progressive du trafic, prévue vers {eta}.",
        incident_types=["strike"],
    )
    normal = approved(
        personas.supervisor,
        personas.supervisor,
        name="Retour à la normale",
        text="Le trafic est revenu à la normale sur toutes les lignes. Merci de votre patience.",
        incident_types=[],
    )
    regulator = client_as(personas.operations)

    # 06:40, the crisis cell opens the incident and the alert in one click (all bus lines).
    with django_capture_on_commit_callbacks(execute=True):
        response = regulator.post(
            "/publishing/alert/publish/",
            {
                "type": "strike",
                "severity": "high",
                "lines": [net["C4"].pk, net["12"].pk],
                "template": strike.pk,
                "request_key": "s1-alert",
            },
        )
    assert response.status_code == 302, response.content[:400]
    incident = Incident.objects.get()
    alert = Publication.objects.get(kind="alert")
    assert alert.state == PublicationState.PUBLISHED
    assert (alert.completed_at - alert.requested_at).total_seconds() < 60  # "within a minute"
    for account in accounts:
        assert SandboxPost.objects.filter(account=account, text=alert.text).count() == 1
    # The passenger feed has it, with both lines.
    feed = _feed()
    assert [e.alert.cause for e in feed.entity] == [rt.Alert.STRIKE]
    assert {e.route_id for e in feed.entity[0].alert.informed_entity} == {"0004", "0012"}
    assert feed.entity[0].alert.description_text.translation[0].text == alert.text
    # The page shows the time to publish.
    page = regulator.get(response["Location"]).content.decode()
    assert 'id="elapsed"' in page

    # 10:15, the update then the back-to-normal message, threaded under the first alert.
    for template, kind, extra in ((update, "update", {"v_eta": "10h30"}), (normal, "closing", {})):
        with django_capture_on_commit_callbacks(execute=True):
            response = regulator.post(
                "/publishing/alert/publish/",
                {
                    "incident": incident.pk,
                    "kind": kind,
                    "template": template.pk,
                    "request_key": f"s1-{kind}",
                    **extra,
                },
            )
        assert response.status_code == 302, response.content[:400]
    for account in accounts:
        root = SandboxPost.objects.get(account=account, text=alert.text)
        replies = SandboxPost.objects.filter(account=account, reply_to=root).order_by("pk")
        assert [p.text[:18] for p in replies] == ["Point de situation", "Le trafic est reve"]
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert len(_feed().entity) == 0  # back to normal: gone from the feed
    kinds = [
        e.data.get("event")
        for e in incident.timeline.filter(kind="publication").order_by("created_at", "pk")
    ]
    assert kinds == ["started", "published"] * 3


def test_s2_passenger_taken_ill_timeline_shows_each_message(
    personas, client_as, django_capture_on_commit_callbacks
):
    net = network(personas.org)
    agent = client_as(personas.agent_a)
    pedagogical = approved(
        personas.supervisor,
        personas.supervisor,
        name="Malaise voyageur (pédagogie)",
        category="reply",
        incident_types=["passenger_ill"],
        text="Nos agents ne sont pas médecins : les pompiers sont en route et le train repartira dès que la personne aura été prise en charge.",
    )
    # Traffic on line a is interrupted; the regulator opens the incident.
    regulator = Client()
    regulator.force_login(personas.operations.user)
    response = regulator.post(
        "/incidents/new/",
        {
            "title": "Ligne a interrompue : malaise voyageur",
            "type": "passenger_ill",
            "severity": "high",
            "lines": [net["a"].pk],
            "started_at": "2026-03-04T08:10",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    # An angry traveller; others answer him, in the same thread.
    with django_capture_on_commit_callbacks(execute=True):
        angry = sandbox.citizen_post(
            account=personas.account,
            handle="pressé",
            text="Sortez-le du train qu'on puisse repartir !! #lignea",
        )
        sandbox.citizen_post(
            account=personas.account,
            handle="solidaire",
            text="Un peu d'humanité svp",
            reply_to=angry.external_id,
        )
    conversation = Conversation.objects.get(contact__handle="pressé")
    other = Conversation.objects.get(contact__handle="solidaire")
    for c in (conversation, other):
        c.lines.set([net["a"]])  # as triage would
        # One click from the inbox links it (suggested: same line, same time).
        side = agent.get(f"/inbox/c/{c.pk}/thread/?part=side").content.decode()
        assert f"/incidents/{incident.pk}/link/" in side
        agent.post(f"/incidents/{incident.pk}/link/", {"conversation": c.pk, "from": "inbox"})
    # The agent answers with the pedagogical template.
    with django_capture_on_commit_callbacks(execute=True):
        reply = agent.post(f"/inbox/c/{conversation.pk}/reply/", {"text": pedagogical.text})
    assert reply.status_code == 302
    assert SandboxPost.objects.filter(from_organization=True, text=pedagogical.text).count() == 1
    # The incident's timeline shows each message, with the link and who did it.
    page = agent.get(f"/incidents/{incident.pk}/").content.decode()
    for text in ("Sortez-le du train", "Un peu d&#x27;humanité", "Nos agents ne sont pas médecins"):
        assert text in page, text
    timeline = page[page.index('class="timeline"') :]
    assert timeline.index("Sortez-le") < timeline.index("Nos agents")
    link = incident.timeline.filter(kind="conversation").order_by("pk").first()
    assert link.actor == personas.agent_a.user and link.data["conversation_id"] == conversation.pk
