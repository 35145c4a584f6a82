"""Ingest pipeline step: "STOP" (or "ARRET") by SMS from a subscribed number unsubscribes
it and is answered once. Runs before the inbox threads messages: a handled STOP is not a
conversation. A STOP from a number that is not subscribed goes on to the inbox as usual."""

from __future__ import annotations

import logging
import unicodedata

from django.utils import translation
from django.utils.translation import gettext as _

from relais.channels.contract import MessageKind, OutboundMessage
from relais.channels.models import Delivery
from relais.channels.pipeline import Batch
from relais.publishing.models import Subscriber, SubscriberChannel, SubscriberState
from relais.publishing.subscribers.actions import unsubscribe
from relais.publishing.subscribers.phones import same_number

logger = logging.getLogger(__name__)

STOP_WORDS = {"stop", "arret", "stop sms", "stopsms", "unsubscribe", "desabonner", "desinscription"}


def is_stop(text: str) -> bool:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    words = " ".join(folded.casefold().replace(".", " ").replace("!", " ").split())
    return words in STOP_WORDS


def handle_stop(batch: Batch) -> None:
    from relais.channels.delivery import delivery_create

    for item in batch.items:
        if item.skip:
            continue
        account = item.event.account
        if account.kind != "sms" or item.inbound.kind != MessageKind.DM:
            continue
        if not is_stop(item.inbound.text):
            continue
        number = same_number(item.inbound.author.external_id)
        subscriber = (
            Subscriber.objects.filter(
                organization_id=account.organization_id,
                channel=SubscriberChannel.SMS,
                address=number,
            ).first()
            if number
            else None
        )
        if subscriber is None:
            continue  # not one of ours: the inbox shows it to a person
        item.skip = True
        if subscriber.state == SubscriberState.UNSUBSCRIBED:
            continue  # already done; answered the first time
        unsubscribe(subscriber=subscriber, via="sms stop")
        key = f"substop:{item.event.pk}"
        if Delivery.objects.filter(idempotency_key=key).exists():
            continue  # the event is processed again after a crash: answered already
        with translation.override(subscriber.language or account.organization.language):
            text = _(
                "%(org)s: you will not receive line alerts any more. "
                "Subscribe again on our website."
            ) % {"org": account.organization.name}
        delivery_create(
            account=account,
            outbound=OutboundMessage(
                idempotency_key=key, kind=MessageKind.DM, text=text, recipient=number
            ),
            max_attempts=3,
        )
        logger.info("subscriber %s unsubscribed by SMS", subscriber.pk)
