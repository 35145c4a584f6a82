"""The one-click alert: an approved phrase filled in from the incident, fitted to each
network's length, published everywhere with one button.

`alert_values` says what each {variable} becomes, `alert_preview` what each channel would
get (full text, short variant, or nothing and why), `alert_publish` does it: opens the
incident if there is none yet, creates the publication and starts the fan-out, in one
transaction. The button's time is the publication's requested_at."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, Organization
from relais.channels.models import ChannelAccount
from relais.channels.registry import connector_for
from relais.common.timeutils import in_zone, now
from relais.incidents.models import Incident, IncidentStatus, IncidentType, Severity
from relais.publishing.actions import publication_create, publication_start, publishing_accounts
from relais.publishing.models import (
    Publication,
    PublicationCategory,
    PublicationKind,
)
from relais.transit.models import Route
from relais.wording.models import Template, TemplateCategory
from relais.wording.rendering import MissingVariables, render, variables


def incident_public_url(incident: Incident) -> str:
    path = reverse(
        "public:incident", kwargs={"org": incident.organization.slug, "incident_id": incident.pk}
    )
    return settings.RELAIS_BASE_URL.rstrip("/") + path


def _lines_text(routes: Iterable[Route]) -> str:
    return ", ".join(r.short_name or r.long_name or r.gtfs_id for r in routes)


def alert_values(
    *,
    organization: Organization,
    incident: Incident | None = None,
    incident_type: str = "",
    lines: Iterable[Route] = (),
    language: str = "",
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """What each variable becomes. From the incident when there is one, else from the
    choices on the page; anything typed on the page wins. Missing ones stay absent, so
    that rendering names them."""
    language = language or organization.language
    values: dict[str, str] = {
        "network": organization.name,
        "date": in_zone(now(), organization.timezone).strftime("%d/%m/%Y"),
    }
    with translation.override(language):
        if incident is not None:
            lines_text = _("all lines") if incident.all_lines else _lines_text(incident.lines.all())
            values.update(
                line=lines_text,
                stop=", ".join(s.name for s in incident.stops.all()),
                place=", ".join(incident.places),
                cause=incident.cause,
                type=str(incident.get_type_display()),
                start=in_zone(incident.started_at, organization.timezone).strftime("%H:%M"),
                eta=in_zone(incident.expected_end_at, organization.timezone).strftime("%H:%M")
                if incident.expected_end_at
                else "",
                incident_url=incident_public_url(incident),
            )
        else:
            values.update(
                line=_lines_text(lines),
                type=str(IncidentType(incident_type).label) if incident_type else "",
                start=in_zone(now(), organization.timezone).strftime("%H:%M"),
                # Known once the incident exists: opened by the button itself.
                incident_url=settings.RELAIS_BASE_URL.rstrip("/")
                + f"/o/{organization.slug}/alerts/…",
            )
    for name, value in (overrides or {}).items():
        if value and value.strip():
            values[name] = value.strip()
    return {k: v for k, v in values.items() if v}


@dataclass
class ChannelPreview:
    account: ChannelAccount
    text: str = ""
    length: int = 0
    limit: int = 0
    short: bool = False  # the short variant is used
    too_long: bool = False  # the full text does not fit
    sendable: bool = True
    reason: str = ""


@dataclass
class AlertPreview:
    template: Template
    text: str = ""
    short_text: str = ""
    missing: list[str] = field(default_factory=list)
    channels: list[ChannelPreview] = field(default_factory=list)

    @property
    def can_publish(self) -> bool:
        return not self.missing and any(c.sendable for c in self.channels)


def alert_preview(
    *,
    template: Template,
    values: dict[str, Any],
    accounts: Iterable[ChannelAccount],
    prefer_short: Iterable[int] = (),
) -> AlertPreview:
    """Per channel: the text it would get and whether it fits. Too long → the short variant
    when the template has one (said so), else that channel is left out with the reason."""
    preview = AlertPreview(template=template)
    missing = [
        v
        for v in variables(template.text) + variables(template.short_text)
        if not str(values.get(v) or "").strip()
    ]
    preview.missing = list(dict.fromkeys(missing))
    try:
        preview.text = render(template.text, values)
    except MissingVariables:
        preview.text = template.text
    if template.short_text:
        try:
            preview.short_text = render(template.short_text, values)
        except MissingVariables:
            preview.short_text = template.short_text
    prefer = set(prefer_short)
    for account in accounts:
        connector = connector_for(account)
        limit = connector.effective_limits().message_length
        channel = ChannelPreview(account=account, limit=limit)
        full_length = connector.text_length(preview.text)
        channel.too_long = full_length > limit
        use_short = bool(preview.short_text) and (channel.too_long or account.pk in prefer)
        channel.short = use_short
        channel.text = preview.short_text if use_short else preview.text
        channel.length = connector.text_length(channel.text)
        if channel.length > limit:
            channel.sendable = False
            channel.reason = (
                _("Too long for %(network)s (%(length)d / %(limit)d), the short variant too.")
                if use_short
                else _("Too long for %(network)s (%(length)d / %(limit)d) and no short variant.")
            ) % {"network": account.get_network_display(), "length": channel.length, "limit": limit}
        elif channel.too_long:
            channel.reason = _(
                "The full text is too long for %(network)s (%(length)d / %(limit)d): the short "
                "variant goes out."
            ) % {"network": account.get_network_display(), "length": full_length, "limit": limit}
        preview.channels.append(channel)
    return preview


KIND_CATEGORY = {
    TemplateCategory.TRAFFIC: PublicationCategory.TRAFFIC,
    TemplateCategory.CRISIS: PublicationCategory.TRAFFIC,
    TemplateCategory.INSTITUTIONAL: PublicationCategory.INSTITUTIONAL,
    TemplateCategory.PROMOTION: PublicationCategory.PROMOTION,
    TemplateCategory.REPLY: PublicationCategory.CONVERSATION,
}


def alert_publish(
    *,
    membership: Membership,
    template: Template,
    kind: PublicationKind = PublicationKind.ALERT,
    incident: Incident | None = None,
    incident_type: str = "",
    lines: Iterable[Route] = (),
    severity: str = Severity.HIGH,
    overrides: dict[str, str] | None = None,
    account_ids: Iterable[int] | None = None,
    prefer_short: Iterable[int] = (),
    request_key: str = "",
) -> Publication:
    """The button. Opens the incident when none is chosen (type and lines from the page),
    fills the template, creates the publication and starts it. The same request_key twice
    (a double tap) returns the first publication."""
    from relais.incidents.actions import incident_open, incident_set_status

    if request_key:
        existing = Publication.objects.filter(
            organization_id=membership.organization_id, request_key=request_key
        ).first()
        if existing is not None:
            return existing
    requested_at = now()
    lines = list(lines)
    try:
        with transaction.atomic():
            if incident is None:
                if incident_type not in IncidentType.values:
                    raise ValidationError(_("Choose the incident type."))
                with translation.override(template.language):
                    title = str(IncidentType(incident_type).label)
                    if lines:
                        title += " — " + _lines_text(lines)
                incident = incident_open(
                    membership=membership,
                    title=title,
                    type=incident_type,
                    severity=severity,
                    lines=lines,
                    cause=(overrides or {}).get("cause", ""),
                )
            values = alert_values(
                organization=membership.organization,
                incident=incident,
                language=template.language,
                overrides=overrides,
            )
            accounts = publishing_accounts(organization_id=membership.organization_id)
            if account_ids is not None:
                wanted = set(account_ids)
                accounts = [a for a in accounts if a.pk in wanted]
            preview = alert_preview(
                template=template, values=values, accounts=accounts, prefer_short=prefer_short
            )
            if preview.missing:
                raise MissingVariables(preview.missing)
            sendable = [c for c in preview.channels if c.sendable]
            if not sendable:
                raise ValidationError(_("No channel can take this text."))
            publication = publication_create(
                membership=membership,
                kind=kind,
                category=KIND_CATEGORY.get(
                    TemplateCategory(template.category), PublicationCategory.TRAFFIC
                ),
                text=preview.text,
                language=template.language,
                incident=incident,
                template=template,
                lines=incident.lines.all(),
                stops=incident.stops.all(),
                places=incident.places,
                request_key=request_key,
                target_texts={c.account.pk: c.text for c in sendable},
            )
            Publication.objects.filter(pk=publication.pk).update(requested_at=requested_at)
            publication.requested_at = requested_at
            publication = publication_start(
                publication=publication,
                membership=membership,
                accounts=[c.account for c in sendable],
            )
            if kind == PublicationKind.CLOSING and incident.status != IncidentStatus.RESOLVED:
                incident_set_status(
                    incident=incident, membership=membership, status=IncidentStatus.RESOLVED
                )
    except IntegrityError:
        # The same request_key raced in from a second tap: the first one won.
        if not request_key:
            raise
        return Publication.objects.get(
            organization_id=membership.organization_id, request_key=request_key
        )
    return publication
