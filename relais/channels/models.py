"""Accounts on networks, raw inbound events (the durable ingest log) and outbound deliveries."""

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team
from relais.common.crypto import EncryptedJSONField


class Network(models.TextChoices):
    X = "x", "X"
    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    BLUESKY = "bluesky", "Bluesky"
    MASTODON = "mastodon", "Mastodon"
    WHATSAPP = "whatsapp", "WhatsApp"
    MATRIX = "matrix", "Matrix"
    EMAIL = "email", _("E-mail")
    SMS = "sms", "SMS"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    ERROR = "error", _("Error")
    RECONNECT = "reconnect", _("Must be reconnected")
    DISABLED = "disabled", _("Disabled")


def _webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class ChannelAccount(models.Model):
    """An account of the organisation on a network, spoken through one connector kind."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="channel_accounts"
    )
    kind = models.CharField(max_length=32)  # the connector: sandbox, replay, x, meta ...
    network = models.CharField(
        max_length=32, choices=Network.choices
    )  # what it looks like to people
    handle = models.CharField(max_length=200)
    name = models.CharField(max_length=200)
    default_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    config = models.JSONField(default=dict, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    webhook_secret = models.CharField(max_length=64, default=_webhook_secret)
    status = models.CharField(
        max_length=16, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    last_error = models.TextField(blank=True)
    cursor = models.CharField(max_length=500, blank=True)  # where polling resumes
    poll_interval = models.PositiveIntegerField(default=60)  # seconds
    polled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "handle"], name="account_unique_handle"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_network_display()})"

    @property
    def is_listening_source(self) -> bool:
        """A listening source: its messages were not addressed to us (a keyword search
        stream, or a replay/sandbox account standing for one)."""
        return bool((self.config or {}).get("listening"))

    @property
    def search_queries(self) -> list[str]:
        """The keyword queries a listening source polls, in the network's own syntax
        (config "search": one string or a list)."""
        if not self.is_listening_source:
            return []
        value = (self.config or {}).get("search") or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [q.strip() for q in value if isinstance(q, str) and q.strip()]

    @property
    def message_length(self) -> int:
        from relais.channels.registry import connector_for

        return connector_for(self).effective_limits().message_length


class RawEventState(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class RawEvent(models.Model):
    """What a network handed us, stored before anything else: nothing acknowledged is lost."""

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="raw_events")
    external_id = models.CharField(max_length=200)
    payload = models.JSONField()
    state = models.CharField(
        max_length=16, choices=RawEventState.choices, default=RawEventState.PENDING
    )
    claimed_by = models.CharField(max_length=40, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The second deduplication: a concurrent duplicate loses on this constraint.
            models.UniqueConstraint(
                fields=["account", "external_id"], name="rawevent_unique_external"
            )
        ]
        indexes = [
            # Serves the pipeline's claim: the oldest pending events.
            models.Index(fields=["state", "id"], name="rawevent_state_id"),
        ]

    def __str__(self) -> str:
        return f"raw event {self.external_id} ({self.state})"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """One outbound message to one account, with its state and retry bookkeeping."""

    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="deliveries")
    idempotency_key = models.CharField(max_length=80, unique=True)
    payload = models.JSONField()  # an OutboundMessage.to_json()
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=6)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    external_url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Serves the retry sweep: pending deliveries that are due.
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} {self.state}"
