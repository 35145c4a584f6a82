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


class TriageModel(models.Model):
    """A classifier an organisation trained on its agents' labels, for one field. The newest
    active one is used; a candidate becomes active only if it beat the current method on
    labels it had not seen."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="triage_models"
    )
    field = models.CharField(max_length=16)
    active = models.BooleanField(default=False)
    labels = models.PositiveIntegerField()  # agent labels used (train + held out)
    held_out = models.PositiveIntegerField()
    score = models.FloatField()  # accuracy of this model on the held-out labels
    baseline_score = models.FloatField()  # the method in use before, on the same labels
    baseline = models.CharField(max_length=40)  # "rules" or "model #12"
    # A scikit-learn pipeline, pickled. Written and read only by Relais itself.
    blob = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves loading: the active model of an organisation's field.
            models.Index(fields=["organization", "field", "active"], name="triagemodel_active"),
        ]

    def __str__(self) -> str:
        return f"{self.field} model #{self.pk} ({self.score:.3f} vs {self.baseline} {self.baseline_score:.3f})"
