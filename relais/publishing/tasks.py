"""Background jobs of the publishing part: subscriber broadcasts and their sending, the
calendar's publisher and the conflict guard's sweep."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

logger = logging.getLogger(__name__)


@db_task()
def subscriber_broadcast(publication_id: int) -> dict[str, int]:
    from relais.publishing.subscribers.actions import broadcast_publication

    return broadcast_publication(publication_id=publication_id)


@db_task()
def subscriber_send(account_id: int) -> int:
    from relais.publishing.subscribers.sending import send_sms

    result = send_sms(account_id=account_id)
    if result.remaining:
        subscriber_send(account_id)  # the budget is spent, the queue is not: carry on
    return result.sent


@db_task()
def subscriber_email_send() -> int:
    from relais.publishing.subscribers.sending import send_emails

    result = send_emails()
    if result.remaining and result.sent:
        subscriber_email_send()
    return result.sent


@db_task(retries=3, retry_delay=60)
def subscriber_confirmation_email(subscriber_id: int) -> int:
    from relais.publishing.models import Subscriber, SubscriberState

    subscriber = Subscriber.objects.select_related("organization").filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.state == SubscriberState.UNSUBSCRIBED:
        return 0
    org = subscriber.organization
    link = settings.RELAIS_BASE_URL + reverse(
        "publishing:subscribe_email_confirm", kwargs={"slug": org.slug, "token": subscriber.token}
    )
    with translation.override(subscriber.language or org.language):
        subject = _("Confirm your alerts from %(org)s") % {"org": org.name}
        body = _(
            "Someone (hopefully you) asked to receive the line alerts of %(org)s at this "
            "address. Confirm with this link:\n\n%(link)s\n\nIf it was not you, ignore this "
            "message: nothing will be sent."
        ) % {"org": org.name, "link": link}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [subscriber.address])
    return 1


@db_periodic_task(crontab(minute="*"))
def subscriber_sweep() -> None:
    """Safety net, every minute: messages of a killed worker, retries that are due."""
    from relais.publishing.subscribers.sending import (
        accounts_with_due_messages,
        recover_stuck_sending,
    )

    recovered = recover_stuck_sending()
    for account_id in accounts_with_due_messages():
        subscriber_send(account_id)
    subscriber_email_send()
    if recovered:
        logger.warning("subscriber sweep: %d interrupted messages failed", recovered)


@db_task(retries=3, retry_delay=60)
def publication_hold_notify(hold_id: int) -> int:
    from relais.publishing.guard import notify_author

    return notify_author(hold_id)


@db_periodic_task(crontab(minute="*"))
def calendar_tick() -> None:
    """Every minute: the guard holds and releases, then the due approved posts go out."""
    from relais.publishing import guard
    from relais.publishing.editorial.actions import publish_due

    held, released = guard.sweep()
    started = publish_due()
    if held or released or started:
        logger.info("calendar: %d held, %d released, %d started", held, released, len(started))
