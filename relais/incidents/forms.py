"""Forms of the incident pages: validate and convert input (times in the organisation's zone)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from relais.accounts.models import Organization, Team
from relais.incidents.models import IncidentType, Severity
from relais.transit.models import Route, Stop

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalDateTimeField(forms.CharField):
    """A datetime-local input read in the organisation's zone, returned as aware UTC."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT)

    def __init__(self, *args, zone: str = "UTC", **kwargs):
        self.zone = zone
        super().__init__(*args, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, datetime):
            return value.astimezone(ZoneInfo(self.zone)).strftime(LOCAL_FORMAT)
        return value

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            local = datetime.strptime(value[:16], LOCAL_FORMAT)  # noqa: DTZ007 - zone set below
        except ValueError:
            raise forms.ValidationError(_("Enter a date and time.")) from None
        return local.replace(tzinfo=ZoneInfo(self.zone))


class IncidentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    type = forms.ChoiceField(label=_("Type"), choices=IncidentType.choices)
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial="medium")
    lines = forms.ModelMultipleChoiceField(
        label=pgettext_lazy("incidents", "Lines"),
        queryset=Route.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    all_lines = forms.BooleanField(label=_("All lines (network-wide)"), required=False)
    stops = forms.CharField(
        label=_("Stops"),
        required=False,
        help_text=_("Names or codes, separated by commas."),
    )
    places = forms.CharField(label=_("Places"), required=False, help_text=_("Separated by commas."))
    cause = forms.CharField(label=_("Cause"), max_length=300, required=False)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=get_user_model().objects.none(), required=False
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        fields: dict = self.fields
        fields["lines"].queryset = Route.objects.filter(organization=organization)
        fields["owner"].queryset = (
            get_user_model()
            .objects.filter(memberships__organization=organization)
            .order_by("username")
        )
        fields["team"].queryset = Team.objects.filter(organization=organization)
        self.fields["started_at"] = LocalDateTimeField(
            label=_("Started at"), required=False, zone=organization.timezone
        )
        self.fields["expected_end_at"] = LocalDateTimeField(
            label=_("Expected end"), required=False, zone=organization.timezone
        )

    def clean_stops(self) -> list[Stop]:
        names = [n.strip() for n in self.cleaned_data.get("stops", "").split(",") if n.strip()]
        found: list[Stop] = []
        unknown = []
        for name in names[:50]:
            stop = (
                Stop.objects.filter(organization=self.organization, code__iexact=name).first()
                or Stop.objects.filter(organization=self.organization, name__iexact=name).first()
            )
            if stop is None:
                unknown.append(name)
            elif stop not in found:
                found.append(stop)
        if unknown:
            raise forms.ValidationError(
                _("Unknown stop: %(names)s.") % {"names": ", ".join(unknown)}
            )
        return found

    def clean_places(self) -> list[str]:
        return [p.strip() for p in self.cleaned_data.get("places", "").split(",") if p.strip()]

    def clean(self):
        data = super().clean()
        start, end = data.get("started_at"), data.get("expected_end_at")
        if start and end and end < start:
            self.add_error("expected_end_at", _("The expected end is before the start."))
        return data

    @staticmethod
    def initial_from(incident) -> dict:
        return {
            "title": incident.title,
            "type": incident.type,
            "severity": incident.severity,
            "lines": list(incident.lines.all()),
            "all_lines": incident.all_lines,
            "stops": ", ".join(s.name for s in incident.stops.all()),
            "places": ", ".join(incident.places),
            "cause": incident.cause,
            "description": incident.description,
            "owner": incident.owner,
            "team": incident.team,
            "started_at": incident.started_at,
            "expected_end_at": incident.expected_end_at,
        }


class OperatorReportForm(forms.Form):
    report_id = forms.CharField(label=_("Report id"), max_length=200, required=False)
    vehicle = forms.CharField(label=_("Vehicle"), max_length=200, required=False)
    cause = forms.CharField(label=_("Cause"), max_length=200, required=False)

    def clean(self):
        data = super().clean()
        if not (data.get("report_id") or data.get("vehicle")):
            raise forms.ValidationError(_("An operator report needs a report id or a vehicle."))
        return data
