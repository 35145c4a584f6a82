"""Writes of publications: create, start the fan-out (one target and one delivery per channel
account), follow the deliveries to the publication's state, retry a failed channel.

Nothing is posted twice: a publication starts once (its row is locked and its state checked),
each target is unique per (publication, account), and each delivery's idempotency key is
derived from both, so a second start, a double click or a retried task finds what exists.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, Role, audit
from relais.accounts.permissions import require_role
from relais.channels.contract import Capability, MessageKind, OutboundMessage
from relais.channels.delivery import delivery_create, delivery_retry_now
from relais.channels.models import AccountStatus, ChannelAccount, Delivery, DeliveryState
from relais.channels.registry import connector_for
from relais.common.timeutils import now
from relais.publishing.models import (
    Publication,
    PublicationCategory,
    PublicationKind,
    PublicationState,
    PublicationTarget,
)
from relais.publishing.signals import publication_started
from relais.realtime.events import PublicationChanged, send_event_on_commit

logger = logging.getLogger(__name__)

# Who may send an alert, an update or "back to normal" (the operations role included: the
# traffic regulator publishes without answering conversations). Viewers never publish.
PUBLISHING_ROLES = {Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.OPERATIONS}

STARTED_STATES = {
    PublicationState.PUBLISHING,
    PublicationState.PUBLISHED,
    PublicationState.PARTIAL,
    PublicationState.FAILED,
}


def require_publishing(membership: Membership) -> None:
    require_role(membership, PUBLISHING_ROLES)


def publishing_accounts(*, organization_id: int) -> list[ChannelAccount]:
    """The organisation's accounts that can post publicly (not disabled)."""
    accounts = ChannelAccount.objects.filter(organization_id=organization_id).exclude(
        status=AccountStatus.DISABLED
    )
    return [
        a
        for a in accounts.order_by("network", "name")
        if Capability.PUBLISH in connector_for(a).capabilities
    ]


def thread_root(publication: Publication) -> Publication | None:
    """The alert an update or closing message is threaded under: the incident's first alert."""
    if publication.parent_id:
        return publication.parent
    if publication.incident_id and publication.kind in (
        PublicationKind.UPDATE,
        PublicationKind.CLOSING,
    ):
        return (
            Publication.objects.filter(
                incident_id=publication.incident_id,
                kind=PublicationKind.ALERT,
                state__in=STARTED_STATES,
            )
            .exclude(pk=publication.pk)
            .order_by("requested_at", "pk")
            .first()
        )
    return None


@transaction.atomic
def publication_create(
    *,
    membership: Membership,
    kind: PublicationKind,
    category: PublicationCategory,
    text: str,
    language: str = "fr",
    incident=None,
    template=None,
    lines: Iterable = (),
    stops: Iterable = (),
    places: Iterable[str] = (),
    request_key: str = "",
    target_texts: dict[int, str] | None = None,
) -> Publication:
    """A draft publication; `target_texts` fixes the text per account (the short variant
    where the full one is too long for that network)."""
    require_publishing(membership)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError(_("The text is empty."))
    if incident is not None and incident.organization_id != membership.organization_id:
        raise PermissionDenied("Not this organisation's incident.")
    publication = Publication(
        organization_id=membership.organization_id,
        kind=kind,
        category=category,
        text=text,
        language=language,
        incident=incident,
        template=template,
        places=[p for p in places if p],
        author=membership.user,
        request_key=request_key[:64],
    )
    publication.parent = thread_root(publication)
    publication.save()
    publication.lines.set(lines)
    publication.stops.set(stops)
    for account_id, account_text in (target_texts or {}).items():
        account = ChannelAccount.objects.get(
            organization_id=membership.organization_id, pk=account_id
        )
        PublicationTarget.objects.create(
            publication=publication, account=account, text=account_text.strip()
        )
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="publication.create",
        obj=publication,
        text=text[:500],
        data={"kind": str(kind), "incident": incident.pk if incident else None},
    )
    return publication


def _parent_external_id(parent: Publication | None, account: ChannelAccount) -> str:
    if parent is None:
        return ""
    target = (
        PublicationTarget.objects.filter(publication=parent, account=account)
        .select_related("delivery")
        .first()
    )
    if target is None or target.delivery is None:
        return ""
    return target.delivery.external_id or ""


@transaction.atomic
def publication_start(
    *,
    publication: Publication,
    membership: Membership | None = None,
    accounts: Iterable[ChannelAccount] | None = None,
) -> Publication:
    """Send the publication to every target account that can publish: one PublicationTarget
    and one channels.Delivery each, queued on commit. `membership` is None when the scheduler
    starts a due post. Starting twice does nothing the second time."""
    if membership is not None:
        require_publishing(membership)
        if membership.organization_id != publication.organization_id:
            raise PermissionDenied("Not this organisation's publication.")
    locked = Publication.objects.select_for_update().get(pk=publication.pk)
    if locked.state in STARTED_STATES or locked.state == PublicationState.CANCELLED:
        return locked
    t = now()
    if accounts is None:
        chosen = publishing_accounts(organization_id=locked.organization_id)
        # Accounts given a text at creation are the ones the author chose.
        preset = set(locked.targets.values_list("account_id", flat=True))
        if preset:
            chosen = [a for a in chosen if a.pk in preset]
    else:
        chosen = [
            a
            for a in accounts
            if a.organization_id == locked.organization_id
            and Capability.PUBLISH in connector_for(a).capabilities
        ]
    parent = thread_root(locked)
    if parent is not None and locked.parent_id != parent.pk:
        locked.parent = parent
    for account in chosen:
        target, _created = PublicationTarget.objects.get_or_create(
            publication=locked, account=account, defaults={"text": locked.text}
        )
        if target.delivery_id:
            continue
        connector = connector_for(account)
        reply_to = (
            _parent_external_id(parent, account)
            if Capability.REPLY in connector.capabilities
            else ""
        )
        outbound = OutboundMessage(
            idempotency_key=f"pub-{locked.pk}-{account.pk}",
            kind=MessageKind.POST,
            text=target.text,
            reply_to_id=reply_to,
            thread_id=reply_to,
        )
        limit = connector.effective_limits().message_length
        if connector.text_length(target.text) > limit:
            # Never silently cut a public message: this channel fails, the others go out.
            delivery = Delivery.objects.create(
                account=account,
                idempotency_key=outbound.idempotency_key,
                payload=outbound.to_json(),
                state=DeliveryState.FAILED,
                max_attempts=0,
                last_error=_(
                    "The text is %(length)d characters long; %(network)s allows %(limit)d."
                )
                % {
                    "length": connector.text_length(target.text),
                    "network": account.get_network_display(),
                    "limit": limit,
                },
            )
        else:
            try:
                with transaction.atomic():
                    delivery = delivery_create(account=account, outbound=outbound)
            except IntegrityError:
                # The key exists: an earlier start got this far. Reuse, never resend.
                delivery = Delivery.objects.get(idempotency_key=outbound.idempotency_key)
        target.delivery = delivery
        target.save(update_fields=["delivery"])
    locked.state = PublicationState.PUBLISHING
    locked.requested_at = locked.requested_at or t
    locked.save(update_fields=["state", "requested_at", "parent"])
    _update_state(locked)  # no target at all, or all failed at once (too long)
    audit(
        organization_id=locked.organization_id,
        actor_id=membership.user_id if membership else None,
        action="publication.start",
        obj=locked,
        text=locked.text[:500],
        data={"accounts": [a.pk for a in chosen]},
    )
    if locked.incident is not None:
        from relais.incidents.actions import timeline_add
        from relais.incidents.models import TimelineKind

        timeline_add(
            incident=locked.incident,
            kind=TimelineKind.PUBLICATION,
            actor_id=membership.user_id if membership else None,
            text=locked.text,
            data={
                "publication_id": locked.pk,
                "publication_kind": locked.kind,
                "event": "started",
                "channels": [a.name for a in chosen],
            },
        )
    _changed(locked)
    publication_id = locked.pk
    transaction.on_commit(
        lambda: publication_started.send(sender=Publication, publication_id=publication_id)
    )
    return locked


def _changed(publication: Publication) -> None:
    send_event_on_commit(
        publication.organization_id,
        PublicationChanged(
            publication_id=publication.pk,
            incident_id=publication.incident_id,
            state=publication.state,
        ),
    )


def _update_state(publication: Publication) -> bool:
    """Recompute a publishing publication's state from its deliveries. Returns whether it
    changed. The caller holds the publication's row lock."""
    if publication.state not in STARTED_STATES:
        return False
    deliveries = list(
        Delivery.objects.filter(target__publication=publication).values_list("state", "sent_at")
    )
    states = [s for s, _sent in deliveries]
    sent_times = [sent for s, sent in deliveries if s == DeliveryState.SENT and sent]
    if any(s in (DeliveryState.PENDING, DeliveryState.SENDING) for s in states):
        new_state = PublicationState.PUBLISHING
    elif not states or all(s == DeliveryState.SENT for s in states):
        new_state = PublicationState.PUBLISHED
    elif sent_times:
        new_state = PublicationState.PARTIAL
    else:
        new_state = PublicationState.FAILED
    completed_at = None
    if new_state != PublicationState.PUBLISHING:
        completed_at = max(sent_times) if sent_times else now()
    if new_state == publication.state and completed_at == publication.completed_at:
        return False
    publication.state = new_state
    publication.completed_at = completed_at
    publication.save(update_fields=["state", "completed_at"])
    return True


def publication_follow_delivery(*, delivery: Delivery) -> None:
    """A delivery changed: bring its publication's state, the incident timeline and the
    open pages up to date. Runs inside the delivery's transaction."""
    target = (
        PublicationTarget.objects.filter(delivery=delivery).only("id", "publication_id").first()
    )
    if target is None:
        return
    publication = (
        Publication.objects.select_for_update(of=("self",))  # incident: an outer join
        .select_related("incident")
        .get(pk=target.publication_id)
    )
    before = publication.state
    changed = _update_state(publication)
    if (
        changed
        and publication.incident is not None
        and publication.state != PublicationState.PUBLISHING
    ):
        from relais.incidents.actions import timeline_add
        from relais.incidents.models import TimelineKind

        failures = list(
            Delivery.objects.filter(
                target__publication=publication, state=DeliveryState.FAILED
            ).select_related("account")
        )
        seconds = (
            (publication.completed_at - publication.requested_at).total_seconds()
            if publication.completed_at and publication.requested_at
            else None
        )
        timeline_add(
            incident=publication.incident,
            kind=TimelineKind.PUBLICATION,
            actor_id=None,
            text=publication.get_state_display(),
            data={
                "publication_id": publication.pk,
                "publication_kind": publication.kind,
                "event": str(publication.state),
                "previous": str(before),
                "seconds": seconds,
                "failed": [{"account": d.account.name, "error": d.last_error} for d in failures],
            },
        )
    if changed and publication.state in (PublicationState.PARTIAL, PublicationState.FAILED):
        logger.warning("publication %s %s", publication.pk, publication.state)
        audit(
            organization_id=publication.organization_id,
            actor_id=None,
            action="publication.failed",
            obj=publication,
            text=f"{publication.state}: failed on some channels",
        )
        publication_id = publication.pk
        transaction.on_commit(lambda: _tell_author(publication_id))
    _changed(publication)


@transaction.atomic
def publication_retry_target(*, target: PublicationTarget, membership: Membership) -> None:
    """A person asks a failed channel to try again (same idempotency key: never twice)."""
    require_publishing(membership)
    if target.publication.organization_id != membership.organization_id:
        raise PermissionDenied("Not this organisation's publication.")
    if target.delivery is None or target.delivery.state != DeliveryState.FAILED:
        raise ValidationError(_("Only a failed channel can be retried."))
    Publication.objects.select_for_update().filter(pk=target.publication_id).first()
    delivery_retry_now(delivery=target.delivery)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="publication.retry",
        obj=target.publication,
        text=target.account.name,
    )


def _tell_author(publication_id: int) -> None:
    """The final failure is the author's to know, even if they left the page: an e-mail
    with each failed network and its reason."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.urls import reverse

    publication = Publication.objects.select_related("author").filter(pk=publication_id).first()
    if publication is None or publication.author is None or not publication.author.email:
        return
    failures = Delivery.objects.filter(
        target__publication=publication, state=DeliveryState.FAILED
    ).select_related("account")
    lines = [f"- {d.account.name}: {d.last_error}" for d in failures]
    url = settings.RELAIS_BASE_URL.rstrip("/") + reverse(
        "publishing:detail", kwargs={"publication_id": publication.pk}
    )
    send_mail(
        f"[Relais] {publication.get_kind_display()} #{publication.pk}: "
        f"{publication.get_state_display()}",
        "\n".join([publication.text, "", *lines, "", url]),
        settings.DEFAULT_FROM_EMAIL,
        [publication.author.email],
        fail_silently=True,
    )
