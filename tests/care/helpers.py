"""Shared by the routing part's tests: conversations through the real ingest pipeline."""

from __future__ import annotations

from datetime import timedelta

from relais.care.models import ExceptionKind, ShiftException
from relais.channels.ingest import ingest
from relais.common.testing import inbound
from relais.common.timeutils import now
from relais.inbox.models import Conversation


def converse(account, capture, text="La C4 circule ce matin ?", **kwargs) -> Conversation:
    """One inbound message ingested (pipeline run): its conversation."""
    message = inbound(text, **kwargs)
    with capture(execute=True):
        ingest(account=account, messages=[message])
    return Conversation.objects.get(account=account, messages__external_id=message.external_id)


def on_shift_now(membership, team) -> None:
    """An extra shift around now: the agent is on shift for the team."""
    t = now()
    ShiftException.objects.create(
        organization_id=membership.organization_id,
        team=team,
        user=membership.user,
        kind=ExceptionKind.EXTRA,
        starts_at=t - timedelta(hours=1),
        ends_at=t + timedelta(hours=1),
    )
