"""The listening pipeline step: matches stored, buckets counted (monitor, line, intent at
1 and 5 minutes), watermark moved, listening-source posts kept out of the inbox; then the
detection closes buckets up to the watermark only."""

from datetime import UTC, datetime, timedelta

import pytest

from relais.channels.ingest import ingest
from relais.channels.pipeline import process_pending
from relais.common.testing import inbound
from relais.inbox.models import Conversation, Message, Status
from relais.listening import actions
from relais.listening.models import (
    MonitorMatch,
    Series,
    SeriesKind,
    VolumeBucket,
    Watermark,
)
from relais.listening.pipeline import bucket_start
from tests.listening.helpers import at_clock, listening_source

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def monitor(personas):
    with at_clock(T0):
        return actions.monitor_create(
            membership=personas.supervisor, name="Bomb", query_text="bombe (aéroport OR airport)"
        )


def feed(account, texts, at, **kw):
    with at_clock(at):
        ingest(account=account, messages=[inbound(t, created_at=at, **kw) for t in texts])
        process_pending()


def counts(kind, key, granularity):
    return {
        b.start: b.count
        for b in VolumeBucket.objects.filter(
            series__kind=kind, series__key=key, series__granularity=granularity
        )
    }


def test_matches_and_buckets(personas, monitor):
    at = T0 + timedelta(minutes=3, seconds=10)
    feed(
        personas.account,
        ["Alerte BOMBE à l'Aéroport !", "bombe airport???", "rien à voir", "une bombe ce gâteau"],
        at,
    )
    matched = MonitorMatch.objects.filter(monitor=monitor)
    assert sorted(m.message.text for m in matched) == [
        "Alerte BOMBE à l'Aéroport !",
        "bombe airport???",
    ]
    assert all(m.created_at == at for m in matched)
    assert counts(SeriesKind.MONITOR, str(monitor.pk), 60) == {bucket_start(at, 60): 2}
    assert counts(SeriesKind.MONITOR, str(monitor.pk), 300) == {bucket_start(at, 300): 2}
    # A second batch in the same minute adds to the same bucket (no scan of messages).
    feed(personas.account, ["bombe aeroport encore"], at + timedelta(seconds=20))
    assert counts(SeriesKind.MONITOR, str(monitor.pk), 60) == {bucket_start(at, 60): 3}
    # Intents are counted for every inbound message, matched or not.
    intents = Series.objects.filter(kind=SeriesKind.INTENT, granularity=60)
    total = sum(sum(counts(SeriesKind.INTENT, s.key, 60).values()) for s in intents)
    assert total == Message.objects.exclude(intent="").count()
    assert Watermark.objects.get(organization=personas.org).filled_until == at + timedelta(
        seconds=20
    )


def test_lines_are_counted_from_triage(personas):
    from relais.demo.setup import GTFS_DIR
    from relais.transit.gtfs import import_feed

    import_feed(organization=personas.org, path=GTFS_DIR)
    with at_clock(T0):
        c4 = actions.monitor_create(membership=personas.supervisor, name="C4", query_text="line:C4")
    feed(personas.account, ["la C4 est en retard à Grand Quartier", "le métro a marche"], T0)
    line_ids = Message.objects.get(text__startswith="la C4").triage["lines"]
    assert line_ids, "triage found no line"
    gtfs = line_ids[0][1]
    assert counts(SeriesKind.LINE, gtfs, 60) == {T0: 1}
    assert MonitorMatch.objects.filter(monitor=c4).count() == 1


def test_listening_source_posts_stay_out_of_the_inbox(personas, monitor):
    search = listening_source(personas.org)
    feed(search, ["alerte bombe aéroport de Rennes"], T0)
    feed(personas.account, ["@alpha_transit bombe à l'aéroport ?"], T0)
    assert MonitorMatch.objects.filter(monitor=monitor).count() == 2
    heard = Conversation.objects.get(account=search)
    assert heard.status == Status.CLOSED
    assert Conversation.objects.get(account=personas.account).status == Status.NEW
    # A second post of the same thread does not reopen it.
    feed(search, ["bombe airport, again"], T0 + timedelta(seconds=5), handle="maelle")
    assert not Conversation.objects.filter(account=search).exclude(status=Status.CLOSED).exists()


def test_monitor_sources_filter_what_it_counts(personas):
    search = listening_source(personas.org)
    with at_clock(T0):
        own = actions.monitor_create(
            membership=personas.supervisor, name="Own", query_text="bombe", sources="own"
        )
        heard = actions.monitor_create(
            membership=personas.supervisor, name="Heard", query_text="bombe", sources="listening"
        )
    feed(search, ["bombe"], T0)
    feed(personas.account, ["bombe"], T0)
    assert [m.message.account_id for m in MonitorMatch.objects.filter(monitor=own)] == [
        personas.account.pk
    ]
    assert [m.message.account_id for m in MonitorMatch.objects.filter(monitor=heard)] == [search.pk]


def test_other_organisations_messages_never_match(personas, monitor):
    feed(personas.other_account, ["bombe aéroport"], T0)
    assert not MonitorMatch.objects.exists()


def test_a_changed_monitor_is_picked_up_by_the_next_batch(personas, monitor):
    feed(personas.account, ["colis suspect aéroport"], T0)
    assert not MonitorMatch.objects.exists()
    with at_clock(T0):
        actions.monitor_update(
            membership=personas.supervisor,
            monitor=monitor,
            name=monitor.name,
            query_text='(bombe OR "colis suspect") aéroport',
            sources=monitor.sources,
            team=None,
            active=True,
            alerts_enabled=True,
            escalate_after_minutes=10,
        )
    feed(personas.account, ["colis suspect aéroport"], T0 + timedelta(seconds=1))
    assert MonitorMatch.objects.filter(monitor=monitor).count() == 1


def test_detection_closes_only_buckets_behind_the_watermark(personas, monitor):
    feed(personas.account, ["bombe aéroport"], T0 + timedelta(minutes=20))
    series = Series.objects.get(kind=SeriesKind.MONITOR, key=str(monitor.pk), granularity=60)
    assert series.closed_until == T0
    # The watermark is at T0+20 min: buckets up to T0+19 (ending before T0+20min-LATENESS) close.
    actions.close_buckets(at=T0 + timedelta(minutes=20, seconds=5))
    series.refresh_from_db()
    assert series.closed_until == T0 + timedelta(minutes=19)
    assert series.state["n"] == 19
    bucket = VolumeBucket.objects.get(series=series)
    assert bucket.score is None  # its minute has not closed yet
    # A pending event older than the clock holds the watermark back.
    from relais.channels.models import RawEvent

    ingest(account=personas.account, messages=[inbound("bombe aéroport", created_at=T0)])
    RawEvent.objects.filter(state="pending").update(received_at=T0 + timedelta(minutes=25))
    actions.close_buckets(at=T0 + timedelta(minutes=30))
    series.refresh_from_db()
    assert series.closed_until == T0 + timedelta(minutes=24)
    with at_clock(T0 + timedelta(minutes=30)):
        process_pending()
    actions.close_buckets(at=T0 + timedelta(minutes=30))
    series.refresh_from_db()
    assert series.closed_until == T0 + timedelta(minutes=29)
    bucket.refresh_from_db()
    assert bucket.score is not None


def test_bad_query_and_unknown_line_are_refused(personas):
    from django.core.exceptions import ValidationError

    from relais.listening.query import QueryError

    with pytest.raises(QueryError) as exc:
        actions.monitor_create(
            membership=personas.supervisor, name="x", query_text="line:Z99 bombe"
        )
    assert exc.value.position == 5
    with pytest.raises(QueryError):
        actions.monitor_create(membership=personas.supervisor, name="x", query_text="NOT bombe")
    actions.monitor_create(membership=personas.supervisor, name="x", query_text="bombe")
    with pytest.raises(ValidationError):
        actions.monitor_create(membership=personas.supervisor, name="x", query_text="autre")
