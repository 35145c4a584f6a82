"""The one-click alert page (made for a traffic regulator's phone) and the publication page.

(In a module of their own: the calendar's pages live in views.py.)"""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from relais.accounts.models import Membership
from relais.accounts.permissions import access_incident, access_publication, current_membership
from relais.incidents.models import IncidentType, Severity
from relais.incidents.selectors import active_incidents
from relais.publishing import actions
from relais.publishing.alerts import alert_preview, alert_publish, alert_values
from relais.publishing.models import PublicationKind, PublicationTarget
from relais.transit.models import Route
from relais.wording.models import TemplateState
from relais.wording.rendering import MissingVariables
from relais.wording.selectors import alert_templates

# Variables a regulator may type on the page (the rest comes from the incident).
TYPED_VARIABLES = ("cause", "eta", "stop", "place")


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _alert_context(request: HttpRequest, membership: Membership) -> dict:
    data = request.POST if request.method == "POST" else request.GET
    organization = membership.organization
    incidents = list(
        active_incidents(organization_id=organization.pk)
        .prefetch_related("lines")
        .order_by("-started_at")
    )
    incident = None
    incident_id = _int(data.get("incident"))
    if incident_id:
        incident = access_incident(membership, incident_id)
    incident_type = data.get("type", "")
    if incident is not None:
        incident_type = incident.type
    elif incident_type not in IncidentType.values:
        incident_type = ""
    line_ids = [i for i in (_int(v) for v in data.getlist("lines")) if i]
    lines = list(Route.objects.filter(organization=organization, pk__in=line_ids))
    templates = alert_templates(organization_id=organization.pk, incident_type=incident_type)
    template = next((t for t in templates if t.pk == _int(data.get("template"))), None)
    if template is None and templates:
        template = templates[0]
    has_alert = bool(
        incident is not None and incident.publications.filter(kind=PublicationKind.ALERT).exists()
    )
    kind = data.get("kind", "")
    if kind not in (PublicationKind.ALERT, PublicationKind.UPDATE, PublicationKind.CLOSING):
        kind = PublicationKind.UPDATE if has_alert else PublicationKind.ALERT
    overrides = {name: data.get(f"v_{name}", "").strip()[:200] for name in TYPED_VARIABLES}
    accounts = actions.publishing_accounts(organization_id=organization.pk)
    if data.get("channels_chosen"):
        chosen_ids = {i for i in (_int(v) for v in data.getlist("accounts")) if i}
    else:
        chosen_ids = {a.pk for a in accounts}
    prefer_short = {i for i in (_int(v) for v in data.getlist("short")) if i}
    preview = None
    values: dict[str, str] = {}
    if template is not None:
        values = alert_values(
            organization=organization,
            incident=incident,
            incident_type=incident_type,
            lines=lines,
            language=template.language,
            overrides=overrides,
        )
        preview = alert_preview(
            template=template,
            values=values,
            accounts=[a for a in accounts if a.pk in chosen_ids],
            prefer_short=prefer_short,
        )
    if template is None:
        button = _("No approved traffic or crisis template")
    elif incident is None and not incident_type:
        button = _("Choose the incident type")
    elif preview is not None and preview.missing:
        button = _("Missing: %(names)s") % {
            "names": ", ".join("{" + n + "}" for n in preview.missing)
        }
    elif preview is None or not any(c.sendable for c in preview.channels):
        button = _("No channel can take this text")
    else:
        button = ""
    sendable = [c for c in preview.channels if c.sendable] if preview else []
    return {
        "incidents": incidents,
        "incident": incident,
        "incident_types": IncidentType.choices,
        "incident_type": incident_type,
        "severities": Severity.choices,
        "severity": data.get("severity", Severity.HIGH),
        "routes": Route.objects.filter(organization=organization),
        "line_ids": {r.pk for r in lines},
        "templates": templates,
        "template": template,
        "kinds": [
            (PublicationKind.ALERT, PublicationKind.ALERT.label),
            (PublicationKind.UPDATE, PublicationKind.UPDATE.label),
            (PublicationKind.CLOSING, PublicationKind.CLOSING.label),
        ],
        "kind": kind,
        "overrides": overrides,
        "values": values,
        "accounts": accounts,
        "chosen_ids": chosen_ids,
        "prefer_short": prefer_short,
        "preview": preview,
        "blocked": button,
        "publish_label": _("Publish on %(n)d channels") % {"n": len(sendable)},
        "request_key": data.get("request_key") or uuid.uuid4().hex,
        "can_publish": membership.role in actions.PUBLISHING_ROLES,
    }


@login_required
def alert_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    actions.require_publishing(membership)
    context = _alert_context(request, membership)
    if request.htmx and request.method == "POST":  # type: ignore[attr-defined]
        return render(request, "publishing/_alert_preview.html", context)
    return render(request, "publishing/alert.html", context)


@login_required
@require_POST
def alert_publish_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    actions.require_publishing(membership)
    context = _alert_context(request, membership)
    template = context["template"]
    error = context["blocked"]
    if not error and template is not None and template.state == TemplateState.APPROVED:
        try:
            publication = alert_publish(
                membership=membership,
                template=template,
                kind=PublicationKind(context["kind"]),
                incident=context["incident"],
                incident_type=context["incident_type"],
                lines=Route.objects.filter(pk__in=context["line_ids"]),
                severity=context["severity"]
                if context["severity"] in Severity.values
                else Severity.HIGH,
                overrides=context["overrides"],
                account_ids=context["chosen_ids"],
                prefer_short=context["prefer_short"],
                request_key=context["request_key"],
            )
        except MissingVariables as exc:
            error = _("Missing: %(names)s") % {"names": ", ".join("{" + n + "}" for n in exc.names)}
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if request.htmx:  # type: ignore[attr-defined]
                response = HttpResponse(status=204)
                response["HX-Redirect"] = publication_url(publication.pk)
                return response
            return redirect("publishing:detail", publication_id=publication.pk)
    context["error"] = error or _("This template cannot be published.")
    if request.htmx:  # type: ignore[attr-defined]
        # htmx swaps only 2xx answers: the reason goes where the button is.
        return render(request, "publishing/_alert_preview.html", context)
    return render(request, "publishing/alert.html", context, status=400)


def publication_url(publication_id: int) -> str:
    from django.urls import reverse

    return reverse("publishing:detail", kwargs={"publication_id": publication_id})


@login_required
def publication_view(request: HttpRequest, publication_id: int) -> HttpResponse:
    membership = _membership(request)
    publication = access_publication(membership, publication_id)
    targets = (
        PublicationTarget.objects.filter(publication=publication)
        .select_related("account", "delivery")
        .order_by("account__name")
    )
    context = {
        "publication": publication,
        "targets": targets,
        "can_publish": membership.role in actions.PUBLISHING_ROLES,
    }
    if request.GET.get("part") == "status":
        return render(request, "publishing/_publication_status.html", context)
    return render(request, "publishing/publication.html", context)


@login_required
@require_POST
def target_retry_view(request: HttpRequest, publication_id: int, target_id: int) -> HttpResponse:
    membership = _membership(request)
    publication = access_publication(membership, publication_id)
    target = (
        PublicationTarget.objects.filter(publication=publication, pk=target_id)
        .select_related("delivery", "account", "publication")
        .first()
    )
    if target is None:
        raise Http404("No such channel of this publication.")
    try:
        actions.publication_retry_target(target=target, membership=membership)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    return redirect("publishing:detail", publication_id=publication.pk)
