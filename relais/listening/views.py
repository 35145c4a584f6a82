"""Listening pages: the dashboard, monitor pages (volume chart, bursts, authors, terms,
sentiment, drill-down), monitor editing, alert pages (acknowledge, close) and the crisis
switch. Validate, fetch-and-authorise, call one action, render."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from relais.accounts.models import ANSWERING_ROLES, Membership, Role
from relais.accounts.permissions import access_team, current_membership, require_role
from relais.common import timeutils
from relais.listening import actions, detector, selectors
from relais.listening.models import (
    AlertNotification,
    AlertState,
    Granularity,
    SeriesKind,
    Sources,
    VolumeBucket,
)
from relais.listening.query import QueryError

EDITORS = {Role.ADMIN, Role.SUPERVISOR}
WINDOWS = {"1": 1, "6": 6, "24": 24, "168": 168}  # hours shown on a monitor page


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


class MonitorForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("listening", "Name"), max_length=120)
    query = forms.CharField(
        label=pgettext_lazy("listening", "Query"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_(
            'Words, "exact phrases", #hashtags, @mentions; AND, OR, NOT or -word, '
            "parentheses; filters lang:fr network:x line:C4 intent:complaint."
        ),
    )
    sources = forms.ChoiceField(label=pgettext_lazy("listening", "Watch"), choices=Sources.choices)
    team = forms.TypedChoiceField(
        label=_("Team alerted"), coerce=int, required=False, empty_value=None
    )
    alerts_enabled = forms.BooleanField(
        label=_("Alert the on-call person on a burst"), required=False
    )
    escalate_after_minutes = forms.IntegerField(
        label=_("Escalate after (minutes)"), min_value=1, max_value=240
    )
    active = forms.BooleanField(label=pgettext_lazy("listening", "Active"), required=False)

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        teams = membership.organization.teams.order_by("name")
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.TypedChoiceField)  # noqa: S101 - declared above
        team_field.choices = [("", _("The organisation's on-call people"))] + [
            (t.pk, t.name) for t in teams
        ]


def _save_monitor(request, membership: Membership, form: MonitorForm, monitor=None):
    data = form.cleaned_data
    team = access_team(membership, data["team"]) if data["team"] else None
    kwargs = {
        "membership": membership,
        "name": data["name"],
        "query_text": data["query"],
        "sources": data["sources"],
        "team": team,
        "alerts_enabled": data["alerts_enabled"],
        "escalate_after_minutes": data["escalate_after_minutes"],
    }
    if monitor is None:
        return actions.monitor_create(**kwargs)
    return actions.monitor_update(monitor=monitor, active=data["active"], **kwargs)


def _monitor_form_page(request, membership, form, monitor=None, query_error=None):
    return render(
        request,
        "listening/monitor_form.html",
        {"form": form, "monitor": monitor, "query_error": query_error},
        status=400 if form.is_bound else 200,
    )


def _handle_monitor_form(request, membership: Membership, monitor=None) -> HttpResponse:
    initial = (
        {
            "name": monitor.name,
            "query": monitor.query,
            "sources": monitor.sources,
            "team": monitor.team_id,
            "alerts_enabled": monitor.alerts_enabled,
            "escalate_after_minutes": monitor.escalate_after_minutes,
            "active": monitor.active,
        }
        if monitor
        else {
            "sources": Sources.ALL,
            "alerts_enabled": True,
            "escalate_after_minutes": 10,
            "active": True,
        }
    )
    if request.method != "POST":
        return _monitor_form_page(
            request, membership, MonitorForm(initial=initial, membership=membership), monitor
        )
    form = MonitorForm(request.POST, membership=membership)
    if not form.is_valid():
        return _monitor_form_page(request, membership, form, monitor)
    try:
        saved = _save_monitor(request, membership, form, monitor)
    except QueryError as exc:
        text = form.cleaned_data["query"]
        error = {
            "message": exc.message,
            "position": exc.position + 1,
            "before": text[: exc.position],
            "at": text[exc.position : exc.position + 1] or " ",
            "after": text[exc.position + 1 :],
        }
        form.add_error("query", exc.message)
        return _monitor_form_page(request, membership, form, monitor, query_error=error)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _monitor_form_page(request, membership, form, monitor)
    return redirect("listening:monitor", saved.pk)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    org_id = membership.organization_id
    monitors = list(selectors.monitor_list(organization_id=org_id))
    since = timeutils.now() - timedelta(hours=24)
    totals = dict(
        VolumeBucket.objects.filter(
            series__organization_id=org_id,
            series__kind=SeriesKind.MONITOR,
            series__granularity=Granularity.FIVE_MINUTES,
            start__gte=since,
        )
        .values_list("series__key")
        .annotate(n=Sum("count"))
        .values_list("series__key", "n")
    )
    for m in monitors:
        m.last_day = totals.get(str(m.pk), 0)  # type: ignore[attr-defined]
    return render(
        request,
        "listening/dashboard.html",
        {
            "monitors": monitors,
            "alerts": selectors.alert_list(organization_id=org_id)[:20],
            "sources": selectors.listening_sources(organization_id=org_id),
            "can_edit": membership.role in EDITORS,
            "crisis": selectors.crisis_mode(organization_id=org_id),
        },
    )


def _window(request: HttpRequest) -> tuple[datetime, datetime, str]:
    hours = request.GET.get("hours", "24")
    if hours not in WINDOWS:
        hours = "24"
    end = timeutils.now()
    start = end - timedelta(hours=WINDOWS[hours])
    return start, end, hours


def _epoch(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), tz=UTC) if value else None
    except (ValueError, OverflowError, OSError):
        return None


@login_required
def monitor_detail(request: HttpRequest, monitor_id: int) -> HttpResponse:
    membership = _membership(request)
    monitor = selectors.access_monitor(membership, monitor_id)
    start, end, hours = _window(request)
    granularity = Granularity.MINUTE if WINDOWS[hours] <= 6 else Granularity.FIVE_MINUTES
    points = selectors.monitor_volume(
        monitor=monitor, granularity=granularity, start=start, end=end
    )
    # Drill-down: a bucket (or any range) picked on the chart, else the whole window.
    pick_from, pick_to = _epoch(request.GET.get("from")), _epoch(request.GET.get("to"))
    drill_start, drill_end = (pick_from, pick_to) if pick_from and pick_to else (start, end)
    alerts = monitor.alerts.filter(last_bucket_start__gte=start).order_by("-created_at")
    return render(
        request,
        "listening/monitor.html",
        {
            "monitor": monitor,
            "hours": hours,
            "windows": WINDOWS,
            "chart": {
                "points": points,
                "threshold": detector.ALERT_THRESHOLD,
                "granularity": int(granularity),
                "timezone": membership.organization.timezone,
                "drill": request.path,
                "hours": hours,
            },
            "alerts": alerts,
            "authors": selectors.top_authors(
                monitor_id=monitor.pk, start=drill_start, end=drill_end
            ),
            "terms": selectors.top_terms(monitor=monitor, start=drill_start, end=drill_end),
            "sentiments": selectors.sentiment_mix(
                monitor=monitor, start=drill_start, end=drill_end
            ),
            "messages": selectors.monitor_messages(
                monitor=monitor, start=drill_start, end=drill_end, limit=100
            ),
            "drill": (drill_start, drill_end) if pick_from and pick_to else None,
            "can_edit": membership.role in EDITORS,
        },
    )


@login_required
def monitor_new(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, EDITORS)
    return _handle_monitor_form(request, membership)


@login_required
def monitor_edit(request: HttpRequest, monitor_id: int) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, EDITORS)
    monitor = selectors.access_monitor(membership, monitor_id)
    return _handle_monitor_form(request, membership, monitor)


@login_required
@require_POST
def monitor_delete(request: HttpRequest, monitor_id: int) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, EDITORS)
    monitor = selectors.access_monitor(membership, monitor_id)
    actions.monitor_delete(membership=membership, monitor=monitor)
    flash.success(request, _("Monitor deleted."))
    return redirect("listening:dashboard")


@login_required
def alert_detail(request: HttpRequest, alert_id: int) -> HttpResponse:
    membership = _membership(request)
    alert = selectors.access_alert(membership, alert_id)
    step = timedelta(seconds=alert.granularity)
    burst_end = alert.last_bucket_start + step
    chart_start = alert.bucket_start - 40 * step
    chart_end = burst_end + 10 * step
    points = selectors.monitor_volume(
        monitor=alert.monitor, granularity=alert.granularity, start=chart_start, end=chart_end
    )
    return render(
        request,
        "listening/alert.html",
        {
            "alert": alert,
            "chart": {
                "points": points,
                "threshold": detector.ALERT_THRESHOLD,
                "granularity": alert.granularity,
                "timezone": membership.organization.timezone,
                "burst": [int(alert.bucket_start.timestamp()), int(burst_end.timestamp())],
            },
            "messages": selectors.monitor_messages(
                monitor=alert.monitor, start=alert.bucket_start, end=burst_end, by_reach=True
            ),
            "notifications": AlertNotification.objects.filter(alert=alert)
            .select_related("user", "webhook")
            .order_by("created_at", "pk"),
            "can_ack": membership.role in ANSWERING_ROLES and alert.state == AlertState.OPEN,
            "can_close": membership.role in EDITORS and alert.state != AlertState.CLOSED,
            "can_crisis": membership.role in EDITORS,
            "crisis": selectors.crisis_mode(organization_id=membership.organization_id),
        },
    )


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    return render(
        request,
        "listening/alerts.html",
        {"alerts": selectors.alert_list(organization_id=membership.organization_id)[:200]},
    )


@login_required
@require_POST
def alert_ack(request: HttpRequest, alert_id: int) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, ANSWERING_ROLES)
    alert = selectors.access_alert(membership, alert_id)
    actions.alert_acknowledge(alert=alert, membership=membership)
    return redirect("listening:alert", alert.pk)


@login_required
@require_POST
def alert_close(request: HttpRequest, alert_id: int) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, EDITORS)
    alert = selectors.access_alert(membership, alert_id)
    actions.alert_close(alert=alert, membership=membership)
    return redirect("listening:alert", alert.pk)


@login_required
@require_POST
def crisis(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    require_role(membership, EDITORS)
    active = request.POST.get("active") == "1"
    alert = None
    if request.POST.get("alert"):
        try:
            alert = selectors.access_alert(membership, int(request.POST["alert"]))
        except ValueError:
            alert = None
    reason = request.POST.get("reason", "").strip()
    if active and not reason:
        reason = (
            str(_("Burst on monitor “%(name)s”") % {"name": alert.monitor.name}) if alert else ""
        )
    actions.crisis_switch(
        organization=membership.organization,
        active=active,
        by_user_id=membership.user_id,
        reason=reason,
        alert=alert,
    )
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("listening:dashboard")
