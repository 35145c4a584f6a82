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
