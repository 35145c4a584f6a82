"""The ingest path: stored once, nothing lost, bad events isolated, workers never collide."""

import threading

import pytest
from django.db import connection

from relais.channels import pipeline
from relais.channels.ingest import ingest
from relais.channels.models import RawEvent, RawEventState
from relais.common.testing import inbound
from relais.inbox.models import Contact, Conversation, Message


def test_same_event_twice_is_stored_once(personas, django_capture_on_commit_callbacks):
    message = inbound(external_id="tw-1")
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest(account=personas.account, messages=[message, message])
        second = ingest(account=personas.account, messages=[message])
    assert (first.stored, first.duplicates) == (1, 1)
    assert (second.stored, second.duplicates) == (0, 1)
    assert RawEvent.objects.count() == 1
    assert Message.objects.count() == 1


def test_same_id_on_two_accounts_is_two_events(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ingest(account=personas.account, messages=[inbound(external_id="same")])
        ingest(account=personas.other_account, messages=[inbound(external_id="same")])
    assert Message.objects.count() == 2
    assert Conversation.objects.filter(organization=personas.other_org).count() == 1


def test_threading_per_author_and_thread(personas):
    ingest(
        account=personas.account,
        messages=[
            inbound("root", handle="ana", external_id="r1"),
            inbound(
                "ana again in her thread",
                handle="ana",
                external_id="r2",
                thread_id="r1",
                reply_to_id="r1",
                kind="reply",
            ),
            inbound(
                "bob answers ana",
                handle="bob",
                external_id="r3",
                thread_id="r1",
                reply_to_id="r1",
                kind="reply",
            ),
            inbound("a private word", handle="ana", external_id="d1", kind="dm"),
            inbound("another private word", handle="ana", external_id="d2", kind="dm"),
        ],
    )
    assert pipeline.process_pending() == 5
    ana = Contact.objects.get(handle="ana")
    assert ana.message_count == 4
    assert Conversation.objects.filter(contact=ana, is_private=False).get().message_count == 2
    assert Conversation.objects.filter(contact=ana, is_private=True).get().message_count == 2
    assert Conversation.objects.filter(contact__handle="bob").count() == 1
    assert Conversation.objects.filter(team=personas.team_a).count() == 3


def test_long_and_unusual_text_is_kept_exactly(personas):
    long_text = ("Ligne C4 🚍 " * 2000)[:20_000]
    odd = "שלום‏ مرحبا ‍👩‍👩‍👧 zero​width <script>alert('x')</script> \u202eevil"
    ingest(
        account=personas.account,
        messages=[inbound(long_text, external_id="long"), inbound(odd, external_id="odd")],
    )
    pipeline.process_pending()
    assert Message.objects.get(external_id="long").text == long_text
    assert Message.objects.get(external_id="odd").text == odd


def test_a_bad_event_does_not_hold_back_the_others(personas, settings):
    settings.RELAIS_PIPELINE_STEPS = [
        *settings.RELAIS_PIPELINE_STEPS,
        "tests.channels.test_ingest.explode_on_boom",
    ]
    pipeline.pipeline_steps.cache_clear()
    try:
        ingest(
            account=personas.account,
            messages=[
                inbound("fine", external_id="a"),
                inbound("boom", external_id="b"),
                inbound("fine too", external_id="c"),
            ],
        )
        pipeline.process_pending()
    finally:
        pipeline.pipeline_steps.cache_clear()
    states = dict(RawEvent.objects.values_list("external_id", "state"))
    assert states == {"a": RawEventState.DONE, "b": RawEventState.FAILED, "c": RawEventState.DONE}
    bad = RawEvent.objects.get(external_id="b")
    assert bad.attempts == pipeline.MAX_EVENT_ATTEMPTS
    assert "boom" in bad.error
    # Its message was rolled back with it: nothing half-done.
    assert set(Message.objects.values_list("external_id", flat=True)) == {"a", "c"}


def explode_on_boom(batch):
    for item in batch.items:
        if item.inbound.text == "boom":
            raise RuntimeError("boom")


def test_stale_claims_return_to_pending(personas):
    ingest(account=personas.account, messages=[inbound(external_id="x1")])
    claimed = pipeline.claim(limit=10, worker="dead-worker")
    assert len(claimed) == 1
    assert pipeline.process_pending() == 0  # claimed by a worker that died
    RawEvent.objects.update(claimed_at=claimed[0].received_at - pipeline.STALE_CLAIM * 2)
    assert pipeline.release_stale_claims() == 1
    assert pipeline.process_pending() == 1
    assert Message.objects.count() == 1


def test_reprocessing_a_done_event_does_not_duplicate(personas):
    ingest(account=personas.account, messages=[inbound(external_id="once")])
    pipeline.process_pending()
    RawEvent.objects.update(state=RawEventState.PENDING)  # e.g. a crash before marking done
    pipeline.process_pending()
    assert Message.objects.count() == 1
    assert Conversation.objects.get().message_count == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_process_each_event_once():
    from relais.common.testing import make_personas

    personas = make_personas()
    n = 400
    # Stored directly, without queueing: the two threads below are the only workers.
    RawEvent.objects.bulk_create(
        RawEvent(account=personas.account, external_id=m.external_id, payload=m.to_json())
        for m in (inbound(f"msg {i}", handle=f"user{i % 37}") for i in range(n))
    )
    seen: list[int] = []
    lock = threading.Lock()
    original = pipeline._finish

    def recording_finish(events):
        with lock:
            seen.extend(e.pk for e in events)
        original(events)

    pipeline._finish = recording_finish
    errors = []

    def work():
        try:
            pipeline.process_pending(limit=25)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        pipeline._finish = original
    assert not errors
    assert len(seen) == n
    assert len(set(seen)) == n
    assert Message.objects.count() == n
    assert RawEvent.objects.filter(state=RawEventState.DONE).count() == n


def test_longest_network_ids_fit(personas):
    root = "r" * 200
    message = inbound(
        "reply",
        handle="h" * 200,
        external_id="m" * 200,
        thread_id=root,
        reply_to_id=root,
        kind="reply",
    )
    ingest(account=personas.account, messages=[message])
    assert pipeline.process_pending() == 1
    assert Conversation.objects.get().thread_key == f"t:{root}:{'h' * 200}"
