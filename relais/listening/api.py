"""Listening over HTTP: monitors (CRUD, volume, matched messages), alerts (list, detail,
acknowledge, close) and crisis mode. Every lookup is scoped to `request.auth` (a
Membership): another organisation's monitor or alert answers 404 like a missing one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from relais.accounts.models import ANSWERING_ROLES, Membership, Role
from relais.accounts.permissions import access_team, require_role
from relais.common import timeutils
from relais.listening import actions, selectors
from relais.listening.models import Alert, Granularity, Sources
from relais.listening.query import QueryError

router = Router(tags=["listening"])

EDITORS = {Role.ADMIN, Role.SUPERVISOR}


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]]


class QueryErrorOut(Schema):
    detail: str
    position: int  # 0-based offset in the query


class MonitorIn(Schema):
    name: str = Field(..., max_length=120)
    query: str = Field(..., max_length=2000)
    sources: str = Sources.ALL
    team_id: int | None = None
    active: bool = True
    alerts_enabled: bool = True
    escalate_after_minutes: int = Field(10, ge=1, le=240)


class MonitorOut(Schema):
    id: int
    name: str
    query: str
    sources: str
    team_id: int | None
    active: bool
    alerts_enabled: bool
    escalate_after_minutes: int
    created_at: datetime
    updated_at: datetime


class PointOut(Schema):
    t: int  # bucket start, epoch seconds
    count: int
    score: float | None


class AuthorOut(Schema):
    contact_id: int | None = None
    handle: str
    name: str = ""
    reach: int
    network: str = ""
    messages: int


class MatchedMessageOut(Schema):
    id: int
    text: str
    created_at: datetime
    network: str
    author_handle: str | None
    author_reach: int | None
    lang: str
    intent: str
    sentiment: str
    conversation_id: int

    @staticmethod
    def resolve_network(obj) -> str:
        return obj.account.network

    @staticmethod
    def resolve_author_handle(obj) -> str | None:
        return obj.author.handle if obj.author else None

    @staticmethod
    def resolve_author_reach(obj) -> int | None:
        return obj.author.reach if obj.author else None


class AlertOut(Schema):
    id: int
    monitor_id: int
    state: str
    score: float
    count: int
    baseline: float
    granularity: int
    bucket_start: datetime
    last_bucket_start: datetime
    level: int
    top_authors: list[AuthorOut]
    acknowledged_by_id: int | None
    acknowledged_at: datetime | None
    created_at: datetime


class CrisisIn(Schema):
    active: bool
    reason: str = Field("", max_length=300)
    alert_id: int | None = None


class CrisisOut(Schema):
    active: bool
    since: datetime | None
    reason: str
    switched_by_id: int | None


def _membership(request: HttpRequest) -> Membership:
    return request.auth  # type: ignore[attr-defined, return-value]


def _monitor_kwargs(membership: Membership, body: MonitorIn) -> dict[str, Any]:
    return {
        "membership": membership,
        "name": body.name,
        "query_text": body.query,
        "sources": body.sources,
        "team": access_team(membership, body.team_id) if body.team_id else None,
        "alerts_enabled": body.alerts_enabled,
        "escalate_after_minutes": body.escalate_after_minutes,
    }


@router.get("/listening/monitors", response=list[MonitorOut], summary="List monitors")
@paginate(LimitOffsetPagination, max_limit=200)
def list_monitors(request: HttpRequest):
    membership = _membership(request)
    return selectors.monitor_list(organization_id=membership.organization_id)


@router.post(
    "/listening/monitors",
    response={201: MonitorOut, 400: QueryErrorOut | ErrorOut, 403: ErrorOut},
    summary="Create a monitor (supervisors and administrators)",
)
def create_monitor(request: HttpRequest, body: MonitorIn):
    membership = _membership(request)
    require_role(membership, EDITORS)
    try:
        monitor = actions.monitor_create(**_monitor_kwargs(membership, body))
        if not body.active:
            monitor = actions.monitor_update(
                monitor=monitor, active=False, **_monitor_kwargs(membership, body)
            )
    except QueryError as exc:
        return Status(400, {"detail": str(exc), "position": exc.position})
    return Status(201, monitor)


@router.get("/listening/monitors/{monitor_id}", response=MonitorOut, summary="A monitor")
def get_monitor(request: HttpRequest, monitor_id: int):
    return selectors.access_monitor(_membership(request), monitor_id)


@router.put(
    "/listening/monitors/{monitor_id}",
    response={200: MonitorOut, 400: QueryErrorOut | ErrorOut, 403: ErrorOut},
    summary="Change a monitor (supervisors and administrators)",
)
def update_monitor(request: HttpRequest, monitor_id: int, body: MonitorIn):
    membership = _membership(request)
    require_role(membership, EDITORS)
    monitor = selectors.access_monitor(membership, monitor_id)
    try:
        return actions.monitor_update(
            monitor=monitor, active=body.active, **_monitor_kwargs(membership, body)
        )
    except QueryError as exc:
        return Status(400, {"detail": str(exc), "position": exc.position})


@router.delete(
    "/listening/monitors/{monitor_id}",
    response={204: None, 403: ErrorOut},
    summary="Delete a monitor and its counts (supervisors and administrators)",
)
def delete_monitor(request: HttpRequest, monitor_id: int):
    membership = _membership(request)
    require_role(membership, EDITORS)
    actions.monitor_delete(
        membership=membership, monitor=selectors.access_monitor(membership, monitor_id)
    )
    return Status(204, None)


class VolumeQuery(Schema):
    hours: int = Field(24, ge=1, le=24 * 14)
    granularity: Granularity = Granularity.FIVE_MINUTES


@router.get(
    "/listening/monitors/{monitor_id}/volume",
    response=list[PointOut],
    summary="Messages per bucket with the detector's scores (zeros filled in)",
)
def monitor_volume(request: HttpRequest, monitor_id: int, filters: Query[VolumeQuery]):
    monitor = selectors.access_monitor(_membership(request), monitor_id)
    end = timeutils.now()
    return selectors.monitor_volume(
        monitor=monitor,
        granularity=int(filters.granularity),
        start=end - timedelta(hours=filters.hours),
        end=end,
    )


class WindowQuery(Schema):
    start: datetime | None = None
    end: datetime | None = None
    limit: int = Field(100, ge=1, le=500)


@router.get(
    "/listening/monitors/{monitor_id}/messages",
    response=list[MatchedMessageOut],
    summary="The messages a monitor matched in a window (default: the last 24 hours)",
)
def monitor_messages(request: HttpRequest, monitor_id: int, window: Query[WindowQuery]):
    monitor = selectors.access_monitor(_membership(request), monitor_id)
    end = window.end or timeutils.now()
    start = window.start or end - timedelta(hours=24)
    return selectors.monitor_messages(monitor=monitor, start=start, end=end, limit=window.limit)


@router.get("/listening/alerts", response=list[AlertOut], summary="Burst alerts, newest first")
@paginate(LimitOffsetPagination, max_limit=200)
def list_alerts(request: HttpRequest, state: str = ""):
    membership = _membership(request)
    states = [s for s in state.split(",") if s] or None
    return selectors.alert_list(organization_id=membership.organization_id, states=states)


@router.get("/listening/alerts/{alert_id}", response=AlertOut, summary="A burst alert")
def get_alert(request: HttpRequest, alert_id: int):
    return selectors.access_alert(_membership(request), alert_id)


@router.post(
    "/listening/alerts/{alert_id}/ack",
    response={200: AlertOut, 403: ErrorOut},
    summary="Acknowledge an alert: escalation stops",
)
def ack_alert(request: HttpRequest, alert_id: int):
    membership = _membership(request)
    require_role(membership, ANSWERING_ROLES)
    alert: Alert = selectors.access_alert(membership, alert_id)
    return actions.alert_acknowledge(alert=alert, membership=membership)


@router.post(
    "/listening/alerts/{alert_id}/close",
    response={200: AlertOut, 403: ErrorOut},
    summary="Close an alert (supervisors and administrators)",
)
def close_alert(request: HttpRequest, alert_id: int):
    membership = _membership(request)
    require_role(membership, EDITORS)
    return actions.alert_close(
        alert=selectors.access_alert(membership, alert_id), membership=membership
    )


def _crisis_out(organization_id: int) -> dict[str, Any]:
    from relais.listening.models import CrisisMode

    mode = CrisisMode.objects.filter(organization_id=organization_id).first()
    if mode is None:
        return {"active": False, "since": None, "reason": "", "switched_by_id": None}
    return {
        "active": mode.active,
        "since": mode.since,
        "reason": mode.reason,
        "switched_by_id": mode.switched_by_id,
    }


@router.get("/listening/crisis", response=CrisisOut, summary="Is crisis mode on?")
def get_crisis(request: HttpRequest):
    return _crisis_out(_membership(request).organization_id)


@router.post(
    "/listening/crisis",
    response={200: CrisisOut, 403: ErrorOut},
    summary="Switch crisis mode on or off (supervisors and administrators)",
)
def set_crisis(request: HttpRequest, body: CrisisIn):
    membership = _membership(request)
    require_role(membership, EDITORS)
    alert = selectors.access_alert(membership, body.alert_id) if body.alert_id else None
    actions.crisis_switch(
        organization=membership.organization,
        active=body.active,
        by_user_id=membership.user_id,
        reason=body.reason,
        alert=alert,
    )
    return _crisis_out(membership.organization_id)
