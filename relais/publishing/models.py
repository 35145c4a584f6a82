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
    # The one-click form's token: pressing the button twice makes one publication.
    request_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "request_key"],
                condition=~models.Q(request_key=""),
                name="publication_unique_request",
            )
        ]
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


# --- Subscribers (SMS and e-mail alerts of lines), the calendar's holds, neutrality -------


class SubscriberChannel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", _("E-mail")


class SubscriberState(models.TextChoices):
    PENDING = "pending", _("Awaiting confirmation")  # double opt-in not done yet
    CONFIRMED = "confirmed", _("Subscribed")
    UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")


class Subscriber(models.Model):
    """A person who receives the alerts of some lines by SMS or e-mail. The address is an
    E.164 number or a lower-cased e-mail address; one row per organisation and address."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="subscribers"
    )
    channel = models.CharField(max_length=8, choices=SubscriberChannel.choices)
    address = models.CharField(max_length=254)
    language = models.CharField(max_length=8, default="fr")
    state = models.CharField(
        max_length=16, choices=SubscriberState.choices, default=SubscriberState.PENDING
    )
    lines = models.ManyToManyField("transit.Route", blank=True, related_name="subscribers")
    # The lines asked for and not yet confirmed (a confirmed subscriber adding lines
    # confirms again, so that nobody changes someone else's subscription).
    pending_line_ids = models.JSONField(default=list, blank=True)
    # Double opt-in: the SHA-256 of the code sent by SMS; attempts bound brute force.
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    codes_sent = models.PositiveSmallIntegerField(default=0)  # in the current hour
    # The secret in the e-mail confirmation and unsubscribe links.
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "channel", "address"], name="subscriber_unique_address"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"


class SubscriberBroadcast(models.Model):
    """One publication sent to the subscribers of one channel: the text once, the messages
    (one per subscriber) beside it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="subscriber_broadcasts"
    )
    channel = models.CharField(max_length=8, choices=SubscriberChannel.choices)
    # The SMS account that carries it (None for e-mail).
    account = models.ForeignKey(
        ChannelAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    subject = models.CharField(max_length=200, blank=True)
    queued = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "channel"], name="subscriber_broadcast_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.publication_id} → {self.channel} subscribers"


class SubscriberMessageState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Handed to the gateway")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Not delivered")
    FAILED = "failed", _("Failed")


class SubscriberMessage(models.Model):
    """One subscriber's copy of a broadcast. Its idempotency key is (broadcast, subscriber):
    the unique constraint means a publication reaches a subscriber once on each channel."""

    broadcast = models.ForeignKey(
        SubscriberBroadcast, on_delete=models.CASCADE, related_name="messages"
    )
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="messages")
    state = models.CharField(
        max_length=12, choices=SubscriberMessageState.choices, default=SubscriberMessageState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=40, blank=True)
    external_id = models.CharField(max_length=100, blank=True)  # the gateway's message id
    sent_at = models.DateTimeField(null=True, blank=True)
    receipt_at = models.DateTimeField(null=True, blank=True)
    receipt = models.CharField(max_length=200, blank=True)  # the gateway's receipt status
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "subscriber"], name="subscriber_message_unique"
            )
        ]
        indexes = [
            # Serves the sender's claim: a broadcast's queued messages in order.
            models.Index(fields=["broadcast", "state", "id"], name="submsg_claim"),
            # Serves the receipts: a gateway message id back to its row.
            models.Index(fields=["external_id"], name="submsg_external"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key

    @property
    def idempotency_key(self) -> str:
        return f"sub:{self.broadcast_id}:{self.subscriber_id}"


class SendRateBucket(models.Model):
    """A token bucket per SMS account, shared by every worker through the database: a
    sender takes tokens before handing messages to the gateway."""

    account = models.OneToOneField(
        ChannelAccount, on_delete=models.CASCADE, related_name="send_rate_bucket"
    )
    tokens = models.FloatField(default=0.0)
    refilled_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"bucket {self.account_id}"


class HoldKind(models.TextChoices):
    INCIDENT = "incident", _("Active incident")
    CRISIS = "crisis", _("Crisis mode")


class PublicationHold(models.Model):
    """Why the conflict guard holds a publication, what it proposes instead, and when it
    let it go."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="holds")
    kind = models.CharField(max_length=10, choices=HoldKind.choices)
    incidents = models.ManyToManyField("incidents.Incident", blank=True, related_name="+")
    reason = models.TextField()
    proposed_at = models.DateTimeField(null=True, blank=True)  # a slot after the incident
    previous_state = models.CharField(max_length=20, choices=PublicationState.choices)
    held_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Serves the release sweep: the holds still in force.
            models.Index(fields=["released_at"], name="hold_open"),
        ]

    def __str__(self) -> str:
        return f"hold {self.publication_id} ({self.kind})"


class NeutralityPerson(models.Model):
    """A person whose mentions in the organisation's publications are counted (elected
    officials): a public service stays neutral."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="neutrality_people"
    )
    name = models.CharField(max_length=200)
    title = models.CharField(max_length=200, blank=True)  # "Mayor", "Deputy for transport"
    # Other spellings and handles: "J. Dupont", "@jdupont".
    aliases = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="neutrality_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
