"""What runs inside a phase process (Django set up on a fresh database): store, process,
count. Each phase prints one line `RESULT {json}` for the orchestrator in bench/ingest.py."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import environment
from bench.workload import Workload, generate
from relais.channels.contract import MessageKind


def emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def _queued_tasks() -> int:
    from huey.contrib.djhuey import HUEY

    return HUEY.pending_count()


def _store(messages, *, account, batch: int) -> float:
    """Webhook-sized ingest calls, one after the other; returns the seconds spent."""
    from relais.channels.ingest import ingest

    started = time.perf_counter()
    for i in range(0, len(messages), batch):
        ingest(account=account, messages=messages[i : i + batch])
    return time.perf_counter() - started


def _fresh_with_pending(n: int, batch: int, seed: int) -> tuple[Workload, dict[str, Any]]:
    from django.conf import settings
    from huey.contrib.djhuey import HUEY

    from relais.channels.models import RawEvent, RawEventState

    # Ingest must only store: with an immediate queue the pipeline would run inside ingest().
    assert not HUEY.immediate, "RELAIS_TASKS_IMMEDIATE must be off for the benchmark"
    assert settings.HUEY["huey_class"] == "huey.SqliteHuey", "the store phase queues into a file"
    environment.migrate()
    _, account = environment.create_org_and_account()
    workload = generate(n, seed=seed)
    seconds = _store(workload.messages, account=account, batch=batch)
    pending = RawEvent.objects.filter(state=RawEventState.PENDING).count()
    assert pending == n, f"{pending} raw events pending after storing {n}"
    info = {
        "messages": n,
        "ingest_batch": batch,
        "ingest_seconds": seconds,
        "ingest_rate": n / seconds,
        "queued_tasks": _queued_tasks(),
        "pipeline_batch": settings.RELAIS_INGEST_BATCH,
        "mix": {
            "mentions": workload.mentions,
            "replies": workload.replies,
            "dms": workload.dms,
            "authors": workload.expected_contacts,
        },
    }
    return workload, info


def verify(*, n: int, expected_conversations: int, expected_contacts: int) -> dict[str, Any]:
    """Every raw event done once, one message per event, the conversations the rule predicts."""
    from django.db.models import Count, Sum

    from relais.channels.models import RawEvent
    from relais.inbox.models import Contact, Conversation, Message

    states = dict(
        RawEvent.objects.values_list("state").annotate(c=Count("id")).values_list("state", "c")
    )
    messages = Message.objects.count()
    distinct = Message.objects.values("external_id").distinct().count()
    conversations = Conversation.objects.count()
    contacts = Contact.objects.count()
    counted = Conversation.objects.aggregate(s=Sum("message_count"))["s"] or 0
    unrouted = Conversation.objects.filter(team__isnull=True).count()
    problems = []
    if states != {"done": n}:
        problems.append(f"raw event states {states}, expected {{'done': {n}}}")
    if messages != n or distinct != n:
        problems.append(f"{messages} messages ({distinct} distinct ids), expected {n}")
    if conversations != expected_conversations:
        problems.append(f"{conversations} conversations, expected {expected_conversations}")
    if contacts != expected_contacts:
        problems.append(f"{contacts} contacts, expected {expected_contacts}")
    if counted != n:
        problems.append(f"conversations count {counted} messages, expected {n}")
    if unrouted:
        problems.append(f"{unrouted} conversations without a team")
    return {
        "ok": not problems,
        "problems": problems,
        "conversations": conversations,
        "contacts": contacts,
        "message_rows": messages,
    }


def throughput(*, n: int, batch: int, seed: int) -> None:
    from relais.channels.pipeline import process_pending

    workload, info = _fresh_with_pending(n, batch, seed)
    started = time.perf_counter()
    done = process_pending()
    pipeline_seconds = time.perf_counter() - started
    info.update(
        processed=done,
        pipeline_seconds=pipeline_seconds,
        pipeline_rate=n / pipeline_seconds,
        end_to_end_rate=n / (info["ingest_seconds"] + pipeline_seconds),
        check=verify(
            n=n,
            expected_conversations=workload.expected_conversations,
            expected_contacts=workload.expected_contacts,
        ),
    )
    emit(info)


def prepare(*, n: int, batch: int, seed: int) -> None:
    workload, info = _fresh_with_pending(n, batch, seed)
    info.update(
        expected_conversations=workload.expected_conversations,
        expected_contacts=workload.expected_contacts,
    )
    emit(info)


def worker() -> None:
    """One pipeline worker: connect, say ready, wait for `go` on stdin, drain the queue."""
    from django.db import connection

    from relais.channels import pipeline

    connection.ensure_connection()
    pipeline.pipeline_steps()  # imports done before the clock starts
    print("READY", flush=True)
    sys.stdin.readline()
    started = time.time()
    done = pipeline.process_pending()
    emit({"done": done, "started": started, "finished": time.time()})


def check(*, n: int, expected_conversations: int, expected_contacts: int) -> None:
    emit(
        verify(
            n=n, expected_conversations=expected_conversations, expected_contacts=expected_contacts
        )
    )


def live_setup() -> None:
    """The database of a live server: migrated, with a user who can sign in."""
    environment.migrate()
    org, account = environment.create_org_and_account()
    emit(
        {
            "organization_id": org.pk,
            "account_id": account.pk,
            "webhook_secret": account.webhook_secret,
        }
    )


IN_FLIGHT = 32


def _webhook_body(ext_id: str, seq: int, thread_id: str) -> bytes:
    message = {
        "external_id": ext_id,
        "kind": "reply" if thread_id else "mention",
        "author": {"external_id": f"live-u{seq % 300}", "handle": f"live_{seq % 300}"},
        "text": f"live {seq} @STAR_Rennes la C4 circule ?",
        "created_at": datetime.now(UTC).isoformat(),
        "thread_id": thread_id or None,
    }
    return json.dumps({"messages": [message]}).encode()


async def _send_webhooks(
    base: str,
    account_id: int,
    secret: str,
    schedule: list[tuple[str, float, str]],
    seconds: list[float],
    accepted: list[float],
    deadline: float,
) -> dict[str, int]:
    """POST one signed message per call at its due time; calls overlap when the server is slow."""
    import asyncio

    import httpx

    failures: dict[str, int] = {}
    url = f"{base}/api/webhooks/ingest/{account_id}"

    # At most IN_FLIGHT calls at once, like a network's webhook sender: the others wait
    # their turn here (their latency still counts from when they were due). Thousands of
    # requests queued inside httpx's pool would make this process the bottleneck.
    in_flight = asyncio.Semaphore(IN_FLIGHT)

    async def post(client: httpx.AsyncClient, ext_id: str, seq: int, thread_id: str) -> None:
        async with in_flight:
            body = _webhook_body(ext_id, seq, thread_id)
            signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            called = time.time()
            try:
                response = await client.post(
                    url,
                    content=body,
                    headers={"Content-Type": "application/json", "X-Relais-Signature": signature},
                )
            except httpx.HTTPError as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                return
            seconds.append(time.time() - called)
            if response.status_code == 202:
                accepted.append(time.time())
            else:
                failures[str(response.status_code)] = failures.get(str(response.status_code), 0) + 1

    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        tasks = []
        for seq, (ext_id, at, thread_id) in enumerate(schedule):
            wait = at - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(post(client, ext_id, seq, thread_id)))
        _, unfinished = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.time()))
        for task in unfinished:  # a server this far behind: stop rather than wait for ever
            task.cancel()
        if unfinished:
            failures["unanswered at the deadline"] = len(unfinished)
    return failures


def live_send(
    *,
    account_id: int,
    rate: float,
    seconds: float,
    prefix: str,
    settle: float,
    via: str,
    base: str,
    gaps: list[float] | None = None,
) -> None:
    """Citizens writing at `rate` messages a second, one message per call, paced on a fixed
    schedule. Latency is counted from when a message was due, not from when it left: a
    sender held up by a slow server does not hide the delay (no coordinated omission).

    via=webhook: signed POSTs to the product's ingest webhook, as a network would make.
    via=direct: ingest() called in this process, the queue shared with the server's workers.
    gaps: instead of a rate, single messages after these pauses (a quiet desk).
    """
    import asyncio

    from relais.channels.ingest import ingest
    from relais.channels.models import ChannelAccount, RawEvent, RawEventState
    from relais.common.testing import inbound
    from relais.inbox.models import Message

    account = ChannelAccount.objects.get(pk=account_id)
    start = time.time() + 0.5
    if gaps:
        times = list(itertools.accumulate(gaps, initial=start))[1:]
    else:
        times = [start + seq / rate for seq in range(int(rate * seconds))]
    total = len(times)
    schedule = [
        (f"{prefix}-{seq}", at, f"{prefix}-{seq % 300}" if seq >= 300 else "")
        for seq, at in enumerate(times)
    ]
    call_seconds: list[float] = []
    accepted: list[float] = []  # when each accepted call returned
    failures: dict[str, int] = {}
    # Past this, a server far behind is declared so rather than waited for.
    deadline = times[-1] + 10
    if via == "webhook":
        failures = asyncio.run(
            _send_webhooks(
                base,
                account_id,
                account.webhook_secret,
                schedule,
                call_seconds,
                accepted,
                deadline,
            )
        )
    else:
        for seq, (ext_id, at, thread_id) in enumerate(schedule):
            if time.time() > deadline:
                failures["not sent by the deadline"] = total - seq
                break
            wait = at - time.time()
            if wait > 0:
                time.sleep(wait)
            message = inbound(
                f"live {seq} @STAR_Rennes la C4 circule ?",
                handle=f"live_{seq % 300}",
                external_id=ext_id,
                thread_id=thread_id,
                kind=MessageKind.REPLY if thread_id else MessageKind.MENTION,
            )
            called = time.time()
            ingest(account=account, messages=[message])
            accepted.append(time.time())
            call_seconds.append(accepted[-1] - called)
    sent_at = time.time()
    # Wait until the server's workers have drained everything (or give up).
    deadline = time.time() + settle
    while time.time() < deadline:
        if not RawEvent.objects.filter(account=account).exclude(state=RawEventState.DONE).exists():
            break
        time.sleep(0.2)
    left = RawEvent.objects.filter(account=account).exclude(state=RawEventState.DONE).count()
    due = {ext_id: at for ext_id, at, _ in schedule}
    ids = dict(
        Message.objects.filter(account=account, external_id__in=list(due)).values_list(
            "pk", "external_id"
        )
    )
    call_seconds.sort()
    emit(
        {
            "via": via,
            "sent": total,
            "accepted": len(accepted),
            # The rate the server took messages at: accepted calls over the time they took.
            "accepted_rate": len(accepted) / (max(accepted) - start) if accepted else 0.0,
            "failed_calls": failures,
            "send_seconds": sent_at - start,
            "drain_seconds": time.time() - sent_at,
            "not_done": left,
            "call_p50": call_seconds[len(call_seconds) // 2],
            "call_p99": call_seconds[int(len(call_seconds) * 0.99)],
            "call_max": call_seconds[-1],
            "due": {str(pk): due[ext] for pk, ext in ids.items()},
        }
    )
