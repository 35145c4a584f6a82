"""Plays a scenario into an organisation's accounts, as the networks would have delivered it.

Each line goes to the organisation's account on the line's network (the first account when
none matches). A sandbox account receives it through the sandbox network, so that citizens'
posts and our answers show on the sandbox pages; any other account through ingest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from relais.accounts.models import Organization
from relais.channels.ingest import ingest
from relais.channels.models import ChannelAccount
from relais.common.timeutils import now
from relais.connectors.replay.connector import (
    ReplayConnector,
    Scenario,
    ScenarioError,
    ScenarioLine,
)

logger = logging.getLogger(__name__)


@dataclass
class PlayResult:
    played: int
    skipped: int


def _accounts_by_network(organization: Organization) -> dict[str, ChannelAccount]:
    accounts = list(ChannelAccount.objects.filter(organization=organization).order_by("pk"))
    if not accounts:
        raise ScenarioError(f"organisation {organization.slug} has no account to play into")
    mapping: dict[str, ChannelAccount] = {}
    for account in accounts:
        # A listening source (a keyword search stream) receives the lines marked
        # "source": "search"; the organisation's own accounts receive the others.
        if account.is_listening_source:
            mapping.setdefault(f"search:{account.network}", account)
            continue
        mapping.setdefault(account.network, account)
    own = [a for a in accounts if not a.is_listening_source]
    mapping["*"] = (own or accounts)[0]
    return mapping


def play(
    scenario: Scenario,
    *,
    organization: Organization,
    speed: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    limit: int | None = None,
    on_message: Callable[[ScenarioLine], None] | None = None,
    history_until: float | None = None,
    on_history_done: Callable[[datetime], object] | None = None,
) -> PlayResult:
    """Play the lines in order. `speed` 60 plays an hour in a minute; 0 plays at once.

    With `history_until` (seconds of the scenario), the lines before it are played at once
    as history, dated as they happened in scenario time so that the history ends now (an
    afternoon of two hours is two hours of past buckets, not two minutes), then
    `on_history_done(history_start)` is called, then the rest plays live at `speed`.
    A listening demo needs that: a burst is judged against the monitor's own past."""
    from relais.connectors.sandbox.network import citizen_post

    accounts = _accounts_by_network(organization)
    wall_start = now()
    prefix = f"r{int(wall_start.timestamp())}-"
    external: dict[str, str] = {}  # scenario id -> the id the network gave it
    roots: dict[str, str] = {}  # scenario id -> its thread's root scenario id
    played = skipped = 0
    lines = scenario.lines[:limit]
    history: list[ScenarioLine] = []
    if history_until is not None:
        history = [line for line in lines if line.at < history_until]
        lines = lines[len(history) :]
    # Second 0 of the scenario, for the history's dates.
    origin = wall_start - timedelta(seconds=history_until or 0.0)

    def one(line: ScenarioLine, created_at: datetime) -> None:
        nonlocal played, skipped
        account = accounts.get(line.network, accounts["*"])
        if line.raw.get("source") == "search":
            account = accounts.get(f"search:{line.network}", account)
        roots[line.id] = roots.get(line.reply_to, line.reply_to) if line.reply_to else line.id
        try:
            if account.kind == "sandbox":
                parent = external.get(line.reply_to, "") if line.reply_to else ""
                post = citizen_post(
                    account=account,
                    handle=line.handle,
                    name=line.name,
                    reach=line.reach,
                    text=line.text,
                    private=line.kind == "dm",
                    reply_to=parent,
                    created_at=created_at,
                )
                external[line.id] = post.external_id
            else:
                message = replace(
                    ReplayConnector.to_inbound(line, start=origin, prefix=prefix),
                    created_at=created_at,
                )
                if line.reply_to:
                    message = replace(message, thread_id=f"{prefix}{roots[line.id]}")
                ingest(account=account, messages=[message])
                external[line.id] = message.external_id
            played += 1
            if on_message:
                on_message(line)
        except Exception:
            logger.exception("scenario line %s could not be played", line.id)
            skipped += 1

    for line in history:
        one(line, origin + timedelta(seconds=line.at))
    if history_until is not None and on_history_done is not None:
        on_history_done(origin + timedelta(seconds=history[0].at) if history else wall_start)
    started = time.monotonic()
    first_at = lines[0].at if lines else 0.0
    if history_until is not None:
        first_at = history_until
    for line in lines:
        if speed > 0:
            due = (line.at - first_at) / speed
            wait = due - (time.monotonic() - started)
            if wait > 0:
                sleep(wait)
        # Times are those of the play, so that the inbox looks live.
        one(line, now())
    return PlayResult(played=played, skipped=skipped)
