"""Reads of templates: lists, the version in force, the ones due for review, alert phrases."""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from relais.wording.models import Template, TemplateCategory, TemplateState


def template_list(
    *,
    organization_id: int,
    state: str = "",
    category: str = "",
    language: str = "",
    q: str = "",
) -> QuerySet[Template]:
    """Without a state: the versions in force and the drafts (retired ones on request)."""
    qs = Template.objects.filter(organization_id=organization_id)
    if state in TemplateState.values:
        qs = qs.filter(state=state)
    elif state != "all":
        qs = qs.exclude(state=TemplateState.RETIRED)
    if category in TemplateCategory.values:
        qs = qs.filter(category=category)
    if language:
        qs = qs.filter(language=language)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(text__icontains=q) | Q(shortcut__icontains=q))
    return qs.select_related("owner", "approved_by").order_by(
        "category", "name", "language", "-version"
    )


def template_versions(*, template: Template) -> QuerySet[Template]:
    return Template.objects.filter(
        organization_id=template.organization_id, key=template.key, language=template.language
    ).order_by("-version")


def template_translations(*, template: Template) -> QuerySet[Template]:
    return (
        Template.objects.filter(organization_id=template.organization_id, key=template.key)
        .exclude(language=template.language)
        .exclude(state=TemplateState.RETIRED)
        .order_by("language", "-version")
    )


def templates_due_review(*, organization_id: int, today: date) -> QuerySet[Template]:
    """Approved templates whose review date has passed: wording goes stale (a phone number,
    a procedure) and must be looked at again."""
    return Template.objects.filter(
        organization_id=organization_id, state=TemplateState.APPROVED, review_at__lte=today
    ).order_by("review_at", "name")


ALERT_CATEGORIES = (TemplateCategory.TRAFFIC, TemplateCategory.CRISIS)


def alert_templates(*, organization_id: int, incident_type: str = "") -> list[Template]:
    """Approved traffic and crisis templates; those made for this incident type first."""
    approved = list(
        Template.objects.filter(
            organization_id=organization_id,
            state=TemplateState.APPROVED,
            category__in=ALERT_CATEGORIES,
        ).order_by("name", "language")
    )
    if not incident_type:
        return approved
    # incident_types is a JSON list: filtered here (SQLite has no JSON containment).
    return sorted(approved, key=lambda t: 0 if incident_type in (t.incident_types or []) else 1)


def template_in_language(*, template: Template, language: str) -> Template | None:
    """The approved version of the same template in another language, if any."""
    if template.language == language:
        return template
    return Template.objects.filter(
        organization_id=template.organization_id,
        key=template.key,
        language=language,
        state=TemplateState.APPROVED,
    ).first()
