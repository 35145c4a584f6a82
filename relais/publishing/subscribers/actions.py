"""Writes of the subscribers part: subscribe with double opt-in, confirm, unsubscribe, and
queue a publication for the subscribers of its lines."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils.translation import gettext as _

from relais.accounts.models import Organization, audit
from relais.channels.contract import MessageKind, OutboundMessage
from relais.channels.models import AccountStatus, ChannelAccount
from relais.common.tasks import enqueue_on_commit
from relais.common.timeutils import now
from relais.publishing.models import (
    Publication,
    PublicationKind,
    Subscriber,
    SubscriberBroadcast,
    SubscriberChannel,
    SubscriberMessage,
    SubscriberState,
)
from relais.publishing.subscribers.phones import InvalidPhone, normalise_phone
from relais.transit.models import Route

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 5  # wrong codes before the code is void (10^6 codes: brute force fails)
MAX_CODES_PER_HOUR = 3  # codes sent to one address in an hour
MAX_REQUESTS_PER_IP = 10  # subscribe requests from one address (IP) in an hour
SMS_LENGTH = 160
BROADCAST_KINDS = (PublicationKind.ALERT, PublicationKind.UPDATE, PublicationKind.CLOSING)
SENDERS_PER_BROADCAST = 2  # sender tasks started at once; the rate bucket caps them together


class SubscribeError(ValueError):
    """Refused, with the reason to show (already translated)."""


@dataclass(frozen=True)
class SubscribeOutcome:
    subscriber: Subscriber
    sent: bool  # a confirmation code or link went out
    already: bool = False  # every line asked for was already confirmed


def sms_account_for(organization_id: int) -> ChannelAccount | None:
    """The SMS account that sends to subscribers and receives their STOP: the
    organisation's first working SMS account."""
    return (
        ChannelAccount.objects.filter(
            organization_id=organization_id,
            kind="sms",
            status__in=[AccountStatus.ACTIVE, AccountStatus.ERROR],
        )
        .order_by("pk")
        .first()
    )


def _code_hash(subscriber: Subscriber, code: str) -> str:
    return hashlib.sha256(f"{subscriber.token}:{code}".encode()).hexdigest()


def _rate_limit(key: str, limit: int, seconds: int) -> None:
    """A fixed-window counter in the shared cache (Redis in production)."""
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        count = 1
    if count > limit:
        raise SubscribeError(_("Too many attempts. Please try again in an hour."))


def normalise_address(channel: str, raw: str) -> str:
    if channel == SubscriberChannel.SMS:
        try:
            return normalise_phone(raw)
        except InvalidPhone as exc:
            raise SubscribeError(str(exc)) from None
    if channel == SubscriberChannel.EMAIL:
        value = (raw or "").strip().lower()
        try:
            validate_email(value)
        except ValidationError:
            raise SubscribeError(_("This is not a valid e-mail address.")) from None
        return value
    raise SubscribeError(_("Choose SMS or e-mail."))


def subscribe_request(
    *,
    organization: Organization,
    channel: str,
    address: str,
    line_ids: list[int],
    language: str = "fr",
    client_ip: str = "",
) -> SubscribeOutcome:
    """Ask to receive the alerts of these lines. Nothing is sent to the person until they
    confirm: a code by SMS, a link by e-mail."""
    _rate_limit(f"relais:subscribe:ip:{client_ip}", MAX_REQUESTS_PER_IP, 3600)
    value = normalise_address(channel, address)
    wanted = sorted(set(line_ids))
    if not wanted:
        raise SubscribeError(_("Choose at least one line."))
    lines = list(
        Route.objects.filter(organization=organization, pk__in=wanted).values_list("pk", flat=True)
    )
    if len(lines) != len(wanted):
        # Another organisation's line, or none at all: the same answer.
        raise SubscribeError(_("Unknown line."))
    if channel == SubscriberChannel.SMS and sms_account_for(organization.pk) is None:
        raise SubscribeError(_("SMS alerts are not available here. Choose e-mail."))
    with transaction.atomic():
        subscriber, _created = Subscriber.objects.select_for_update().get_or_create(
            organization=organization,
            channel=channel,
            address=value,
            defaults={"token": secrets.token_urlsafe(32), "language": language},
        )
        if subscriber.state == SubscriberState.CONFIRMED:
            current = set(subscriber.lines.values_list("pk", flat=True))
            if set(lines) <= current:
                return SubscribeOutcome(subscriber=subscriber, sent=False, already=True)
        t = now()
        if subscriber.code_sent_at is None or subscriber.code_sent_at < t - timedelta(hours=1):
            subscriber.codes_sent = 0
        if subscriber.codes_sent >= MAX_CODES_PER_HOUR:
            raise SubscribeError(
                _(
                    "A confirmation was sent to this address several times already. "
                    "Please use it or try again in an hour."
                )
            )
        if subscriber.state == SubscriberState.UNSUBSCRIBED:
            subscriber.state = SubscriberState.PENDING
            subscriber.lines.clear()
        subscriber.pending_line_ids = sorted(set(lines))
        subscriber.language = language
        subscriber.codes_sent += 1
        subscriber.code_sent_at = t
        subscriber.code_attempts = 0
        code = ""
        if channel == SubscriberChannel.SMS:
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            subscriber.code_hash = _code_hash(subscriber, code)
        subscriber.save(
            update_fields=[
                "state",
                "pending_line_ids",
                "language",
                "codes_sent",
                "code_sent_at",
                "code_attempts",
                "code_hash",
            ]
        )
        audit(
            organization_id=organization.pk,
            actor_id=None,
            action="subscriber.requested",
            obj=subscriber,
            data={"channel": channel, "lines": subscriber.pending_line_ids},
        )
        if channel == SubscriberChannel.SMS:
            _send_code(subscriber=subscriber, code=code)
        else:
            from relais.publishing.tasks import subscriber_confirmation_email

            enqueue_on_commit(subscriber_confirmation_email, subscriber.pk)
    return SubscribeOutcome(subscriber=subscriber, sent=True)


def _send_code(*, subscriber: Subscriber, code: str) -> None:
    from relais.channels.delivery import delivery_create

    account = sms_account_for(subscriber.organization_id)
    if account is None:
        raise SubscribeError(_("SMS alerts are not available here. Choose e-mail."))
    text = _("%(org)s: your code to receive line alerts is %(code)s") % {
        "org": subscriber.organization.name,
        "code": code,
    }
    delivery_create(
        account=account,
        outbound=OutboundMessage(
            idempotency_key=f"subcode:{uuid.uuid4().hex}",
            kind=MessageKind.DM,
            text=text,
            recipient=subscriber.address,
        ),
        max_attempts=3,
    )


def _confirm(subscriber: Subscriber, *, via: str) -> Subscriber:
    line_ids = list(
        Route.objects.filter(
            organization_id=subscriber.organization_id, pk__in=subscriber.pending_line_ids
        ).values_list("pk", flat=True)
    )
    subscriber.lines.add(*line_ids)
    subscriber.state = SubscriberState.CONFIRMED
    subscriber.confirmed_at = subscriber.confirmed_at or now()
    subscriber.unsubscribed_at = None
    subscriber.pending_line_ids = []
    subscriber.code_hash = ""
    subscriber.code_attempts = 0
    subscriber.save(
        update_fields=[
            "state",
            "confirmed_at",
            "unsubscribed_at",
            "pending_line_ids",
            "code_hash",
            "code_attempts",
        ]
    )
    audit(
        organization_id=subscriber.organization_id,
        actor_id=None,
        action="subscriber.confirmed",
        obj=subscriber,
        data={"via": via, "lines": line_ids},
    )
    return subscriber


def confirm_code(
    *, organization: Organization, address: str, code: str, client_ip: str = ""
) -> Subscriber:
    """The code received by SMS, typed on the page. Five wrong codes void it."""
    _rate_limit(f"relais:subscribe:code-ip:{client_ip}", MAX_CODE_ATTEMPTS * 4, 3600)
    value = normalise_address(SubscriberChannel.SMS, address)
    wrong = SubscribeError(_("Wrong or expired code."))
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update()
            .filter(organization=organization, channel=SubscriberChannel.SMS, address=value)
            .first()
        )
        if subscriber is None or not subscriber.code_hash:
            raise wrong
        if subscriber.code_sent_at is None or subscriber.code_sent_at < now() - CODE_TTL:
            raise wrong
        given = "".join(ch for ch in (code or "") if ch.isdigit())
        if hmac.compare_digest(_code_hash(subscriber, given), subscriber.code_hash):
            return _confirm(subscriber, via="sms code")
        subscriber.code_attempts += 1
        fields = ["code_attempts"]
        if subscriber.code_attempts >= MAX_CODE_ATTEMPTS:
            subscriber.code_hash = ""  # void: a new code must be asked for
            fields.append("code_hash")
            wrong = SubscribeError(_("Too many wrong codes. Ask for a new one."))
        subscriber.save(update_fields=fields)
    # Raised once the count is committed: an error inside the block would roll it back.
    raise wrong


def confirm_token(*, organization: Organization, token: str) -> Subscriber:
    """The link of the confirmation e-mail."""
    with transaction.atomic():
        subscriber = (
            Subscriber.objects.select_for_update()
            .filter(organization=organization, channel=SubscriberChannel.EMAIL, token=token)
            .first()
        )
        if subscriber is None or subscriber.state == SubscriberState.UNSUBSCRIBED:
            raise SubscribeError(_("This link is not valid any more."))
        if subscriber.state == SubscriberState.CONFIRMED and not subscriber.pending_line_ids:
            return subscriber
        return _confirm(subscriber, via="e-mail link")


def unsubscribe(*, subscriber: Subscriber, via: str) -> bool:
    """Stop everything for this address. Returns False when it was already unsubscribed."""
    with transaction.atomic():
        changed = (
            Subscriber.objects.filter(pk=subscriber.pk)
            .exclude(state=SubscriberState.UNSUBSCRIBED)
            .update(
                state=SubscriberState.UNSUBSCRIBED,
                unsubscribed_at=now(),
                pending_line_ids=[],
                code_hash="",
            )
        )
        if not changed:
            return False
        subscriber.lines.clear()
        # Messages not handed to the gateway yet are dropped: no alert after a STOP.
        SubscriberMessage.objects.filter(subscriber=subscriber, state="queued").update(
            state="failed", error="unsubscribed before sending"
        )
        audit(
            organization_id=subscriber.organization_id,
            actor_id=None,
            action="subscriber.unsubscribed",
            obj=subscriber,
            data={"via": via},
        )
    subscriber.refresh_from_db()
    return True


def unsubscribe_token(*, organization: Organization, token: str) -> Subscriber:
    subscriber = Subscriber.objects.filter(organization=organization, token=token).first()
    if subscriber is None:
        raise SubscribeError(_("This link is not valid any more."))
    unsubscribe(subscriber=subscriber, via="link")
    return subscriber


# --- Broadcast ------------------------------------------------------------------------


def fit_sms(text: str, *, length: int = SMS_LENGTH) -> str:
    """One SMS: cut at a word with an ellipsis when longer."""
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    cut = text[: length - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def sms_text(publication: Publication) -> str:
    """The short variant: the text the part-1 fan-out fitted to an SMS account if there is
    one, else the template's short variant when it has no variable left, else the text cut
    to one SMS."""
    target = (
        publication.targets.filter(account__kind="sms")
        .order_by("pk")
        .values_list("text", flat=True)
    ).first()
    if target:
        return fit_sms(target)
    template = publication.template
    if template is not None and template.short_text and "{" not in template.short_text:
        return fit_sms(template.short_text)
    return fit_sms(publication.text)


def _affected_line_ids(publication: Publication) -> tuple[bool, list[int]]:
    incident = publication.incident
    if incident is not None and incident.all_lines:
        return True, []
    ids = set(publication.lines.values_list("pk", flat=True))
    if incident is not None:
        ids |= set(incident.lines.values_list("pk", flat=True))
    return False, sorted(ids)


def _queue_messages(
    *, broadcast: SubscriberBroadcast, network_wide: bool, line_ids: list[int]
) -> int:
    """One INSERT … SELECT: 100,000 rows in well under a second, and ON CONFLICT makes a
    second call (a signal sent twice) queue nobody twice."""
    messages = SubscriberMessage._meta.db_table
    subscribers = Subscriber._meta.db_table
    through = Subscriber.lines.through._meta.db_table
    params: list[int | str] = [broadcast.pk, broadcast.organization_id, broadcast.channel]
    join = ""
    if not network_wide:
        if not line_ids:
            return 0
        join = (
            f" AND EXISTS (SELECT 1 FROM {through} t WHERE t.subscriber_id = s.id"  # noqa: S608
            f" AND t.route_id IN ({', '.join(['%s'] * len(line_ids))}))"
        )
        params.extend(line_ids)
    sql = (
        f"INSERT INTO {messages} (broadcast_id, subscriber_id, state, attempts, claimed_by,"  # noqa: S608 - table names from the models, values as parameters
        " external_id, receipt, error)"
        f" SELECT %s, s.id, 'queued', 0, '', '', '', '' FROM {subscribers} s"
        " WHERE s.organization_id = %s AND s.channel = %s AND s.state = 'confirmed'"
        f"{join} ORDER BY s.id ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return max(cursor.rowcount, 0)


def broadcast_publication(*, publication_id: int) -> dict[str, int]:
    """Queue one message per confirmed subscriber of the publication's lines (every
    subscriber when the incident is network-wide), per channel. Idempotent."""
    from relais.publishing.tasks import subscriber_email_send, subscriber_send

    publication = (
        Publication.objects.select_related("organization", "template", "incident")
        .filter(pk=publication_id)
        .first()
    )
    if publication is None or publication.kind not in BROADCAST_KINDS:
        return {}
    network_wide, line_ids = _affected_line_ids(publication)
    org = publication.organization
    queued: dict[str, int] = {}
    with transaction.atomic():
        sms_account = sms_account_for(org.pk)
        for channel in (SubscriberChannel.SMS, SubscriberChannel.EMAIL):
            if channel == SubscriberChannel.SMS and sms_account is None:
                continue
            broadcast, _created = SubscriberBroadcast.objects.get_or_create(
                publication=publication,
                channel=channel,
                defaults={
                    "organization": org,
                    "account": sms_account if channel == SubscriberChannel.SMS else None,
                    "text": sms_text(publication)
                    if channel == SubscriberChannel.SMS
                    else publication.text,
                    "subject": fit_sms(f"{org.name}: {publication.text}", length=120),
                },
            )
            count = _queue_messages(
                broadcast=broadcast, network_wide=network_wide, line_ids=line_ids
            )
            if count:
                SubscriberBroadcast.objects.filter(pk=broadcast.pk).update(
                    queued=broadcast.queued + count
                )
                if channel == SubscriberChannel.SMS and sms_account is not None:
                    for _sender in range(SENDERS_PER_BROADCAST):
                        enqueue_on_commit(subscriber_send, sms_account.pk)
                else:
                    enqueue_on_commit(subscriber_email_send)
            queued[channel] = count
        if any(queued.values()):
            audit(
                organization_id=org.pk,
                actor_id=None,
                action="publication.subscribers_queued",
                obj=publication,
                data=queued,
            )
    logger.info("publication %s queued for subscribers: %s", publication_id, queued)
    return queued
