"""Incident pages: validate input, fetch-and-authorise, call one action, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from relais.accounts.models import Membership
from relais.accounts.permissions import access_conversation, access_incident, current_membership
from relais.common.timeutils import now
from relais.incidents import actions, selectors
from relais.incidents.forms import IncidentForm, OperatorReportForm
from relais.incidents.models import IncidentStatus
from relais.publishing.models import Publication


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


@login_required
def incident_list_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    status = request.GET.get("status", "")
    incidents = list(
        selectors.incident_list(organization_id=membership.organization_id, status=status)[:200]
    )
    return render(
        request,
        "incidents/list.html",
        {
            "incidents": incidents,
            "status": status,
            "statuses": IncidentStatus.choices,
            "can_edit": membership.role in actions.INCIDENT_ROLES,
        },
    )


@login_required
def incident_new_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    actions.require_incidents(membership)
    organization = membership.organization
    if request.method == "POST":
        form = IncidentForm(request.POST, organization=organization)
        if form.is_valid():
            data = form.cleaned_data
            try:
                incident = actions.incident_open(
                    membership=membership,
                    title=data["title"],
                    type=data["type"],
                    severity=data["severity"],
                    cause=data["cause"],
                    description=data["description"],
                    lines=data["lines"],
                    stops=data["stops"],
                    all_lines=data["all_lines"],
                    places=data["places"],
                    started_at=data.get("started_at"),
                    expected_end_at=data.get("expected_end_at"),
                    owner=data["owner"],
                    team=data["team"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("incidents:detail", incident_id=incident.pk)
    else:
        form = IncidentForm(
            organization=organization,
            initial={
                "type": request.GET.get("type", ""),
                "started_at": now(),
                "owner": membership.user,
            },
        )
    return render(request, "incidents/form.html", {"form": form, "incident": None})


def _detail_context(membership: Membership, incident) -> dict:
    publications = (
        Publication.objects.filter(incident=incident)
        .select_related("author")
        .prefetch_related("targets__account", "targets__delivery")
        .order_by("created_at")
    )
    return {
        "incident": incident,
        "timeline": selectors.incident_feed(incident=incident),
        "conversations": incident.conversations.select_related("contact", "account").order_by(
            "-last_activity_at"
        ),
        "suggestions": selectors.suggested_conversations(incident=incident)
        if incident.is_active
        else [],
        "publications": publications,
        "statuses": IncidentStatus.choices,
        "can_edit": membership.role in actions.INCIDENT_ROLES,
        "can_answer": membership.can_answer,
        "report_form": OperatorReportForm(),
    }


@login_required
def incident_detail_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    template = (
        "incidents/_timeline.html"
        if request.GET.get("part") == "timeline"
        else "incidents/detail.html"
    )
    return render(request, template, _detail_context(membership, incident))


@login_required
def incident_edit_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    membership = _membership(request)
    actions.require_incidents(membership)
    incident = access_incident(membership, incident_id)
    organization = membership.organization
    if request.method == "POST":
        form = IncidentForm(request.POST, organization=organization)
        if form.is_valid():
            data = form.cleaned_data
            fields = {k: data[k] for k in actions.EDITABLE if k in data}
            if fields.get("started_at") is None:
                fields.pop("started_at", None)
            try:
                actions.incident_update(
                    incident=incident,
                    membership=membership,
                    lines=data["lines"],
                    stops=data["stops"],
                    **fields,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("incidents:detail", incident_id=incident.pk)
    else:
        form = IncidentForm(organization=organization, initial=IncidentForm.initial_from(incident))
    return render(request, "incidents/form.html", {"form": form, "incident": incident})


def _back(request: HttpRequest, membership: Membership, incident, error: str = "") -> HttpResponse:
    if request.htmx:  # type: ignore[attr-defined]
        context = _detail_context(membership, incident)
        context["error"] = error
        return render(request, "incidents/_timeline.html", context, status=400 if error else 200)
    if error:
        context = _detail_context(membership, incident)
        context["error"] = error
        return render(request, "incidents/detail.html", context, status=400)
    return redirect("incidents:detail", incident_id=incident.pk)


@login_required
@require_POST
def incident_status_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    status = request.POST.get("status", "")
    if status not in IncidentStatus.values:
        return HttpResponse("Unknown status.", status=400, content_type="text/plain")
    actions.incident_set_status(
        incident=incident,
        membership=membership,
        status=IncidentStatus(status),
        text=request.POST.get("text", ""),
    )
    return _back(request, membership, incident)


@login_required
@require_POST
def incident_action_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    try:
        actions.incident_note_action(
            incident=incident, membership=membership, text=request.POST.get("text", "")
        )
    except ValidationError as exc:
        return _back(request, membership, incident, " ".join(exc.messages))
    return _back(request, membership, incident)


@login_required
@require_POST
def incident_report_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    form = OperatorReportForm(request.POST)
    if not form.is_valid():
        return _back(
            request, membership, incident, " ".join(str(e) for e in form.non_field_errors())
        )
    actions.incident_add_operator_report(
        incident=incident,
        membership=membership,
        report=form.cleaned_data | {"at": now().isoformat()},
    )
    return _back(request, membership, incident)


@login_required
@require_POST
def incident_link_view(request: HttpRequest, incident_id: int) -> HttpResponse:
    """Link (or with unlink=1, unlink) a conversation. From the inbox's side panel the answer
    is the panel's incidents card; from the incident page, back to it."""
    membership = _membership(request)
    incident = access_incident(membership, incident_id)
    try:
        conversation_id = int(request.POST.get("conversation", ""))
    except ValueError:
        return HttpResponse("Which conversation?", status=400, content_type="text/plain")
    conversation = access_conversation(membership, conversation_id)
    if request.POST.get("unlink"):
        actions.incident_unlink_conversation(
            incident=incident, conversation=conversation, membership=membership
        )
    else:
        actions.incident_link_conversation(
            incident=incident, conversation=conversation, membership=membership
        )
    if request.POST.get("from") == "inbox":
        from relais.incidents.templatetags.incidents import side_context

        if request.htmx:  # type: ignore[attr-defined]
            return render(request, "incidents/_side.html", side_context(conversation, membership))
        return redirect("inbox:conversation", conversation_id=conversation.pk)
    return _back(request, membership, incident)
