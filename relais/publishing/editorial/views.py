"""Pages of the editorial calendar (week and month views, a post, approval) and of the
neutrality report."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from relais.accounts.models import Membership
from relais.accounts.permissions import (
    access_neutrality_person,
    access_publication,
    current_membership,
)
from relais.common.timeutils import now
from relais.publishing import neutrality
from relais.publishing.editorial import actions, selectors
from relais.publishing.models import PublicationCategory, PublicationHold
from relais.transit.models import Route


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


def _render(
    request: HttpRequest, membership: Membership, template: str, context: dict, status: int = 200
) -> HttpResponse:
    """Times on these pages are the organisation's, whatever the server's zone."""
    with timezone.override(_zone(membership)):
        return render(request, template, context, status=status)


def _zone(membership: Membership) -> ZoneInfo:
    return ZoneInfo(membership.organization.timezone)


def _local_datetime(value: str, zone: ZoneInfo) -> datetime | None:
    """A datetime-local field ("2026-12-02T11:00"), in the organisation's zone."""
    try:
        parsed = datetime.fromisoformat((value or "").strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _ids(values: list[str]) -> list[int]:
    out = []
    for value in values:
        try:
            out.append(int(value))
        except ValueError:
            continue
    return out


@login_required
def calendar_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    zone = _zone(membership)
    today = now().astimezone(zone).date()
    view = "month" if request.GET.get("view") == "month" else "week"
    try:
        anchor = (
            date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else today
        )
    except ValueError:
        anchor = today
    category = request.GET.get("category", "")
    if category not in PublicationCategory.values:
        category = ""
    period = selectors.calendar_period(
        organization_id=membership.organization_id,
        zone=membership.organization.timezone,
        view=view,
        anchor=anchor,
        today=today,
        category=category,
    )
    approver = membership.role in actions.APPROVERS
    return _render(
        request,
        membership,
        "publishing/calendar.html",
        {
            "period": period,
            "view": view,
            "category": category,
            "categories": PublicationCategory.choices,
            "awaiting": selectors.awaiting_approval(organization_id=membership.organization_id)
            if approver
            else [],
            "held": selectors.held_for(
                organization_id=membership.organization_id,
                user_id=None if approver else membership.user_id,
            ),
            "approver": approver,
            "can_propose": membership.role in actions.PROPOSERS,
            "zone": membership.organization.timezone,
        },
    )


def _post_form_context(membership: Membership, **extra) -> dict:
    return {
        "categories": [
            (v, lbl) for v, lbl in PublicationCategory.choices if v in actions.CALENDAR_CATEGORIES
        ],
        "routes": Route.objects.filter(organization_id=membership.organization_id).order_by(
            "sort_order", "short_name"
        ),
        **extra,
    }


@login_required
def post_new_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if membership.role not in actions.PROPOSERS:
        raise PermissionDenied(_("Your role does not allow this."))
    values = {
        "text": "",
        "category": PublicationCategory.PROMOTION,
        "scheduled_at": "",
        "places": "",
    }
    error = ""
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in values}
        try:
            publication = actions.post_create(
                membership=membership,
                text=values["text"],
                category=values["category"],
                scheduled_at=_local_datetime(values["scheduled_at"], _zone(membership)),
                line_ids=_ids(request.POST.getlist("lines")),
                places=values["places"].split(","),
                language=membership.organization.language,
            )
        except actions.PostError as exc:
            error = str(exc)
        else:
            return redirect("publishing:post", pk=publication.pk)
    return _render(
        request,
        membership,
        "publishing/post_form.html",
        _post_form_context(
            membership,
            values=values,
            chosen=_ids(request.POST.getlist("lines")),
            error=error,
        ),
        status=400 if error else 200,
    )


@login_required
def post_view(request: HttpRequest, pk: int) -> HttpResponse:
    membership = _membership(request)
    publication = access_publication(membership, pk)
    zone = _zone(membership)
    hold = (
        PublicationHold.objects.filter(publication=publication, released_at__isnull=True)
        .prefetch_related("incidents")
        .order_by("-held_at")
        .first()
    )
    approver = membership.role in actions.APPROVERS
    mine = publication.author_id == membership.user_id
    return _render(
        request,
        membership,
        "publishing/post.html",
        {
            "publication": publication,
            "local_time": publication.scheduled_at.astimezone(zone)
            if publication.scheduled_at
            else None,
            "hold": hold,
            "proposed_local": hold.proposed_at.astimezone(zone)
            if hold and hold.proposed_at
            else None,
            "approver": approver,
            "can_move": approver or mine,
            "error": request.GET.get("error", "")[:300],
            "history": publication.holds.order_by("-held_at")[:10],
        },
    )


POST_ACTIONS = {"approve", "reject", "cancel", "reschedule", "accept"}


@login_required
@require_POST
def post_action_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    membership = _membership(request)
    publication = access_publication(membership, pk)
    zone = _zone(membership)
    try:
        if action == "approve":
            actions.post_approve(membership=membership, publication=publication)
        elif action == "reject":
            actions.post_reject(
                membership=membership,
                publication=publication,
                reason=request.POST.get("reason", ""),
            )
        elif action == "cancel":
            actions.post_cancel(membership=membership, publication=publication)
        elif action == "reschedule":
            actions.post_reschedule(
                membership=membership,
                publication=publication,
                scheduled_at=_local_datetime(request.POST.get("scheduled_at", ""), zone),
            )
        elif action == "accept":
            actions.post_accept_proposal(membership=membership, publication=publication)
        else:
            return HttpResponse(status=404)
    except actions.PostError as exc:
        response = redirect("publishing:post", pk=publication.pk)
        response["Location"] += "?" + urlencode({"error": str(exc)})
        return response
    return redirect("publishing:post", pk=publication.pk)


# --- Neutrality ---------------------------------------------------------------------------


def _months(request: HttpRequest, membership: Membership) -> list[str]:
    """The twelve months up to ?until=YYYY-MM (default: this month)."""
    local = now().astimezone(_zone(membership))
    year, month = local.year, local.month
    until = request.GET.get("until", "")
    try:
        if until:
            year, month = (int(x) for x in until.split("-", 1))
            date(year, month, 1)
    except ValueError:
        year, month = local.year, local.month
    count = 12
    try:
        count = min(max(int(request.GET.get("months", 12)), 1), 36)
    except ValueError:
        count = 12
    out = []
    for _i in range(count):
        out.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(out))


def _report(request: HttpRequest, membership: Membership) -> neutrality.Report:
    return neutrality.neutrality_report(
        organization_id=membership.organization_id,
        months=_months(request, membership),
        zone=membership.organization.timezone,
    )


@login_required
def neutrality_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    report = _report(request, membership)
    return _render(
        request,
        membership,
        "publishing/neutrality.html",
        {
            "report": report,
            "can_edit": membership.role in actions.APPROVERS,
            "query": request.GET.urlencode(),
        },
    )


@login_required
def neutrality_csv_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    report = _report(request, membership)
    response = HttpResponse(neutrality.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="neutrality-{membership.organization.slug}.csv"'
    )
    return response


@login_required
@require_POST
def neutrality_people_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    if membership.role not in actions.APPROVERS:
        raise PermissionDenied(_("Your role does not allow this."))
    remove = request.POST.get("remove")
    if remove:
        try:
            person = access_neutrality_person(membership, int(remove))
        except ValueError:
            return HttpResponse(status=404)
        neutrality.person_remove(membership=membership, person=person)
    else:
        try:
            neutrality.person_add(
                membership=membership,
                name=request.POST.get("name", ""),
                title=request.POST.get("title", ""),
                aliases=neutrality.parse_aliases(request.POST.get("aliases", "")),
            )
        except ValueError:
            return HttpResponse(_("A name is needed."), status=400)
    return redirect("publishing:neutrality")
