"""Handing subscriber messages to the gateway: a token bucket per SMS account shared by
every worker (through the database), claims by conditional update so that two workers
never send the same message, bounded retries, and the gateway's receipts."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from relais.channels.contract import ConnectorError, DeliveryReport
from relais.channels.health import account_record_problem, account_record_success
from relais.channels.models import ChannelAccount
from relais.common.timeutils import now
from relais.publishing.models import (
    SendRateBucket,
    SubscriberBroadcast,
    SubscriberChannel,
    SubscriberMessage,
    SubscriberMessageState,
)

logger = logging.getLogger(__name__)

DEFAULT_SEND_RATE = 20.0  # SMS a second per account, unless its config says "send_rate"
BUCKET_SECONDS = 0.25
CHUNK = 200  # messages claimed at once (at most WINDOW of them in flight over SMPP)
WINDOW = 50
MAX_ATTEMPTS = 3
RETRY_BASE = timedelta(seconds=30)
SENDING_TIMEOUT = timedelta(minutes=5)


def send_rate(account: ChannelAccount) -> float:
    try:
        rate = float((account.config or {}).get("send_rate", DEFAULT_SEND_RATE))
    except (TypeError, ValueError):
        rate = DEFAULT_SEND_RATE
    return max(rate, 0.1)


# --- The token bucket ------------------------------------------------------------------


def take_tokens(*, account_id: int, rate: float, want: int) -> tuple[int, float]:
    """Take up to `want` tokens. Returns (granted, seconds to wait when none was granted).
    The bucket holds at most BUCKET_SECONDS of sending. A conditional update on refilled_at
    makes concurrent workers (threads, processes, machines) see each take exactly once, on
    SQLite and PostgreSQL alike."""
    # A quarter of a second of tokens at most: an SMSC that throttles per second never sees
    # much more than the rate in any one second, whatever the number of workers.
    burst = max(rate * BUCKET_SECONDS, 1.0)
    for _attempt in range(50):
        bucket = SendRateBucket.objects.filter(account_id=account_id).first()
        t = now()
        if bucket is None:
            try:
                with transaction.atomic():
                    SendRateBucket.objects.create(account_id=account_id, tokens=0.0, refilled_at=t)
            except IntegrityError:
                pass
            continue
        elapsed = max((t - bucket.refilled_at).total_seconds(), 0.0)
        tokens = min(burst, bucket.tokens + elapsed * rate)
        granted = min(want, int(tokens))
        if not granted:
            return 0, (1.0 - tokens) / rate
        if SendRateBucket.objects.filter(pk=bucket.pk, refilled_at=bucket.refilled_at).update(
            tokens=tokens - granted, refilled_at=t
        ):
            return granted, 0.0
    return 0, 0.05  # heavy contention: try again shortly


def give_back(*, account_id: int, count: int) -> None:
    if count > 0:
        SendRateBucket.objects.filter(account_id=account_id).update(tokens=F("tokens") + count)


# --- Claims ------------------------------------------------------------------------------


def _due() -> Q:
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now())


def claim(
    *, channel: str, account_id: int | None, limit: int, worker: str
) -> list[SubscriberMessage]:
    # The broadcasts first (a handful of rows): the messages are then read through their
    # index (broadcast, state, id) instead of a join over every queued row.
    broadcasts = SubscriberBroadcast.objects.filter(channel=channel)
    if account_id is not None:
        broadcasts = broadcasts.filter(account_id=account_id)
    broadcast_ids = list(broadcasts.values_list("pk", flat=True))
    if not broadcast_ids:
        return []
    with transaction.atomic():
        queryset = SubscriberMessage.objects.filter(
            broadcast_id__in=broadcast_ids, state=SubscriberMessageState.QUEUED
        ).filter(_due())
        # SKIP LOCKED (PostgreSQL): a second worker takes the next rows instead of waiting.
        ids = list(
            queryset.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        SubscriberMessage.objects.filter(id__in=ids, state=SubscriberMessageState.QUEUED).update(
            state=SubscriberMessageState.SENDING,
            claimed_by=worker,
            claimed_at=now(),
            attempts=F("attempts") + 1,
        )
    return list(
        SubscriberMessage.objects.filter(
            id__in=ids, claimed_by=worker, state=SubscriberMessageState.SENDING
        )
        .select_related("subscriber", "broadcast", "broadcast__organization")
        .order_by("id")
    )


def _record(messages: list[SubscriberMessage], results: list[str | ConnectorError]) -> int:
    t = now()
    sent = 0
    for message, result in zip(messages, results, strict=True):
        if isinstance(result, ConnectorError):
            message.error = str(result)[:500]
            if result.permanent or message.attempts >= MAX_ATTEMPTS:
                message.state = SubscriberMessageState.FAILED
                message.next_attempt_at = None
            else:
                message.state = SubscriberMessageState.QUEUED
                delay = result.retry_after or (RETRY_BASE * 2 ** (message.attempts - 1)).seconds
                message.next_attempt_at = t + timedelta(seconds=delay)
        else:
            message.state = SubscriberMessageState.SENT
            message.external_id = result
            message.sent_at = t
            message.error = ""
            sent += 1
    # One statement run for every row (executemany): a CASE per column (bulk_update) costs
    # more than the sending itself at a few hundred messages a second.
    table = SubscriberMessage._meta.db_table
    at = connection.ops.adapt_datetimefield_value  # as the ORM stores times, per database
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET state = %s, external_id = %s, sent_at = %s, error = %s,"  # noqa: S608 - the model's table
            " next_attempt_at = %s WHERE id = %s",
            [
                (m.state, m.external_id, at(m.sent_at), m.error, at(m.next_attempt_at), m.pk)
                for m in messages
            ],
        )
    return sent


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    remaining: bool = False  # due messages are left (the caller re-queues the task)


def send_sms(*, account_id: int, budget_seconds: float = 50.0) -> SendResult:
    """Send an account's queued subscriber SMS at its rate until none is due or the budget
    is spent. Several workers may run this at once: the bucket caps them together."""
    from relais.connectors.sms.connector import SmsConnector

    account = ChannelAccount.objects.filter(pk=account_id).first()
    result = SendResult()
    if account is None:
        return result
    rate = send_rate(account)
    connector = SmsConnector(account)
    worker = uuid.uuid4().hex
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        granted, wait = take_tokens(account_id=account_id, rate=rate, want=CHUNK)
        if not granted:
            time.sleep(min(wait, max(deadline - time.monotonic(), 0)))
            continue
        messages = claim(
            channel=SubscriberChannel.SMS, account_id=account_id, limit=granted, worker=worker
        )
        give_back(account_id=account_id, count=granted - len(messages))
        if not messages:
            return result
        items = [(m.subscriber.address, m.broadcast.text) for m in messages]
        try:
            outcomes = connector.send_batch(items, window=WINDOW)
        except ConnectorError as exc:
            # The bind failed: nothing went out. Back to the queue with a delay.
            outcomes = [exc] * len(messages)
            account_record_problem(account_id=account_id, error=str(exc), reconnect=exc.reconnect)
            sent = _record(messages, outcomes)
            result.failed += len(messages) - sent
            result.remaining = False  # the sweep tries again once the delay has passed
            return result
        sent = _record(messages, outcomes)
        if sent:
            account_record_success(account_id=account_id)
        result.sent += sent
        result.failed += len(messages) - sent
        if not sent and any(
            isinstance(o, ConnectorError) and not o.permanent and o.retry_after is None
            for o in outcomes
        ):
            # The gateway is failing: stop here; the sweep tries again once the delay passed.
            return result
    result.remaining = (
        SubscriberMessage.objects.filter(
            state=SubscriberMessageState.QUEUED, broadcast__account_id=account_id
        )
        .filter(_due())
        .exists()
    )
    return result


def _email(message: SubscriberMessage, connection) -> EmailMultiAlternatives:
    subscriber, broadcast = message.subscriber, message.broadcast
    org = broadcast.organization
    link = settings.RELAIS_BASE_URL + reverse(
        "publishing:unsubscribe", kwargs={"slug": org.slug, "token": subscriber.token}
    )
    with translation.override(subscriber.language or org.language):
        footer = _("You receive this because you subscribed to alerts of %(org)s.") % {
            "org": org.name
        }
        leave = _("Unsubscribe: %(link)s") % {"link": link}
    body = f"{broadcast.text}\n\n-- \n{footer}\n{leave}\n"
    email = EmailMultiAlternatives(
        subject=broadcast.subject or org.name,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.address],
        connection=connection,
        headers={
            "List-Unsubscribe": f"<{link}>",
            "X-Relais-Key": message.idempotency_key,
        },
    )
    return email


def send_emails(*, budget_seconds: float = 50.0) -> SendResult:
    """Queued subscriber e-mails, a chunk per SMTP session."""
    result = SendResult()
    worker = uuid.uuid4().hex
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        messages = claim(
            channel=SubscriberChannel.EMAIL, account_id=None, limit=CHUNK, worker=worker
        )
        if not messages:
            return result
        outcomes: list[str | ConnectorError] = []
        try:
            with get_connection() as connection:
                for message in messages:
                    try:
                        _email(message, connection).send()
                        outcomes.append(message.idempotency_key)
                    except (OSError, ValueError) as exc:
                        outcomes.append(ConnectorError(f"SMTP: {exc}"))
        except OSError as exc:
            outcomes += [ConnectorError(f"SMTP: {exc}")] * (len(messages) - len(outcomes))
        sent = _record(messages, outcomes)
        result.sent += sent
        result.failed += len(messages) - sent
    result.remaining = SubscriberMessage.objects.filter(
        state=SubscriberMessageState.QUEUED, broadcast__channel=SubscriberChannel.EMAIL
    ).exists()
    return result


def recover_stuck_sending() -> int:
    """A worker killed mid-send leaves messages in `sending`: they may have reached the
    gateway, so they are failed with the reason, never sent twice."""
    return SubscriberMessage.objects.filter(
        state=SubscriberMessageState.SENDING, claimed_at__lt=now() - SENDING_TIMEOUT
    ).update(
        state=SubscriberMessageState.FAILED,
        error="interrupted while sending: it may or may not have gone out",
    )


def accounts_with_due_messages() -> list[int]:
    return list(
        SubscriberMessage.objects.filter(
            state=SubscriberMessageState.QUEUED, broadcast__channel=SubscriberChannel.SMS
        )
        .filter(_due())
        .values_list("broadcast__account_id", flat=True)
        .distinct()
    )


# --- Receipts ---------------------------------------------------------------------------


def apply_receipts(*, account: ChannelAccount, reports: list[DeliveryReport]) -> set[str]:
    """The gateway's delivery receipts for subscriber messages: stored on each message.
    Returns the external ids that were ours (channels then leaves them alone)."""
    if not reports or account.kind != "sms":
        return set()
    by_id = {r.external_id: r for r in reports if r.external_id}
    broadcast_ids = list(
        SubscriberBroadcast.objects.filter(account_id=account.pk).values_list("pk", flat=True)
    )
    if not broadcast_ids:
        return set()
    found: set[str] = set()
    ids = list(by_id)
    received = connection.ops.adapt_datetimefield_value(now())
    table = SubscriberMessage._meta.db_table
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = list(
            SubscriberMessage.objects.filter(
                broadcast_id__in=broadcast_ids, external_id__in=chunk
            ).values_list("id", "external_id")
        )
        updates = []
        for pk, external_id in rows:
            report = by_id[external_id]
            state = (
                SubscriberMessageState.DELIVERED
                if report.delivered
                else SubscriberMessageState.UNDELIVERED
            )
            receipt = "delivered" if report.delivered else (report.error or "not delivered")[:200]
            updates.append((str(state), received, receipt, pk))
            found.add(external_id)
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {table} SET state = %s, receipt_at = %s, receipt = %s WHERE id = %s",  # noqa: S608 - the model's table
                updates,
            )
    return found
