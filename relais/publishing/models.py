"""Publications (an alert, its updates and "back to normal", a scheduled post) and their
per-channel targets, each sent through one channels.Delivery."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization
from relais.channels.models import ChannelAccount, Delivery


class PublicationKind(models.TextChoices):
    ALERT = "alert", _("Alert")
    UPDATE = "update", _("Update")
    CLOSING = "closing", _("Back to normal")
    POST = "post", _("Post")


class PublicationCategory(models.TextChoices):
    TRAFFIC = "traffic", _("Traffic information")
    CONVERSATION = "conversation", _("Conversation")
    PROMOTION = "promotion", _("Promotion")
    INSTITUTIONAL = "institutional", _("Institutional")


class PublicationState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    SCHEDULED = "scheduled", _("Scheduled")
    HELD = "held", _("Held")  # by the conflict guard: see held_reason
    PUBLISHING = "publishing", _("Publishing")
    PUBLISHED = "published", _("Published")  # every target sent
    PARTIAL = "partial", _("Partly failed")  # some targets failed for good
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Publication(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="publications"
    )
    kind = models.CharField(max_length=10, choices=PublicationKind.choices)
    category = models.CharField(max_length=16, choices=PublicationCategory.choices)
    state = models.CharField(
        max_length=20, choices=PublicationState.choices, default=PublicationState.DRAFT
    )
    text = models.TextField()
    language = models.CharField(max_length=8, default="fr")
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="publications",
    )
    # Updates and the closing message are threaded under the first alert.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    template = models.ForeignKey(
        "wording.Template", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lines = models.ManyToManyField("transit.Route", blank=True, related_name="publications")
    stops = models.ManyToManyField("transit.Stop", blank=True, related_name="publications")
    places = models.JSONField(default=list, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    held_reason = models.TextField(blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # The button press and the last channel's acceptance: the alert's time to publish.
    requested_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves the calendar: one organisation's publications by planned time.
            models.Index(fields=["organization", "scheduled_at"], name="publication_org_sched"),
            # Serves the scheduler's sweep: scheduled publications that are due.
            models.Index(fields=["state", "scheduled_at"], name="publication_state_sched"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class PublicationTarget(models.Model):
    """One publication on one channel account: the text as fitted to that network, and the
    delivery that carries it (idempotency key, retries, state)."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="targets")
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    delivery = models.OneToOneField(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="target"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["publication", "account"], name="target_unique")
        ]

    def __str__(self) -> str:
        return f"{self.publication_id} → {self.account_id}"
