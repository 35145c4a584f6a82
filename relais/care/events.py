"""The care part's live events (typed, sent on commit like every other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from relais.realtime.events import Event


@dataclass(frozen=True)
class CareAlertRaised(Event):
    """Supervisors are warned: an SLA breach, an uncovered channel, a failed hand-off."""

    type: ClassVar[str] = "care_alert"
    kind: str = ""
    text: str = ""
    conversation_ids: list[int] = field(default_factory=list)
    account_id: int | None = None
    user_ids: list[int] = field(default_factory=list)  # the supervisors it is meant for


@dataclass(frozen=True)
class HandedOff(Event):
    type: ClassVar[str] = "handoff"
    conversation_id: int = 0
    from_user_id: int | None = None
    to_user_id: int | None = None
