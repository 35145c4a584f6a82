"""Writes of incidents: open, change, move through open → monitoring → resolved, link
conversations, note actions and operator reports. Each write adds a timeline entry (who,
when, what) in the same transaction and a live event on commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from relais.accounts.models import Membership, Role, Team, audit
from relais.accounts.permissions import require_role
from relais.common.timeutils import now
from relais.incidents.models import (
    Incident,
    IncidentStatus,
    IncidentType,
    Severity,
    TimelineEntry,
    TimelineKind,
)
from relais.realtime.events import IncidentChanged, send_event_on_commit
from relais.transit.models import Route, Stop

# Who may open and run incidents: the crisis cell, the agents, the traffic regulators.
INCIDENT_ROLES = {Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.OPERATIONS}

# Fields a person or the operator's system may set; the timeline names the ones changed.
EDITABLE = (
    "title",
    "type",
    "severity",
    "cause",
    "description",
    "all_lines",
    "places",
    "started_at",
    "expected_end_at",
    "owner",
    "team",
)


def require_incidents(membership: Membership) -> None:
    require_role(membership, INCIDENT_ROLES)


def _changed(incident: Incident, change: str) -> None:
    send_event_on_commit(
        incident.organization_id,
        IncidentChanged(incident_id=incident.pk, change=change, status=incident.status),
    )


def timeline_add(
    *,
    incident: Incident,
    kind: TimelineKind,
    actor_id: int | None,
    text: str = "",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TimelineEntry:
    entry = TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        actor_id=actor_id,
        text=text,
        data=data or {},
        created_at=at or now(),
    )
    _changed(incident, f"timeline:{kind}")
    return entry


def _validate(values: dict[str, Any], organization_id: int) -> None:
    if "title" in values:
        values["title"] = (values["title"] or "").strip()[:200]
        if not values["title"]:
            raise ValidationError(_("An incident needs a title."))
    if "type" in values and values["type"] not in IncidentType.values:
        raise ValidationError(_("Unknown incident type: %(type)s.") % {"type": values["type"]})
    if "severity" in values and values["severity"] not in Severity.values:
        raise ValidationError(_("Unknown severity: %(s)s.") % {"s": values["severity"]})
    if "places" in values:
        values["places"] = [str(p).strip()[:200] for p in values["places"] or [] if str(p).strip()]
    start, end = values.get("started_at"), values.get("expected_end_at")
    if start and end and end < start:
        raise ValidationError(_("The expected end is before the start."))
    owner = values.get("owner")
    if owner is not None and not owner.memberships.filter(organization_id=organization_id).exists():
        raise PermissionDenied("The owner is not a member of this organisation.")
    team = values.get("team")
    if team is not None and team.organization_id != organization_id:
        raise PermissionDenied("Not this organisation's team.")


def _check_network(organization_id: int, lines: Iterable[Route], stops: Iterable[Stop]) -> None:
    if any(r.organization_id != organization_id for r in lines) or any(
        s.organization_id != organization_id for s in stops
    ):
        raise PermissionDenied("Lines and stops must be this organisation's.")


@transaction.atomic
def incident_open(
    *,
    membership: Membership,
    title: str,
    type: str,
    severity: str = Severity.MEDIUM,
    cause: str = "",
    description: str = "",
    lines: Iterable[Route] = (),
    stops: Iterable[Stop] = (),
    all_lines: bool = False,
    places: Iterable[str] = (),
    started_at: datetime | None = None,
    expected_end_at: datetime | None = None,
    owner=None,
    team: Team | None = None,
    external_id: str = "",
    operator_refs: list[dict] | None = None,
) -> Incident:
    require_incidents(membership)
    lines, stops = list(lines), list(stops)
    values: dict[str, Any] = {
        "title": title,
        "type": type,
        "severity": severity,
        "cause": (cause or "").strip()[:300],
        "description": (description or "").strip(),
        "all_lines": all_lines,
        "places": list(places),
        "started_at": started_at or now(),
        "expected_end_at": expected_end_at,
        "owner": owner if owner is not None else membership.user,
        "team": team,
    }
    _validate(values, membership.organization_id)
    _check_network(membership.organization_id, lines, stops)
    incident = Incident.objects.create(
        organization_id=membership.organization_id,
        created_by=membership.user,
        external_id=external_id[:200],
        operator_refs=[_clean_ref(r) for r in operator_refs or []],
        **values,
    )
    incident.lines.set(lines)
    incident.stops.set(stops)
    timeline_add(
        incident=incident,
        kind=TimelineKind.OPENED,
        actor_id=membership.user_id,
        text=incident.title,
        data={
            "type": incident.type,
            "severity": incident.severity,
            "lines": [r.short_name or r.gtfs_id for r in lines],
            "external_id": incident.external_id,
        },
    )
    audit(
        organization_id=incident.organization_id,
        actor_id=membership.user_id,
        action="incident.open",
        obj=incident,
        text=incident.title,
    )
    return incident


@transaction.atomic
def incident_update(
    *,
    incident: Incident,
    membership: Membership,
    lines: Iterable[Route] | None = None,
    stops: Iterable[Stop] | None = None,
    **changes: Any,
) -> Incident:
    """Change some details; the timeline lists which ones (old and new values)."""
    require_incidents(membership)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}")
    _validate(changes, incident.organization_id)
    if "started_at" in changes or "expected_end_at" in changes:
        start = changes.get("started_at", incident.started_at)
        end = changes.get("expected_end_at", incident.expected_end_at)
        if start and end and end < start:
            raise ValidationError(_("The expected end is before the start."))
    diff: dict[str, list[str]] = {}
    for name, value in changes.items():
        old = getattr(incident, name)
        if old != value:
            diff[name] = [_show(old), _show(value)]
            setattr(incident, name, value)
    if lines is not None:
        lines = list(lines)
        _check_network(incident.organization_id, lines, [])
        old_ids = set(incident.lines.values_list("pk", flat=True))
        if old_ids != {r.pk for r in lines}:
            diff["lines"] = [
                ", ".join(sorted(r.short_name for r in incident.lines.all())),
                ", ".join(sorted(r.short_name for r in lines)),
            ]
            incident.lines.set(lines)
    if stops is not None:
        stops = list(stops)
        _check_network(incident.organization_id, [], stops)
        if set(incident.stops.values_list("pk", flat=True)) != {s.pk for s in stops}:
            diff["stops"] = [
                ", ".join(sorted(s.name for s in incident.stops.all())),
                ", ".join(sorted(s.name for s in stops)),
            ]
            incident.stops.set(stops)
    if not diff:
        return incident
    incident.save()
    timeline_add(
        incident=incident,
        kind=TimelineKind.UPDATED,
        actor_id=membership.user_id,
        text=", ".join(sorted(diff)),
        data={"changes": diff},
    )
    audit(
        organization_id=incident.organization_id,
        actor_id=membership.user_id,
        action="incident.update",
        obj=incident,
        data={"changes": diff},
    )
    return incident


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


@transaction.atomic
def incident_set_status(
    *, incident: Incident, membership: Membership, status: IncidentStatus, text: str = ""
) -> Incident:
    require_incidents(membership)
    if status not in IncidentStatus.values:
        raise ValidationError(_("Unknown status."))
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if locked.status == status:
        return locked
    before = locked.status
    locked.status = status
    locked.resolved_at = now() if status == IncidentStatus.RESOLVED else None
    locked.save(update_fields=["status", "resolved_at", "updated_at"])
    timeline_add(
        incident=locked,
        kind=TimelineKind.STATUS,
        actor_id=membership.user_id,
        text=text.strip()[:2000],
        data={"from": before, "to": str(status)},
    )
    audit(
        organization_id=locked.organization_id,
        actor_id=membership.user_id,
        action="incident.status",
        obj=locked,
        text=f"{before} → {status}",
    )
    incident.status, incident.resolved_at = locked.status, locked.resolved_at
    return locked


@transaction.atomic
def incident_link_conversation(*, incident: Incident, conversation, membership: Membership) -> bool:
    """Link an inbound conversation; returns False when it already was."""
    require_incidents(membership)
    if conversation.organization_id != incident.organization_id:
        raise PermissionDenied("Not this organisation's conversation.")
    if incident.conversations.filter(pk=conversation.pk).exists():
        return False
    incident.conversations.add(conversation)
    timeline_add(
        incident=incident,
        kind=TimelineKind.CONVERSATION,
        actor_id=membership.user_id,
        text=conversation.preview,
        data={
            "conversation_id": conversation.pk,
            "handle": conversation.contact.handle,
            "network": conversation.account.network,
        },
    )
    audit(
        organization_id=incident.organization_id,
        actor_id=membership.user_id,
        action="incident.link",
        obj=incident,
        data={"conversation": conversation.pk},
    )
    return True


@transaction.atomic
def incident_unlink_conversation(*, incident: Incident, conversation, membership: Membership):
    require_incidents(membership)
    if not incident.conversations.filter(pk=conversation.pk).exists():
        return
    incident.conversations.remove(conversation)
    timeline_add(
        incident=incident,
        kind=TimelineKind.CONVERSATION,
        actor_id=membership.user_id,
        text=_("Unlinked"),
        data={"conversation_id": conversation.pk, "unlinked": True},
    )


@transaction.atomic
def incident_note_action(*, incident: Incident, membership: Membership, text: str) -> TimelineEntry:
    """A documented action: 'fire brigade called', 'buses replacing the metro'."""
    require_incidents(membership)
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError(_("The action is empty."))
    return timeline_add(
        incident=incident, kind=TimelineKind.ACTION, actor_id=membership.user_id, text=text[:4000]
    )


def _clean_ref(ref: dict) -> dict:
    cleaned = {k: str(ref.get(k) or "").strip()[:200] for k in ("report_id", "vehicle", "cause")}
    cleaned["at"] = str(ref.get("at") or "")[:40]
    if not (cleaned["report_id"] or cleaned["vehicle"]):
        raise ValidationError(_("An operator report needs a report id or a vehicle."))
    return cleaned


@transaction.atomic
def incident_add_operator_report(
    *, incident: Incident, membership: Membership, report: dict
) -> bool:
    """Reference one of the operator's own reports (vehicle, cause, report id). A report
    already referenced (same report id) is not added twice; returns whether it was added."""
    require_incidents(membership)
    ref = _clean_ref(report)
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if ref["report_id"] and any(
        r.get("report_id") == ref["report_id"] for r in locked.operator_refs
    ):
        return False
    locked.operator_refs = [*locked.operator_refs, ref]
    locked.save(update_fields=["operator_refs", "updated_at"])
    incident.operator_refs = locked.operator_refs
    timeline_add(
        incident=locked,
        kind=TimelineKind.OPERATOR_REPORT,
        actor_id=membership.user_id,
        text=" · ".join(v for v in (ref["report_id"], ref["vehicle"], ref["cause"]) if v),
        data=ref,
    )
    return True


@transaction.atomic
def incident_sync_external(
    *,
    membership: Membership,
    external_id: str,
    status: str | None = None,
    lines: Iterable[Route] | None = None,
    stops: Iterable[Stop] | None = None,
    operator_refs: list[dict] | None = None,
    **fields: Any,
) -> tuple[Incident, bool]:
    """The operator's operations system opens or updates the incident it knows by
    `external_id`. Sending the same call twice changes nothing the second time.
    Returns (incident, created)."""
    require_incidents(membership)
    external_id = (external_id or "").strip()
    if not external_id:
        raise ValidationError(_("external_id is required."))
    existing = (
        Incident.objects.select_for_update()
        .filter(organization_id=membership.organization_id, external_id=external_id)
        .first()
    )
    created = existing is None
    if existing is None:
        if not fields.get("title") or not fields.get("type"):
            raise ValidationError(_("A new incident needs a title and a type."))
        try:
            with transaction.atomic():
                incident = incident_open(
                    membership=membership,
                    external_id=external_id,
                    lines=lines or (),
                    stops=stops or (),
                    operator_refs=operator_refs,
                    **fields,
                )
        except IntegrityError:
            # A concurrent call with the same id won the unique constraint: update it.
            existing = Incident.objects.get(
                organization_id=membership.organization_id, external_id=external_id
            )
            created = False
    if existing is not None:
        incident = incident_update(
            incident=existing, membership=membership, lines=lines, stops=stops, **fields
        )
        for ref in operator_refs or []:
            incident_add_operator_report(incident=incident, membership=membership, report=ref)
    if status and status != incident.status:
        incident = incident_set_status(
            incident=incident, membership=membership, status=IncidentStatus(status)
        )
    return incident, created


def incident_open_for_crisis(
    *, organization_id: int, by_user_id: int | None, reason: str
) -> Incident | None:
    """Crisis mode went on: open a high-severity incident unless one is already active."""
    from relais.accounts.models import Membership
    from relais.incidents.selectors import active_incidents

    with transaction.atomic():
        if active_incidents(organization_id=organization_id).exists():
            return None
        membership = (
            Membership.objects.filter(organization_id=organization_id, user_id=by_user_id)
            .select_related("user")
            .first()
            if by_user_id
            else None
        )
        if membership is None or membership.role not in INCIDENT_ROLES:
            # Switched by the detector or someone who cannot open incidents: the
            # organisation's first administrator is recorded as the opener.
            membership = (
                Membership.objects.filter(organization_id=organization_id, role=Role.ADMIN)
                .select_related("user")
                .order_by("pk")
                .first()
            )
        if membership is None:
            return None
        return incident_open(
            membership=membership,
            title=(_("Crisis: %(reason)s") % {"reason": reason.strip()})[:200]
            if reason.strip()
            else pgettext("incidents", "Crisis mode"),
            type=IncidentType.SECURITY
            if any(w in reason.casefold() for w in ("bomb", "bombe", "colis", "bagage", "bag"))
            else IncidentType.OTHER,
            severity=Severity.HIGH,
            cause=reason.strip()[:300],
            description=_("Opened automatically when crisis mode was switched on."),
        )
