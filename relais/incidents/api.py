"""Incidents over HTTP: for integrations, above all the operator's operations system, which
opens and updates the incidents it knows by its own id (PUT, idempotent)."""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from relais.accounts.models import Membership
from relais.accounts.permissions import access_conversation, access_incident, access_member
from relais.incidents import actions, selectors
from relais.incidents.models import Incident, IncidentStatus, IncidentType, Severity
from relais.transit.models import Route, Stop

router = Router(tags=["incidents"])


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]]


class LineRef(Schema):
    id: int
    gtfs_id: str
    short_name: str


class StopRef(Schema):
    id: int
    gtfs_id: str
    name: str


class OperatorRef(Schema):
    report_id: str = Field("", max_length=200)
    vehicle: str = Field("", max_length=200)
    cause: str = Field("", max_length=200)
    at: str = Field("", max_length=40)


class TimelineOut(Schema):
    kind: str
    text: str
    data: dict
    actor: str | None
    created_at: datetime

    @staticmethod
    def resolve_actor(obj) -> str | None:
        return obj.actor.get_username() if obj.actor else None


class IncidentOut(Schema):
    id: int
    title: str
    type: str
    severity: str
    status: str
    cause: str
    description: str
    all_lines: bool
    lines: list[LineRef]
    stops: list[StopRef]
    places: list[str]
    started_at: datetime
    expected_end_at: datetime | None
    resolved_at: datetime | None
    owner: str | None
    external_id: str
    operator_refs: list[dict]
    conversation_ids: list[int]

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.all())

    @staticmethod
    def resolve_stops(obj) -> list:
        return list(obj.stops.all())

    @staticmethod
    def resolve_owner(obj) -> str | None:
        return obj.owner.get_username() if obj.owner else None

    @staticmethod
    def resolve_conversation_ids(obj) -> list[int]:
        return list(obj.conversations.values_list("pk", flat=True))


class IncidentDetailOut(IncidentOut):
    timeline: list[TimelineOut]

    @staticmethod
    def resolve_timeline(obj) -> list:
        return list(selectors.incident_timeline(incident=obj))


class IncidentFields(Schema):
    """Lines and stops are named by their GTFS ids, as the operator's systems know them."""

    title: str | None = Field(None, max_length=200)
    type: IncidentType | None = None
    severity: Severity | None = None
    cause: str | None = Field(None, max_length=300)
    description: str | None = Field(None, max_length=20_000)
    all_lines: bool | None = None
    lines: list[str] | None = Field(None, description="GTFS route_id values", max_length=500)
    stops: list[str] | None = Field(None, description="GTFS stop_id values", max_length=500)
    places: list[str] | None = Field(None, max_length=100)
    started_at: datetime | None = None
    expected_end_at: datetime | None = None
    owner_id: int | None = None


class IncidentIn(IncidentFields):
    title: str = Field(..., max_length=200)
    type: IncidentType
    external_id: str = Field("", max_length=200)
    operator_refs: list[OperatorRef] = Field(default_factory=list, max_length=100)


class ExternalIncidentIn(IncidentFields):
    status: IncidentStatus | None = None
    operator_refs: list[OperatorRef] = Field(default_factory=list, max_length=100)


class StatusIn(Schema):
    status: IncidentStatus
    text: str = Field("", max_length=2000)


class TextIn(Schema):
    text: str = Field(..., max_length=4000)


class LinkIn(Schema):
    conversation_id: int


class IncidentQuery(Schema):
    status: Literal["", "active", "open", "monitoring", "resolved"] = ""


def _membership(request: HttpRequest) -> Membership:
    return request.auth  # type: ignore[attr-defined, return-value]


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationError("Times must carry their offset (ISO 8601 with Z or +hh:mm).")
    return value


def _resolve(membership: Membership, payload: IncidentFields) -> dict[str, Any]:
    """The payload's fields as the actions take them; unknown GTFS ids are a 422 naming them."""
    org_id = membership.organization_id
    values: dict[str, Any] = {}
    for name in ("title", "type", "severity", "cause", "description", "all_lines", "places"):
        value = getattr(payload, name)
        if value is not None:
            values[name] = value
    for name in ("started_at", "expected_end_at"):
        value = _aware(getattr(payload, name))
        if value is not None:
            values[name] = value
    if payload.owner_id is not None:
        values["owner"] = access_member(membership, payload.owner_id).user
    if payload.lines is not None:
        routes = {
            r.gtfs_id: r
            for r in Route.objects.filter(organization_id=org_id, gtfs_id__in=payload.lines)
        }
        unknown = [g for g in payload.lines if g not in routes]
        if unknown:
            raise ValidationError(f"Unknown line (GTFS route_id): {', '.join(unknown[:10])}")
        values["lines"] = [routes[g] for g in dict.fromkeys(payload.lines)]
    if payload.stops is not None:
        stops = {
            s.gtfs_id: s
            for s in Stop.objects.filter(organization_id=org_id, gtfs_id__in=payload.stops)
        }
        unknown = [g for g in payload.stops if g not in stops]
        if unknown:
            raise ValidationError(f"Unknown stop (GTFS stop_id): {', '.join(unknown[:10])}")
        values["stops"] = [stops[g] for g in dict.fromkeys(payload.stops)]
    return values


def _fresh(incident: Incident) -> Incident:
    return Incident.objects.select_related("owner").get(pk=incident.pk)


@router.get("/incidents", response=list[IncidentOut], summary="Incidents, active first")
@paginate(LimitOffsetPagination, max_limit=200)
def incident_list(request: HttpRequest, filters: Query[IncidentQuery]):
    return selectors.incident_list(
        organization_id=_membership(request).organization_id, status=filters.status
    ).prefetch_related("stops")


@router.get(
    "/incidents/{int:incident_id}",
    response={200: IncidentDetailOut, 404: ErrorOut},
    summary="One incident with its timeline",
)
def incident_detail(request: HttpRequest, incident_id: int):
    return access_incident(_membership(request), incident_id)


@router.post(
    "/incidents",
    response={201: IncidentDetailOut, 200: IncidentDetailOut, 403: ErrorOut, 422: ErrorOut},
    summary="Open an incident (with external_id: idempotent, like the PUT below)",
)
def incident_create(request: HttpRequest, payload: IncidentIn):
    membership = _membership(request)
    values = _resolve(membership, payload)
    refs = [r.dict() for r in payload.operator_refs]
    if payload.external_id:
        incident, created = actions.incident_sync_external(
            membership=membership, external_id=payload.external_id, operator_refs=refs, **values
        )
        return Status(201 if created else 200, _fresh(incident))
    incident = actions.incident_open(membership=membership, operator_refs=refs, **values)
    return Status(201, _fresh(incident))


@router.put(
    "/incidents/external/{external_id}",
    response={201: IncidentDetailOut, 200: IncidentDetailOut, 403: ErrorOut, 422: ErrorOut},
    summary="Open or update the incident the operator's system knows by this id",
    description="Idempotent: the same call twice changes nothing the second time. Creating "
    "needs title and type; later calls send only what changed (status, expected end, "
    "lines…). Operator reports are added once per report_id.",
)
def incident_put_external(request: HttpRequest, external_id: str, payload: ExternalIncidentIn):
    membership = _membership(request)
    values = _resolve(membership, payload)
    incident, created = actions.incident_sync_external(
        membership=membership,
        external_id=external_id,
        status=payload.status,
        operator_refs=[r.dict() for r in payload.operator_refs],
        **values,
    )
    return Status(201 if created else 200, _fresh(incident))


@router.patch(
    "/incidents/{int:incident_id}",
    response={200: IncidentDetailOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Change some details (the timeline records which)",
)
def incident_patch(request: HttpRequest, incident_id: int, payload: IncidentFields):
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    values = _resolve(membership, payload)
    actions.incident_update(
        incident=incident,
        membership=membership,
        lines=values.pop("lines", None),
        stops=values.pop("stops", None),
        **values,
    )
    return _fresh(incident)


@router.post(
    "/incidents/{int:incident_id}/status",
    response={200: IncidentDetailOut, 403: ErrorOut, 404: ErrorOut},
    summary="Move to open, monitoring or resolved",
)
def incident_status(request: HttpRequest, incident_id: int, payload: StatusIn):
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    actions.incident_set_status(
        incident=incident,
        membership=membership,
        status=IncidentStatus(payload.status),
        text=payload.text,
    )
    return _fresh(incident)


@router.post(
    "/incidents/{int:incident_id}/actions",
    response={201: TimelineOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Note an action taken (on the timeline)",
)
def incident_action(request: HttpRequest, incident_id: int, payload: TextIn):
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    return Status(
        201,
        actions.incident_note_action(incident=incident, membership=membership, text=payload.text),
    )


@router.post(
    "/incidents/{int:incident_id}/reports",
    response={200: IncidentDetailOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Reference an operator report (vehicle, cause, report id); once per report id",
)
def incident_report(request: HttpRequest, incident_id: int, payload: OperatorRef):
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    actions.incident_add_operator_report(
        incident=incident, membership=membership, report=payload.dict()
    )
    return _fresh(incident)


@router.post(
    "/incidents/{int:incident_id}/conversations",
    response={200: IncidentDetailOut, 403: ErrorOut, 404: ErrorOut},
    summary="Link an inbound conversation",
)
def incident_link(request: HttpRequest, incident_id: int, payload: LinkIn):
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    conversation = access_conversation(membership, payload.conversation_id)
    actions.incident_link_conversation(
        incident=incident, conversation=conversation, membership=membership
    )
    return _fresh(incident)
