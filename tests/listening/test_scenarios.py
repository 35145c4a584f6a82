"""Scenarios through the real path: S3's burst reaches the on-call person in under 3
minutes of scenario time; S1's quiet hours before the strike raise no alert."""

from datetime import UTC, datetime, timedelta

import pytest

from relais.listening import actions
from relais.listening.models import (
    Alert,
    AlertNotification,
    MonitorMatch,
    NotificationChannel,
)
from tests.listening.helpers import at_clock, listening_source, on_call_all_week, replay

# A Tuesday afternoon, 13:30 in Paris: the scenario's second 0 (starts_at_local).
S3_START = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
S1_START = datetime(2026, 3, 10, 4, 30, tzinfo=UTC)

BOMB_QUERY = (
    '("alerte à la bombe" OR bombe OR bomb OR "bomb threat") '
    'AND (aéroport OR airport OR "saint-jacques")'
)


@pytest.fixture
def s3_world(personas):
    p = personas
    on_call_all_week(org=p.org, team=p.team_b, user=p.agent_b.user)
    with at_clock(S3_START):
        monitor = actions.monitor_create(
            membership=p.supervisor, name="Bomb rumour", query_text=BOMB_QUERY, team=p.team_b
        )
    search = listening_source(p.org)
    return p, monitor, search


def test_s3_on_call_alerted_within_three_minutes_of_the_burst(s3_world, mailoutbox):
    p, monitor, search = s3_world
    result = replay(
        "s3_bomb_rumour.jsonl", own={"x": p.account}, search=search, start=S3_START, until=8400
    )
    burst = S3_START + timedelta(seconds=result.meta["burst_starts_at"])
    alerts = list(Alert.objects.filter(monitor=monitor).order_by("created_at"))
    assert alerts, "the burst raised no alert"
    first = alerts[0]
    # Nothing before the rumour: the harmless "bombe" and "évacuation" posts stay quiet.
    assert first.bucket_start >= burst - timedelta(minutes=1)
    told = AlertNotification.objects.filter(
        alert=first, channel=NotificationChannel.IN_APP, user=p.agent_b.user
    ).get()
    delay = told.created_at - burst
    assert timedelta(0) < delay < timedelta(minutes=3), delay
    print(f"S3: on-call person alerted {delay.total_seconds():.0f} s after the burst started")
    # One alert for the whole burst, not one a minute.
    assert len(alerts) == 1
    # The messages and authors that make it, largest reach first: the agency on top.
    reaches = [a["reach"] for a in first.top_authors]
    assert reaches == sorted(reaches, reverse=True)
    first.refresh_from_db()
    handles = [a["handle"] for a in first.top_authors]
    assert "ouest_info_agence" in handles[:3] or "FlashInfoFR" in handles[:3]
    # The e-mail went to the on-call person; nobody acknowledged during the replay, so
    # after 10 minutes the supervisors and administrators were told too (no other on-call).
    assert mailoutbox[0].to == [p.agent_b.user.email]
    assert "Bomb rumour" in mailoutbox[0].subject
    assert sorted(m.to[0] for m in mailoutbox[1:]) == [p.admin.user.email, p.supervisor.user.email]
    assert first.level == 1 and first.state == "open"
    # Listening-source posts are matched but do not flood the inbox.
    from relais.inbox.models import Conversation, Status

    assert MonitorMatch.objects.filter(monitor=monitor, message__account=search).count() > 100
    assert not Conversation.objects.filter(account=search).exclude(status=Status.CLOSED).exists()
    assert Conversation.objects.filter(account=p.account).exclude(status=Status.CLOSED).exists()


def test_s3_without_acknowledgement_escalates_to_the_next_on_call_person(s3_world):
    p, monitor, search = s3_world
    on_call_all_week(org=p.org, team=p.team_b, user=p.supervisor.user)
    replay("s3_bomb_rumour.jsonl", own={"x": p.account}, search=search, start=S3_START, until=7800)
    alert = Alert.objects.get(monitor=monitor)
    assert alert.notified_user_ids == [p.agent_b.user.pk]
    later = alert.created_at + timedelta(minutes=monitor.escalate_after_minutes, seconds=1)
    assert actions.escalate_due(at=later) == 1
    alert.refresh_from_db()
    assert alert.level == 1
    assert alert.notified_user_ids == [p.agent_b.user.pk, p.supervisor.user.pk]


def test_s1_quiet_hours_before_the_strike_raise_no_alert(personas):
    p = personas
    _import_star_lines(p.org)
    with at_clock(S1_START):
        for name, q in [
            ("Strike", 'grève OR greve OR strike OR "mouvement social" OR #grevestar'),
            ("C4", "line:C4 OR #C4"),
            ("Airport", "aéroport OR airport OR C6"),
            ("Lost property", '"objets trouvés" OR perdu OR oublié'),
        ]:
            actions.monitor_create(membership=p.supervisor, name=name, query_text=q)
    result = replay(
        "s1_strike_morning.jsonl", own={"x": p.account}, search=None, start=S1_START, until=4200
    )
    assert result.played == 8
    assert result.alerts == []
    assert not Alert.objects.exists()


def _import_star_lines(org):
    from relais.demo.setup import GTFS_DIR
    from relais.transit.gtfs import import_feed

    import_feed(organization=org, path=GTFS_DIR)
