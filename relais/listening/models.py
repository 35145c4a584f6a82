"""Listening: monitors and their matches, volume series and buckets, alerts, crisis mode."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team


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


class Sources(models.TextChoices):
    ALL = "all", _("Our accounts and listening sources")
    OWN = "own", _("Our accounts only")
    LISTENING = "listening", _("Listening sources only")


class Monitor(models.Model):
    """A listening query. `compiled` is the checked tree (relais.listening.query.to_json)
    with lines resolved to GTFS ids: the matcher is built from it without re-parsing."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="monitors"
    )
    name = models.CharField(max_length=120)
    query = models.TextField()
    compiled = models.JSONField(default=list)
    sources = models.CharField(max_length=10, choices=Sources.choices, default=Sources.ALL)
    active = models.BooleanField(default=True)
    # Whose on-call person is alerted on a burst (None: the organisation's on-call people).
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="monitors"
    )
    alerts_enabled = models.BooleanField(default=True)
    escalate_after_minutes = models.PositiveSmallIntegerField(default=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="monitor_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class MonitorMatch(models.Model):
    """A message a monitor matched: the drill-down from a chart or an alert to messages.
    `created_at` is the message's time, copied so that a window needs no join."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="matches")
    message = models.ForeignKey(
        "inbox.Message", on_delete=models.CASCADE, related_name="monitor_matches"
    )
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["monitor", "message"], name="monitormatch_unique")
        ]
        indexes = [
            # Serves the drill-down: one monitor's messages in a time window, newest first.
            models.Index(fields=["monitor", "-created_at"], name="monitormatch_time"),
        ]

    def __str__(self) -> str:
        return f"{self.monitor_id} matched {self.message_id}"


class SeriesKind(models.TextChoices):
    MONITOR = "monitor", _("Monitor")
    LINE = "line", _("Line")
    INTENT = "intent", _("Intent")


class Granularity(models.IntegerChoices):
    MINUTE = 60, _("1 minute")
    FIVE_MINUTES = 300, _("5 minutes")


GRANULARITIES = (Granularity.MINUTE, Granularity.FIVE_MINUTES)


class Series(models.Model):
    """One counted series (a monitor, a line or an intent of an organisation, at one
    granularity) and its detector: `state` is the detector's JSON state, `closed_until`
    the end of the last bucket scored."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=SeriesKind.choices)
    key = models.CharField(max_length=200)  # monitor id, GTFS route id or intent
    granularity = models.PositiveIntegerField(choices=Granularity.choices)
    state = models.JSONField(default=dict, blank=True)
    closed_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "key", "granularity"], name="series_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}/{self.granularity}s"


class VolumeBucket(models.Model):
    """How many messages a series counted from `start` for its granularity; maintained by
    the pipeline step, scored by the detector when it closes."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="buckets")
    start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    score = models.FloatField(null=True, blank=True)  # set when the bucket closes

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["series", "start"], name="bucket_unique_start")
        ]
        # The unique index (series, start) also serves the charts: one series over a range.

    def __str__(self) -> str:
        return f"{self.series_id} {self.start:%Y-%m-%d %H:%M} {self.count}"


class Watermark(models.Model):
    """Fill watermark of an organisation's buckets: every message received before
    `filled_until` has been counted. Buckets ending before it (less a lateness allowance)
    can be closed and scored."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="listening_watermark"
    )
    filled_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.organization_id} filled until {self.filled_until:%H:%M:%S}"


class AlertState(models.TextChoices):
    OPEN = "open", _("Waiting for acknowledgement")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CLOSED = "closed", _("Closed")


class Alert(models.Model):
    """A burst on a monitor: the bucket that set it off, its score, and the people told."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="alerts")
    granularity = models.PositiveIntegerField(choices=Granularity.choices)
    bucket_start = models.DateTimeField()  # the first bursting bucket
    last_bucket_start = models.DateTimeField()  # the latest bucket still bursting
    score = models.FloatField()  # the highest bucket score
    count = models.PositiveIntegerField()  # messages in the bursting buckets
    baseline = models.FloatField(default=0.0)  # mean count per bucket before the burst
    top_authors = models.JSONField(default=list, blank=True)  # [{handle, reach, messages}]
    state = models.CharField(max_length=14, choices=AlertState.choices, default=AlertState.OPEN)
    level = models.PositiveSmallIntegerField(default=0)  # escalation level (0: first person)
    notified_user_ids = models.JSONField(default=list, blank=True)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()  # by the detection clock

    class Meta:
        indexes = [
            # Serves the alert list and "is a burst of this monitor already open?".
            models.Index(fields=["organization", "state", "-created_at"], name="alert_org_state"),
            models.Index(fields=["monitor", "-last_bucket_start"], name="alert_monitor_time"),
            # Serves the escalation sweep.
            models.Index(fields=["state", "next_escalation_at"], name="alert_escalation"),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} on {self.monitor_id}"


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook")


class NotificationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class AlertNotification(models.Model):
    """One attempt to tell someone (or a chat room) about an alert."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8, choices=NotificationChannel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    webhook = models.ForeignKey(
        "AlertWebhook", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    level = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(
        max_length=8, choices=NotificationState.choices, default=NotificationState.PENDING
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.channel} for alert {self.alert_id}"


class AlertWebhook(models.Model):
    """A chat room's incoming webhook (Mattermost, Slack, Teams, Matrix hookshot...): the
    alert is POSTed to it as JSON. Per organisation (team empty) or per team."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)
    url = models.URLField(max_length=500)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.url
