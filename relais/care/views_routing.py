"""Pages of the routing part: rules (list, edit, try on last week), and from within a
conversation: saved replies, lock / unlock, author flags, operator reports, customer look-up."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from relais.accounts.models import Membership, Role
from relais.accounts.permissions import (
    access_conversation,
    access_member,
    access_routing_rule,
    access_team,
    access_template,
    current_membership,
    require_role,
)
from relais.care import operator, profile, replies, routing
from relais.care.models import AssignStrategy, AuthorFlag, RoutingRule
from relais.channels.models import ChannelAccount, Network
from relais.inbox.models import Priority
from relais.listening.models import Monitor
from relais.triage import labels as triage_labels

SUPERVISING = {Role.ADMIN, Role.SUPERVISOR}


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


def _fragment(request: HttpRequest, template: str, context: dict, *, error: bool) -> HttpResponse:
    """An htmx fragment: htmx swaps only 2xx answers, so an error is a 200 flagged with
    X-Relais-Error (as the inbox does); without htmx, a 400."""
    htmx = bool(request.headers.get("HX-Request"))
    response = render(request, template, context, status=400 if error and not htmx else 200)
    if error:
        response["X-Relais-Error"] = "1"
    return response


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# --- Rules -------------------------------------------------------------------------------


def _rule_form_context(membership: Membership, rule: RoutingRule | None) -> dict:
    from relais.transit.models import Route
    from relais.wording.models import Template, TemplateState

    org_id = membership.organization_id
    return {
        "rule": rule,
        "conditions": (rule.conditions if rule else {}) or {},
        "networks": Network.choices,
        "accounts": ChannelAccount.objects.filter(organization_id=org_id).order_by("name"),
        "intents": triage_labels.choices("intent"),
        "sentiments": triage_labels.choices("sentiment"),
        "urgencies": triage_labels.choices("urgency"),
        "languages": [("fr", "Français"), ("en", "English"), ("es", "Español"), ("de", "Deutsch")],
        "lines": Route.objects.filter(organization_id=org_id).order_by("short_name"),
        "flags": AuthorFlag.choices,
        "monitors": Monitor.objects.filter(organization_id=org_id).order_by("name"),
        "strategies": AssignStrategy.choices,
        "priorities": Priority.choices,
        "teams": membership.organization.teams.order_by("name"),
        "members": Membership.objects.filter(organization_id=org_id)
        .select_related("user")
        .order_by("user__username"),
        "templates": Template.objects.filter(
            organization_id=org_id, state=TemplateState.APPROVED
        ).order_by("name"),
        "notify_ids": set(rule.notify.values_list("pk", flat=True)) if rule else set(),
    }


@login_required
def rules_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    rows = routing.rules_with_explanations(organization_id=membership.organization_id)
    return render(
        request,
        "care/routing/rules.html",
        {"rows": rows, "can_edit": membership.role in SUPERVISING},
    )


def _save_from_post(request: HttpRequest, membership: Membership, rule: RoutingRule | None):
    post = request.POST
    conditions = {name: post.getlist(name) for name in routing.CONDITION_FIELDS}
    for name in ("text_contains", "text_excludes"):
        conditions[name] = [w for w in post.get(name, "").replace("\n", ",").split(",")]
    team_id = _int(post.get("team"))
    agent_id = _int(post.get("agent"))
    if team_id:
        access_team(membership, team_id)
    if agent_id:
        access_member(membership, agent_id)
    template_id = _int(post.get("template"))
    if template_id:
        access_template(membership, template_id)
    notify_ids = [i for i in (_int(v) for v in post.getlist("notify")) if i]
    for user_id in notify_ids:
        access_member(membership, user_id)
    monitor_ids = [i for i in (_int(v) for v in post.getlist("monitors")) if i]
    if Monitor.objects.filter(
        organization_id=membership.organization_id, pk__in=monitor_ids
    ).count() != len(set(monitor_ids)):
        raise Http404("No such monitor.")
    account_ids = [i for i in (_int(v) for v in post.getlist("accounts")) if i]
    if ChannelAccount.objects.filter(
        organization_id=membership.organization_id, pk__in=account_ids
    ).count() != len(set(account_ids)):
        raise Http404("No such account.")
    priority = post.get("priority", "")
    return routing.rule_save(
        membership=membership,
        rule=rule,
        name=post.get("name", ""),
        conditions=conditions,
        stop=post.get("stop") == "1",
        enabled=post.get("enabled") == "1",
        team_id=team_id,
        strategy=post.get("strategy", ""),
        agent_id=agent_id,
        priority=int(priority) if priority in {str(v) for v in Priority.values} else None,
        tags=post.get("tags", "").split(","),
        template_id=template_id,
        lock=post.get("lock") == "1",
        notify_ids=notify_ids,
    )


@login_required
def rule_edit_view(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    membership = _membership(request)
    rule = access_routing_rule(membership, rule_id) if rule_id else None
    if request.method == "POST":
        require_role(membership, SUPERVISING)
        try:
            saved = _save_from_post(request, membership, rule)
        except ValidationError as exc:
            context = _rule_form_context(membership, rule)
            context["error"] = " ".join(exc.messages)
            return render(request, "care/routing/rule_form.html", context, status=400)
        return redirect("care:routing_rule", rule_id=saved.pk)
    context = _rule_form_context(membership, rule)
    if rule is not None:
        earlier = list(
            RoutingRule.objects.filter(organization_id=membership.organization_id)
            .exclude(pk=rule.pk)
            .filter(position__lte=rule.position)
            .order_by("position", "pk")
        )
        context["explanation"] = routing.explain(rule, earlier=earlier)
    return render(request, "care/routing/rule_form.html", context)


@login_required
@require_POST
def rule_delete_view(request: HttpRequest, rule_id: int) -> HttpResponse:
    membership = _membership(request)
    rule = access_routing_rule(membership, rule_id)
    routing.rule_delete(membership=membership, rule=rule)
    return redirect("care:routing_rules")


@login_required
@require_POST
def rule_move_view(request: HttpRequest, rule_id: int) -> HttpResponse:
    membership = _membership(request)
    rule = access_routing_rule(membership, rule_id)
    routing.rule_move(membership=membership, rule=rule, up=request.POST.get("direction") == "up")
    return redirect("care:routing_rules")


@login_required
def rule_try_view(request: HttpRequest, rule_id: int) -> HttpResponse:
    membership = _membership(request)
    rule = access_routing_rule(membership, rule_id)
    result = routing.try_rule(rule=rule)
    return render(
        request,
        "care/routing/_try.html",
        {"rule": rule, "result": result, "bound": routing.TRY_BOUND},
    )


# --- From within a conversation ----------------------------------------------------------


@login_required
def saved_replies_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    found = replies.saved_replies(conversation=conversation, q=request.GET.get("q", "")[:80])
    return render(
        request, "care/routing/_replies.html", {"replies": found, "conversation": conversation}
    )


def _back(request: HttpRequest, conversation_id: int, *, error: str = "") -> HttpResponse:
    """htmx: the routing side card again (with the error); otherwise back to the page."""
    if request.headers.get("HX-Request"):
        membership = _membership(request)
        conversation = access_conversation(membership, conversation_id)
        from relais.care.templatetags.routing import side_context

        context = side_context(membership, conversation)
        context["error"] = error
        return _fragment(request, "care/profile/_side.html", context, error=bool(error))
    if error:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    return redirect("inbox:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def lock_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    profile.conversation_lock(
        conversation=conversation, membership=membership, reason=request.POST.get("reason", "")
    )
    return _back(request, conversation_id)


@login_required
@require_POST
def unlock_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    profile.conversation_unlock(conversation=conversation, membership=membership)
    return _back(request, conversation_id)


@login_required
@require_POST
def flags_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    try:
        profile.profile_set_flags(
            contact=conversation.contact,
            membership=membership,
            flags=request.POST.getlist("flags"),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        return _back(request, conversation_id, error=" ".join(exc.messages))
    return _back(request, conversation_id)


def _parse_local(value: str, zone: str) -> datetime | None:
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(zone))
    return local


@login_required
@require_POST
def operator_reports_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    zone = conversation.organization.timezone
    line = request.POST.get("line", "")
    at = _parse_local(request.POST.get("at", ""), zone)
    context = {"conversation": conversation, "line": line, "at": at, "zone": zone}
    if at is None:
        context["error"] = _("Give the time as YYYY-MM-DD HH:MM.")
        return _fragment(request, "care/profile/_operator.html", context, error=True)
    try:
        context["reports"] = operator.operator_reports_lookup(
            conversation=conversation, membership=membership, line=line, at=at
        )
    except (ValidationError, operator.OperatorError) as exc:
        context["error"] = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _fragment(request, "care/profile/_operator.html", context, error=True)
    return render(request, "care/profile/_operator.html", context)


@login_required
@require_POST
def customer_lookup_view(request: HttpRequest, conversation_id: int) -> HttpResponse:
    membership = _membership(request)
    conversation = access_conversation(membership, conversation_id)
    context: dict = {"conversation": conversation}
    try:
        context["lookup"] = operator.customer_lookup(
            conversation=conversation,
            membership=membership,
            reference=request.POST.get("reference", ""),
        )
    except (ValidationError, operator.OperatorError) as exc:
        context["error"] = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _fragment(request, "care/profile/_customer.html", context, error=True)
    return render(request, "care/profile/_customer.html", context)
