"""Who works when: weekly shifts per team (with the on-call person), exceptions, availability."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team
from relais.common.crypto import EncryptedJSONField


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Shift(models.Model):
    """A recurring weekly range, in the organisation's time zone. `ends` at or before
    `starts` runs past midnight (22:00 → 06:00). `on_call`: this person is the team's
    on-call contact during the range (alerts go to them)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="shifts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()
    on_call = models.BooleanField(default=False)

    class Meta:
        # Serves "who is on shift now": a team's shifts of one weekday.
        indexes = [models.Index(fields=["team", "weekday"], name="shift_team_weekday")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class ExceptionKind(models.TextChoices):
    ABSENT = "absent", _("Absent")  # leave, sickness: not on shift even if scheduled
    EXTRA = "extra", _("Extra shift")  # on shift outside the weekly pattern


class ShiftException(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=ExceptionKind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    on_call = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "ends_at"], name="shiftexc_org_end")]

    def __str__(self) -> str:
        return f"{self.kind} {self.user_id} {self.starts_at:%Y-%m-%d %H:%M}"


class AgentState(models.TextChoices):
    AVAILABLE = "available", _("Available")
    AWAY = "away", _("Away")


class AgentStatus(models.Model):
    """What an agent said about themselves; only available agents on shift get work."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=10, choices=AgentState.choices, default=AgentState.AVAILABLE
    )
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="agentstatus_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state}"


# --- SLA: policies, business hours, holidays, the clock of each conversation -------------


class Audience(models.TextChoices):
    ANY = "any", _("Public and private")
    PUBLIC = "public", _("Public messages")
    PRIVATE = "private", _("Direct messages")


class SlaPolicy(models.Model):
    """How fast we owe an answer. The most specific policy matching a conversation wins
    (network, then audience, then priority set beat "any"); no policy, no clock."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=120)
    network = models.CharField(max_length=32, blank=True)  # "" = every network
    audience = models.CharField(max_length=8, choices=Audience.choices, default=Audience.ANY)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)  # inbox Priority; null = any
    first_response_minutes = models.PositiveIntegerField()
    next_response_minutes = models.PositiveIntegerField()
    business_hours = models.BooleanField(default=False)  # False: counted 24/7
    warn_percent = models.PositiveSmallIntegerField(default=75)  # orange from this share on

    class Meta:
        indexes = [models.Index(fields=["organization"], name="slapolicy_org")]

    def __str__(self) -> str:
        return self.name


class BusinessHours(models.Model):
    """Opening hours of one weekday, in the organisation's zone; several ranges a day allowed."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class Holiday(models.Model):
    """A day the business-hours clocks do not run (the organisation's holiday calendar)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "date"], name="holiday_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class ClockKind(models.TextChoices):
    FIRST = "first", _("First response")
    NEXT = "next", _("Next response")


class SlaClock(models.Model):
    """The running SLA clock of one conversation: started when a message awaits an answer,
    stopped (due_at null) when we answer or close."""

    conversation = models.OneToOneField(
        "inbox.Conversation", on_delete=models.CASCADE, primary_key=True, related_name="sla_clock"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=8, choices=ClockKind.choices, default=ClockKind.FIRST)
    started_at = models.DateTimeField()  # the awaited message's time
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)  # null: nothing awaited
    breached_at = models.DateTimeField(null=True, blank=True)  # this run went past due
    closed = models.BooleanField(default=False)  # the conversation is closed
    # A message waits for our answer (with or without a policy): the "unanswered" count.
    awaiting = models.BooleanField(default=False)
    # Why the clock is not what the policy says (e.g. a calendar with no working day).
    problem = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # Serves the evaluation pass: running clocks past due not yet marked breached.
            models.Index(
                fields=["due_at"],
                condition=models.Q(breached_at__isnull=True, due_at__isnull=False),
                name="slaclock_due_unbreached",
            ),
        ]

    def __str__(self) -> str:
        return f"clock #{self.conversation_id} due {self.due_at}"


class SlaBreach(models.Model):
    """A clock that went past due: the log behind the escalation and the morning report."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="sla_breaches"
    )
    account = models.ForeignKey(
        "channels.ChannelAccount", on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=ClockKind.choices)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    breached_at = models.DateTimeField()
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # who owned it at the breach; null = nobody
    answered_at = models.DateTimeField(null=True, blank=True)  # when the late answer went out

    class Meta:
        # Serves the report: one organisation's breaches of a period.
        indexes = [models.Index(fields=["organization", "breached_at"], name="slabreach_org_time")]

    def __str__(self) -> str:
        return f"breach #{self.conversation_id} {self.breached_at}"


# --- Hand-offs and alerts ----------------------------------------------------------------


class HandOffReason(models.TextChoices):
    LEAVING = "leaving", _("Agent left (hand off and leave)")
    SHIFT_END = "shift_end", _("Shift ended")
    AWAY = "away", _("Agent set away")


class HandOff(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="handoffs"
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # null: nobody available, the supervisor was alerted
    reason = models.CharField(max_length=10, choices=HandOffReason.choices)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organization", "created_at"], name="handoff_org_time")]

    def __str__(self) -> str:
        return f"hand-off #{self.conversation_id} {self.from_user_id}->{self.to_user_id}"


class AlertKind(models.TextChoices):
    BREACH = "breach", _("SLA breached")
    UNCOVERED = "uncovered", _("Channel not covered")
    NO_HANDOFF = "no_handoff", _("Nobody to hand off to")


class CareAlert(models.Model):
    """An alert raised to the supervisors (shown in the care page, sent by e-mail). An
    uncovered-channel alert stays open (cleared_at null) until the channel is covered again,
    so that it is raised once, not every minute."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=AlertKind.choices)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account = models.ForeignKey(
        "channels.ChannelAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        "inbox.Conversation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    conversation_ids = models.JSONField(default=list, blank=True)  # every one it is about
    text = models.TextField()
    recipients = models.JSONField(default=list, blank=True)  # e-mail addresses written to
    created_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"], name="carealert_org_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at}"


# --- Analytics: hourly counts kept by events ---------------------------------------------


class CareCounting(models.Model):
    """The fill watermark of an organisation's counts: events are counted as they happen
    from `since` on; what happened before (history imported, or from before the care part
    was installed) is filled once from the stored conversations, up to `filled_until`."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    since = models.DateTimeField()
    filled_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"counting {self.organization_id} since {self.since}"


# Upper bounds (seconds) of the first-response-time histogram columns fr_b0 … fr_b8.
FR_BINS = [300, 900, 1800, 3600, 7200, 14400, 28800, 86400, None]


class CareBucket(models.Model):
    """Counts of one hour for one account, team (0: none) and agent (0: none), maintained
    by events (message in, first response, close, breach): the analytics read these, never
    the conversations."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()  # UTC, start of the hour
    account_id = models.PositiveIntegerField()
    team_id = models.PositiveIntegerField(default=0)
    agent_id = models.PositiveIntegerField(default=0)
    inbound = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)  # conversations new or reopened
    closed = models.PositiveIntegerField(default=0)
    awaiting_started = models.PositiveIntegerField(default=0)  # clocks started
    awaiting_stopped = models.PositiveIntegerField(default=0)  # clocks stopped (answer, close)
    first_responses = models.PositiveIntegerField(default=0)
    first_response_seconds = models.BigIntegerField(default=0)
    first_response_in_sla = models.PositiveIntegerField(default=0)
    resolution_seconds = models.BigIntegerField(default=0)
    breaches = models.PositiveIntegerField(default=0)
    fr_b0 = models.PositiveIntegerField(default=0)
    fr_b1 = models.PositiveIntegerField(default=0)
    fr_b2 = models.PositiveIntegerField(default=0)
    fr_b3 = models.PositiveIntegerField(default=0)
    fr_b4 = models.PositiveIntegerField(default=0)
    fr_b5 = models.PositiveIntegerField(default=0)
    fr_b6 = models.PositiveIntegerField(default=0)
    fr_b7 = models.PositiveIntegerField(default=0)
    fr_b8 = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "hour", "account_id", "team_id", "agent_id"],
                name="carebucket_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h account {self.account_id}"


# --- Routing rules, author profiles, locks and operator look-ups (routing part) ----------


class AuthorFlag(models.TextChoices):
    """Set by a supervisor on an author; they shape the answer advice."""

    JOURNALIST = "journalist", _("Journalist")
    ELECTED = "elected", _("Elected official")
    INSTITUTION = "institution", _("Institution")
    POLITICISED = "politicised", _("Politicised / activist")
    FREQUENT = "frequent", _("Frequent")
    VIP = "vip", _("VIP")
    ABUSIVE = "abusive", _("Abusive")


class AuthorProfile(models.Model):
    """What the organisation knows about an author beyond what the network says."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact = models.OneToOneField(
        "inbox.Contact", on_delete=models.CASCADE, related_name="care_profile"
    )
    flags = models.JSONField(default=list, blank=True)  # AuthorFlag values
    note = models.CharField(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"profile of contact {self.contact_id}: {', '.join(self.flags)}"


class AssignStrategy(models.TextChoices):
    NONE = "", _("No assignment")
    AGENT = "agent", _("To the chosen agent")
    ROUND_ROBIN = "round_robin", _("Round-robin among available agents")
    LEAST_LOADED = "least_loaded", _("Least-loaded available agent")


class RoutingRule(models.Model):
    """Conditions on an inbound message and its conversation → actions. Rules run in
    `position` order; a matching rule with `stop` set ends the run for that message.

    `conditions` is a dict of lists (relais.care.routing.CONDITION_FIELDS): inside one list
    any value matches, every non-empty list must match."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="routing_rules"
    )
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    conditions = models.JSONField(default=dict, blank=True)
    stop = models.BooleanField(default=True)  # first match wins unless unset ("continue")
    # Actions.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    strategy = models.CharField(
        max_length=16, choices=AssignStrategy.choices, default=AssignStrategy.NONE, blank=True
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority = models.PositiveSmallIntegerField(null=True, blank=True)  # inbox.Priority
    tags = models.JSONField(default=list, blank=True)
    template = models.ForeignKey(
        "wording.Template", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lock = models.BooleanField(default=False)
    notify = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # Round-robin pointer: the last agent this rule gave a conversation to.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Serves the pipeline step: one organisation's enabled rules in order.
        indexes = [
            models.Index(fields=["organization", "enabled", "position"], name="rule_org_pos")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class RuleMatch(models.Model):
    """A rule matched an inbound message: the trace shown in the conversation, and where
    the composer finds the template a rule suggests."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="matches")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="rule_matches"
    )
    message = models.ForeignKey(
        "inbox.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    applied = models.JSONField(default=list, blank=True)  # what the rule did, for the trace
    created_at = models.DateTimeField()

    class Meta:
        # Serves the conversation's trace and suggestions: its matches, newest first.
        indexes = [models.Index(fields=["conversation", "-created_at"], name="rulematch_conv")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} on #{self.conversation_id}"


class ConversationTag(models.Model):
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="tags"
    )
    name = models.CharField(max_length=40)
    rule = models.ForeignKey(RoutingRule, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "name"], name="tag_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class OperatorIntegration(models.Model):
    """The organisation's operations system over HTTP (the webhook variant of the hooks in
    relais.care.operator): requests are signed with `secret` (X-Relais-Signature)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="operator_integration"
    )
    reports_url = models.URLField(blank=True)  # vehicle/incident reports for a line and time
    lookup_url = models.URLField(blank=True)  # booking / ticket reference look-up
    secret = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"operator integration of {self.organization_id}"


class CustomerLookup(models.Model):
    """A booking or ticket look-up made from a private conversation. The personal values
    found are kept (encrypted) so that a public reply quoting them is refused."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "inbox.Conversation", on_delete=models.CASCADE, related_name="customer_lookups"
    )
    contact = models.ForeignKey("inbox.Contact", on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(max_length=100)
    result = EncryptedJSONField(default=dict, blank=True)
    looked_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        # Serves the public-reply guard: the look-ups made for one author.
        indexes = [models.Index(fields=["contact"], name="lookup_contact")]

    def __str__(self) -> str:
        return f"lookup {self.reference} on #{self.conversation_id}"


class AgentSkill(models.Model):
    """The languages an agent answers in (routing rules' assignment skill). Without a row,
    an agent answers in the organisation's language only."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    languages = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="agentskill_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {', '.join(self.languages)}"
