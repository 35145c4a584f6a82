"""Each conversation's SLA clock: started by the pipeline when a message awaits an answer,
stopped when we answer (a receiver on outbound messages) or close, evaluated by a periodic
pass that marks breaches and escalates them once."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from relais.accounts.models import Organization
from relais.care.buckets import Counts
from relais.care.models import ClockKind, SlaBreach, SlaClock
from relais.care.sla import Calendar, due_times, policy_for
from relais.channels.pipeline import Batch
from relais.common.db import update_rows


def _start(clock: SlaClock, calendar: Calendar, conversation, kind: str, at: datetime) -> bool:
    policy = policy_for(
        calendar.policies,
        network=conversation.account.network,
        is_private=conversation.is_private,
        priority=conversation.priority,
    )
    clock.policy = policy
    clock.kind = kind
    clock.started_at = at
    clock.breached_at = None
    if policy is None:  # no policy: nothing is owed, no clock
        clock.warn_at = clock.due_at = None
        clock.problem = ""
        return False
    clock.warn_at, clock.due_at, clock.problem = due_times(calendar, policy, kind, at)
    return True


def clock_messages(batch: Batch) -> None:
    """Pipeline step (after routing): start the clock of every conversation a new inbound
    message now awaits an answer in; count the messages and (re)opened conversations."""
    items = [i for i in batch.items if not i.skip and i.conversation is not None]
    if not items:
        return
    by_conversation: dict[int, list] = defaultdict(list)
    for item in items:
        by_conversation[item.conversation.pk].append(item)
    clocks = SlaClock.objects.in_bulk(list(by_conversation))
    calendars: dict[int, Calendar] = {}
    counts = Counts()
    fresh: list[SlaClock] = []
    changed: list[SlaClock] = []
    for conversation_id, conv_items in by_conversation.items():
        conv_items.sort(key=lambda i: i.inbound.created_at)
        first = conv_items[0]
        conversation = first.conversation
        account = first.event.account
        org_id = account.organization_id
        if org_id not in calendars:
            calendars[org_id] = Calendar.load(account.organization)
        calendar = calendars[org_id]
        team_id = conversation.team_id
        for item in conv_items:
            counts.add(
                organization_id=org_id,
                at=item.inbound.created_at,
                account_id=account.pk,
                team_id=team_id,
                inbound=1,
            )
        clock = clocks.get(conversation_id)
        at = first.inbound.created_at
        if clock is None:
            clock = SlaClock(conversation_id=conversation_id, organization_id=org_id, started_at=at)
            reopened = not first.new_conversation
            fresh.append(clock)
        else:
            reopened = clock.closed
            changed.append(clock)
        if first.new_conversation or reopened:
            counts.add(
                organization_id=org_id, at=at, account_id=account.pk, team_id=team_id, opened=1
            )
        clock.closed = False
        if not clock.awaiting:
            clock.awaiting = True
            counts.add(
                organization_id=org_id,
                at=at,
                account_id=account.pk,
                team_id=team_id,
                awaiting_started=1,
            )
        if clock.due_at is None:
            kind = ClockKind.FIRST if conversation.first_response_at is None else ClockKind.NEXT
            _start(clock, calendar, conversation, kind, at)
    if fresh:
        SlaClock.objects.bulk_create(fresh, ignore_conflicts=True)
    update_rows(
        SlaClock,
        changed,
        [
            "policy",
            "kind",
            "started_at",
            "warn_at",
            "due_at",
            "breached_at",
            "problem",
            "closed",
            "awaiting",
        ],
    )
    counts.flush()


def clock_answered(*, conversation, at: datetime, agent_id: int | None, first: bool) -> None:
    """An answer went out: the clock stops; a first response is counted with its wait."""
    clock = SlaClock.objects.filter(pk=conversation.pk).first()
    counts = Counts()
    common = {
        "organization_id": conversation.organization_id,
        "at": at,
        "account_id": conversation.account_id,
        "team_id": conversation.team_id,
        "agent_id": agent_id,
    }
    running = clock is not None and clock.due_at is not None
    if first:
        counts.first_response(
            **common,
            waited_seconds=max((at - conversation.first_message_at).total_seconds(), 0),
            in_sla=not (running and clock is not None and at > clock.due_at),  # type: ignore[operator]
        )
    if clock is not None and (running or clock.awaiting):
        if clock.awaiting:
            counts.add(**common, awaiting_stopped=1)
        if clock.breached_at is not None:
            SlaBreach.objects.filter(
                conversation_id=conversation.pk, answered_at__isnull=True
            ).update(answered_at=at)
        clock.due_at = clock.warn_at = clock.breached_at = None
        clock.awaiting = False
        clock.save(update_fields=["due_at", "warn_at", "breached_at", "awaiting"])
    counts.flush()


def clock_closed(*, conversation, at: datetime) -> None:
    clock = SlaClock.objects.filter(pk=conversation.pk).first()
    counts = Counts()
    common = {
        "organization_id": conversation.organization_id,
        "at": at,
        "account_id": conversation.account_id,
        "team_id": conversation.team_id,
        "agent_id": conversation.assignee_id,
    }
    if clock is not None and clock.closed:
        return  # closed twice: counted once
    counts.add(
        **common,
        closed=1,
        resolution_seconds=int(max((at - conversation.first_message_at).total_seconds(), 0)),
    )
    if clock is None:
        clock = SlaClock(
            conversation_id=conversation.pk,
            organization_id=conversation.organization_id,
            started_at=conversation.first_message_at,
            closed=True,
        )
        clock.save()
    else:
        if clock.awaiting:
            counts.add(**common, awaiting_stopped=1)
        clock.closed = True
        clock.awaiting = False
        clock.due_at = clock.warn_at = clock.breached_at = None
        clock.save(update_fields=["closed", "due_at", "warn_at", "breached_at", "awaiting"])
    counts.flush()


def clock_reopened(*, conversation, at: datetime) -> None:
    """Reopened by a person (not by a new message): counted in the backlog again."""
    updated = SlaClock.objects.filter(pk=conversation.pk, closed=True).update(closed=False)
    if updated:
        counts = Counts()
        counts.add(
            organization_id=conversation.organization_id,
            at=at,
            account_id=conversation.account_id,
            team_id=conversation.team_id,
            opened=1,
        )
        counts.flush()


def organization_calendar(organization: Organization) -> Calendar:
    return Calendar.load(organization)
