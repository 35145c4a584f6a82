"""The outbound path: a delivery per message and account, claimed, sent once, retried with backoff."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.dispatch import Signal

from relais.channels.contract import Capability, ConnectorError, DeliveryReport, OutboundMessage
from relais.channels.health import account_record_problem, account_record_success
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState
from relais.channels.registry import connector_for
from relais.common.timeutils import now

logger = logging.getLogger(__name__)

# Sent after every state change, inside the transaction; the inbox and publishing parts
# listen to update what they show (channels never imports them).
delivery_changed = Signal()  # kwargs: delivery
# Sent with an account's receipts before they are matched to deliveries. A receiver returns
# the external ids it recognised as its own (publishing's subscriber messages), which are
# then not looked up here. kwargs: account, reports
delivery_reports_received = Signal()

SENDING_TIMEOUT = timedelta(minutes=5)
BACKOFF_BASE = 5.0
BACKOFF_CAP = 900.0


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter: 5 s, 10 s, 20 s … up to 15 minutes."""
    base = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security


def delivery_create(
    *, account: ChannelAccount, outbound: OutboundMessage, max_attempts: int | None = None
) -> Delivery:
    from django.conf import settings

    from relais.channels.tasks import deliver
    from relais.common.tasks import enqueue_on_commit

    delivery = Delivery.objects.create(
        account=account,
        idempotency_key=outbound.idempotency_key,
        payload=outbound.to_json(),
        max_attempts=max_attempts or settings.RELAIS_DELIVERY_MAX_ATTEMPTS,
    )
    enqueue_on_commit(deliver, delivery.pk)
    return delivery


def _claim(delivery_id: int) -> bool:
    t = now()
    return bool(
        Delivery.objects.filter(id=delivery_id, state=DeliveryState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=t))
        .update(state=DeliveryState.SENDING, claimed_at=t, attempts=F("attempts") + 1)
    )


def delivery_attempt(delivery_id: int) -> Delivery | None:
    """Try one delivery once. Returns the delivery, or None when another worker has it
    or it is not due. The retry, if any, is scheduled by the caller from next_attempt_at."""
    if not _claim(delivery_id):
        return None
    delivery = Delivery.objects.select_related("account").get(id=delivery_id)
    account = delivery.account
    outbound = OutboundMessage.from_json(delivery.payload)
    try:
        if account.status in (AccountStatus.DISABLED, AccountStatus.RECONNECT):
            raise ConnectorError(
                f"account {account} is {account.status}", permanent=False, retry_after=300
            )
        receipt = connector_for(account).send(outbound)
    except ConnectorError as exc:
        _record_failure(delivery, exc)
    except Exception as exc:  # a bug or an unexpected network error: temporary
        logger.exception("delivery %s: unexpected error", delivery_id)
        _record_failure(delivery, ConnectorError(f"{type(exc).__name__}: {exc}"))
    else:
        with transaction.atomic():
            delivery.state = DeliveryState.SENT
            delivery.external_id = receipt.external_id
            delivery.external_url = receipt.url
            delivery.sent_at = now()
            delivery.last_error = ""
            delivery.save(
                update_fields=["state", "external_id", "external_url", "sent_at", "last_error"]
            )
            account_record_success(account_id=account.pk)
            delivery_changed.send(sender=Delivery, delivery=delivery)
    return delivery


def _record_failure(delivery: Delivery, exc: ConnectorError) -> None:
    with transaction.atomic():
        delivery.last_error = str(exc)[:2000]
        if exc.permanent or delivery.attempts >= delivery.max_attempts:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.state = DeliveryState.PENDING
            delay = (
                exc.retry_after
                if exc.retry_after is not None
                else backoff_seconds(delivery.attempts)
            )
            delivery.next_attempt_at = now() + timedelta(seconds=delay)
        delivery.save(update_fields=["last_error", "state", "next_attempt_at"])
        if exc.reconnect:
            account_record_problem(account_id=delivery.account_id, error=str(exc), reconnect=True)
        delivery_changed.send(sender=Delivery, delivery=delivery)
    logger.warning(
        "delivery %s attempt %d failed (%s): %s",
        delivery.pk,
        delivery.attempts,
        delivery.state,
        exc,
    )


def delivery_retry_now(*, delivery: Delivery) -> None:
    """A person asked to try a failed delivery again: one more attempt, same idempotency key."""
    from relais.channels.tasks import deliver
    from relais.common.tasks import enqueue_on_commit

    with transaction.atomic():
        updated = Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.FAILED).update(
            state=DeliveryState.PENDING, next_attempt_at=None, max_attempts=F("attempts") + 1
        )
        if updated:
            delivery.refresh_from_db()
            delivery_changed.send(sender=Delivery, delivery=delivery)
            enqueue_on_commit(deliver, delivery.pk)


def due_deliveries() -> list[int]:
    return list(
        Delivery.objects.filter(state=DeliveryState.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now()))
        .values_list("id", flat=True)[:1000]
    )


def recover_stuck_sending() -> int:
    """A worker killed mid-send leaves a delivery in `sending`. Where the network dedupes on
    our key, retry; elsewhere we cannot know whether it went out, so we fail it with a clear
    reason rather than risk posting twice."""
    stuck = Delivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__lt=now() - SENDING_TIMEOUT
    ).select_related("account")
    count = 0
    for delivery in stuck:
        idempotent = Capability.IDEMPOTENT_SEND in connector_for(delivery.account).capabilities
        with transaction.atomic():
            if idempotent:
                changed = Delivery.objects.filter(
                    pk=delivery.pk, state=DeliveryState.SENDING
                ).update(state=DeliveryState.PENDING, next_attempt_at=None)
            else:
                changed = Delivery.objects.filter(
                    pk=delivery.pk, state=DeliveryState.SENDING
                ).update(
                    state=DeliveryState.FAILED,
                    last_error="Interrupted while sending: check the network before retrying.",
                )
            if changed:
                delivery.refresh_from_db()
                delivery_changed.send(sender=Delivery, delivery=delivery)
                count += 1
    return count


def apply_delivery_reports(*, account: ChannelAccount, reports: list[DeliveryReport]) -> int:
    """A network's receipts: a sent message that did not reach its recipient is failed,
    with the network's reason."""
    claimed: set[str] = set()
    for _receiver, handled in delivery_reports_received.send(
        sender=ChannelAccount, account=account, reports=reports
    ):
        claimed.update(handled or ())
    if claimed:
        reports = [r for r in reports if r.external_id not in claimed]
    changed = 0
    for report in reports:
        with transaction.atomic():
            delivery = (
                Delivery.objects.select_for_update()
                .filter(account=account, external_id=report.external_id)
                .first()
            )
            if delivery is None:
                logger.info(
                    "receipt for an unknown message %s on %s", report.external_id, account.pk
                )
                continue
            if report.delivered:
                continue  # already "sent"; the network confirms
            delivery.state = DeliveryState.FAILED
            delivery.last_error = f"not delivered: {report.error or 'no reason given'}"[:2000]
            delivery.save(update_fields=["state", "last_error"])
            delivery_changed.send(sender=Delivery, delivery=delivery)
            changed += 1
    return changed
