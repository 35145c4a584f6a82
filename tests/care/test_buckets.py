"""The hourly counts: kept by events, with a fill watermark for what came before."""

from datetime import timedelta

from django.core.management import call_command
from django.db.models import Sum

from relais.care.buckets import buckets_backfill
from relais.care.models import CareBucket, CareCounting
from relais.care.selectors import percentile_from_bins
from relais.inbox import actions as inbox_actions
from relais.inbox.models import Conversation, Status
from tests.care.conftest import paris, receive

FIELDS = [
    "inbound",
    "opened",
    "closed",
    "first_responses",
    "first_response_seconds",
    "resolution_seconds",
    "awaiting_started",
    "awaiting_stopped",
]


def _sums():
    return CareBucket.objects.aggregate(**{f: Sum(f) for f in FIELDS})


def test_backfill_counts_the_history_like_the_events_did_and_only_once(personas, clock):
    p = personas
    for i, (wait, close) in enumerate(((10, True), (45, False), (None, False))):
        start = paris(2026, 3, 10, 9 + i, 0)
        receive(p.account, handle=f"h{i}", created_at=start)
        receive(
            p.account,
            handle=f"h{i}",
            created_at=start + timedelta(minutes=1),
            thread_id=Conversation.objects.get(contact__handle=f"h{i}").thread_external_id,
        )
        conv = Conversation.objects.get(contact__handle=f"h{i}")
        if wait is not None:
            clock.at = start + timedelta(minutes=wait)
            inbox_actions.conversation_reply(conversation=conv, membership=p.agent_a, text="ok")
        if close:
            clock.at = start + timedelta(minutes=90)
            inbox_actions.conversation_set_status(
                conversation=conv, membership=p.agent_a, status=Status.CLOSED
            )
    counting = CareCounting.objects.get()
    assert counting.since == paris(2026, 3, 10, 9, 0) and counting.filled_until is None
    by_events = _sums()
    assert by_events["inbound"] == 6 and by_events["first_responses"] == 2
    # As if all of it had happened before the care part was installed:
    CareBucket.objects.all().delete()
    CareCounting.objects.filter(pk=p.org.pk).update(since=paris(2026, 3, 11, 0, 0))
    call_command("care_backfill", p.org.slug)
    assert _sums() == by_events
    assert CareCounting.objects.get().filled_until == paris(2026, 3, 11, 0, 0)
    assert buckets_backfill(organization_id=p.org.pk) == 0  # the watermark: never twice
    assert _sums() == by_events


def test_percentiles_from_the_histogram():
    # bins: <=5 min, <=15, <=30, <=1 h, <=2 h, <=4 h, <=8 h, <=24 h, more
    assert percentile_from_bins([0] * 9, 0.5) is None
    assert percentile_from_bins([0, 2, 0, 0, 0, 0, 0, 0, 0], 0.5) == 300 + 600 * 0.5
    assert percentile_from_bins([0, 0, 0, 0, 0, 0, 0, 0, 4], 0.9) == 86400
    assert percentile_from_bins([9, 0, 0, 0, 1, 0, 0, 0, 0], 0.9) == 300
