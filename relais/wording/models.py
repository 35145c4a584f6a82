"""Templates: pre-approved texts with {variables}, per language, with a short variant, versioned."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization


class TemplateCategory(models.TextChoices):
    TRAFFIC = "traffic", _("Traffic information")
    REPLY = "reply", _("Reply")
    CRISIS = "crisis", _("Crisis")
    PROMOTION = "promotion", _("Promotion")
    INSTITUTIONAL = "institutional", _("Institutional")


class TemplateState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    RETIRED = "retired", _("Retired")


class Template(models.Model):
    """One version of one template. Editing an approved template creates the next version
    (state draft, `previous` pointing at the approved one) which needs approval again; the
    family of versions shares `key`."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="templates"
    )
    key = models.SlugField(max_length=80)  # the same for every version and language
    version = models.PositiveIntegerField(default=1)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_versions"
    )
    name = models.CharField(max_length=200)
    shortcut = models.CharField(max_length=40, blank=True)  # typed in the composer: "/greve"
    category = models.CharField(max_length=16, choices=TemplateCategory.choices)
    language = models.CharField(max_length=8, default="fr")
    text = models.TextField()
    # For networks whose length limit the full text exceeds (SMS, X): same variables.
    short_text = models.TextField(blank=True)
    state = models.CharField(max_length=10, choices=TemplateState.choices, default="draft")
    # Where it is suggested: incident types (incidents.IncidentType values), triage intents.
    incident_types = models.JSONField(default=list, blank=True)
    intents = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_templates",
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_templates",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    review_at = models.DateField(null=True, blank=True)  # to be reviewed by this day
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key", "language", "version"],
                name="template_unique_version",
            )
        ]
        indexes = [
            # Serves the composer's and the alert page's lists: approved templates by category.
            models.Index(
                fields=["organization", "state", "category"], name="template_org_state_cat"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.language})"
