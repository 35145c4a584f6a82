"""Polling networks that do not push: one account at a time, claimed so that two workers
never poll it together, its cursor saved only with what the poll returned."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q

from relais.channels.contract import Capability, ConnectorError, DeliveryReport, InboundMessage
from relais.channels.delivery import apply_delivery_reports
from relais.channels.health import account_record_problem, account_record_success
from relais.channels.ingest import ingest
from relais.channels.models import AccountStatus, ChannelAccount
from relais.channels.registry import connector_class, connector_for
from relais.common.timeutils import now

logger = logging.getLogger(__name__)


def due_accounts() -> list[int]:
    """Active or erroring accounts (an error may be temporary: keep trying) whose
    connector polls and whose interval has passed."""
    t = now()
    due = []
    for account in ChannelAccount.objects.filter(
        status__in=[AccountStatus.ACTIVE, AccountStatus.ERROR]
    ):
        try:
            if Capability.POLL not in connector_class(account.kind).capabilities:
                continue
        except (LookupError, ImportError):
            continue
        if account.polled_at is None or account.polled_at <= t - timedelta(
            seconds=account.poll_interval
        ):
            due.append(account.pk)
    return due


def _claim(account: ChannelAccount) -> bool:
    t = now()
    previous = account.polled_at
    condition = Q(polled_at__isnull=True) if previous is None else Q(polled_at=previous)
    claimed = ChannelAccount.objects.filter(condition, pk=account.pk).update(polled_at=t)
    account.polled_at = t
    return bool(claimed)


def poll_account(account_id: int) -> int:
    """Poll once; returns how many new messages were stored."""
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None or not _claim(account):
        return 0
    try:
        items, cursor = connector_for(account).poll(account.cursor)
    except ConnectorError as exc:
        account_record_problem(account_id=account.pk, error=str(exc), reconnect=exc.reconnect)
        logger.warning("poll %s (%s) failed: %s", account.pk, account.kind, exc)
        return 0
    except Exception as exc:  # a bug or an unexpected network answer: shown on the account
        account_record_problem(
            account_id=account.pk, error=f"{type(exc).__name__}: {exc}", reconnect=False
        )
        logger.exception("poll %s (%s) crashed", account.pk, account.kind)
        return 0
    messages = [i for i in items if isinstance(i, InboundMessage)]
    reports = [i for i in items if isinstance(i, DeliveryReport)]
    with transaction.atomic():
        result = ingest(account=account, messages=messages)
        if reports:
            apply_delivery_reports(account=account, reports=reports)
        # The cursor moves only together with the stored messages: a crash before this
        # commit polls the same page again, and ingest deduplicates it.
        ChannelAccount.objects.filter(pk=account.pk).update(cursor=cursor)
        account_record_success(account_id=account.pk)
    return result.stored
