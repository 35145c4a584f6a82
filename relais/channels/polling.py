"""Polling networks that do not push: one account at a time, claimed so that two workers
never poll it together, its cursor saved only with what the poll returned."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
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

CURSOR_LENGTH = ChannelAccount._meta.get_field("cursor").max_length or 500


def _searches(account: ChannelAccount) -> bool:
    """A listening source on a network that searches: polled by its keyword queries."""
    try:
        return bool(account.search_queries) and (
            Capability.SEARCH in connector_class(account.kind).capabilities
        )
    except (LookupError, ImportError):
        return False


def due_accounts() -> list[int]:
    """Active or erroring accounts (an error may be temporary: keep trying) whose
    connector polls (or searches, for a listening source) and whose interval has passed."""
    t = now()
    due = []
    for account in ChannelAccount.objects.filter(
        status__in=[AccountStatus.ACTIVE, AccountStatus.ERROR]
    ):
        try:
            if Capability.POLL not in connector_class(account.kind).capabilities and not (
                _searches(account)
            ):
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


def _query_key(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:8]


def _search(account: ChannelAccount) -> tuple[list[InboundMessage], str]:
    """Every keyword query of a listening source, each from its own cursor. The cursors
    are kept together as JSON keyed by a short hash of the query, so that editing one
    query restarts that query alone (from its latest page, never the whole history)."""
    try:
        cursors = json.loads(account.cursor) if account.cursor else {}
    except ValueError:
        cursors = {}
    if not isinstance(cursors, dict):
        cursors = {}
    connector = connector_for(account)
    found: dict[str, InboundMessage] = {}
    kept: dict[str, str] = {}
    for query in account.search_queries:
        key = _query_key(query)
        messages, kept[key] = connector.search(query, str(cursors.get(key) or ""))
        for message in messages:  # a post matching two queries is one message
            found.setdefault(message.external_id, message)
    cursor = json.dumps(kept, separators=(",", ":"))
    if len(cursor) > CURSOR_LENGTH:
        raise ConnectorError(
            f"too many search queries on one account ({len(kept)}): their cursors do not "
            f"fit in {CURSOR_LENGTH} characters; split them over two listening accounts",
            permanent=True,
        )
    return list(found.values()), cursor


def poll_account(account_id: int) -> int:
    """Poll once; returns how many new messages were stored."""
    account = ChannelAccount.objects.filter(pk=account_id).first()
    if account is None or not _claim(account):
        return 0
    items: Sequence[InboundMessage | DeliveryReport]
    try:
        if _searches(account):
            items, cursor = _search(account)
        else:
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
