"""`relais demo --scenario s3`: the afternoon before the cordon is played as history in
scenario time and learnt, so that the rumour played live raises the alert in the demo
too (not only in the scenario-time test)."""

from datetime import timedelta

import pytest

from relais.channels.pipeline import process_pending
from relais.common import timeutils
from relais.connectors.replay.connector import load_scenario
from relais.connectors.replay.player import play
from relais.demo.setup import SCENARIO_S3, load_demo
from relais.listening import actions
from relais.listening.demo import learn_history
from relais.listening.models import Alert, AlertNotification, Monitor, Series, VolumeBucket
from tests.listening.helpers import at_clock


@pytest.mark.django_db(transaction=True)
def test_demo_s3_history_then_live_rumour_pages_the_press_on_call():
    org = load_demo().organization
    monitor = Monitor.objects.get(organization=org, name="Rumeur aéroport")
    scenario = load_scenario(SCENARIO_S3)
    cordon = float(scenario.meta["cordon_at"])
    learnt: list = []

    def on_history_done(since):
        learnt.append(since)
        learn_history(organization_id=org.pk, since=since)

    live_from = timeutils.now()
    result = play(
        scenario,
        organization=org,
        speed=0,  # the live part at once: its messages fall in the minute or two of now
        history_until=cordon,
        on_history_done=on_history_done,
    )
    assert result.skipped == 0 and result.played == len(scenario.lines)
    (since,) = learnt
    # The history is dated in scenario time: the afternoon spans hours, not seconds.
    assert live_from - since > timedelta(hours=1)
    minute = Series.objects.get(organization=org, key=str(monitor.pk), granularity=60)
    history_scored = VolumeBucket.objects.filter(
        series=minute, start__lt=live_from - timedelta(minutes=5), score__isnull=False
    )
    assert history_scored.exists(), "the history's buckets were never judged"
    assert not Alert.objects.filter(organization=org).exists(), "the quiet afternoon paged"

    process_pending()
    later = timeutils.now() + timedelta(minutes=2)
    with at_clock(later):
        raised = actions.close_buckets(at=later)
    alerts = [a for a in raised if a.monitor_id == monitor.pk]
    assert alerts, "the live rumour raised no alert"
    alert = alerts[0]
    assert alert.bucket_start >= live_from - timedelta(minutes=1)
    # The press team's on-call person (claire, then nina) is told in the app.
    told = AlertNotification.objects.filter(alert=alert).values_list("user__username", flat=True)
    assert set(told) & {"claire", "nina"}
    assert alert.top_authors and alert.top_authors[0]["reach"] >= 100_000  # the agency
