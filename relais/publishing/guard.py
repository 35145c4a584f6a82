"""The conflict guard: a promotional or institutional publication that mentions a line,
stop or place with an active incident — or any promotional publication in crisis mode —
is held, its author told why and offered another time, and released once the incident is
resolved or crisis mode ends."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from relais.accounts.models import audit
from relais.common.tasks import enqueue_on_commit
from relais.common.timeutils import in_zone, now
from relais.publishing.models import (
    HoldKind,
    Publication,
    PublicationCategory,
    PublicationHold,
    PublicationState,
)

logger = logging.getLogger(__name__)

GUARDED = (PublicationCategory.PROMOTION, PublicationCategory.INSTITUTIONAL)
# States in which a publication has not gone out yet and may be held.
HOLDABLE = (
    PublicationState.DRAFT,
    PublicationState.AWAITING_APPROVAL,
    PublicationState.SCHEDULED,
)
# After the incident's expected end, leave this much before proposing to publish.
MARGIN_AFTER_INCIDENT = timedelta(hours=1)
# Posts this far ahead are checked against today's incidents; beyond, at their time.
LOOKAHEAD = timedelta(days=1)


@dataclass
class Conflict:
    kind: HoldKind
    reason: str
    incidents: list = field(default_factory=list)
    proposed_at: datetime | None = None


def mentioned(publication: Publication) -> tuple[set[int], set[int], set[str]]:
    """Lines, stops and places the publication names: its own fields plus what the triage
    entity recogniser finds in the text."""
    from relais.transit.models import Route, Stop
    from relais.triage.service import triager_for

    route_ids = set(publication.lines.values_list("pk", flat=True))
    stop_ids = set(publication.stops.values_list("pk", flat=True))
    places = {str(p) for p in publication.places or [] if str(p).strip()}
    lexicon = triager_for(publication.organization_id).lexicon
    line_refs = [r.gtfs_id for r in lexicon.lines(publication.text)]
    if line_refs:
        route_ids |= set(
            Route.objects.filter(
                organization_id=publication.organization_id, gtfs_id__in=line_refs
            ).values_list("pk", flat=True)
        )
    stop_names = [s.name for s in lexicon.stops(publication.text)]
    if stop_names:
        stop_ids |= set(
            Stop.objects.filter(
                organization_id=publication.organization_id, name__in=stop_names
            ).values_list("pk", flat=True)
        )
    return route_ids, stop_ids, places


def _proposed_slot(incidents: list, planned: datetime | None) -> datetime | None:
    ends = [i.expected_end_at for i in incidents]
    if not ends or any(e is None for e in ends):
        return None  # no known end: proposed once the incident is resolved
    slot = max(ends) + MARGIN_AFTER_INCIDENT
    if planned is not None and planned > slot:
        return None  # the planned time is already after the incident
    # Round up to the next quarter of an hour (never earlier than the margin allows).
    quarter = 15 * 60
    return datetime.fromtimestamp(math.ceil(slot.timestamp() / quarter) * quarter, UTC)


def find_conflict(publication: Publication) -> Conflict | None:
    if publication.category not in GUARDED:
        return None
    # The reason is stored: written in the organisation's language, whoever triggers it.
    with translation.override(publication.organization.language):
        return _find_conflict(publication)


def _find_conflict(publication: Publication) -> Conflict | None:
    from relais.incidents.selectors import active_incidents, active_incidents_affecting
    from relais.listening.selectors import crisis_active

    org_id = publication.organization_id
    if publication.category == PublicationCategory.PROMOTION and crisis_active(
        organization_id=org_id
    ):
        return Conflict(
            kind=HoldKind.CRISIS,
            reason=_("Crisis mode is on: no promotional publication goes out until it ends."),
        )
    route_ids, stop_ids, places = mentioned(publication)
    incidents = []
    if route_ids or stop_ids or places:
        # A network-wide incident (all_lines) comes back here too: it affects every line.
        incidents = active_incidents_affecting(
            organization_id=org_id, route_ids=route_ids, stop_ids=stop_ids, places=places
        )
    # A place of an incident named in the text ("rue de Paris") counts too.
    text = publication.text.casefold()
    known = {i.pk for i in incidents}
    for incident in active_incidents(organization_id=org_id).exclude(places=[]):
        if incident.pk not in known and any(
            len(str(p).strip()) >= 4 and str(p).strip().casefold() in text for p in incident.places
        ):
            incidents.append(incident)
    # An incident expected to be over (with a margin) before the planned time is no conflict.
    planned = publication.scheduled_at or now()
    incidents = [
        i
        for i in incidents
        if i.expected_end_at is None or i.expected_end_at + MARGIN_AFTER_INCIDENT > planned
    ]
    if not incidents:
        return None
    titles = "; ".join(i.title for i in incidents)
    return Conflict(
        kind=HoldKind.INCIDENT,
        reason=_("It mentions a line, stop or place with an active incident: %(titles)s.")
        % {"titles": titles},
        incidents=incidents,
        proposed_at=_proposed_slot(incidents, publication.scheduled_at),
    )


def publication_hold(*, publication: Publication, conflict: Conflict) -> PublicationHold | None:
    with transaction.atomic():
        locked = (
            Publication.objects.select_for_update()
            .filter(pk=publication.pk, state__in=HOLDABLE)
            .first()
        )
        if locked is None:
            return None
        hold = PublicationHold.objects.create(
            publication=locked,
            kind=conflict.kind,
            reason=conflict.reason,
            proposed_at=conflict.proposed_at,
            previous_state=locked.state,
            held_at=now(),
        )
        hold.incidents.set(conflict.incidents)
        locked.state = PublicationState.HELD
        locked.held_reason = conflict.reason
        locked.save(update_fields=["state", "held_reason"])
        audit(
            organization_id=locked.organization_id,
            actor_id=None,
            action="publication.held",
            obj=locked,
            text=conflict.reason,
            data={
                "kind": conflict.kind,
                "incidents": [i.pk for i in conflict.incidents],
                "proposed_at": conflict.proposed_at.isoformat() if conflict.proposed_at else None,
            },
        )
        from relais.publishing.tasks import publication_hold_notify

        enqueue_on_commit(publication_hold_notify, hold.pk)
    publication.refresh_from_db()
    return hold


def _still_conflicting(hold: PublicationHold) -> Conflict | None:
    """A hold stands while the publication still conflicts with something."""
    return find_conflict(hold.publication)


def publication_release(*, hold: PublicationHold, acting_user_id: int | None = None) -> bool:
    with transaction.atomic():
        locked = (
            Publication.objects.select_for_update()
            .filter(pk=hold.publication_id, state=PublicationState.HELD)
            .first()
        )
        if locked is None or hold.released_at is not None:
            return False
        locked.state = hold.previous_state
        locked.held_reason = ""
        locked.save(update_fields=["state", "held_reason"])
        PublicationHold.objects.filter(pk=hold.pk).update(released_at=now())
        audit(
            organization_id=locked.organization_id,
            actor_id=acting_user_id,
            action="publication.released",
            obj=locked,
            text=hold.reason,
        )
    return True


def check_publication(publication: Publication) -> PublicationHold | None:
    """Hold it now if it conflicts; called when a post is scheduled or approved, and by the
    publisher just before it goes out."""
    conflict = find_conflict(publication)
    if conflict is None:
        return None
    return publication_hold(publication=publication, conflict=conflict)


def sweep() -> tuple[int, int]:
    """Every minute: hold the guarded publications planned soon that now conflict, and
    release those whose incidents are resolved or whose crisis has ended."""
    held = released = 0
    soon = now() + LOOKAHEAD
    candidates = Publication.objects.filter(
        category__in=GUARDED,
        state__in=[PublicationState.SCHEDULED, PublicationState.AWAITING_APPROVAL],
        scheduled_at__lte=soon,
    ).select_related("organization")
    for publication in candidates:
        if check_publication(publication) is not None:
            held += 1
    for hold in PublicationHold.objects.filter(released_at__isnull=True).select_related(
        "publication"
    ):
        if hold.publication.state != PublicationState.HELD:
            PublicationHold.objects.filter(pk=hold.pk).update(released_at=now())
            continue
        if _still_conflicting(hold) is None and publication_release(hold=hold):
            released += 1
    return held, released


def notify_author(hold_id: int) -> int:
    """E-mail the author why the publication is held and the time proposed instead (the
    calendar shows the same in the app)."""
    hold = (
        PublicationHold.objects.select_related(
            "publication", "publication__author", "publication__organization"
        )
        .filter(pk=hold_id)
        .first()
    )
    if hold is None:
        return 0
    publication = hold.publication
    author = publication.author
    if author is None or not author.email:
        return 0
    org = publication.organization
    url = settings.RELAIS_BASE_URL + reverse("publishing:post", args=[publication.pk])
    with translation.override(org.language):
        if hold.proposed_at:
            slot = in_zone(hold.proposed_at, org.timezone).strftime("%d/%m/%Y %H:%M")
            offer = _("Proposed time: %(slot)s (after the incident's expected end).") % {
                "slot": slot
            }
        else:
            offer = _(
                "It will be released automatically when this ends; you can also choose another time."
            )
        subject = _("[Relais] Your publication is held: %(reason)s") % {
            "reason": hold.get_kind_display()
        }
        body = "\n\n".join(
            [
                _("Your publication was held by the calendar's conflict guard."),
                f"« {publication.text[:300]} »",
                hold.reason,
                offer,
                url,
            ]
        )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [author.email])
    return 1
