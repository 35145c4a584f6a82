"""Template pages: list (with those due for review), create, edit, approve, retire."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.timezone import localdate
from django.views.decorators.http import require_POST

from relais.accounts.models import Membership
from relais.accounts.permissions import access_template, current_membership
from relais.wording import actions, selectors
from relais.wording.forms import TemplateForm
from relais.wording.models import TemplateCategory, TemplateState
from relais.wording.rendering import variables


def _membership(request: HttpRequest) -> Membership:
    membership = current_membership(request)
    if membership is None:
        raise PermissionDenied("You are not a member of any organisation.")
    return membership


def _today(membership: Membership):
    from zoneinfo import ZoneInfo

    return localdate(timezone=ZoneInfo(membership.organization.timezone))


@login_required
def template_list_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    g = request.GET
    templates = selectors.template_list(
        organization_id=membership.organization_id,
        state=g.get("state", ""),
        category=g.get("category", ""),
        language=g.get("language", "")[:8],
        q=g.get("q", "").strip()[:100],
    )
    return render(
        request,
        "wording/list.html",
        {
            "templates": templates[:500],
            "due": selectors.templates_due_review(
                organization_id=membership.organization_id, today=_today(membership)
            ),
            "filters": g,
            "states": TemplateState.choices,
            "categories": TemplateCategory.choices,
            "can_edit": membership.role in actions.EDIT_ROLES,
        },
    )


def _form_values(form: TemplateForm) -> dict:
    return {k: v for k, v in form.cleaned_data.items() if k in actions.FIELDS}


@login_required
def template_new_view(request: HttpRequest) -> HttpResponse:
    membership = _membership(request)
    actions.require_role(membership, actions.EDIT_ROLES)
    source = None
    if request.GET.get("translate") or request.POST.get("translate"):
        source = access_template(
            membership, int(request.GET.get("translate") or request.POST["translate"])
        )
    if request.method == "POST":
        form = TemplateForm(request.POST, organization=membership.organization)
        if form.is_valid():
            try:
                template = actions.template_create(
                    membership=membership, key=source.key if source else "", **_form_values(form)
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return redirect("wording:detail", template_id=template.pk)
    else:
        initial = (
            TemplateForm.initial_from(source)
            if source
            else {"language": membership.organization.language}
        )
        if source:
            initial["language"] = "en" if source.language != "en" else "fr"
        form = TemplateForm(organization=membership.organization, initial=initial)
    return render(
        request,
        "wording/form.html",
        {"form": form, "template": None, "source": source, "known": actions.KNOWN_VARIABLES},
    )


@login_required
def template_detail_view(request: HttpRequest, template_id: int) -> HttpResponse:
    membership = _membership(request)
    template = access_template(membership, template_id)
    return render(
        request,
        "wording/detail.html",
        {
            "template": template,
            "variables": variables(template.text + "\n" + template.short_text),
            "versions": selectors.template_versions(template=template),
            "translations": selectors.template_translations(template=template),
            "can_edit": membership.role in actions.EDIT_ROLES
            and template.state != TemplateState.RETIRED,
            "can_approve": membership.role in actions.APPROVE_ROLES,
            "due": template.review_at is not None and template.review_at <= _today(membership),
        },
    )


@login_required
def template_edit_view(request: HttpRequest, template_id: int) -> HttpResponse:
    membership = _membership(request)
    actions.require_role(membership, actions.EDIT_ROLES)
    template = access_template(membership, template_id)
    initial = TemplateForm.initial_from(template)
    form = TemplateForm(
        request.POST if request.method == "POST" else None,
        organization=membership.organization,
        initial=initial,
    )
    form.fields["language"].disabled = True  # a translation is a new template of the family
    if request.method == "POST" and form.is_valid():
        values = _form_values(form)
        values.pop("language", None)
        try:
            saved = actions.template_update(template=template, membership=membership, **values)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("wording:detail", template_id=saved.pk)
    return render(
        request,
        "wording/form.html",
        {"form": form, "template": template, "known": actions.KNOWN_VARIABLES},
    )


@login_required
@require_POST
def template_approve_view(request: HttpRequest, template_id: int) -> HttpResponse:
    membership = _membership(request)
    template = access_template(membership, template_id)
    try:
        actions.template_approve(template=template, membership=membership)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    return redirect("wording:detail", template_id=template.pk)


@login_required
@require_POST
def template_retire_view(request: HttpRequest, template_id: int) -> HttpResponse:
    membership = _membership(request)
    template = access_template(membership, template_id)
    actions.template_retire(template=template, membership=membership)
    return redirect("wording:detail", template_id=template.pk)
