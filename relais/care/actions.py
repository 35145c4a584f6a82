"""Writes of the care part: breaches and their escalation, uncovered-channel alerts,
hand-offs, availability, shifts, SLA policies and calendars. Each in a transaction, with its
audit entry, live events on commit."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from relais.accounts.models import Membership, Organization, Role, Team, audit
from relais.accounts.permissions import require_answering, require_role
from relais.care import selectors
from relais.care.buckets import Counts
from relais.care.db import insert_rows
from relais.care.events import CareAlertRaised, HandedOff
from relais.care.models import (
    AgentState,
    AgentStatus,
    AlertKind,
    BusinessHours,
    CareAlert,
    ExceptionKind,
    HandOff,
    HandOffReason,
    Holiday,
    Shift,
    ShiftException,
    SlaBreach,
    SlaClock,
    SlaPolicy,
)
from relais.channels.models import ChannelAccount
from relais.common.timeutils import now
from relais.inbox.models import Conversation, Note, Status
from relais.realtime.events import ConversationChanged, send_event_on_commit

logger = logging.getLogger(__name__)

MANAGING_ROLES = {Role.ADMIN, Role.SUPERVISOR}
# A colleague whose shift ends sooner than this is not handed conversations.
HANDOFF_MARGIN = timedelta(minutes=30)


# --- Who is warned ------------------------------------------------------------------------


def supervisors_of(*, organization_id: int, team_id: int | None) -> list[Membership]:
    """The team's supervisors; without any (or without a team), every supervisor and
    administrator of the organisation: an alert always has someone to go to."""
    base = Membership.objects.filter(organization_id=organization_id).select_related("user")
    if team_id:
        found = list(base.filter(role=Role.SUPERVISOR, teams__id=team_id).order_by("pk"))
        if found:
            return found
    return list(base.filter(role__in=MANAGING_ROLES).order_by("pk"))


def _raise_alert(
    *,
    organization: Organization,
    kind: AlertKind,
    text: str,
    team_id: int | None = None,
    account_id: int | None = None,
    conversation_ids: list[int] | None = None,
    at: datetime,
) -> CareAlert:
    """Store the alert (naming its conversations, or its channel), e-mail the
    supervisors after commit, send the live event."""
    people = supervisors_of(organization_id=organization.pk, team_id=team_id)
    emails = sorted({m.user.email for m in people if m.user.email})
    ids = list(conversation_ids or [])
    alert = CareAlert.objects.create(
        organization=organization,
        kind=kind,
        team_id=team_id,
        account_id=account_id,
        conversation_id=ids[0] if len(ids) == 1 else None,
        conversation_ids=ids,
        text=text,
        recipients=emails,
        created_at=at,
    )
    send_event_on_commit(
        organization.pk,
        CareAlertRaised(
            kind=str(kind),
            text=text,
            conversation_ids=ids,
            account_id=account_id,
            user_ids=[m.user_id for m in people],
        ),
    )
    if emails:
        subject = f"[Relais] {organization.name}: {AlertKind(kind).label}"
        body = f"{text}\n\n{settings.RELAIS_BASE_URL}/care/\n"
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, emails))
    else:
        logger.warning(
            "care alert %s for organisation %s: nobody has an e-mail", kind, organization
        )
    return alert


# --- SLA breaches -------------------------------------------------------------------------


def sla_evaluate(*, at: datetime | None = None) -> int:
    """One pass over every running clock: those past due are marked breached (once: the
    claim is a conditional UPDATE stamped with this pass's time), logged (one SlaBreach row
    per conversation, one audit entry per team), counted and escalated to their team's
    supervisors. Returns the number of new breaches. The work grows with the breaches, not
    with the open conversations: the claim uses the index of running, unbreached clocks."""
    at = at or now()
    with transaction.atomic():
        claimed = SlaClock.objects.filter(
            due_at__isnull=False, breached_at__isnull=True, due_at__lte=at
        ).update(breached_at=at)
        if not claimed:
            return 0
        rows = list(
            SlaClock.objects.filter(breached_at=at, due_at__isnull=False).values_list(
                "conversation_id",
                "conversation__organization_id",
                "conversation__account_id",
                "conversation__team_id",
                "conversation__assignee_id",
                "kind",
                "started_at",
                "due_at",
            )
        )
        breaches = []
        counts = Counts()
        by_team: dict[tuple[int, int | None], list[tuple[int, int | None]]] = defaultdict(list)
        for conv_id, org_id, account_id, team_id, assignee_id, kind, started_at, due_at in rows:
            breaches.append(
                (org_id, conv_id, account_id, team_id, kind, started_at, due_at, at, assignee_id)
            )
            counts.add(
                organization_id=org_id,
                at=at,
                account_id=account_id,
                team_id=team_id,
                agent_id=assignee_id,
                breaches=1,
            )
            by_team[(org_id, team_id)].append((conv_id, assignee_id))
        insert_rows(
            SlaBreach,
            [
                "organization_id",
                "conversation_id",
                "account_id",
                "team_id",
                "kind",
                "started_at",
                "due_at",
                "breached_at",
                "assignee_id",
            ],
            breaches,
        )
        counts.flush()
        organizations = Organization.objects.in_bulk({k[0] for k in by_team})
        names = dict(
            get_user_model()
            .objects.filter(pk__in={a for v in by_team.values() for _c, a in v if a})
            .values_list("pk", "username")
        )
        for (org_key, team_key), convs in by_team.items():
            listed = ", ".join(
                f"#{c} ({names.get(a, '') if a else _('nobody')})" for c, a in convs[:20]
            )
            more = len(convs) - 20
            text = _("%(n)d conversation(s) waited past their SLA without an answer: %(list)s") % {
                "n": len(convs),
                "list": listed + (f" … +{more}" if more > 0 else ""),
            }
            ids = [c for c, _a in convs]
            audit(
                organization_id=org_key,
                actor_id=None,
                action="sla.breached",
                text=text,
                data={"team": team_key, "conversations": ids, "at": at.isoformat()},
            )
            _raise_alert(
                organization=organizations[org_key],
                kind=AlertKind.BREACH,
                text=text,
                team_id=team_key,
                conversation_ids=ids,
                at=at,
            )
    return len(rows)


# --- Uncovered channels -------------------------------------------------------------------


def uncovered_check(*, at: datetime | None = None) -> list[CareAlert]:
    """A channel whose messages wait past their SLA while nobody is on shift for it raises
    one alert (kept open until the channel is covered or nothing waits any more)."""
    at = at or now()
    raised: list[CareAlert] = []
    waiting = (
        SlaClock.objects.filter(breached_at__isnull=False, due_at__isnull=False)
        .values("conversation__account_id")
        .annotate(n=Count("pk"))
    )
    waiting_by_account = {row["conversation__account_id"]: row["n"] for row in waiting}
    open_alerts = {
        a.account_id: a
        for a in CareAlert.objects.filter(kind=AlertKind.UNCOVERED, cleared_at__isnull=True)
    }
    accounts = ChannelAccount.objects.filter(
        pk__in=set(waiting_by_account) | set(open_alerts)
    ).select_related("organization", "default_team")
    for account in accounts:
        n = waiting_by_account.get(account.pk, 0)
        team_id = account.default_team_id
        # Shifts belong to teams: an account with no team is covered by no shift.
        covered = bool(team_id) and bool(
            selectors.on_shift(organization=account.organization, at=at, team_id=team_id)
        )
        alert = open_alerts.get(account.pk)
        if n and not covered and alert is None:
            with transaction.atomic():
                if team_id:
                    who = _("nobody of the team %(team)s is on shift") % {
                        "team": account.default_team.name  # type: ignore[union-attr]
                    }
                else:
                    who = _("the account has no team, so no shift covers it")
                text = _(
                    "The channel %(name)s (%(network)s) is not covered: %(n)d conversation(s) "
                    "wait past their SLA and %(who)s. A channel nobody answers is a failure, "
                    "not a neutral state: put someone on shift or give the account to a team."
                ) % {
                    "name": account.name,
                    "network": account.get_network_display(),
                    "n": n,
                    "who": who,
                }
                raised.append(
                    _raise_alert(
                        organization=account.organization,
                        kind=AlertKind.UNCOVERED,
                        text=text,
                        team_id=team_id,
                        account_id=account.pk,
                        at=at,
                    )
                )
                audit(
                    organization_id=account.organization_id,
                    actor_id=None,
                    action="care.uncovered",
                    obj=account,
                    text=text,
                )
        elif alert is not None and (covered or not n):
            CareAlert.objects.filter(pk=alert.pk).update(cleared_at=at)
    return raised


# --- Availability and hand-off ------------------------------------------------------------


def _candidates(
    *, organization: Organization, team_id: int | None, at: datetime, leaving_user_id: int
) -> list[int]:
    """Who takes over: available colleagues of the team staying on for a while, else the
    team's on-call person, else those of the team starting at the leaver's shift end (the
    night on-call), else any on-call person of the organisation."""
    end = selectors.shift_end(organization=organization, user_id=leaving_user_id, at=at)

    def staying(users: list[int]) -> list[int]:
        kept = []
        for u in users:
            if u == leaving_user_id:
                continue
            theirs = selectors.shift_end(organization=organization, user_id=u, at=at)
            if theirs is None or theirs > at + HANDOFF_MARGIN:
                kept.append(u)
        return kept

    found = staying(selectors.available_agents(organization=organization, at=at, team_id=team_id))
    found = found or [
        u
        for u in selectors.on_call(organization=organization, at=at, team_id=team_id)
        if u != leaving_user_id
    ]
    if not found and end is not None:
        later = end + timedelta(minutes=1)
        found = [
            u
            for u in selectors.on_call(organization=organization, at=later, team_id=team_id)
            + selectors.available_agents(organization=organization, at=later, team_id=team_id)
            if u != leaving_user_id
        ]
    found = found or [
        u for u in selectors.on_call(organization=organization, at=at) if u != leaving_user_id
    ]
    return list(dict.fromkeys(found))


def handoff_conversations(
    *,
    organization: Organization,
    user_id: int,
    reason: HandOffReason,
    note: str,
    at: datetime | None = None,
    acting_user_id: int | None = None,
) -> list[HandOff]:
    """Give every open conversation of this person to the least-loaded candidate, with the
    hand-off note written into the conversation. With nobody to take over, the owner
    stays (never a conversation without an owner) and the supervisors are alerted."""
    at = at or now()
    note = note.replace("\r\n", "\n").strip()
    done: list[HandOff] = []
    with transaction.atomic():
        conversations = list(
            Conversation.objects.select_for_update()
            .filter(organization=organization, assignee_id=user_id)
            .exclude(status=Status.CLOSED)
            .order_by("pk")
        )
        if not conversations:
            return []
        load: dict[int, int] = {}
        stuck: list[Conversation] = []
        for c in conversations:
            candidates = _candidates(
                organization=organization, team_id=c.team_id, at=at, leaving_user_id=user_id
            )
            missing = [u for u in candidates if u not in load]
            if missing:
                counted = dict(
                    Conversation.objects.filter(assignee_id__in=missing)
                    .exclude(status=Status.CLOSED)
                    .values_list("assignee_id")
                    .annotate(n=Count("pk"))
                )
                for u in missing:
                    load[u] = counted.get(u, 0)
            if not candidates:
                stuck.append(c)
                continue
            target = min(candidates, key=lambda u: (load[u], candidates.index(u)))
            load[target] += 1
            c.assignee_id = target
            fields = ["assignee"]
            if c.status == Status.NEW:
                c.status = Status.OPEN
                fields.append("status")
            Conversation.objects.filter(pk=c.pk).update(**{f: getattr(c, f) for f in fields})
            text = _("Hand-off (%(reason)s): %(note)s") % {
                "reason": HandOffReason(reason).label,
                "note": note or _("no note written"),
            }
            Note.objects.create(conversation=c, author_id=user_id, text=text)
            done.append(
                HandOff(
                    organization=organization,
                    conversation=c,
                    from_user_id=user_id,
                    to_user_id=target,
                    reason=reason,
                    note=note,
                    created_at=at,
                )
            )
            audit(
                organization_id=organization.pk,
                actor_id=acting_user_id,
                action="conversation.handed_off",
                obj=c,
                text=note,
                data={"from": user_id, "to": target, "reason": str(reason)},
            )
            send_event_on_commit(
                organization.pk,
                HandedOff(conversation_id=c.pk, from_user_id=user_id, to_user_id=target),
            )
            send_event_on_commit(
                organization.pk,
                ConversationChanged(conversation_id=c.pk, change="assigned", by_user_id=None),
            )
        HandOff.objects.bulk_create(done)
        if stuck:
            already = {
                cid
                for ids in CareAlert.objects.filter(
                    organization=organization,
                    kind=AlertKind.NO_HANDOFF,
                    cleared_at__isnull=True,
                ).values_list("conversation_ids", flat=True)
                for cid in ids
            }
            fresh = [c for c in stuck if c.pk not in already]
            for team_id in {c.team_id for c in fresh}:
                ids = [c.pk for c in fresh if c.team_id == team_id]
                _raise_alert(
                    organization=organization,
                    kind=AlertKind.NO_HANDOFF,
                    text=_(
                        "Nobody is available or on call to take over %(n)d open conversation(s) "
                        "of a leaving agent: they stay with them until someone is assigned."
                    )
                    % {"n": len(ids)},
                    team_id=team_id,
                    conversation_ids=ids,
                    at=at,
                )
    return done


@transaction.atomic
def agent_set_state(
    *, membership: Membership, state: AgentState, note: str = "", at: datetime | None = None
) -> list[HandOff]:
    """Available or away; going away hands the open conversations off (with the note)."""
    at = at or now()
    if state not in AgentState.values:
        raise ValidationError(_("Unknown state."))
    AgentStatus.objects.update_or_create(
        organization_id=membership.organization_id,
        user_id=membership.user_id,
        defaults={"state": state, "changed_at": at},
    )
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action=f"agent.{state}",
        text=note,
    )
    if state == AgentState.AWAY:
        return handoff_conversations(
            organization=membership.organization,
            user_id=membership.user_id,
            reason=HandOffReason.LEAVING if note else HandOffReason.AWAY,
            note=note,
            at=at,
            acting_user_id=membership.user_id,
        )
    return []


def handoff_sweep(*, at: datetime | None = None) -> int:
    """Periodic: the open conversations of people whose shift is over (or who are away) and
    who did not hand off go to the next person, with an automatic note."""
    at = at or now()
    moved = 0
    owners = (
        Conversation.objects.exclude(status=Status.CLOSED)
        .filter(assignee__isnull=False)
        .values_list("organization_id", "assignee_id")
        .distinct()
    )
    by_org: dict[int, set[int]] = defaultdict(set)
    for org_id, user_id in owners:
        by_org[org_id].add(user_id)
    for organization in Organization.objects.filter(pk__in=by_org):
        users = by_org[organization.pk]
        with_shifts = set(
            Shift.objects.filter(organization=organization, user_id__in=users).values_list(
                "user_id", flat=True
            )
        )
        away = set(
            AgentStatus.objects.filter(
                organization=organization, user_id__in=users, state=AgentState.AWAY
            ).values_list("user_id", flat=True)
        )
        # On shift now or soon: someone whose shift starts in a few minutes keeps what
        # they were just handed.
        working = set(selectors.on_shift(organization=organization, at=at)) | set(
            selectors.on_shift(organization=organization, at=at + HANDOFF_MARGIN)
        )
        for user_id in sorted(users):
            if user_id in away:
                reason = HandOffReason.AWAY
            elif user_id in with_shifts and user_id not in working:
                reason = HandOffReason.SHIFT_END
            else:
                continue
            moved += len(
                handoff_conversations(
                    organization=organization,
                    user_id=user_id,
                    reason=reason,
                    note=_("Automatic hand-off: the agent left without writing a note."),
                    at=at,
                )
            )
    return moved


# --- Shifts -------------------------------------------------------------------------------


def _ranges(weekday: int, starts: time, ends: time) -> list[tuple[int, int]]:
    """Minutes of the week (0 = Monday 00:00) a weekly shift covers; overnight wraps."""
    week = 7 * 24 * 60
    a = weekday * 1440 + starts.hour * 60 + starts.minute
    length = (ends.hour * 60 + ends.minute) - (starts.hour * 60 + starts.minute)
    if length <= 0:
        length += 1440
    b = a + length
    if b <= week:
        return [(a, b)]
    return [(a, week), (0, b - week)]


def shift_overlaps(
    *, organization: Organization, user_id: int, weekday: int, starts: time, ends: time
) -> list[Shift]:
    mine = _ranges(weekday, starts, ends)
    clashes = []
    for s in Shift.objects.filter(organization=organization, user_id=user_id):
        theirs = _ranges(s.weekday, s.starts, s.ends)
        if any(a < d and c < b for a, b in mine for c, d in theirs):
            clashes.append(s)
    return clashes


@transaction.atomic
def shift_add(
    *,
    membership: Membership,
    team: Team,
    user_id: int,
    weekday: int,
    starts: time,
    ends: time,
    on_call: bool = False,
) -> Shift:
    require_role(membership, MANAGING_ROLES)
    if team.organization_id != membership.organization_id:
        raise ValidationError(_("No such team."))
    if not Membership.objects.filter(
        organization_id=membership.organization_id, user_id=user_id
    ).exists():
        raise ValidationError(_("That person is not a member of this organisation."))
    if weekday not in range(7):
        raise ValidationError(_("Unknown weekday."))
    if starts == ends:
        raise ValidationError(_("A shift cannot start and end at the same time."))
    clashes = shift_overlaps(
        organization=membership.organization,
        user_id=user_id,
        weekday=weekday,
        starts=starts,
        ends=ends,
    )
    if clashes:
        raise ValidationError(
            _(
                "This shift overlaps %(list)s of the same person: one person cannot be on two "
                "shifts at once. Change or delete the other shift first."
            )
            % {"list": ", ".join(str(_shift_label(s)) for s in clashes)}
        )
    shift = Shift.objects.create(
        organization_id=membership.organization_id,
        team=team,
        user_id=user_id,
        weekday=weekday,
        starts=starts,
        ends=ends,
        on_call=on_call,
    )
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="shift.added",
        obj=shift,
        text=str(_shift_label(shift)),
    )
    return shift


def _shift_label(s: Shift) -> str:
    return f"{s.get_weekday_display()} {s.starts:%H:%M}–{s.ends:%H:%M} ({s.team.name})"


@transaction.atomic
def shift_delete(*, membership: Membership, shift: Shift) -> None:
    require_role(membership, MANAGING_ROLES)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="shift.deleted",
        obj=shift,
        text=_shift_label(shift),
    )
    shift.delete()


@transaction.atomic
def exception_add(
    *,
    membership: Membership,
    user_id: int,
    team: Team | None,
    kind: ExceptionKind,
    starts_at: datetime,
    ends_at: datetime,
    on_call: bool = False,
    note: str = "",
) -> ShiftException:
    require_role(membership, MANAGING_ROLES)
    if kind not in ExceptionKind.values:
        raise ValidationError(_("Unknown kind of exception."))
    if ends_at <= starts_at:
        raise ValidationError(_("The exception must end after it starts."))
    if not Membership.objects.filter(
        organization_id=membership.organization_id, user_id=user_id
    ).exists():
        raise ValidationError(_("That person is not a member of this organisation."))
    exc = ShiftException.objects.create(
        organization_id=membership.organization_id,
        team=team,
        user_id=user_id,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        on_call=on_call,
        note=note[:200],
    )
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="shift_exception.added",
        obj=exc,
        text=note,
    )
    return exc


@transaction.atomic
def exception_delete(*, membership: Membership, exception: ShiftException) -> None:
    require_role(membership, MANAGING_ROLES)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="shift_exception.deleted",
        obj=exception,
    )
    exception.delete()


# --- SLA policies and the calendar --------------------------------------------------------


@transaction.atomic
def policy_save(*, membership: Membership, policy: SlaPolicy) -> SlaPolicy:
    require_role(membership, MANAGING_ROLES)
    policy.organization_id = membership.organization_id
    if policy.first_response_minutes < 1 or policy.next_response_minutes < 1:
        raise ValidationError(_("A target must be at least one minute."))
    if not 1 <= policy.warn_percent <= 100:
        raise ValidationError(_("The warning share is a percentage between 1 and 100."))
    created = policy.pk is None
    policy.save()
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="sla_policy.created" if created else "sla_policy.changed",
        obj=policy,
        text=policy.name,
    )
    return policy


@transaction.atomic
def policy_delete(*, membership: Membership, policy: SlaPolicy) -> None:
    require_role(membership, MANAGING_ROLES)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="sla_policy.deleted",
        obj=policy,
        text=policy.name,
    )
    policy.delete()


@transaction.atomic
def business_hours_add(
    *, membership: Membership, weekday: int, starts: time, ends: time
) -> BusinessHours:
    require_role(membership, MANAGING_ROLES)
    if weekday not in range(7):
        raise ValidationError(_("Unknown weekday."))
    if ends <= starts:
        raise ValidationError(
            _("Business hours end after they start on the same day (split a night in two).")
        )
    hours = BusinessHours.objects.create(
        organization_id=membership.organization_id, weekday=weekday, starts=starts, ends=ends
    )
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="business_hours.added",
        obj=hours,
        text=str(hours),
    )
    return hours


@transaction.atomic
def business_hours_delete(*, membership: Membership, hours: BusinessHours) -> None:
    require_role(membership, MANAGING_ROLES)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="business_hours.deleted",
        obj=hours,
        text=str(hours),
    )
    hours.delete()


@transaction.atomic
def holiday_add(*, membership: Membership, day, name: str) -> Holiday:
    require_role(membership, MANAGING_ROLES)
    holiday, _created = Holiday.objects.update_or_create(
        organization_id=membership.organization_id, date=day, defaults={"name": name[:120]}
    )
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="holiday.added",
        obj=holiday,
        text=str(holiday),
    )
    return holiday


@transaction.atomic
def holiday_delete(*, membership: Membership, holiday: Holiday) -> None:
    require_role(membership, MANAGING_ROLES)
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="holiday.deleted",
        obj=holiday,
        text=str(holiday),
    )
    holiday.delete()


@transaction.atomic
def alert_clear(*, membership: Membership, alert: CareAlert) -> None:
    require_answering(membership)
    CareAlert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(cleared_at=now())
    audit(
        organization_id=membership.organization_id,
        actor_id=membership.user_id,
        action="care_alert.cleared",
        obj=alert,
    )
