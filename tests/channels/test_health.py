"""A broken account is told to the people who can fix it, once, and shown to everyone."""

import pytest
from django.core import mail

from relais.accounts.models import AuditEntry
from relais.channels.health import account_record_problem, account_record_success
from relais.channels.models import AccountStatus


@pytest.fixture
def revoked(personas, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        account_record_problem(
            account_id=personas.account.pk, error="401 token revoked", reconnect=True
        )
    personas.account.refresh_from_db()
    return personas.account


def test_supervisors_and_admins_are_told_once(
    personas, revoked, django_capture_on_commit_callbacks
):
    assert revoked.status == AccountStatus.RECONNECT
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {"admin@example.test", "supervisor@example.test"}
    assert "401 token revoked" in mail.outbox[0].body
    assert AuditEntry.objects.filter(action="account.reconnect_needed").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        account_record_problem(account_id=revoked.pk, error="401 again", reconnect=True)
        account_record_problem(account_id=revoked.pk, error="timeout", reconnect=False)
    assert len(mail.outbox) == 1
    revoked.refresh_from_db()
    assert revoked.status == AccountStatus.RECONNECT  # a timeout does not hide it


def test_a_temporary_error_clears_by_itself_but_reconnect_does_not(personas, revoked):
    account_record_success(account_id=revoked.pk)
    revoked.refresh_from_db()
    assert revoked.status == AccountStatus.RECONNECT
    account_record_problem(account_id=personas.other_account.pk, error="503", reconnect=False)
    account_record_success(account_id=personas.other_account.pk)
    personas.other_account.refresh_from_db()
    assert personas.other_account.status == AccountStatus.ACTIVE


def test_every_page_shows_the_broken_account_to_its_organisation_only(personas, revoked, client_as):
    body = client_as(personas.agent_a).get("/inbox/").content.decode()
    assert "account-alert" in body and "401 token revoked" in body
    assert "account-alert" not in client_as(personas.outsider).get("/inbox/").content.decode()
