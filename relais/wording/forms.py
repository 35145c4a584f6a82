"""The template form: text, short variant, category, language, incident types, review date."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from relais.incidents.models import IncidentType
from relais.wording.models import TemplateCategory


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=TemplateCategory.choices)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    text = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 5}))
    short_text = forms.CharField(
        label=_("Short variant"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("For networks whose limit the full text exceeds (SMS, X)."),
    )
    shortcut = forms.CharField(label=_("Shortcut"), max_length=40, required=False)
    incident_types = forms.MultipleChoiceField(
        label=_("Suggested for incidents of type"),
        choices=IncidentType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    review_at = forms.DateField(
        label=_("Review by"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=get_user_model().objects.none(), required=False
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(memberships__organization=organization)
            .order_by("username")
        )

    @staticmethod
    def initial_from(template) -> dict:
        return {
            "name": template.name,
            "category": template.category,
            "language": template.language,
            "text": template.text,
            "short_text": template.short_text,
            "shortcut": template.shortcut,
            "incident_types": template.incident_types,
            "review_at": template.review_at,
            "owner": template.owner,
        }
