"""The care pages as supervisors and agents use them, and the SLA clock in the inbox."""

from __future__ import annotations

import csv
import io
from datetime import time, timedelta

from django.urls import reverse

from relais.care import actions
from relais.care.models import (
    AgentState,
    AgentStatus,
    BusinessHours,
    Holiday,
    Shift,
    SlaPolicy,
)
from relais.channels.contract import MessageKind
from relais.inbox import actions as inbox_actions
from relais.inbox.models import Conversation
from tests.care.conftest import paris, receive


def test_every_care_page_renders_for_every_role(personas, policies, clock, client_as):
    receive(personas.account, created_at=clock.at)
    for member in (personas.admin, personas.supervisor, personas.agent_a, personas.viewer):
        client = client_as(member)
        for name in ("care:home", "care:shifts", "care:sla", "care:analytics", "care:report"):
            response = client.get(reverse(name))
            assert response.status_code == 200, (name, member)
        assert client.get(reverse("care:analytics_csv")).status_code == 200
    # French by default, English on request.
    assert "Passer la main et partir" in client.get(reverse("care:home")).content.decode()
    english = client.get(reverse("care:home"), headers={"accept-language": "en"})
    assert "Hand off and leave" in english.content.decode()


def test_the_inbox_shows_the_clock_green_orange_red(
    personas, policies, clock, client_as, django_assert_max_num_queries
):
    p = personas
    receive(p.account, handle="early", created_at=clock.at - timedelta(minutes=70))
    receive(p.account, handle="closeone", created_at=clock.at - timedelta(minutes=50))
    receive(p.account, handle="fresh", created_at=clock.at - timedelta(minutes=5))
    client = client_as(p.agent_a)
    body = client.get(reverse("inbox:list")).content.decode()
    assert body.count("sla-red") == 1 and body.count("sla-orange") == 1
    assert body.count("sla-green") == 1
    # One query for every chip of the list, not one each.
    conv = Conversation.objects.get(contact__handle="fresh")
    for handle in ("a", "b", "c", "d"):
        receive(p.account, handle=handle, created_at=clock.at)
    with django_assert_max_num_queries(30) as ctx:
        client.get(reverse("inbox:list"))
    clock_queries = [q for q in ctx.captured_queries if "care_slaclock" in q["sql"]]
    assert len(clock_queries) == 1
    side = client.get(reverse("inbox:conversation", args=[conv.pk])).content.decode()
    assert "sla-green" in side and "X public" in side


def test_hand_off_note_shows_in_the_conversation(personas, policies, clock, client_as):
    p = personas
    Shift.objects.create(
        organization=p.org,
        team=p.team_a,
        user=p.supervisor.user,
        weekday=1,
        starts=time(8, 0),
        ends=time(20, 0),
    )
    receive(p.account, created_at=clock.at)
    conv = Conversation.objects.get()
    inbox_actions.conversation_assign(conversation=conv, membership=p.agent_a, assignee=p.agent_a)
    client = client_as(p.agent_a)
    client.post(reverse("care:status"), {"state": "away", "note": "<b>Rappeler</b> Maëlle"})
    conv.refresh_from_db()
    assert conv.assignee_id == p.supervisor.user_id
    side = (
        client_as(p.supervisor).get(reverse("inbox:conversation", args=[conv.pk])).content.decode()
    )
    assert "&lt;b&gt;Rappeler&lt;/b&gt; Maëlle" in side and "<b>Rappeler" not in side
    assert AgentStatus.objects.get(user=p.agent_a.user).state == AgentState.AWAY
    client = client_as(p.agent_a)
    client.post(reverse("care:status"), {"state": "available"})
    assert AgentStatus.objects.get(user=p.agent_a.user).state == AgentState.AVAILABLE


def test_leaving_with_nobody_to_take_over_keeps_the_owner_and_says_so(
    personas, policies, clock, client_as, django_capture_on_commit_callbacks
):
    p = personas
    receive(p.account, created_at=clock.at)
    conv = Conversation.objects.get()
    inbox_actions.conversation_assign(conversation=conv, membership=p.agent_a, assignee=p.agent_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(p.agent_a).post(
            reverse("care:status"), {"state": "away", "note": "bye"}, follow=True
        )
    body = response.content.decode()
    assert "Nobody is available" in body or "Personne" in body
    conv.refresh_from_db()
    assert conv.assignee_id == p.agent_a.user_id  # never dropped
    # The periodic sweep finds the same stuck conversation again: no second alert.
    from relais.care.models import AlertKind, CareAlert

    with django_capture_on_commit_callbacks(execute=True):
        actions.handoff_sweep(at=clock.at + timedelta(minutes=5))
        actions.handoff_sweep(at=clock.at + timedelta(minutes=10))
    assert CareAlert.objects.filter(kind=AlertKind.NO_HANDOFF).count() == 1
    conv.refresh_from_db()
    assert conv.assignee_id == p.agent_a.user_id
    home = client_as(p.supervisor).get(reverse("care:home")).content.decode()
    assert f"#{conv.pk}" in home
    assert "take over" in home or "reprendre" in home


def test_least_loaded_colleague_takes_over(personas, policies, clock):
    from relais.accounts.models import Role
    from relais.common.testing import _member

    p = personas
    busy = _member(p.org, "busy", Role.AGENT, [p.team_a])
    idle = _member(p.org, "idle", Role.AGENT, [p.team_a])
    for member in (p.agent_a, busy, idle):
        Shift.objects.create(
            organization=p.org,
            team=p.team_a,
            user=member.user,
            weekday=1,
            starts=time(8, 0),
            ends=time(20, 0),
        )
    for i in range(4):
        receive(p.account, handle=f"author{i}", created_at=clock.at)
    convs = list(Conversation.objects.order_by("pk"))
    inbox_actions.conversation_assign(conversation=convs[0], membership=p.admin, assignee=busy)
    for c in convs[1:]:
        inbox_actions.conversation_assign(conversation=c, membership=p.admin, assignee=p.agent_a)
    handed = actions.agent_set_state(
        membership=p.agent_a, state=AgentState.AWAY, note="x", at=clock.at
    )
    assert [h.to_user_id for h in handed] == [idle.user_id, busy.user_id, idle.user_id]


def test_shift_pages_explain_bad_input(personas, client_as):
    p = personas
    client = client_as(p.supervisor)
    url = reverse("care:shift_add", args=[p.team_a.pk])
    data = {"user": p.agent_a.user_id, "weekday": 0, "starts": "08:00", "ends": "16:00"}
    client.post(url, data)
    response = client.post(url, data | {"starts": "15:00", "ends": "18:00"}, follow=True)
    assert "overlaps" in response.content.decode() or "chevauche" in response.content.decode()
    assert Shift.objects.count() == 1
    page = client.get(reverse("care:shifts") + f"?team={p.team_b.pk}").content.decode()
    assert "no shift" in page or "aucun créneau" in page
    # An agent sees the pages but cannot change them.
    response = client_as(p.agent_a).post(url, data | {"weekday": 2})
    assert response.status_code == 403 and Shift.objects.count() == 1
    client = client_as(p.supervisor)
    exc = reverse("care:exception_add", args=[p.team_a.pk])
    response = client.post(
        exc,
        {
            "user": p.agent_b.user_id,
            "kind": "extra",
            "starts_at": "2026-03-10T10:00",
            "ends_at": "2026-03-10T09:00",
        },
        follow=True,
    )
    assert (
        "must end after" in response.content.decode() or "finir après" in response.content.decode()
    )
    client.post(
        exc,
        {
            "user": p.agent_b.user_id,
            "kind": "extra",
            "starts_at": "2026-03-10T10:00",
            "ends_at": "2026-03-10T12:00",
            "on_call": "on",
        },
    )
    from relais.care.models import ShiftException

    e = ShiftException.objects.get()
    assert e.starts_at == paris(2026, 3, 10, 10, 0) and e.on_call


def test_sla_page_edits_policies_and_calendar(personas, client_as):
    p = personas
    client = client_as(p.admin)
    body = client.get(reverse("care:sla")).content.decode()
    assert "No SLA policy" in body or "Aucune règle" in body
    client.post(
        reverse("care:policy_add"),
        {
            "name": "Tourisme",
            "network": "x",
            "audience": "public",
            "priority": "",
            "first_response_minutes": 120,
            "next_response_minutes": 60,
            "business_hours": "on",
            "warn_percent": 75,
        },
    )
    policy = SlaPolicy.objects.get()
    assert policy.organization == p.org and policy.business_hours and policy.priority is None
    body = client.get(reverse("care:sla")).content.decode()
    assert "no working time" in body or "aucun temps ouvré" in body  # no business hours yet
    client.post(reverse("care:hours_add"), {"weekday": 0, "starts": "09:00", "ends": "17:00"})
    response = client.post(
        reverse("care:hours_add"), {"weekday": 0, "starts": "18:00", "ends": "08:00"}, follow=True
    )
    assert BusinessHours.objects.count() == 1
    client.post(reverse("care:holiday_add"), {"date": "2026-05-01", "name": "Fête du travail"})
    assert Holiday.objects.get().name == "Fête du travail"
    client.post(
        reverse("care:policy_save", args=[policy.pk]),
        {
            "name": "Tourisme",
            "network": "x",
            "audience": "public",
            "priority": "",
            "first_response_minutes": 0,
            "next_response_minutes": 60,
            "warn_percent": 75,
        },
    )
    policy.refresh_from_db()
    assert policy.first_response_minutes == 120  # refused: a target of zero minutes
    assert (
        client_as(p.agent_a).post(reverse("care:policy_delete", args=[policy.pk])).status_code
        == 403
    )
    client_as(p.admin).post(reverse("care:policy_delete", args=[policy.pk]))
    assert not SlaPolicy.objects.exists()
    assert response.status_code == 200


def test_analytics_from_the_buckets_and_csv(personas, policies, clock, client_as, monkeypatch):
    p = personas
    # Three conversations answered after 10, 20 and 90 minutes (the last one past SLA).
    for i, wait in enumerate((10, 20, 90)):
        start = clock.at + timedelta(hours=i * 2)
        receive(p.account, handle=f"a{i}", created_at=start)
        if wait > 60:
            actions.sla_evaluate(at=start + timedelta(minutes=61))
        clock.at = start + timedelta(minutes=wait)
        conv = Conversation.objects.get(contact__handle=f"a{i}")
        inbox_actions.conversation_reply(conversation=conv, membership=p.agent_a, text="ok")
        clock.at = start
    receive(p.account, handle="dm", kind=MessageKind.DM, created_at=clock.at)
    monkeypatch.setattr("relais.care.views.now", lambda: paris(2026, 3, 10, 23, 0))
    client = client_as(p.supervisor)
    response = client.get(reverse("care:analytics") + "?days=7&by=agent")
    total = response.context["total"]
    assert total["first_responses"] == 3 and total["breaches"] == 1
    assert total["compliance"] == "67 %"
    # Read from the histogram: the median falls in the 15-30 min bin, interpolated.
    assert total["fr_median"] == "22 min"
    rows = {r["label"]: r for r in response.context["rows"]}
    assert rows["agent_a"]["first_responses"] == 3
    series = response.context["charts"]
    assert sum(b["value"] for b in series[0]["bars"]) == 4  # messages in
    assert series[2]["bars"][-1]["value"] == 1  # the direct message still waits
    body = response.content.decode()
    assert "<svg" in body and 'data-chart="care-chart-0"' in body
    assert 'id="care-chart-0" type="application/json"' in body  # the same figures for uPlot
    chart = series[0]["data"]
    assert [p["value"] for p in chart["points"]] == [b["value"] for b in series[0]["bars"]]
    assert chart["timezone"] == "Europe/Paris"
    content = client.get(reverse("care:analytics_csv") + "?days=7").content.decode()
    table = list(csv.reader(io.StringIO(content)))
    assert table[0][0] == "group" and table[1][0] == "all" and table[1][2:4] == ["4", "3"]
