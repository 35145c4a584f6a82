"""Incidents: one ticket per disruption, with what it affects, its timeline and its links."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team


class IncidentType(models.TextChoices):
    STRIKE = "strike", _("Strike")
    DISRUPTION = "disruption", _("Disruption")
    ACCIDENT = "accident", _("Accident")
    PASSENGER_ILL = "passenger_ill", _("Passenger taken ill")
    SECURITY = "security", _("Security / unattended bag")
    WEATHER = "weather", _("Weather")
    WORKS = "works", _("Works")
    TECHNICAL = "technical", _("Technical fault")
    OTHER = "other", _("Other")


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("Open")
    MONITORING = "monitoring", _("Monitoring")
    RESOLVED = "resolved", _("Resolved")


ACTIVE_STATUSES = (IncidentStatus.OPEN, IncidentStatus.MONITORING)


class Incident(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="incidents"
    )
    title = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=IncidentType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(
        max_length=12, choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    cause = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    lines = models.ManyToManyField("transit.Route", blank=True, related_name="incidents")
    stops = models.ManyToManyField("transit.Stop", blank=True, related_name="incidents")
    all_lines = models.BooleanField(default=False)  # a network-wide strike
    places = models.JSONField(default=list, blank=True)  # free-text places and addresses
    started_at = models.DateTimeField()
    expected_end_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_incidents",
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    # The operator's own reports: [{"report_id", "vehicle", "cause", "at"}].
    operator_refs = models.JSONField(default=list, blank=True)
    # Set when the operator's operations system opened it through the API.
    external_id = models.CharField(max_length=200, blank=True)
    conversations = models.ManyToManyField(
        "inbox.Conversation", blank=True, related_name="incidents"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Serves the active-incidents look-ups (conflict guard, feed, suggestions).
            models.Index(fields=["organization", "status"], name="incident_org_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~models.Q(external_id=""),
                name="incident_unique_external",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class TimelineKind(models.TextChoices):
    OPENED = "opened", _("Opened")
    STATUS = "status", _("Status changed")
    UPDATED = "updated", _("Details changed")
    PUBLICATION = "publication", _("Publication")
    CONVERSATION = "conversation", _("Conversation linked")
    ACTION = "action", _("Action taken")
    OPERATOR_REPORT = "operator_report", _("Operator report")


class TimelineEntry(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=16, choices=TimelineKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        # Serves the incident page: its timeline in order.
        indexes = [models.Index(fields=["incident", "created_at"], name="timeline_incident_time")]

    def __str__(self) -> str:
        return f"{self.kind} on #{self.incident_id}"
