"""The `relais` commands an operator types."""

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from relais.accounts.models import Membership, Organization, Role
from relais.channels.models import ChannelAccount
from relais.demo.setup import DEMO_SLUG


def test_createorg(db):
    call_command(
        "createorg", "ville-x", "Ville de X", "--admin", "maire", "--password", "long-enough-pw"
    )
    membership = Membership.objects.get(organization__slug="ville-x")
    assert membership.role == Role.ADMIN
    assert membership.user.check_password("long-enough-pw")
    with pytest.raises(CommandError, match="exists already"):
        call_command(
            "createorg", "ville-x", "Ville de X", "--admin", "maire", "--password", "long-enough-pw"
        )
    with pytest.raises(CommandError, match="8 characters"):
        call_command(
            "createorg", "ville-y", "Ville de Y", "--admin", "other", "--password", "short"
        )


def test_demo_setup_is_idempotent(db, capsys):
    call_command("demo", "--setup-only")
    call_command("demo", "--setup-only")
    org = Organization.objects.get(slug=DEMO_SLUG)
    # Three accounts of the operator, and the listening part's keyword search stream.
    assert ChannelAccount.objects.filter(organization=org).count() == 4
    assert ChannelAccount.objects.filter(organization=org, config__listening=True).count() == 1
    assert org.monitors.count() == 2
    assert set(
        ChannelAccount.objects.filter(organization=org).values_list("network", flat=True)
    ) == {"x", "facebook", "bluesky"}
    roles = dict(Membership.objects.filter(organization=org).values_list("user__username", "role"))
    assert {u for u, r in roles.items() if r == Role.AGENT} == {"lea", "hugo", "nina"}
    assert org.teams.count() == 2
    assert org.routes.filter(short_name="C4").exists()  # the STAR Rennes network
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/" in out and "relais-demo" in out


def test_console_command_lists_relais_commands():
    result = subprocess.run(
        [sys.executable, "-m", "relais.cli", "help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for command in ("run", "worker", "demo", "replay", "createorg", "migrate"):
        assert f"    {command}\n" in result.stdout
