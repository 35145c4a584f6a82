"""Who works when: weekly shifts per team (with the on-call person), exceptions, availability."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from relais.accounts.models import Organization, Team


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
