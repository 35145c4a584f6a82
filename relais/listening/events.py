"""Live events of the listening part (typed payloads, sent on commit by the actions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from relais.realtime.events import Event


@dataclass(frozen=True)
class AlertRaised(Event):
    """A burst alert for these people (the on-call person, or the next one on escalation)."""

    type: ClassVar[str] = "listening_alert"
    alert_id: int = 0
    monitor: str = ""
    user_ids: list[int] = field(default_factory=list)
    level: int = 0
    url: str = ""


@dataclass(frozen=True)
class AlertChanged(Event):
    type: ClassVar[str] = "listening_alert_changed"
    alert_id: int = 0
    state: str = ""
    by_user_id: int | None = None


@dataclass(frozen=True)
class CrisisChanged(Event):
    """Crisis mode switched: every open page shows or hides the banner."""

    type: ClassVar[str] = "crisis"
    active: bool = False
    reason: str = ""
    by_user_id: int | None = None
