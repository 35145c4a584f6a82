"""Templates over HTTP: list, read, write drafts, approve, and render with values."""

from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from relais.accounts.models import Membership
from relais.accounts.permissions import access_template
from relais.wording import actions, selectors
from relais.wording.models import TemplateCategory
from relais.wording.rendering import MissingVariables, render

router = Router(tags=["templates"])


class ErrorOut(Schema):
    detail: str | list[dict[str, Any]]


class TemplateOut(Schema):
    id: int
    key: str
    version: int
    previous_id: int | None
    name: str
    shortcut: str
    category: str
    language: str
    text: str
    short_text: str
    state: str
    incident_types: list[str]
    intents: list[str]
    owner: str | None
    approved_by: str | None
    approved_at: datetime | None
    review_at: date | None

    @staticmethod
    def resolve_owner(obj) -> str | None:
        return obj.owner.get_username() if obj.owner else None

    @staticmethod
    def resolve_approved_by(obj) -> str | None:
        return obj.approved_by.get_username() if obj.approved_by else None


class TemplateFields(Schema):
    name: str | None = Field(None, max_length=200)
    shortcut: str | None = Field(None, max_length=40)
    category: TemplateCategory | None = None
    text: str | None = Field(None, max_length=10_000)
    short_text: str | None = Field(None, max_length=2_000)
    incident_types: list[str] | None = Field(None, max_length=20)
    intents: list[str] | None = Field(None, max_length=20)
    review_at: date | None = None


class TemplateIn(TemplateFields):
    name: str = Field(..., max_length=200)
    category: TemplateCategory
    text: str = Field(..., max_length=10_000)
    language: str = Field("", max_length=8)
    key: str = Field(
        "", max_length=80, description="an existing key: adds that template in another language"
    )


class RenderIn(Schema):
    values: dict[str, str] = Field(default_factory=dict)


class RenderOut(Schema):
    text: str
    short_text: str


class TemplateQuery(Schema):
    state: Literal["", "all", "draft", "approved", "retired"] = ""
    category: str = Field("", max_length=16)
    language: str = Field("", max_length=8)
    q: str = Field("", max_length=100)
    due: bool = Field(False, description="only approved templates past their review date")


def _membership(request: HttpRequest) -> Membership:
    return request.auth  # type: ignore[attr-defined, return-value]


def _given(payload: Schema) -> dict[str, Any]:
    return {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}


@router.get("/templates", response=list[TemplateOut], summary="Templates")
@paginate(LimitOffsetPagination, max_limit=200)
def template_list(request: HttpRequest, filters: Query[TemplateQuery]):
    membership = _membership(request)
    if filters.due:
        from zoneinfo import ZoneInfo

        from django.utils.timezone import localdate

        today = localdate(timezone=ZoneInfo(membership.organization.timezone))
        return selectors.templates_due_review(
            organization_id=membership.organization_id, today=today
        )
    return selectors.template_list(
        organization_id=membership.organization_id,
        state=filters.state,
        category=filters.category,
        language=filters.language,
        q=filters.q,
    )


@router.get("/templates/{int:template_id}", response={200: TemplateOut, 404: ErrorOut})
def template_detail(request: HttpRequest, template_id: int):
    return access_template(_membership(request), template_id)


@router.post(
    "/templates",
    response={201: TemplateOut, 403: ErrorOut, 422: ErrorOut},
    summary="Write a draft",
)
def template_create(request: HttpRequest, payload: TemplateIn):
    values = _given(payload)
    key = values.pop("key", "")
    if not values.get("language"):
        values.pop("language", None)
    return Status(201, actions.template_create(membership=_membership(request), key=key, **values))


@router.patch(
    "/templates/{int:template_id}",
    response={200: TemplateOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Edit (an approved template gets a new draft version, returned)",
)
def template_patch(request: HttpRequest, template_id: int, payload: TemplateFields):
    membership = _membership(request)
    template = access_template(membership, template_id)
    return actions.template_update(template=template, membership=membership, **_given(payload))


@router.post(
    "/templates/{int:template_id}/approve",
    response={200: TemplateOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
    summary="Approve a draft (supervisors and administrators)",
)
def template_approve(request: HttpRequest, template_id: int):
    membership = _membership(request)
    return actions.template_approve(
        template=access_template(membership, template_id), membership=membership
    )


@router.post(
    "/templates/{int:template_id}/retire",
    response={200: TemplateOut, 403: ErrorOut, 404: ErrorOut},
    summary="Retire (supervisors and administrators)",
)
def template_retire(request: HttpRequest, template_id: int):
    membership = _membership(request)
    return actions.template_retire(
        template=access_template(membership, template_id), membership=membership
    )


@router.post(
    "/templates/{int:template_id}/render",
    response={200: RenderOut, 404: ErrorOut, 422: ErrorOut},
    summary="Fill the variables; a missing one is a 422 naming it",
)
def template_render(request: HttpRequest, template_id: int, payload: RenderIn):
    template = access_template(_membership(request), template_id)
    try:
        return {
            "text": render(template.text, payload.values),
            "short_text": render(template.short_text, payload.values),
        }
    except MissingVariables as exc:
        return Status(422, {"detail": str(exc)})
