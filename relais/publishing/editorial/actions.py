"""Writes of the editorial calendar: scheduled posts proposed by agents, approved by
supervisors, checked by the conflict guard, published when due."""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, Role, audit
from relais.common.timeutils import now
from relais.publishing import guard
from relais.publishing.models import (
    Publication,
    PublicationCategory,
    PublicationHold,
    PublicationKind,
    PublicationState,
)
from relais.transit.models import Route

logger = logging.getLogger(__name__)

APPROVERS = {Role.ADMIN, Role.SUPERVISOR}
PROPOSERS = {Role.ADMIN, Role.SUPERVISOR, Role.AGENT}
CALENDAR_CATEGORIES = (
    PublicationCategory.PROMOTION,
    PublicationCategory.INSTITUTIONAL,
    PublicationCategory.TRAFFIC,
)
MAX_TEXT = 5000


class PostError(ValueError):
    """Refused, with the reason to show."""


def _require(membership: Membership, roles: set[Role]) -> None:
    if membership.role not in roles:
        raise PermissionDenied(_("Your role does not allow this."))


def _check_fields(*, text: str, category: str, scheduled_at: datetime | None) -> str:
    text = (text or "").strip()
    if not text:
        raise PostError(_("Write the text of the post."))
    if len(text) > MAX_TEXT:
        raise PostError(_("The text is too long (%(n)d characters at most).") % {"n": MAX_TEXT})
    if category not in CALENDAR_CATEGORIES:
        raise PostError(_("Choose a category."))
    if scheduled_at is None:
        raise PostError(_("Choose a date and time."))
    if scheduled_at < now():
        raise PostError(_("This time is in the past."))
    return text


def post_create(
    *,
    membership: Membership,
    text: str,
    category: str,
    scheduled_at: datetime | None,
    line_ids: list[int] = (),  # type: ignore[assignment]
    places: list[str] = (),  # type: ignore[assignment]
    language: str = "fr",
) -> Publication:
    """An agent proposes (awaiting approval); a supervisor's own post is approved at once."""
    _require(membership, PROPOSERS)
    text = _check_fields(text=text, category=category, scheduled_at=scheduled_at)
    lines = list(Route.objects.filter(organization_id=membership.organization_id, pk__in=line_ids))
    if len(lines) != len(set(line_ids)):
        raise PostError(_("Unknown line."))
    approver = membership.role in APPROVERS
    with transaction.atomic():
        publication = Publication.objects.create(
            organization_id=membership.organization_id,
            kind=PublicationKind.POST,
            category=category,
            state=PublicationState.SCHEDULED if approver else PublicationState.AWAITING_APPROVAL,
            text=text,
            language=language,
            places=[p.strip() for p in places if p.strip()],
            scheduled_at=scheduled_at,
            author=membership.user,
            approved_by=membership.user if approver else None,
            approved_at=now() if approver else None,
        )
        publication.lines.set(lines)
        audit(
            organization_id=membership.organization_id,
            actor_id=membership.user_id,
            action="post.created",
            obj=publication,
            text=text[:200],
            data={"state": publication.state, "scheduled_at": str(publication.scheduled_at)},
        )
    _guard_if_soon(publication)
    return publication


def _guard_if_soon(publication: Publication) -> None:
    if publication.scheduled_at and publication.scheduled_at <= now() + guard.LOOKAHEAD:
        guard.check_publication(publication)
        publication.refresh_from_db()


def _locked(publication: Publication, states: tuple[str, ...]) -> Publication:
    locked = (
        Publication.objects.select_for_update()
        .filter(pk=publication.pk, organization_id=publication.organization_id, state__in=states)
        .first()
    )
    if locked is None:
        raise PostError(_("This post cannot do that in its current state."))
    return locked


def post_approve(*, membership: Membership, publication: Publication) -> Publication:
    _require(membership, APPROVERS)
    with transaction.atomic():
        locked = _locked(publication, (PublicationState.AWAITING_APPROVAL, PublicationState.HELD))
        if locked.state == PublicationState.HELD:
            # Approved while held: it stays held, and goes out once released.
            open_holds = PublicationHold.objects.filter(
                publication=locked, released_at__isnull=True
            )
            if not open_holds.filter(previous_state=PublicationState.AWAITING_APPROVAL).exists():
                raise PostError(_("This post cannot do that in its current state."))
            open_holds.update(previous_state=PublicationState.SCHEDULED)
        else:
            locked.state = PublicationState.SCHEDULED
        locked.approved_by = membership.user
        locked.approved_at = now()
        locked.save(update_fields=["state", "approved_by", "approved_at"])
        audit(
            organization_id=locked.organization_id,
            actor_id=membership.user_id,
            action="post.approved",
            obj=locked,
        )
    _guard_if_soon(locked)
    return locked


def post_reject(
    *, membership: Membership, publication: Publication, reason: str = ""
) -> Publication:
    """Back to its author as a draft, with the reason in the audit log."""
    _require(membership, APPROVERS)
    with transaction.atomic():
        locked = _locked(publication, (PublicationState.AWAITING_APPROVAL,))
        locked.state = PublicationState.DRAFT
        locked.save(update_fields=["state"])
        audit(
            organization_id=locked.organization_id,
            actor_id=membership.user_id,
            action="post.rejected",
            obj=locked,
            text=reason[:500],
        )
    return locked


def post_cancel(*, membership: Membership, publication: Publication) -> Publication:
    if membership.role not in APPROVERS and publication.author_id != membership.user_id:
        raise PermissionDenied(_("Only its author or a supervisor can cancel this post."))
    with transaction.atomic():
        locked = _locked(
            publication,
            (
                PublicationState.DRAFT,
                PublicationState.AWAITING_APPROVAL,
                PublicationState.SCHEDULED,
                PublicationState.HELD,
            ),
        )
        locked.state = PublicationState.CANCELLED
        locked.save(update_fields=["state"])
        PublicationHold.objects.filter(publication=locked, released_at__isnull=True).update(
            released_at=now()
        )
        audit(
            organization_id=locked.organization_id,
            actor_id=membership.user_id,
            action="post.cancelled",
            obj=locked,
        )
    return locked


def post_reschedule(
    *, membership: Membership, publication: Publication, scheduled_at: datetime | None
) -> Publication:
    """A new time; a held post moved to the proposed slot (or later) leaves the hold. A
    non-approver moving an approved post sends it back for approval."""
    if membership.role not in APPROVERS and publication.author_id != membership.user_id:
        raise PermissionDenied(_("Only its author or a supervisor can move this post."))
    if scheduled_at is None or scheduled_at < now():
        raise PostError(_("Choose a time in the future."))
    with transaction.atomic():
        locked = _locked(
            publication,
            (
                PublicationState.DRAFT,
                PublicationState.AWAITING_APPROVAL,
                PublicationState.SCHEDULED,
                PublicationState.HELD,
            ),
        )
        if locked.state == PublicationState.HELD:
            hold = (
                PublicationHold.objects.filter(publication=locked, released_at__isnull=True)
                .order_by("-held_at")
                .first()
            )
            locked.state = hold.previous_state if hold else PublicationState.AWAITING_APPROVAL
            locked.held_reason = ""
            PublicationHold.objects.filter(publication=locked, released_at__isnull=True).update(
                released_at=now()
            )
        if locked.state == PublicationState.DRAFT:
            locked.state = PublicationState.AWAITING_APPROVAL
        if locked.state == PublicationState.SCHEDULED and membership.role not in APPROVERS:
            locked.state = PublicationState.AWAITING_APPROVAL
            locked.approved_by = None
            locked.approved_at = None
        locked.scheduled_at = scheduled_at
        locked.save(
            update_fields=["state", "held_reason", "scheduled_at", "approved_by", "approved_at"]
        )
        audit(
            organization_id=locked.organization_id,
            actor_id=membership.user_id,
            action="post.rescheduled",
            obj=locked,
            data={"scheduled_at": scheduled_at.isoformat()},
        )
    _guard_if_soon(locked)
    return locked


def post_accept_proposal(*, membership: Membership, publication: Publication) -> Publication:
    """The author (or a supervisor) takes the time the guard proposed: the post leaves the
    hold in the state it had (an approved post stays approved: only its time moved)."""
    if membership.role not in APPROVERS and publication.author_id != membership.user_id:
        raise PermissionDenied(_("Only its author or a supervisor can move this post."))
    with transaction.atomic():
        locked = _locked(publication, (PublicationState.HELD,))
        hold = (
            PublicationHold.objects.filter(publication=locked, released_at__isnull=True)
            .order_by("-held_at")
            .first()
        )
        if hold is None or hold.proposed_at is None:
            raise PostError(_("There is no proposed time to accept."))
        locked.state = hold.previous_state
        locked.held_reason = ""
        locked.scheduled_at = hold.proposed_at
        locked.save(update_fields=["state", "held_reason", "scheduled_at"])
        PublicationHold.objects.filter(publication=locked, released_at__isnull=True).update(
            released_at=now()
        )
        audit(
            organization_id=locked.organization_id,
            actor_id=membership.user_id,
            action="post.proposal_accepted",
            obj=locked,
            data={"scheduled_at": hold.proposed_at.isoformat()},
        )
    _guard_if_soon(locked)
    return locked


def _start(publication: Publication) -> Publication:
    # Part 1 of issue 7 (branch `incidents`): the fan-out to the channel accounts.
    from relais.publishing.actions import publication_start  # type: ignore[import-not-found]

    return publication_start(publication=publication)


def publish_due() -> list[int]:
    """Approved posts whose time has come: checked by the guard one last time, then sent
    through publication_start. Returns the ids started."""
    started: list[int] = []
    due = list(
        Publication.objects.filter(
            kind=PublicationKind.POST,
            state=PublicationState.SCHEDULED,
            scheduled_at__lte=now(),
        )
        .order_by("scheduled_at")
        .values_list("pk", flat=True)[:200]
    )
    for pk in due:
        publication = Publication.objects.get(pk=pk)
        if guard.check_publication(publication) is not None:
            continue
        with transaction.atomic():
            locked = (
                Publication.objects.select_for_update()
                .filter(pk=pk, state=PublicationState.SCHEDULED)
                .first()
            )
            if locked is None:
                continue  # another worker took it, or it changed meanwhile
            try:
                with transaction.atomic():  # a savepoint: a failed start leaves it scheduled
                    _start(locked)
            except Exception:
                logger.exception("scheduled post %s could not start", pk)
                continue
        started.append(pk)
    return started
