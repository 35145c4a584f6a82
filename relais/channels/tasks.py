"""Background jobs of the ingest and delivery paths."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from relais.channels import delivery as delivery_path
from relais.channels import health, pipeline, polling
from relais.channels.models import DeliveryState

logger = logging.getLogger(__name__)


@db_task()
def process_inbound() -> int:
    return pipeline.process_pending()


@db_task()
def deliver(delivery_id: int) -> None:
    delivery = delivery_path.delivery_attempt(delivery_id)
    if (
        delivery is not None
        and delivery.state == DeliveryState.PENDING
        and delivery.next_attempt_at
    ):
        deliver.schedule(args=(delivery_id,), eta=delivery.next_attempt_at)


@db_periodic_task(crontab(minute="*"))
def sweep() -> None:
    """Safety net, every minute: events left pending (a lost task), dead workers' claims,
    deliveries due for retry."""
    released = pipeline.release_stale_claims()
    processed = pipeline.process_pending()
    recovered = delivery_path.recover_stuck_sending()
    for delivery_id in delivery_path.due_deliveries():
        deliver(delivery_id)
    if released or processed or recovered:
        logger.info(
            "sweep: %d claims released, %d events processed, %d deliveries recovered",
            released,
            processed,
            recovered,
        )


@db_task()
def poll(account_id: int) -> int:
    return polling.poll_account(account_id)


@db_periodic_task(crontab(minute="*"))
def poll_due_accounts() -> None:
    for account_id in polling.due_accounts():
        poll(account_id)


@db_task(retries=3, retry_delay=60)
def notify_reconnect(account_id: int) -> int:
    return health.notify_reconnect(account_id)
