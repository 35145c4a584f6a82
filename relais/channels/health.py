"""An account's health: what went wrong with it, and telling the people who can fix it."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from relais.accounts.models import Membership, Role, audit
from relais.channels.models import AccountStatus, ChannelAccount
from relais.common.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

# Who hears about a broken account: those who can reconnect it or get it reconnected.
RESPONSIBLE_ROLES = (Role.ADMIN, Role.SUPERVISOR)


def account_record_problem(*, account_id: int, error: str, reconnect: bool) -> None:
    """Mark the account as erroring (temporary) or to be reconnected (credentials refused).
    Supervisors are told once, when the account starts needing a person."""
    status = AccountStatus.RECONNECT if reconnect else AccountStatus.ERROR
    with transaction.atomic():
        account = ChannelAccount.objects.select_for_update().filter(pk=account_id).first()
        if account is None:
            return
        if account.status == AccountStatus.RECONNECT and not reconnect:
            # A temporary error never hides that credentials must be renewed.
            ChannelAccount.objects.filter(pk=account_id).update(last_error=error[:2000])
            return
        newly_broken = reconnect and account.status != AccountStatus.RECONNECT
        ChannelAccount.objects.filter(pk=account_id).update(status=status, last_error=error[:2000])
        if newly_broken:
            audit(
                organization_id=account.organization_id,
                actor_id=None,
                action="account.reconnect_needed",
                obj=account,
                text=error[:2000],
            )
            from relais.channels.tasks import notify_reconnect

            enqueue_on_commit(notify_reconnect, account_id)


def account_record_success(*, account_id: int) -> None:
    """A temporary error has passed. An account waiting for new credentials stays so until
    a person reconnects it."""
    ChannelAccount.objects.filter(pk=account_id, status=AccountStatus.ERROR).update(
        status=AccountStatus.ACTIVE, last_error=""
    )


def notify_reconnect(account_id: int) -> int:
    account = ChannelAccount.objects.select_related("organization").filter(pk=account_id).first()
    if account is None or account.status != AccountStatus.RECONNECT:
        return 0
    recipients = sorted(
        set(
            Membership.objects.filter(organization=account.organization, role__in=RESPONSIBLE_ROLES)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    )
    if not recipients:
        logger.warning("account %s needs reconnecting and nobody has an e-mail address", account_id)
        return 0
    subject = f"[Relais] {account.name} must be reconnected"
    body = (
        f"The account {account.name} (@{account.handle}, {account.get_network_display()}) of "
        f"{account.organization.name} was refused by the network:\n\n  {account.last_error}\n\n"
        "Nothing is received from it or sent through it until its credentials are renewed. "
        f"Messages waiting to go out are kept and will be sent once it is reconnected.\n\n"
        f"{settings.RELAIS_BASE_URL}/admin/channels/channelaccount/{account.pk}/change/\n"
    )
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)


def broken_accounts(organization_id: int) -> list[ChannelAccount]:
    return list(
        ChannelAccount.objects.filter(
            organization_id=organization_id,
            status__in=[AccountStatus.RECONNECT, AccountStatus.ERROR],
        ).order_by("status", "name")
    )
