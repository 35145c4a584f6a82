"""Who writes to us (Contact), what they write (Message), grouped into Conversations."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team
from relais.channels.models import ChannelAccount, Delivery


class Contact(models.Model):
    """An author on a network. The same person writing to two of our accounts on one
    network is one contact."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="contacts"
    )
    network = models.CharField(max_length=32)
    external_id = models.CharField(max_length=200)
    handle = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    reach = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    message_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "network", "external_id"], name="contact_unique_external"
            )
        ]

    def __str__(self) -> str:
        return f"@{self.handle}"


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    CLOSED = "closed", _("Closed")


class Priority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class Conversation(models.Model):
    """One author in one thread (or in private messages) with one of our accounts."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="conversations"
    )
    account = models.ForeignKey(
        ChannelAccount, on_delete=models.CASCADE, related_name="conversations"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    # "t:<thread id>:<author id>": two network ids of up to 200 characters each.
    thread_key = models.CharField(max_length=410)
    thread_external_id = models.CharField(max_length=200, blank=True)
    is_private = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    preview = models.CharField(max_length=200, blank=True)
    # The latest inbound message's triage; urgency and priority are the highest seen while open.
    lang = models.CharField(max_length=8, blank=True)
    intent = models.CharField(max_length=20, blank=True)
    sentiment = models.CharField(max_length=10, blank=True)
    urgency = models.CharField(max_length=10, blank=True)
    lines = models.ManyToManyField("transit.Route", blank=True, related_name="conversations")
    message_count = models.PositiveIntegerField(default=0)
    first_message_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_activity_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # "Monitored, no answer" (relais.care.profile): while set, no reply leaves, by anyone.
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lock_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "thread_key"], name="conversation_unique_thread"
            )
        ]
        indexes = [
            # Serves the inbox list: one organisation's conversations by status, newest first.
            models.Index(
                fields=["organization", "status", "-last_activity_at"],
                name="conv_org_status_activity",
            ),
            # Serves "assigned to me".
            models.Index(fields=["assignee", "status"], name="conv_assignee_status"),
            # Serves the inbox list's order (priority, then latest activity): the first page
            # is read from the index instead of sorting every open conversation
            # (bench/inbox.py: 100,000 conversations).
            models.Index(
                fields=["organization", "-priority", "-last_activity_at", "-id"],
                name="conv_org_queue",
            ),
            # Serves the inbox's count of the conversations not closed (its default view):
            # a small index of the open ones only.
            models.Index(
                fields=["organization"],
                condition=~models.Q(status="closed"),
                name="conv_org_not_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} @{self.contact.handle}"

    @property
    def is_open(self) -> bool:
        return self.status != Status.CLOSED

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None


class Direction(models.TextChoices):
    IN = "in", _("Inbound")
    OUT = "out", _("Outbound")


class Message(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="messages"
    )
    account = models.ForeignKey(ChannelAccount, on_delete=models.CASCADE, related_name="messages")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=16)  # contract.MessageKind
    # Null until an outbound message is accepted by the network.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - unique when set
    thread_external_id = models.CharField(max_length=200, blank=True)
    reply_to_external_id = models.CharField(max_length=200, blank=True)
    author = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    text = models.TextField()
    raw = models.JSONField(default=dict, blank=True)
    # Triage (relais.triage): filled by the pipeline for inbound messages.
    lang = models.CharField(max_length=8, blank=True)
    intent = models.CharField(max_length=20, blank=True)
    sentiment = models.CharField(max_length=10, blank=True)
    urgency = models.CharField(max_length=10, blank=True)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    triage = models.JSONField(default=dict, blank=True)  # lines, stops, places, cues
    delivery = models.OneToOneField(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="message"
    )
    created_at = models.DateTimeField()  # when it was written, by the network's clock
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_unique_external",
            )
        ]
        indexes = [
            # Serves the conversation view: its messages in order.
            models.Index(fields=["conversation", "created_at"], name="message_conv_time"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.external_id or self.pk}"


class Note(models.Model):
    """An internal note: seen by the team, never sent anywhere."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"note on #{self.conversation_id}"


class ConversationViewer(models.Model):
    """Who has a conversation open right now; refreshed by the page, for collision warnings."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="viewers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="viewer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} viewing #{self.conversation_id}"
