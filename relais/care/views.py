"""Care pages: my availability and hand-off, shifts, SLA policies and calendar, alerts,
analytics (with CSV) and the breach report. Validate, fetch-and-authorise, one action."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from relais.accounts.models import Membership, Team
from relais.accounts.permissions import access_in_organization, access_team, current_membership
from relais.care import actions, selectors
from relais.care.models import (
    AgentState,
    AgentStatus,
    Audience,
    BusinessHours,
    CareAlert,
    ExceptionKind,
    HandOff,
    Holiday,
    Shift,
    ShiftException,
    SlaPolicy,
    Weekday,
)
from relais.care.sla import NO_WORKING_TIME, Calendar, add_business_time
from relais.channels.models import Network
from relais.common.timeutils import now
from relais.inbox.models import Conversation, Priority, Status

MANAGING = actions.MANAGING_ROLES


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


def _own(membership: Membership, model: type[Model], pk: int):
    """Fetch one of this organisation's care objects; another's answers 404."""
    return access_in_organization(membership, model._default_manager, pk, what="object")


def _can_manage(membership: Membership) -> bool:
    return membership.role in MANAGING


def _errors(request: HttpRequest, error: ValidationError | forms.BaseForm) -> None:
    if isinstance(error, forms.BaseForm):
        for field, errs in error.errors.items():
            label = error.fields[field].label if field in error.fields else ""
            for e in errs:
                messages.error(request, f"{label}: {e}" if label else str(e))
    else:
        for e in error.messages:
            messages.error(request, e)


def _members(membership: Membership):
    return (
        Membership.objects.filter(organization_id=membership.organization_id)
        .select_related("user")
        .order_by("user__username")
    )


# --- My availability and the hand-off ---------------------------------------------------------


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    org = membership.organization
    at = now()
    status = AgentStatus.objects.filter(organization=org, user=membership.user).first()
    teams = list(org.teams.order_by("name"))
    users = {m.user_id: m.user for m in _members(membership)}
    coverage = []
    for team in teams:
        coverage.append(
            {
                "team": team,
                "on_shift": [
                    users.get(u)
                    for u in selectors.on_shift(organization=org, at=at, team_id=team.pk)
                ],
                "on_call": [
                    users.get(u)
                    for u in selectors.on_call(organization=org, at=at, team_id=team.pk)
                ],
                "available": selectors.available_agents(organization=org, at=at, team_id=team.pk),
                "problems": selectors.team_problems(team=team, at=at),
            }
        )
    mine = Conversation.objects.filter(organization=org, assignee=membership.user).exclude(
        status=Status.CLOSED
    )
    return render(
        request,
        "care/home.html",
        {
            "state": status.state if status else AgentState.AVAILABLE,
            "shift_end": selectors.shift_end(organization=org, user_id=membership.user_id, at=at),
            "my_open": mine.count(),
            "coverage": coverage,
            "alerts": selectors.open_alerts(organization_id=org.pk),
            "recent_handoffs": HandOff.objects.filter(organization=org)
            .select_related("from_user", "to_user", "conversation__contact")
            .order_by("-created_at")[:10],
            "can_manage": _can_manage(membership),
        },
    )


@login_required
@require_POST
def set_status(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    state = request.POST.get("state", "")
    note = request.POST.get("note", "")[:2000]
    if state not in AgentState.values:
        messages.error(request, _("Unknown state."))
        return redirect("care:home")
    handed = actions.agent_set_state(membership=membership, state=AgentState(state), note=note)
    if state == AgentState.AWAY:
        messages.success(
            request,
            _("You are away. %(n)d open conversation(s) handed off.") % {"n": len(handed)},
        )
        left = Conversation.objects.filter(
            organization_id=membership.organization_id, assignee=membership.user
        ).exclude(status=Status.CLOSED)
        if left.exists():
            messages.warning(
                request,
                _(
                    "Nobody is available or on call to take %(n)d of your conversations: they "
                    "stay yours and the supervisors were warned."
                )
                % {"n": left.count()},
            )
    else:
        messages.success(request, _("You are available."))
    return redirect("care:home")


@login_required
@require_POST
def alert_clear(request: HttpRequest, alert_id: int) -> HttpResponse:
    membership = _membership(request)
    alert = _own(membership, CareAlert, alert_id)
    actions.alert_clear(membership=membership, alert=alert)
    return redirect("care:home")


# --- Shifts -------------------------------------------------------------------------------------


class ShiftForm(forms.Form):
    user = forms.TypedChoiceField(label=gettext_lazy("Person"), coerce=int)
    weekday = forms.TypedChoiceField(label=gettext_lazy("Day"), choices=Weekday.choices, coerce=int)
    starts = forms.TimeField(label=gettext_lazy("From"))
    ends = forms.TimeField(label=gettext_lazy("To"))
    on_call = forms.BooleanField(label=gettext_lazy("On call"), required=False)


class ExceptionForm(forms.Form):
    user = forms.TypedChoiceField(label=gettext_lazy("Person"), coerce=int)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ExceptionKind.choices)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("From"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
    )
    ends_at = forms.DateTimeField(
        label=gettext_lazy("To"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
    )
    on_call = forms.BooleanField(label=gettext_lazy("On call"), required=False)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=200)


def _user_choices(membership: Membership):
    return [(m.user_id, m.user.get_username()) for m in _members(membership)]


def _local(value: datetime, zone: str) -> datetime:
    """A datetime-local field's value is the organisation's wall clock."""
    return value.replace(tzinfo=None).replace(tzinfo=ZoneInfo(zone))


@login_required
def shifts(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    org = membership.organization
    teams = list(org.teams.order_by("name"))
    team_id = request.GET.get("team")
    team: Team | None
    if team_id:
        try:
            team = access_team(membership, int(team_id))
        except ValueError:
            raise Http404("No such team.") from None
    else:
        team = teams[0] if teams else None
    context: dict = {"teams": teams, "team": team, "can_manage": _can_manage(membership)}
    if team is not None:
        shift_form = ShiftForm()
        shift_form.fields["user"].choices = _user_choices(membership)  # type: ignore[attr-defined]
        exc_form = ExceptionForm()
        exc_form.fields["user"].choices = _user_choices(membership)  # type: ignore[attr-defined]
        context |= {
            "shifts": Shift.objects.filter(organization=org, team=team)
            .select_related("user")
            .order_by("weekday", "starts"),
            "exceptions": ShiftException.objects.filter(organization=org, ends_at__gte=now())
            .filter(team__in=[team])
            .select_related("user")
            .order_by("starts_at")
            | ShiftException.objects.filter(
                organization=org, ends_at__gte=now(), team__isnull=True
            ).select_related("user"),
            "gaps": selectors.coverage_gaps(team=team),
            "problems": selectors.team_problems(team=team, at=now()),
            "members": team.members.select_related("user").order_by("user__username"),
            "shift_form": shift_form,
            "exception_form": exc_form,
        }
    return render(request, "care/shifts.html", context)


def _back_to_team(team_id: int) -> HttpResponse:
    return redirect(reverse("care:shifts") + f"?team={team_id}")


@login_required
@require_POST
def shift_add(request: HttpRequest, team_id: int) -> HttpResponse:
    membership = _membership(request)
    team = access_team(membership, team_id)
    form = ShiftForm(request.POST)
    form.fields["user"].choices = _user_choices(membership)  # type: ignore[attr-defined]
    if not form.is_valid():
        _errors(request, form)
        return _back_to_team(team.pk)
    data = form.cleaned_data
    try:
        actions.shift_add(
            membership=membership,
            team=team,
            user_id=data["user"],
            weekday=data["weekday"],
            starts=data["starts"],
            ends=data["ends"],
            on_call=data["on_call"],
        )
    except ValidationError as e:
        _errors(request, e)
    return _back_to_team(team.pk)


@login_required
@require_POST
def shift_delete(request: HttpRequest, shift_id: int) -> HttpResponse:
    membership = _membership(request)
    shift = _own(membership, Shift, shift_id)
    team_id = shift.team_id
    actions.shift_delete(membership=membership, shift=shift)
    return _back_to_team(team_id)


@login_required
@require_POST
def exception_add(request: HttpRequest, team_id: int) -> HttpResponse:
    membership = _membership(request)
    team = access_team(membership, team_id)
    form = ExceptionForm(request.POST)
    form.fields["user"].choices = _user_choices(membership)  # type: ignore[attr-defined]
    if not form.is_valid():
        _errors(request, form)
        return _back_to_team(team.pk)
    data = form.cleaned_data
    zone = membership.organization.timezone
    try:
        actions.exception_add(
            membership=membership,
            user_id=data["user"],
            team=team,
            kind=ExceptionKind(data["kind"]),
            starts_at=_local(data["starts_at"], zone),
            ends_at=_local(data["ends_at"], zone),
            on_call=data["on_call"],
            note=data["note"],
        )
    except ValidationError as e:
        _errors(request, e)
    return _back_to_team(team.pk)


@login_required
@require_POST
def exception_delete(request: HttpRequest, exception_id: int) -> HttpResponse:
    membership = _membership(request)
    exc = _own(membership, ShiftException, exception_id)
    team_id = exc.team_id
    actions.exception_delete(membership=membership, exception=exc)
    return redirect(reverse("care:shifts") + (f"?team={team_id}" if team_id else ""))


# --- SLA policies and the calendar ----------------------------------------------------------


class PolicyForm(forms.ModelForm):
    network = forms.ChoiceField(
        label=gettext_lazy("Network"),
        required=False,
        choices=[("", gettext_lazy("Every network")), *Network.choices],
    )
    priority = forms.TypedChoiceField(
        label=gettext_lazy("Priority"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", gettext_lazy("Any priority")), *Priority.choices],
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "network",
            "audience",
            "priority",
            "first_response_minutes",
            "next_response_minutes",
            "business_hours",
            "warn_percent",
        ]
        labels = {
            "name": gettext_lazy("Name"),
            "audience": gettext_lazy("Messages"),
            "first_response_minutes": gettext_lazy("First response (minutes)"),
            "next_response_minutes": gettext_lazy("Next response (minutes)"),
            "business_hours": gettext_lazy("Count business hours only"),
            "warn_percent": gettext_lazy("Orange from (% of the target)"),
        }


class HoursForm(forms.Form):
    weekday = forms.TypedChoiceField(label=gettext_lazy("Day"), choices=Weekday.choices, coerce=int)
    starts = forms.TimeField(label=gettext_lazy("From"))
    ends = forms.TimeField(label=gettext_lazy("To"))


class HolidayForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("Date"))
    name = forms.CharField(label=gettext_lazy("Name"), required=False, max_length=120)


@login_required
def sla(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    org = membership.organization
    policies = list(SlaPolicy.objects.filter(organization=org).order_by("network", "audience"))
    calendar = Calendar.load(org)
    problems = []
    if any(p.business_hours for p in policies):
        _due, problem = add_business_time(calendar, now(), timedelta(minutes=1))
        if problem:
            problems.append(str(NO_WORKING_TIME))
    if not policies:
        problems.append(
            _("No SLA policy: no conversation has a clock, breaches are never detected.")
        )
    edit_id = request.GET.get("edit")
    editing = None
    if edit_id and edit_id.isdigit():
        editing = _own(membership, SlaPolicy, int(edit_id))
    return render(
        request,
        "care/sla.html",
        {
            "policies": policies,
            "form": PolicyForm(instance=editing),
            "editing": editing,
            "hours": BusinessHours.objects.filter(organization=org),
            "holidays": Holiday.objects.filter(organization=org),
            "hours_form": HoursForm(),
            "holiday_form": HolidayForm(),
            "problems": problems,
            "can_manage": _can_manage(membership),
            "audiences": Audience,
        },
    )


@login_required
@require_POST
def policy_save(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    membership = _membership(request)
    instance = _own(membership, SlaPolicy, policy_id) if policy_id else None
    form = PolicyForm(request.POST, instance=instance)
    if not form.is_valid():
        _errors(request, form)
        return redirect("care:sla")
    try:
        actions.policy_save(membership=membership, policy=form.save(commit=False))
    except ValidationError as e:
        _errors(request, e)
    return redirect("care:sla")


@login_required
@require_POST
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    membership = _membership(request)
    actions.policy_delete(membership=membership, policy=_own(membership, SlaPolicy, policy_id))
    return redirect("care:sla")


@login_required
@require_POST
def hours_add(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = HoursForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect("care:sla")
    try:
        actions.business_hours_add(membership=membership, **form.cleaned_data)
    except ValidationError as e:
        _errors(request, e)
    return redirect("care:sla")


@login_required
@require_POST
def hours_delete(request: HttpRequest, hours_id: int) -> HttpResponse:
    membership = _membership(request)
    actions.business_hours_delete(
        membership=membership, hours=_own(membership, BusinessHours, hours_id)
    )
    return redirect("care:sla")


@login_required
@require_POST
def holiday_add(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    form = HolidayForm(request.POST)
    if not form.is_valid():
        _errors(request, form)
        return redirect("care:sla")
    actions.holiday_add(
        membership=membership, day=form.cleaned_data["date"], name=form.cleaned_data["name"]
    )
    return redirect("care:sla")


@login_required
@require_POST
def holiday_delete(request: HttpRequest, holiday_id: int) -> HttpResponse:
    membership = _membership(request)
    actions.holiday_delete(membership=membership, holiday=_own(membership, Holiday, holiday_id))
    return redirect("care:sla")


# --- Analytics and the report ----------------------------------------------------------------


def _period(request: HttpRequest, zone: str) -> tuple[datetime, datetime, int]:
    try:
        days = min(max(int(request.GET.get("days", "7")), 1), 366)
    except ValueError:
        days = 7
    tz = ZoneInfo(zone)
    today = now().astimezone(tz).date()
    until = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    since = until - timedelta(days=days)
    return since, until, days


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d}"


@login_required
def analytics(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    org = membership.organization
    since, until, days = _period(request, org.timezone)
    by = request.GET.get("by", "account")
    if by not in ("account", "team", "agent"):
        by = "account"
    total = selectors.care_stats(organization_id=org.pk, since=since, until=until)[0]
    rows = selectors.care_stats(organization_id=org.pk, since=since, until=until, by=by)
    series = selectors.care_series(
        organization_id=org.pk, since=since, until=until, zone=org.timezone
    )
    charts = [
        _bars(_("Messages in"), [(p.day, p.inbound) for p in series]),
        _bars(_("Backlog (open at end of day)"), [(p.day, p.backlog) for p in series]),
        _bars(_("Waiting for an answer (end of day)"), [(p.day, p.unanswered) for p in series]),
        _bars(_("SLA breaches"), [(p.day, p.breaches) for p in series], red=True),
    ]
    tz = ZoneInfo(org.timezone)
    for i, chart in enumerate(charts):
        # The same figures for uPlot (static/care/charts.js), days as local midnights.
        chart["id"] = f"care-chart-{i}"
        chart["data"] = {
            "title": chart["title"],
            "red": chart["red"],
            "timezone": org.timezone,
            "points": [
                {
                    "t": int(
                        datetime.combine(b["day"], datetime.min.time(), tzinfo=tz).timestamp()
                    ),
                    "value": b["value"],
                }
                for b in chart["bars"]
            ],
        }
    return render(
        request,
        "care/analytics.html",
        {
            "days": days,
            "by": by,
            "total": _row(total),
            "rows": [_row(r) for r in rows],
            "charts": charts,
        },
    )


def _row(s: selectors.Stats) -> dict:
    return {
        "label": s.label,
        "inbound": s.sums["inbound"],
        "first_responses": s.first_responses,
        "fr_median": _fmt_duration(s.fr_median),
        "fr_p90": _fmt_duration(s.fr_p90),
        "compliance": "—" if s.compliance is None else f"{s.compliance:.0f} %",
        "closed": s.sums["closed"],
        "resolution": _fmt_duration(s.resolution_mean),
        "breaches": s.sums["breaches"],
    }


def _bars(title: str, points: list, red: bool = False) -> dict[str, Any]:
    """A server-side SVG bar chart: no script, readable on a phone."""
    width, height = 600, 120
    top = max((v for _d, v in points), default=0) or 1
    n = max(len(points), 1)
    step = width / n
    bars = []
    for i, (day, value) in enumerate(points):
        h = round((height - 20) * value / top, 1)
        bars.append(
            {
                "x": round(i * step + 1, 1),
                "y": round(height - 14 - h, 1),
                "w": max(round(step - 2, 1), 1),
                "h": h,
                "value": value,
                "day": day,
                "label": i % max(n // 8, 1) == 0,
                "tx": round(i * step + step / 2, 1),
            }
        )
    return {
        "title": title,
        "bars": bars,
        "width": width,
        "height": height,
        "top": top,
        "red": red,
        "bottom": height - 2,
    }


@login_required
def analytics_csv(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    org = membership.organization
    since, until, _days = _period(request, org.timezone)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="care-analytics.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "group",
            "name",
            "messages_in",
            "first_responses",
            "first_response_median_s",
            "first_response_p90_s",
            "sla_compliance_pct",
            "closed",
            "resolution_mean_s",
            "breaches",
        ]
    )
    for by in ("", "account", "team", "agent"):
        for s in selectors.care_stats(organization_id=org.pk, since=since, until=until, by=by):

            def num(v):
                return "" if v is None else round(v, 1)

            # Names come from networks and people: never let a spreadsheet run them.
            name = s.label
            if name[:1] in ("=", "+", "-", "@", "\t", "\r"):
                name = "'" + name
            writer.writerow(
                [
                    by or "all",
                    name,
                    s.sums["inbound"],
                    s.first_responses,
                    num(s.fr_median),
                    num(s.fr_p90),
                    num(s.compliance),
                    s.sums["closed"],
                    num(s.resolution_mean),
                    s.sums["breaches"],
                ]
            )
    writer.writerow([])
    writer.writerow(
        ["day", "messages_in", "first_responses", "closed", "breaches", "backlog", "unanswered"]
    )
    for p in selectors.care_series(
        organization_id=org.pk, since=since, until=until, zone=org.timezone
    ):
        writer.writerow(
            [
                p.day.isoformat(),
                p.inbound,
                p.first_responses,
                p.closed,
                p.breaches,
                p.backlog,
                p.unanswered,
            ]
        )
    return response


@login_required
def report(request: HttpRequest) -> HttpResponse:
    """Conversations that waited past their SLA, by default over the last 24 hours:
    the morning report."""
    membership = _membership(request)
    org = membership.organization
    try:
        hours = min(max(int(request.GET.get("hours", "24")), 1), 24 * 31)
    except ValueError:
        hours = 24
    until = now()
    since = until - timedelta(hours=hours)
    breaches = list(selectors.breach_report(organization_id=org.pk, since=since, until=until))
    return render(
        request,
        "care/report.html",
        {
            "breaches": breaches,
            "hours": hours,
            "since": since,
            "unassigned": [b for b in breaches if b.assignee_id is None],
            "unanswered": [b for b in breaches if b.answered_at is None],
        },
    )
