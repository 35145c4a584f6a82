"""Test base: personas of two organisations, so that permission tests are one line each."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model

from relais.accounts.models import Membership, Organization, Role, Team
from relais.channels.contract import Author, InboundMessage, MessageKind
from relais.channels.models import ChannelAccount
from relais.common.timeutils import now

PASSWORD = "relais-test-password"  # noqa: S105 - test users only


@dataclass
class Personas:
    org: Organization
    other_org: Organization
    team_a: Team
    team_b: Team
    admin: Membership
    supervisor: Membership
    agent_a: Membership
    agent_b: Membership
    operations: Membership
    viewer: Membership
    outsider: Membership  # admin of the other organisation
    account: ChannelAccount  # a sandbox account of org, X-like, default team A
    other_account: ChannelAccount  # a sandbox account of other_org


def _member(org: Organization, username: str, role: Role, teams=()) -> Membership:
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.test"
    )
    membership = Membership.objects.create(user=user, organization=org, role=role)
    if teams:
        membership.teams.set(teams)
    return membership


def make_personas() -> Personas:
    org = Organization.objects.create(slug="alpha", name="Alpha Transit")
    other = Organization.objects.create(slug="beta", name="Beta City Hall")
    team_a = Team.objects.create(organization=org, name="Passenger care", slug="care")
    team_b = Team.objects.create(organization=org, name="Press", slug="press")
    account = ChannelAccount.objects.create(
        organization=org,
        kind="sandbox",
        network="x",
        handle="alpha_transit",
        name="Alpha on X",
        default_team=team_a,
        config={"flavour": "x"},
    )
    other_account = ChannelAccount.objects.create(
        organization=other,
        kind="sandbox",
        network="x",
        handle="beta_city",
        name="Beta on X",
        config={"flavour": "x"},
    )
    return Personas(
        org=org,
        other_org=other,
        team_a=team_a,
        team_b=team_b,
        admin=_member(org, "admin", Role.ADMIN),
        supervisor=_member(org, "supervisor", Role.SUPERVISOR, [team_a, team_b]),
        agent_a=_member(org, "agent_a", Role.AGENT, [team_a]),
        agent_b=_member(org, "agent_b", Role.AGENT, [team_b]),
        operations=_member(org, "operations", Role.OPERATIONS),
        viewer=_member(org, "viewer", Role.VIEWER),
        outsider=_member(other, "outsider", Role.ADMIN),
        account=account,
        other_account=other_account,
    )


_counter = iter(range(1, 10**9))


def inbound(
    text: str = "La C4 circule ce matin ?",
    *,
    handle: str = "maelle",
    external_id: str | None = None,
    kind: MessageKind = MessageKind.MENTION,
    thread_id: str = "",
    reply_to_id: str = "",
    reach: int = 120,
    created_at: datetime | None = None,
) -> InboundMessage:
    """An inbound message as a connector would hand it over."""
    return InboundMessage(
        external_id=external_id or f"ext-{next(_counter)}",
        kind=kind,
        author=Author(
            external_id=handle.lower(), handle=handle, display_name=handle.title(), reach=reach
        ),
        text=text,
        created_at=created_at or now(),
        thread_id=thread_id,
        reply_to_id=reply_to_id,
    )


def free_port() -> int:
    """A loopback port free right now, for a peer a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
