"""Labels: an agent's correction of a triage field, kept to learn from."""

from django.conf import settings
from django.db import models

from relais.accounts.models import Organization


class TriageLabel(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="triage_labels"
    )
    message = models.ForeignKey(
        "inbox.Message", on_delete=models.CASCADE, related_name="triage_labels"
    )
    field = models.CharField(max_length=16)  # intent, sentiment, urgency
    value = models.CharField(max_length=20)
    previous = models.CharField(max_length=20, blank=True)  # what triage had said
    text = models.TextField()  # the message's text at labelling time: training needs no join
    lang = models.CharField(max_length=8, blank=True)
    labelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves training: one organisation's labels of one field.
            models.Index(fields=["organization", "field"], name="label_org_field"),
        ]

    def __str__(self) -> str:
        return f"{self.field}={self.value} on message {self.message_id}"
