"""Writes of templates: draft, edit (an approved template gets a new draft version), approve
(supervisors and admins), retire. Each in a transaction, with its audit entry."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils.text import slugify
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, Role, audit
from relais.accounts.permissions import require_role
from relais.common.timeutils import now
from relais.wording.models import Template, TemplateCategory, TemplateState
from relais.wording.rendering import variables

# Who writes drafts, and who approves them (a pre-approved phrase is a commitment).
EDIT_ROLES = {Role.ADMIN, Role.SUPERVISOR, Role.AGENT}
APPROVE_ROLES = {Role.ADMIN, Role.SUPERVISOR}

# The variables Relais knows how to fill (see relais.wording.values); a template using any
# other would block its users at the worst moment, so it is refused when written.
KNOWN_VARIABLES = {
    "line": "the line(s) concerned: C4, 12",
    "stop": "the stop(s) concerned",
    "place": "the place(s) concerned",
    "cause": "the cause as stated on the incident",
    "eta": "the expected end (time, the organisation's zone)",
    "start": "when it started (time)",
    "date": "today's date",
    "incident_url": "the public page of the incident",
    "type": "the incident type, in words",
    "name": "the name of the person answered (replies)",
    "author": "the name of the person answered (replies; same as {name})",
    "author_name": "the name of the person answered (replies; same as {name})",
    "handle": "the @handle of the person answered (replies)",
    "lines": "every line of the conversation (replies)",
    "incident": "the title of the active incident on the conversation's lines (replies)",
    "network": "the organisation's name",
}

FIELDS = (
    "name",
    "shortcut",
    "category",
    "language",
    "text",
    "short_text",
    "incident_types",
    "intents",
    "review_at",
    "owner",
)


def _validate(values: dict[str, Any]) -> None:
    from relais.incidents.models import IncidentType

    for name in ("name", "text"):
        if name in values:
            values[name] = (values[name] or "").replace("\r\n", "\n").strip()
            if not values[name]:
                raise ValidationError(_("The %(field)s is empty.") % {"field": name})
    if "short_text" in values:
        values["short_text"] = (values["short_text"] or "").replace("\r\n", "\n").strip()
    if "category" in values and values["category"] not in TemplateCategory.values:
        raise ValidationError(_("Unknown category."))
    if "language" in values:
        values["language"] = (values["language"] or "").strip().lower()[:8]
        if not values["language"].isalpha():
            raise ValidationError(_("The language is a code such as fr or en."))
    if "incident_types" in values:
        bad = [t for t in values["incident_types"] or [] if t not in IncidentType.values]
        if bad:
            raise ValidationError(_("Unknown incident type: %(type)s.") % {"type": bad[0]})
    for name in ("text", "short_text"):
        unknown = [v for v in variables(values.get(name) or "") if v not in KNOWN_VARIABLES]
        if unknown:
            raise ValidationError(
                _("Unknown variable %(names)s; known: %(known)s.")
                % {
                    "names": ", ".join("{" + v + "}" for v in unknown),
                    "known": ", ".join("{" + v + "}" for v in KNOWN_VARIABLES),
                }
            )
    review = values.get("review_at")
    if review is not None and not isinstance(review, date):
        raise ValidationError(_("The review date is not a date."))


def _unique_key(organization_id: int, name: str) -> str:
    base = slugify(name)[:70] or "template"
    key, n = base, 2
    while Template.objects.filter(organization_id=organization_id, key=key).exists():
        key, n = f"{base}-{n}", n + 1
    return key


@transaction.atomic
def template_create(*, membership: Membership, key: str = "", **values: Any) -> Template:
    """A new draft. Giving the `key` of an existing template adds that template in another
    language (same family, its own versions)."""
    require_role(membership, EDIT_ROLES)
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    values.setdefault("language", membership.organization.language)
    _validate(values)
    if key:
        key = slugify(key)[:80]
        if Template.objects.filter(
            organization_id=membership.organization_id, key=key, language=values["language"]
        ).exists():
            raise ValidationError(_("This template already exists in this language."))
    else:
        key = _unique_key(membership.organization_id, values["name"])
    values.setdefault("owner", membership.user)
    template = Template.objects.create(
        organization_id=membership.organization_id,
        key=key,
        version=1,
        state=TemplateState.DRAFT,
        **values,
    )
    audit(
        organization_id=template.organization_id,
        actor_id=membership.user_id,
        action="template.create",
        obj=template,
        text=template.name,
    )
    return template


@transaction.atomic
def template_update(*, template: Template, membership: Membership, **changes: Any) -> Template:
    """A draft is edited in place. An approved template stays in force and gets a new draft
    version (which needs approval again); an existing draft of that family is reused."""
    require_role(membership, EDIT_ROLES)
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}")
    if "language" in changes and changes["language"] != template.language:
        raise ValidationError(_("Add a translation rather than change the language."))
    _validate(changes)
    if template.state == TemplateState.RETIRED:
        raise ValidationError(_("A retired template cannot be edited."))
    target = template
    if template.state == TemplateState.APPROVED:
        draft = Template.objects.filter(
            organization_id=template.organization_id,
            key=template.key,
            language=template.language,
            state=TemplateState.DRAFT,
            version__gt=template.version,
        ).first()
        if draft is None:
            latest = Template.objects.filter(
                organization_id=template.organization_id,
                key=template.key,
                language=template.language,
            ).aggregate(v=Max("version"))["v"]
            draft = Template.objects.create(
                organization_id=template.organization_id,
                key=template.key,
                version=(latest or 0) + 1,
                previous=template,
                state=TemplateState.DRAFT,
                **{f: getattr(template, f) for f in FIELDS},
            )
        target = draft
    changed = {}
    for name, value in changes.items():
        if getattr(target, name) != value:
            changed[name] = str(value)[:200]
            setattr(target, name, value)
    target.save()
    audit(
        organization_id=target.organization_id,
        actor_id=membership.user_id,
        action="template.update",
        obj=target,
        data={"changed": sorted(changed), "from_version": template.version},
    )
    return target


@transaction.atomic
def template_approve(*, template: Template, membership: Membership) -> Template:
    """Approve a draft: it becomes the version in force; the one it replaces is retired."""
    require_role(membership, APPROVE_ROLES)
    locked = Template.objects.select_for_update().get(pk=template.pk)
    if locked.state != TemplateState.DRAFT:
        raise ValidationError(_("Only a draft can be approved."))
    Template.objects.filter(
        organization_id=locked.organization_id,
        key=locked.key,
        language=locked.language,
        state=TemplateState.APPROVED,
    ).update(state=TemplateState.RETIRED)
    locked.state = TemplateState.APPROVED
    locked.approved_by = membership.user
    locked.approved_at = now()
    locked.save(update_fields=["state", "approved_by", "approved_at", "updated_at"])
    audit(
        organization_id=locked.organization_id,
        actor_id=membership.user_id,
        action="template.approve",
        obj=locked,
        text=f"{locked.name} v{locked.version}",
    )
    return locked


@transaction.atomic
def template_retire(*, template: Template, membership: Membership) -> Template:
    require_role(membership, APPROVE_ROLES)
    if template.state == TemplateState.RETIRED:
        return template
    template.state = TemplateState.RETIRED
    template.save(update_fields=["state", "updated_at"])
    audit(
        organization_id=template.organization_id,
        actor_id=membership.user_id,
        action="template.retire",
        obj=template,
    )
    return template
