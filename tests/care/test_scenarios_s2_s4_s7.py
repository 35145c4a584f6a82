"""Scenarios S2, S4 and S7 of SCENARIOS.md, replayed into the demo organisation through the
production path (sandbox network → ingest → triage → routing rules → inbox), then handled
through the pages an agent and a supervisor use."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from relais.accounts.models import AuditEntry, Membership
from relais.common.timeutils import now
from relais.connectors.replay.connector import load_scenario
from relais.connectors.replay.player import play
from relais.connectors.sandbox import network
from relais.connectors.sandbox.models import SandboxPost
from relais.demo.setup import load_demo
from relais.inbox.models import Conversation, Direction, Message
from relais.incidents.models import Incident, TimelineKind
from relais.transit.models import Route
from relais.wording.models import Template
from tests.api.helpers import post_json, token_client

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    info = load_demo()

    def replay(name: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            result = play(load_scenario(SCENARIOS / name), organization=info.organization, speed=0)
        assert result.skipped == 0

    def member(username: str) -> Membership:
        return Membership.objects.get(organization=info.organization, user__username=username)

    def client(username: str) -> Client:
        c = Client()
        c.force_login(member(username).user)
        return c

    info.replay, info.member, info.client = replay, member, client
    return info


def conversation_of(handle: str) -> Conversation:
    return Conversation.objects.filter(contact__handle=handle).order_by("-pk").first()


def outbound() -> list[Message]:
    return list(Message.objects.filter(direction=Direction.OUT))


def test_s2_passenger_taken_ill(demo, django_capture_on_commit_callbacks):
    org = demo.organization
    incident = Incident.objects.create(
        organization=org,
        title="Métro a interrompu : voyageur malade",
        type="passenger_ill",
        severity="high",
        cause="Voyageur pris de malaise à Sainte-Anne",
        started_at=now(),
    )
    incident.lines.set(Route.objects.filter(organization=org, short_name="a"))
    demo.replay("s2_passenger_ill.jsonl")
    angry = conversation_of("karim_rns")
    assert [r.short_name for r in angry.lines.all()] == ["a"]

    lea = demo.client("lea")
    page = lea.get(f"/inbox/c/{angry.pk}/").content.decode()
    template = Template.objects.get(organization=org, key="reponse-malaise-voyageur")
    # The pedagogical template is suggested by the open incident, filled in for the author
    # and the line, ahead of the templates suggested for other reasons.
    from relais.care.replies import saved_replies

    suggestions = saved_replies(conversation=angry)
    reply = next(r for r in suggestions if r.template == template)
    assert reply.reasons[0] == "incident" and not reply.missing
    assert all("incident" in r.reasons for r in suggestions[: suggestions.index(reply)])
    filled = "Bonjour Karim, la ligne a est interrompue pour un voyageur pris de malaise."
    assert reply.text.startswith(filled)
    assert f'data-template="{template.pk}"' in page and filled in page
    with django_capture_on_commit_callbacks(execute=True):
        response = lea.post(
            f"/inbox/c/{angry.pk}/reply/", {"text": reply.text, "template": template.pk}
        )
    assert response.status_code == 302
    (sent,) = outbound()
    assert sent.delivery.state == "sent"
    assert SandboxPost.objects.get(from_organization=True).text == reply.text

    # Linked to the incident, with one timeline entry saying so.
    assert list(incident.conversations.all()) == [angry]
    (entry,) = incident.timeline.filter(kind=TimelineKind.CONVERSATION)
    assert entry.data["conversation_id"] == angry.pk and entry.actor.username == "lea"
    # The traveller answers in the thread: the incident's messages (what its page shows
    # next to the timeline, incidents part) are his, our answer and his answer.
    with django_capture_on_commit_callbacks(execute=True):
        network.citizen_post(
            account=angry.account,
            handle="karim_rns",
            text="Ok merci, désolé pour tout à l'heure",
            reply_to=SandboxPost.objects.get(from_organization=True).external_id,
        )
    shown = Message.objects.filter(conversation__incidents=incident).order_by("created_at", "pk")
    assert [(m.direction, m.text[:12]) for m in shown] == [
        ("in", "@STAR_Rennes"),
        ("out", reply.text[:12]),
        ("in", "Ok merci, dé"),
    ]
    used = AuditEntry.objects.get(action="reply.template_used")
    assert used.data["incidents"] == [incident.pk] and used.actor.username == "lea"
    # Using the template again does not link twice; the other traveller is not linked.
    with django_capture_on_commit_callbacks(execute=True):
        lea.post(f"/inbox/c/{angry.pk}/reply/", {"text": "Merci à vous.", "template": template.pk})
    assert incident.timeline.filter(kind=TimelineKind.CONVERSATION).count() == 1
    assert conversation_of("paul_v") not in incident.conversations.all()


def test_s4_politicised_polemic(demo, django_capture_on_commit_callbacks):
    demo.replay("s4_polemic.jsonl")
    collectif = conversation_of("collectif_neutre")
    # The demo's rule locked the flagged politicised account's polemic on arrival.
    assert collectif.locked_at is not None
    assert collectif.tags.filter(name="polemique").exists()
    lea = demo.client("lea")
    page = lea.get(f"/inbox/c/{collectif.pk}/").content.decode()
    assert 'data-advice="do_not_answer"' in page and "Streisand" in page
    assert "Politicised" in page or "Politisé" in page

    # An unflagged account keeps at it: three polemic messages → do not answer.
    activist = conversation_of("reveil_citoyen")
    assert activist.locked_at is None
    page = lea.get(f"/inbox/c/{activist.pk}/").content.decode()
    assert 'data-advice="do_not_answer"' in page

    # The supervisor marks the thread "monitored, no answer" and flags the author.
    claire = demo.client("claire")
    with django_capture_on_commit_callbacks(execute=True):
        claire.post(f"/care/c/{activist.pk}/lock/", {"reason": "Surveillé, pas de réponse"})
        claire.post(f"/care/c/{activist.pk}/flags/", {"flags": ["politicised"]})
    activist.refresh_from_db()
    assert activist.lock_reason == "Surveillé, pas de réponse"

    # No agent answers by mistake: page, htmx and API all refuse.
    for conversation in (collectif, activist):
        response = lea.post(f"/inbox/c/{conversation.pk}/reply/", {"text": "Bonjour, nous…"})
        assert response.status_code == 400
        api = post_json(
            token_client(demo.member("hugo")),
            f"/api/conversations/{conversation.pk}/reply",
            {"text": "Bonjour"},
        )
        assert api.status_code == 422
    assert outbound() == []
    assert 'class="chip locked"' in lea.get("/inbox/").content.decode()

    # The volume falls by itself; the supervisor unlocks, and only then may an answer go.
    with django_capture_on_commit_callbacks(execute=True):
        claire.post(f"/care/c/{activist.pk}/unlock/")
        response = lea.post(f"/inbox/c/{activist.pk}/reply/", {"text": "Merci pour votre message."})
    assert response.status_code == 302 and len(outbound()) == 1
    actions = list(
        AuditEntry.objects.filter(object_type="inbox.conversation", object_id=str(activist.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["conversation.locked", "conversation.unlocked"]


def test_s7_bus_that_never_came(demo, settings, django_capture_on_commit_callbacks):
    settings.RELAIS_OPERATOR_REPORTS = "relais.care.demo_routing.fake_operator_reports"
    demo.replay("s7_bus_never_came.jsonl")
    c = conversation_of("lucie_rennes")
    lea = demo.client("lea")
    page = lea.get(f"/inbox/c/{c.pk}/").content.decode()
    assert 'name="line" value="11"' in page and "T07:42" in page

    response = lea.post(
        f"/care/c/{c.pk}/operator/", {"line": "11", "at": page.split('name="at" value="')[1][:16]}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Bus 742" in html and "panne de porte" in html and "DEMO-11-0737" in html

    answer = (
        "Bonjour Lucie, vous avez raison : le bus 742 de la ligne 11 prévu à 7h42 à "
        "République Jaurès a été retiré du service (panne de porte), la course a été "
        "supprimée. Toutes nos excuses."
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = lea.post(f"/inbox/c/{c.pk}/reply/", {"text": answer})
    assert response.status_code == 302
    (sent,) = outbound()
    assert sent.delivery.state == "sent"
    lookup = AuditEntry.objects.get(action="operator.reports_looked_up")
    assert lookup.data["line"] == "11" and lookup.data["reports"][0]["vehicle"] == "Bus 742"
    assert AuditEntry.objects.get(action="reply.sent").text == answer
    assert lookup.actor.username == "lea"
