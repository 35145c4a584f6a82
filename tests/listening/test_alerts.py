"""On-call alerts: a burst tells the on-call person in the app, by e-mail and the chat
webhook; it must be acknowledged; unacknowledged, it escalates to the next person."""

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from relais.accounts.models import AuditEntry
from relais.channels.ingest import ingest
from relais.channels.pipeline import process_pending
from relais.common.testing import inbound
from relais.listening import actions, tasks
from relais.listening.models import (
    Alert,
    AlertNotification,
    AlertState,
    AlertWebhook,
    NotificationChannel,
    NotificationState,
)
from relais.realtime import broker as broker_module
from tests.listening.helpers import at_clock, on_call_all_week

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # a Tuesday


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        broker_module, "publish", lambda org_id, message: sent.append((org_id, message))
    )
    return sent


@pytest.fixture
def hook_calls(monkeypatch):
    """The one outbound HTTP client, answered by a mock transport."""
    calls, status = [], {"code": 200}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status["code"], json={"ok": True})

    monkeypatch.setattr(
        tasks, "client", lambda: httpx.Client(transport=httpx.MockTransport(handler))
    )
    calls_status = (calls, status)
    return calls_status


@pytest.fixture
def world(personas):
    p = personas
    with at_clock(T0):
        monitor = actions.monitor_create(
            membership=p.supervisor,
            name="Bomb",
            query_text="bombe aéroport",
            team=p.team_b,
            escalate_after_minutes=5,
        )
    return p, monitor


def burst(p, django_capture_on_commit_callbacks, *, minutes_quiet=20, size=30):
    """A quiet stretch, then `size` matching posts in one minute; detection as deployed."""
    start = T0 + timedelta(minutes=minutes_quiet)
    with at_clock(start + timedelta(seconds=30)), django_capture_on_commit_callbacks(execute=True):
        ingest(
            account=p.account,
            messages=[
                inbound(
                    f"bombe à l'aéroport ! {i}",
                    handle=f"user{i}",
                    reach=100 * i,
                    created_at=start + timedelta(seconds=i),
                )
                for i in range(size)
            ],
        )
        process_pending()
    at = start + timedelta(minutes=1, seconds=21)
    with at_clock(at), django_capture_on_commit_callbacks(execute=True):
        alerts = actions.close_buckets(at=at)
    return alerts, at


def test_a_burst_tells_the_on_call_person_everywhere(
    world, published, hook_calls, mailoutbox, django_capture_on_commit_callbacks
):
    p, monitor = world
    on_call_all_week(org=p.org, team=p.team_b, user=p.agent_b.user)
    on_call_all_week(org=p.org, team=p.team_a, user=p.agent_a.user)  # another team: not told
    AlertWebhook.objects.create(organization=p.org, url="https://chat.example.test/hooks/abc")
    AlertWebhook.objects.create(
        organization=p.org, team=p.team_a, url="https://chat.example.test/hooks/team-a"
    )
    alerts, at = burst(p, django_capture_on_commit_callbacks)
    assert len(alerts) == 1
    alert = Alert.objects.get()
    assert alert.count == 30 and alert.state == AlertState.OPEN
    assert alert.notified_user_ids == [p.agent_b.user.pk]
    assert alert.next_escalation_at == at + timedelta(minutes=5)
    # Authors, largest reach first.
    assert [a["reach"] for a in alert.top_authors] == sorted(
        (100 * i for i in range(30)), reverse=True
    )[:10]
    # In the app: one live event naming the person.
    raised = [m for _, m in published if m["type"] == "listening_alert"]
    assert len(raised) == 1 and raised[0]["data"]["user_ids"] == [p.agent_b.user.pk]
    # By e-mail.
    assert [m.to for m in mailoutbox] == [[p.agent_b.user.email]]
    assert "bombe" in mailoutbox[0].body.lower() or "Bomb" in mailoutbox[0].subject
    # By the organisation's chat webhook (not team A's), through the one HTTP client.
    calls, _ = hook_calls
    assert [str(c.url) for c in calls] == ["https://chat.example.test/hooks/abc"]
    body = json.loads(calls[0].content)
    assert body["monitor"] == "Bomb" and body["messages"] == 30
    assert body["url"].endswith(f"/listening/alerts/{alert.pk}/")
    states = dict(AlertNotification.objects.values_list("channel", "state").order_by("channel"))
    assert states == {
        NotificationChannel.EMAIL: NotificationState.SENT,
        NotificationChannel.IN_APP: NotificationState.SENT,
        NotificationChannel.WEBHOOK: NotificationState.SENT,
    }


def test_acknowledged_alert_does_not_escalate(
    world, published, hook_calls, django_capture_on_commit_callbacks
):
    p, monitor = world
    on_call_all_week(org=p.org, team=p.team_b, user=p.agent_b.user)
    on_call_all_week(org=p.org, team=p.team_b, user=p.supervisor.user)
    _, at = burst(p, django_capture_on_commit_callbacks)
    alert = Alert.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        actions.alert_acknowledge(alert=alert, membership=p.agent_b)
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == p.agent_b.user
    assert actions.escalate_due(at=at + timedelta(hours=1)) == 0
    assert (
        AuditEntry.objects.filter(action="listening.alert_ack", actor=p.agent_b.user).count() == 1
    )
    assert [m["data"]["state"] for _, m in published if m["type"] == "listening_alert_changed"] == [
        "acknowledged"
    ]


def test_unacknowledged_alert_escalates_along_the_on_call_list_then_to_supervisors(
    world, hook_calls, mailoutbox, django_capture_on_commit_callbacks
):
    p, monitor = world
    on_call_all_week(org=p.org, team=p.team_b, user=p.agent_b.user)
    on_call_all_week(org=p.org, team=p.team_b, user=p.agent_a.user)
    _, at = burst(p, django_capture_on_commit_callbacks)
    alert = Alert.objects.get()
    assert actions.escalate_due(at=at + timedelta(minutes=4)) == 0  # not yet
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.escalate_due(at=at + timedelta(minutes=5)) == 1
    alert.refresh_from_db()
    assert alert.level == 1
    assert alert.notified_user_ids == [p.agent_b.user.pk, p.agent_a.user.pk]
    # Nobody else on call: the supervisors and administrators, and it stops there.
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.escalate_due(at=at + timedelta(minutes=10)) == 1
    alert.refresh_from_db()
    assert alert.level == 2 and alert.next_escalation_at is None
    assert set(alert.notified_user_ids[2:]) == {p.admin.user.pk, p.supervisor.user.pk}
    assert actions.escalate_due(at=at + timedelta(hours=2)) == 0
    assert [m.to[0] for m in mailoutbox][:2] == [p.agent_b.user.email, p.agent_a.user.email]
    assert AuditEntry.objects.filter(action="listening.alert_escalate").count() == 2


def test_nobody_on_call_tells_the_supervisors_at_once(
    world, hook_calls, django_capture_on_commit_callbacks
):
    p, monitor = world
    burst(p, django_capture_on_commit_callbacks)
    alert = Alert.objects.get()
    assert set(alert.notified_user_ids) == {p.admin.user.pk, p.supervisor.user.pk}
    assert alert.next_escalation_at is None


def test_the_burst_going_on_stays_one_alert(world, hook_calls, django_capture_on_commit_callbacks):
    p, monitor = world
    burst(p, django_capture_on_commit_callbacks)
    start = T0 + timedelta(minutes=21)
    with at_clock(start + timedelta(seconds=50)), django_capture_on_commit_callbacks(execute=True):
        ingest(
            account=p.account,
            messages=[
                inbound("bombe aéroport", handle=f"b{i}", created_at=start + timedelta(seconds=i))
                for i in range(40)
            ],
        )
        process_pending()
    with (
        at_clock(start + timedelta(minutes=1, seconds=21)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        actions.close_buckets(at=start + timedelta(minutes=1, seconds=21))
    alert = Alert.objects.get()
    assert alert.last_bucket_start == start
    assert alert.count == 70


def test_a_failing_webhook_is_recorded(world, hook_calls, django_capture_on_commit_callbacks):
    p, monitor = world
    calls, status = hook_calls
    status["code"] = 500
    AlertWebhook.objects.create(organization=p.org, url="https://chat.example.test/hooks/down")
    burst(p, django_capture_on_commit_callbacks)
    hook = AlertNotification.objects.get(channel=NotificationChannel.WEBHOOK)
    assert calls, "the webhook was not called"
    assert "500" in hook.error
    assert hook.state in (NotificationState.PENDING, NotificationState.FAILED)
    assert hook.sent_at is None
