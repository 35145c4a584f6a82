"""Background jobs of listening: close and score buckets, escalate, send alert e-mails and
chat webhooks."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from relais.common import timeutils
from relais.common.http import client
from relais.listening import actions
from relais.listening.models import AlertNotification, NotificationState

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def detect_bursts() -> None:
    """Every minute, LATENESS after the minute's bucket ended (a message written at :59 may
    reach us a few seconds later): close the buckets, score them, raise alerts."""
    close_due_buckets.schedule(delay=actions.LATENESS.total_seconds() + 1)


@db_task()
def close_due_buckets() -> int:
    return len(actions.close_buckets(at=timeutils.now()))


@db_periodic_task(crontab(minute="*"))
def escalate_alerts() -> int:
    return actions.escalate_due(at=timeutils.now())


def _claim(notification_id: int) -> AlertNotification | None:
    notification = (
        AlertNotification.objects.select_related("alert__monitor", "alert__organization", "user")
        .filter(pk=notification_id, state=NotificationState.PENDING)
        .first()
    )
    return notification


def _done(notification: AlertNotification, error: str = "", *, final: bool = True) -> None:
    """Record the outcome; a failure that will be retried stays pending with its error."""
    if error:
        notification.state = NotificationState.FAILED if final else NotificationState.PENDING
    else:
        notification.state = NotificationState.SENT
    notification.error = error[:2000]
    notification.sent_at = None if error else timeutils.now()
    notification.save(update_fields=["state", "error", "sent_at"])


@db_task(retries=3, retry_delay=30, context=True)
def send_alert_email(notification_id: int, task=None) -> None:
    notification = _claim(notification_id)
    if notification is None or notification.user is None or not notification.user.email:
        return
    payload = actions.alert_payload(notification.alert)
    subject = f"[Relais] {payload['monitor']}: {payload['messages']} messages"
    authors = "\n".join(
        f"- @{a['handle']} ({a['network']}, {a['reach']} followers): {a['messages']} message(s)"
        for a in payload["top_authors"]
    )
    body = f"{payload['text']}\n\nQuery: {payload['query']}\n\nAuthors:\n{authors}\n\n{payload['url']}\n"
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [notification.user.email])
    except Exception as exc:
        _done(notification, f"{type(exc).__name__}: {exc}", final=not (task and task.retries))
        raise
    _done(notification)


@db_task(retries=3, retry_delay=30, context=True)
def send_alert_webhook(notification_id: int, task=None) -> None:
    notification = _claim(notification_id)
    if notification is None or notification.webhook is None:
        return
    payload = actions.alert_payload(notification.alert)
    try:
        with client() as http:
            response = http.post(notification.webhook.url, json=payload)
            response.raise_for_status()
    except Exception as exc:
        _done(notification, f"{type(exc).__name__}: {exc}", final=not (task and task.retries))
        logger.warning("alert webhook %s failed: %s", notification.webhook_id, exc)
        raise
    _done(notification)
