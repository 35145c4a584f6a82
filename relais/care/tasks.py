"""Periodic care work: SLA breaches, hand-offs at shift end, uncovered channels."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from relais.care import actions

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def sla_pass() -> int:
    """Every minute: clocks past due become breaches, escalated once to the supervisors."""
    n = actions.sla_evaluate()
    if n:
        logger.info("sla: %d new breaches", n)
    return n


@db_periodic_task(crontab(minute="*/5"))
def handoff_at_shift_end() -> int:
    """Every five minutes: conversations of agents whose shift ended (or who went away)
    without handing off go to the next person."""
    n = actions.handoff_sweep()
    if n:
        logger.info("hand-off sweep: %d conversations handed off", n)
    return n


@db_periodic_task(crontab(minute="*/5"))
def uncovered_channels() -> int:
    return len(actions.uncovered_check())
