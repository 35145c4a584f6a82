"""SLA clocks: policies, business hours and holidays, started by the pipeline, stopped by
an answer or a close, breached once and escalated to the team's supervisors."""

from datetime import date, time, timedelta

from django.core import mail

from relais.accounts.models import AuditEntry
from relais.care import actions
from relais.care.models import (
    AlertKind,
    Audience,
    BusinessHours,
    CareAlert,
    CareBucket,
    ClockKind,
    Holiday,
    SlaBreach,
    SlaClock,
    SlaPolicy,
)
from relais.care.sla import Calendar, colour, due_times, policy_for
from relais.channels.contract import MessageKind
from relais.inbox import actions as inbox_actions
from relais.inbox.models import Conversation, Status
from tests.care.conftest import paris, receive


def test_the_most_specific_policy_wins(personas, policies):
    by_name = {p.name: p for p in policies}
    assert policy_for(policies, network="x", is_private=False, priority=1) == by_name["X public"]
    assert (
        policy_for(policies, network="x", is_private=True, priority=1) == by_name["Direct messages"]
    )
    assert (
        policy_for(policies, network="facebook", is_private=True, priority=1) == by_name["Facebook"]
    )
    assert policy_for(policies, network="sms", is_private=False, priority=1) is None
    urgent = SlaPolicy.objects.create(
        organization=personas.org,
        name="urgent X",
        network="x",
        audience=Audience.PUBLIC,
        priority=3,
        first_response_minutes=15,
        next_response_minutes=15,
    )
    assert policy_for([*policies, urgent], network="x", is_private=False, priority=3) == urgent


def _calendar(personas, *holidays):
    for day in range(5):
        BusinessHours.objects.create(
            organization=personas.org, weekday=day, starts=time(9, 0), ends=time(17, 0)
        )
    for d in holidays:
        Holiday.objects.create(organization=personas.org, date=d, name="férié")
    return Calendar.load(personas.org)


def test_business_hours_skip_nights_weekends_and_holidays(personas):
    policy = SlaPolicy(
        first_response_minutes=120, next_response_minutes=60, business_hours=True, warn_percent=50
    )
    cal = _calendar(personas, date(2026, 3, 16))  # Monday 16 March is a holiday
    # Friday 16:30 + 2 h of business time: 30 min on Friday, 90 min on Tuesday (Monday off).
    warn, due, problem = due_times(cal, policy, "first", paris(2026, 3, 13, 16, 30))
    assert due == paris(2026, 3, 17, 10, 30) and problem == ""
    assert warn == paris(2026, 3, 17, 9, 30)
    # Saturday night counts from the next opening.
    _w, due, _p = due_times(cal, policy, "next", paris(2026, 3, 14, 23, 0))
    assert due == paris(2026, 3, 17, 10, 0)
    # 24/7 policies ignore the calendar.
    policy.business_hours = False
    _w, due, _p = due_times(cal, policy, "first", paris(2026, 3, 14, 23, 0))
    assert due == paris(2026, 3, 15, 1, 0)


def test_a_calendar_with_no_working_day_counts_24_7_and_says_so(personas):
    policy = SlaPolicy(first_response_minutes=60, next_response_minutes=60, business_hours=True)
    start = paris(2026, 3, 10, 10, 0)
    every_day = [start.date() + timedelta(days=i) for i in range(-1, 420)]
    cal = _calendar(personas, *every_day)
    _w, due, problem = due_times(cal, policy, "first", start)
    assert due == start + timedelta(hours=1)
    assert "no working time" in problem


def test_pipeline_starts_the_clock_and_a_reply_stops_it(personas, policies, clock):
    p = personas
    clock.at = paris(2026, 3, 10, 9, 0)
    receive(p.account, created_at=clock.at)  # public mention on X: 1 hour
    conversation = Conversation.objects.get()
    c = SlaClock.objects.get(conversation=conversation)
    assert c.kind == ClockKind.FIRST and c.due_at == clock.at + timedelta(hours=1)
    assert colour(c, clock.at + timedelta(minutes=10)) == "green"
    assert colour(c, clock.at + timedelta(minutes=50)) == "orange"
    assert colour(c, clock.at + timedelta(minutes=61)) == "red"
    clock.at += timedelta(minutes=20)
    inbox_actions.conversation_reply(
        conversation=conversation, membership=p.agent_a, text="Bonjour"
    )
    c.refresh_from_db()
    assert c.due_at is None and colour(c, clock.at) == "none"
    # The author writes again: a next-response clock.
    receive(
        p.account,
        created_at=clock.at + timedelta(minutes=5),
        thread_id=conversation.thread_external_id,
    )
    c.refresh_from_db()
    assert c.kind == ClockKind.NEXT and c.due_at == clock.at + timedelta(minutes=65)
    bucket = CareBucket.objects.get(agent_id=p.agent_a.user_id)
    assert bucket.first_responses == 1 and bucket.first_response_seconds == 20 * 60
    assert bucket.first_response_in_sla == 1 and bucket.fr_b2 == 1  # 15-30 min bin


def test_direct_messages_have_30_minutes(personas, policies, clock):
    receive(personas.account, kind=MessageKind.DM, created_at=clock.at)
    assert SlaClock.objects.get().due_at == clock.at + timedelta(minutes=30)


def test_breach_is_escalated_once_to_the_team_supervisor_and_logged(
    personas, policies, clock, django_capture_on_commit_callbacks
):
    p = personas
    receive(p.account, created_at=clock.at)
    conversation = Conversation.objects.get()
    assert actions.sla_evaluate(at=clock.at + timedelta(minutes=59)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.sla_evaluate(at=clock.at + timedelta(minutes=61)) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.sla_evaluate(at=clock.at + timedelta(minutes=62)) == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [p.supervisor.user.email]
    alert = CareAlert.objects.get()
    assert alert.kind == AlertKind.BREACH and alert.conversation == conversation
    breach = SlaBreach.objects.get()
    assert breach.assignee is None and breach.answered_at is None
    entry = AuditEntry.objects.get(action="sla.breached")
    assert entry.data["conversations"] == [conversation.pk] and entry.data["team"] == p.team_a.pk
    assert CareBucket.objects.filter(breaches=1).count() == 1
    # The late answer is recorded on the breach; the first response is not within SLA.
    clock.at += timedelta(minutes=70)
    inbox_actions.conversation_reply(conversation=conversation, membership=p.agent_a, text="Désolé")
    breach.refresh_from_db()
    assert breach.answered_at == clock.at
    assert sum(b.first_response_in_sla for b in CareBucket.objects.all()) == 0


def test_closing_stops_the_clock_and_counts_the_resolution(personas, policies, clock):
    p = personas
    receive(p.account, created_at=clock.at)
    conversation = Conversation.objects.get()
    clock.at += timedelta(minutes=45)
    inbox_actions.conversation_set_status(
        conversation=conversation, membership=p.agent_a, status=Status.CLOSED
    )
    c = SlaClock.objects.get()
    assert c.due_at is None and c.closed
    assert actions.sla_evaluate(at=clock.at + timedelta(hours=3)) == 0
    assert sum(b.closed for b in CareBucket.objects.all()) == 1
    assert sum(b.resolution_seconds for b in CareBucket.objects.all()) == 45 * 60


def test_no_policy_no_clock_but_still_counted(personas, clock):
    receive(personas.account, created_at=clock.at)
    assert SlaClock.objects.get().due_at is None
    assert CareBucket.objects.get().inbound == 1
    assert actions.sla_evaluate(at=clock.at + timedelta(days=3)) == 0


def test_breach_and_hand_off_send_their_live_events_once(
    personas, policies, clock, monkeypatch, django_capture_on_commit_callbacks
):
    from relais.realtime import broker

    sent: list = []
    monkeypatch.setattr(broker, "publish", lambda org_id, message: sent.append((org_id, message)))
    p = personas
    receive(p.account, created_at=clock.at)
    conversation = Conversation.objects.get()
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.sla_evaluate(at=clock.at + timedelta(minutes=61))
        actions.sla_evaluate(at=clock.at + timedelta(minutes=62))
    alerts = [m for _org, m in sent if m["type"] == "care_alert"]
    assert len(alerts) == 1 and sent[0][0] == p.org.pk
    assert alerts[0]["data"]["kind"] == "breach"
    assert alerts[0]["data"]["conversation_ids"] == [conversation.pk]
    assert alerts[0]["data"]["user_ids"] == [p.supervisor.user_id]
