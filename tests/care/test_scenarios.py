"""S8 (end of shift) and S10 (an account nobody answers), replayed from the scenario files
of relais/demo/scenarios through the replay connector, ingest and the pipeline, with the
periodic care passes run every five minutes of the story."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from relais.accounts.models import Role
from relais.care import actions
from relais.care.models import AlertKind, CareAlert, HandOff, HandOffReason, Shift, SlaBreach
from relais.channels.ingest import ingest
from relais.channels.models import ChannelAccount
from relais.channels.pipeline import process_pending
from relais.common.testing import _member
from relais.connectors.replay.connector import ReplayConnector, load_scenario
from relais.inbox import actions as inbox_actions
from relais.inbox.models import Conversation, Direction, Note
from tests.care.conftest import paris

SCENARIOS = Path(__file__).resolve().parents[2] / "relais" / "demo" / "scenarios"


class Story:
    """Replays a scenario's lines as the clock reaches them and runs the periodic passes."""

    def __init__(self, name: str, account: ChannelAccount, start: datetime, clock) -> None:
        self.lines = load_scenario(SCENARIOS / name).lines
        self.account, self.start, self.clock = account, start, clock
        self.clock.at = start

    def until(self, at: datetime, step: timedelta = timedelta(minutes=5)) -> None:
        while self.clock.at < at:
            self.clock.at = min(self.clock.at + step, at)
            due = [
                line
                for line in self.lines
                if self.start + timedelta(seconds=line.at) <= self.clock.at
            ]
            if due:
                self.lines = self.lines[len(due) :]
                ingest(
                    account=self.account,
                    messages=[ReplayConnector.to_inbound(line, start=self.start) for line in due],
                )
                process_pending()
            actions.sla_evaluate(at=self.clock.at)
            actions.handoff_sweep(at=self.clock.at)
            actions.uncovered_check(at=self.clock.at)


@pytest.fixture
def rota(personas):
    """Team A: agent_a works the evening until 22:00, 'night' is on call 22:00-07:00,
    'morning' starts at 07:00 (Tuesday 10 March 2026 and the next morning)."""
    p = personas
    night = _member(p.org, "night", Role.AGENT, [p.team_a])
    morning = _member(p.org, "morning", Role.AGENT, [p.team_a])
    for user, weekday, starts, ends, on_call in (
        (p.agent_a.user, 1, time(14, 0), time(22, 0), False),
        (night.user, 1, time(22, 0), time(7, 0), True),
        (morning.user, 2, time(7, 0), time(15, 0), False),
    ):
        Shift.objects.create(
            organization=p.org,
            team=p.team_a,
            user=user,
            weekday=weekday,
            starts=starts,
            ends=ends,
            on_call=on_call,
        )
    return night, morning


def test_s8_end_of_shift(
    personas, policies, rota, clock, client_as, django_capture_on_commit_callbacks
):
    p = personas
    night, morning = rota
    story = Story("s8_end_of_shift.jsonl", p.account, paris(2026, 3, 10, 21, 40), clock)
    with django_capture_on_commit_callbacks(execute=True):
        story.until(paris(2026, 3, 10, 21, 41), step=timedelta(minutes=1))
        conversation = Conversation.objects.get()
        inbox_actions.conversation_assign(
            conversation=conversation, membership=p.agent_a, assignee=p.agent_a
        )
        clock.at = paris(2026, 3, 10, 21, 44)
        inbox_actions.conversation_reply(
            conversation=conversation,
            membership=p.agent_a,
            text="Bonsoir Inès, nous regardons avec le régulateur, je reviens vers vous très vite.",
        )
        story.until(paris(2026, 3, 10, 21, 56), step=timedelta(minutes=1))  # the 21:55 message
        inbox_actions.conversation_reply(
            conversation=conversation,
            membership=p.agent_a,
            text="Un car de substitution est demandé, je vous tiens au courant.",
        )
        # 21:57: the agent hands off and leaves, with the note, before 22:00.
        clock.at = paris(2026, 3, 10, 21, 57)
        note = "Inès, TER 858421 bloqué avant Rennes, correspondance Quimper 22h15 perdue. Car demandé au régulateur, lui proposer l'hôtel si pas de car."
        response = client_as(p.agent_a).post(
            reverse("care:status"), {"state": "away", "note": note}
        )
        assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee_id == night.user_id  # the night on-call, not nobody
    handoff = HandOff.objects.get()
    assert handoff.from_user_id == p.agent_a.user_id and handoff.note == note
    assert handoff.reason == HandOffReason.LEAVING
    assert note in Note.objects.get(conversation=conversation).text

    # The traveller keeps getting answers from the night on-call agent.
    with django_capture_on_commit_callbacks(execute=True):
        story.until(paris(2026, 3, 10, 22, 6), step=timedelta(minutes=1))
        inbox_actions.conversation_reply(
            conversation=conversation,
            membership=night,
            text="Bonsoir, je prends le relais de ma collègue : pas de car ce soir, une nuit d'hôtel à Rennes vous est offerte.",
        )
        story.until(paris(2026, 3, 10, 22, 26), step=timedelta(minutes=1))
        inbox_actions.conversation_reply(
            conversation=conversation,
            membership=night,
            text="Au guichet Accueil du hall Nord, ouvert jusqu'à minuit.",
        )
        story.until(paris(2026, 3, 11, 8, 0))  # the night, five minutes at a time
    answers = conversation.messages.filter(direction=Direction.OUT).order_by("created_at")
    assert [m.sent_by_id for m in answers] == [p.agent_a.user_id] * 2 + [night.user_id] * 2
    conversation.refresh_from_db()
    # Still open (waiting for the traveller): at 07:00 the night shift ends and the
    # conversation moves on to the morning agent. Never without an owner.
    assert conversation.assignee_id == morning.user_id
    assert [h.to_user_id for h in HandOff.objects.order_by("created_at")] == [
        night.user_id,
        morning.user_id,
    ]
    # The next morning's report: no conversation left unanswered past its SLA.
    assert SlaBreach.objects.count() == 0
    response = client_as(p.supervisor).get(reverse("care:report") + "?hours=24")
    assert response.status_code == 200
    assert response.context["breaches"] == [] and response.context["unanswered"] == []
    assert 'id="report-empty"' in response.content.decode()
    assert not mail.outbox, [(a.created_at, a.text) for a in CareAlert.objects.all()]


def test_s8_agent_who_leaves_without_handing_off(
    personas, policies, rota, clock, django_capture_on_commit_callbacks
):
    """The periodic hand-off at shift end: the conversation is not left with someone gone."""
    p = personas
    night, _morning = rota
    story = Story("s8_end_of_shift.jsonl", p.account, paris(2026, 3, 10, 21, 40), clock)
    with django_capture_on_commit_callbacks(execute=True):
        story.until(paris(2026, 3, 10, 21, 41), step=timedelta(minutes=1))
        conversation = Conversation.objects.get()
        inbox_actions.conversation_assign(
            conversation=conversation, membership=p.agent_a, assignee=p.agent_a
        )
        inbox_actions.conversation_reply(
            conversation=conversation, membership=p.agent_a, text="On regarde."
        )
        story.until(paris(2026, 3, 10, 21, 59), step=timedelta(minutes=1))
        conversation.refresh_from_db()
        assert conversation.assignee_id == p.agent_a.user_id  # still on shift
        story.until(paris(2026, 3, 10, 22, 5))
    conversation.refresh_from_db()
    assert conversation.assignee_id == night.user_id
    handoff = HandOff.objects.get()
    assert handoff.reason == HandOffReason.SHIFT_END and "Automatic" in handoff.note


def test_s10_a_channel_nobody_covers_warns_the_supervisor(
    personas, policies, clock, django_capture_on_commit_callbacks
):
    p = personas
    tourism = ChannelAccount.objects.create(
        organization=p.org,
        kind="sandbox",
        network="x",
        handle="VisitRennes",
        name="Visit Rennes",
        config={"flavour": "x"},
    )
    # The transit account is covered all day by agent_a: only tourism is uncovered.
    for weekday in range(7):
        Shift.objects.create(
            organization=p.org,
            team=p.team_a,
            user=p.agent_a.user,
            weekday=weekday,
            starts=time(6, 0),
            ends=time(23, 0),
        )
    story = Story("s10_uncovered_account.jsonl", tourism, paris(2026, 3, 10, 10, 0), clock)
    with django_capture_on_commit_callbacks(execute=True):
        story.until(paris(2026, 3, 10, 10, 55))
        assert not CareAlert.objects.filter(kind=AlertKind.UNCOVERED).exists()  # not yet late
        story.until(paris(2026, 3, 10, 13, 0))
    alerts = CareAlert.objects.filter(kind=AlertKind.UNCOVERED)
    assert alerts.count() == 1  # raised once, not every five minutes
    alert = alerts.get()
    assert alert.account == tourism and alert.cleared_at is None
    assert "Visit Rennes" in alert.text and "not covered" in alert.text
    uncovered_mails = [m for m in mail.outbox if "not covered" in m.body]
    assert len(uncovered_mails) == 1
    assert set(uncovered_mails[0].to) == {p.admin.user.email, p.supervisor.user.email}
    # Shown to the supervisor in the app.
    from django.test import Client

    client = Client()
    client.force_login(p.supervisor.user)
    assert "Visit Rennes" in client.get(reverse("care:home")).content.decode()
    # Once the account is given to the covered team, the alert clears.
    tourism.default_team = p.team_a
    tourism.save(update_fields=["default_team"])
    actions.uncovered_check(at=paris(2026, 3, 10, 13, 5))
    alert.refresh_from_db()
    assert alert.cleared_at is not None
