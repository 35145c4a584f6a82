"""Live events: typed, sent only after commit, fanned out in memory or through Redis."""

import asyncio
import json

import pytest
from django.db import transaction

from relais.inbox import actions
from relais.inbox.models import Conversation
from relais.realtime import broker as broker_module
from relais.realtime.broker import LocalBroker, RedisBroker
from relais.realtime.events import ConversationChanged, send_event_on_commit
from relais.realtime.views import format_sse


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(
        broker_module, "publish", lambda org_id, message: sent.append((org_id, message))
    )
    return sent


def test_events_leave_only_after_commit(db, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                send_event_on_commit(1, ConversationChanged(conversation_id=5, change="closed"))
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    assert published == []
    with django_capture_on_commit_callbacks(execute=True):
        send_event_on_commit(1, ConversationChanged(conversation_id=5, change="closed"))
    assert published == [
        (
            1,
            {
                "type": "conversation",
                "org": 1,
                "data": {"conversation_id": 5, "change": "closed", "by_user_id": None},
            },
        )
    ]


def test_each_action_sends_the_events_it_should(
    personas, published, django_capture_on_commit_callbacks
):
    from relais.connectors.sandbox import network

    with django_capture_on_commit_callbacks(execute=True):
        network.citizen_post(account=personas.account, handle="ana", text="Bonjour")
    assert [m["type"] for _, m in published] == ["inbox"]
    assert all(org == personas.org.pk for org, _ in published)
    conversation = Conversation.objects.get()
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.conversation_reply(
            conversation=conversation, membership=personas.agent_a, text="Bonjour Ana"
        )
    # The reply itself, then its delivery going out.
    assert [m["type"] for _, m in published] == ["conversation", "delivery"]
    assert published[1][1]["data"]["state"] == "sent"
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        actions.note_add(conversation=conversation, membership=personas.agent_a, text="note")
        actions.conversation_assign(
            conversation=conversation, membership=personas.agent_a, assignee=personas.agent_b
        )
    assert [m["data"]["change"] for _, m in published] == ["noted", "assigned"]


def test_sse_format_is_one_event_per_message():
    text = format_sse({"type": "inbox", "data": {"text": "two\nlines </script>"}})
    assert text.startswith("event: inbox\ndata: ")
    assert text.endswith("\n\n")
    assert text.count("\n") == 3
    assert json.loads(text.split("data: ", 1)[1]) == {"text": "two\nlines </script>"}


async def _receive(broker, org_id, publish):
    async def first():
        async for message in broker.subscribe(org_id):
            return message

    task = asyncio.ensure_future(first())
    await asyncio.sleep(0.2)  # let the subscription start
    publish()
    return await asyncio.wait_for(task, timeout=5)


async def test_local_broker_delivers_across_threads():
    broker = LocalBroker()
    loop = asyncio.get_running_loop()

    def publish():
        loop.run_in_executor(None, broker.publish, 7, {"type": "inbox", "data": {}})

    assert await _receive(broker, 7, publish) == {"type": "inbox", "data": {}}
    await asyncio.sleep(0)
    assert broker.subscriber_count(7) == 0


async def test_local_broker_keeps_organisations_apart():
    broker = LocalBroker()

    def publish():
        broker.publish(8, {"type": "inbox", "data": {"org": 8}})
        broker.publish(9, {"type": "inbox", "data": {"org": 9}})

    assert (await _receive(broker, 9, publish))["data"] == {"org": 9}


@pytest.mark.redis
async def test_redis_broker_across_processes():
    from tests.test_workers import redis_url

    url = redis_url()
    subscriber = RedisBroker(url)
    publisher = RedisBroker(url)  # another process would hold its own client
    message = {"type": "conversation", "data": {"conversation_id": 1}}
    assert await _receive(subscriber, 4242, lambda: publisher.publish(4242, message)) == message


async def test_stream_closes_cleanly_when_the_browser_leaves_mid_wait(monkeypatch):
    """A browser that disconnects while the stream waits for an event cancels the request's
    task: the subscription must close (not raise "aclose(): asynchronous generator is
    already running") and leave the broker."""
    import asyncio
    import contextlib

    from relais.realtime import views
    from relais.realtime.broker import LocalBroker

    broker = LocalBroker()
    monkeypatch.setattr(views, "get_broker", lambda: broker)
    stream = views._stream(41)
    assert (await stream.__anext__()).startswith("retry:")

    consumer = asyncio.ensure_future(stream.__anext__())  # waits for an event
    await asyncio.sleep(0.05)
    assert broker.subscriber_count(41) == 1
    consumer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer
    await stream.aclose()
    assert broker.subscriber_count(41) == 0
