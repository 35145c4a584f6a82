"""Listening: crisis mode (monitors, buckets and alerts are added here by the listening part)."""

from django.conf import settings
from django.db import models

from relais.accounts.models import Organization


class CrisisMode(models.Model):
    """One switch per organisation: a banner for everyone, crisis templates first,
    promotional publications held. Every switch is audited."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="crisis_mode"
    )
    active = models.BooleanField(default=False)
    since = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    switched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return f"crisis mode {'on' if self.active else 'off'} for {self.organization_id}"
