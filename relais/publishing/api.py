"""The REST API of this part (mounted by relais/api/api.py)."""

from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from relais.accounts.models import Membership
from relais.accounts.permissions import access_incident, access_publication, access_template
from relais.publishing import actions
from relais.publishing.alerts import alert_publish
from relais.publishing.models import PublicationKind, PublicationTarget
from relais.transit.models import Route
from relais.wording.models import TemplateState
from relais.wording.rendering import MissingVariables

router = Router(tags=["publishing"])


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]]


class TargetOut(Schema):
    id: int
    account_id: int
    account: str
    network: str
    text: str
    state: str
    attempts: int
    last_error: str
    external_id: str
    external_url: str
    sent_at: datetime | None

    @staticmethod
    def resolve_account(obj) -> str:
        return obj.account.name

    @staticmethod
    def resolve_network(obj) -> str:
        return obj.account.network

    @staticmethod
    def resolve_state(obj) -> str:
        return obj.delivery.state if obj.delivery else ""

    @staticmethod
    def resolve_attempts(obj) -> int:
        return obj.delivery.attempts if obj.delivery else 0

    @staticmethod
    def resolve_last_error(obj) -> str:
        return obj.delivery.last_error if obj.delivery else ""

    @staticmethod
    def resolve_external_id(obj) -> str:
        return obj.delivery.external_id if obj.delivery else ""

    @staticmethod
    def resolve_external_url(obj) -> str:
        return obj.delivery.external_url if obj.delivery else ""

    @staticmethod
    def resolve_sent_at(obj) -> datetime | None:
        return obj.delivery.sent_at if obj.delivery else None


class PublicationOut(Schema):
    id: int
    kind: str
    category: str
    state: str
    text: str
    language: str
    incident_id: int | None
    parent_id: int | None
    template_id: int | None
    requested_at: datetime | None
    completed_at: datetime | None
    seconds: float | None = Field(None, description="from the button to the last acceptance")
    targets: list[TargetOut]

    @staticmethod
    def resolve_seconds(obj) -> float | None:
        if obj.requested_at and obj.completed_at:
            return (obj.completed_at - obj.requested_at).total_seconds()
        return None

    @staticmethod
    def resolve_targets(obj) -> list:
        return list(
            PublicationTarget.objects.filter(publication=obj)
            .select_related("account", "delivery")
            .order_by("pk")
        )


class AlertIn(Schema):
    template_id: int
    kind: Literal["alert", "update", "closing"] = "alert"
    incident_id: int | None = Field(None, description="an open incident; else type and lines")
    type: str = Field("", max_length=20, description="incident type, to open one")
    lines: list[str] = Field(
        default_factory=list, max_length=500, description="GTFS route_id values"
    )
    severity: str = Field("high", max_length=10)
    values: dict[str, str] = Field(default_factory=dict, description="{cause}, {eta}, {stop} …")
    account_ids: list[int] | None = None
    request_key: str = Field("", max_length=64, description="the same key twice publishes once")


def _membership(request: HttpRequest) -> Membership:
    return request.auth  # type: ignore[attr-defined, return-value]


@router.get(
    "/publications/{int:publication_id}",
    response={200: PublicationOut, 404: ErrorOut},
    summary="A publication, its channels and its time to publish",
)
def publication_detail(request: HttpRequest, publication_id: int):
    return access_publication(_membership(request), publication_id)


@router.post(
    "/alerts",
    response={201: PublicationOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="The one-click alert: an approved template, filled in, to every channel",
)
def alert_create(request: HttpRequest, payload: AlertIn):
    membership = _membership(request)
    actions.require_publishing(membership)
    template = access_template(membership, payload.template_id)
    if template.state != TemplateState.APPROVED:
        raise ValidationError("Only an approved template can be published in one click.")
    incident = access_incident(membership, payload.incident_id) if payload.incident_id else None
    routes = {
        r.gtfs_id: r
        for r in Route.objects.filter(
            organization_id=membership.organization_id, gtfs_id__in=payload.lines
        )
    }
    unknown = [g for g in payload.lines if g not in routes]
    if unknown:
        raise ValidationError(f"Unknown line (GTFS route_id): {', '.join(unknown[:10])}")
    try:
        publication = alert_publish(
            membership=membership,
            template=template,
            kind=PublicationKind(payload.kind),
            incident=incident,
            incident_type=payload.type,
            lines=list(routes.values()),
            severity=payload.severity,
            overrides=payload.values,
            account_ids=payload.account_ids,
            request_key=payload.request_key,
        )
    except MissingVariables as exc:
        return Status(422, {"detail": str(exc)})
    publication.refresh_from_db()
    return Status(201, publication)


@router.post(
    "/publications/{int:publication_id}/targets/{int:target_id}/retry",
    response={200: PublicationOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Try a failed channel again (same idempotency key)",
)
def target_retry(request: HttpRequest, publication_id: int, target_id: int):
    from django.http import Http404

    membership = _membership(request)
    publication = access_publication(membership, publication_id)
    target = (
        PublicationTarget.objects.filter(publication=publication, pk=target_id)
        .select_related("delivery", "account", "publication")
        .first()
    )
    if target is None:
        raise Http404("No such channel of this publication.")
    actions.publication_retry_target(target=target, membership=membership)
    publication.refresh_from_db()
    return publication
