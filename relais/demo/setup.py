"""Creates the demo organisation: a transit operator on the STAR Rennes network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from relais.accounts.models import Membership, Organization, Role, Team
from relais.channels.models import ChannelAccount

DEMO_SLUG = "star-rennes"
DEMO_PASSWORD = "relais-demo"  # noqa: S105 - printed on purpose: it is the demo
SCENARIO_S1 = Path(__file__).parent / "scenarios" / "s1_strike_morning.jsonl"
GTFS_DIR = Path(__file__).parent / "data" / "gtfs" / "star_rennes"

PEOPLE = [
    # user name, display name, role, teams
    ("admin", "Admin Démo", Role.ADMIN, []),
    ("claire", "Claire (superviseure)", Role.SUPERVISOR, ["care", "press"]),
    ("lea", "Léa", Role.AGENT, ["care"]),
    ("hugo", "Hugo", Role.AGENT, ["care"]),
    ("nina", "Nina", Role.AGENT, ["press"]),
    ("regulation", "Régulation trafic", Role.OPERATIONS, []),
]

ACCOUNTS = [
    # network, handle, name
    ("x", "STAR_Rennes", "STAR sur X"),
    ("facebook", "star.rennes", "STAR sur Facebook"),
    ("bluesky", "star-rennes.bsky.social", "STAR sur Bluesky"),
]


@dataclass
class DemoInfo:
    organization: Organization
    logins: list[tuple[str, str]]
    created: bool


@transaction.atomic
def load_demo(*, reset: bool = False) -> DemoInfo:
    existing = Organization.objects.filter(slug=DEMO_SLUG).first()
    if existing and reset:
        existing.delete()
        existing = None
    created = existing is None
    org = existing or Organization.objects.create(
        slug=DEMO_SLUG, name="STAR Rennes (démo)", timezone="Europe/Paris", language="fr"
    )
    teams = {
        "care": Team.objects.get_or_create(
            organization=org, slug="care", defaults={"name": "Relation voyageurs"}
        )[0],
        "press": Team.objects.get_or_create(
            organization=org, slug="press", defaults={"name": "Presse et crise"}
        )[0],
    }
    User = get_user_model()
    logins = []
    for username, display, role, team_slugs in PEOPLE:
        user, made = User.objects.get_or_create(username=username, defaults={"first_name": display})
        if made:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        membership, _ = Membership.objects.get_or_create(
            user=user, organization=org, defaults={"role": role}
        )
        membership.teams.set([teams[s] for s in team_slugs])
        logins.append((username, str(role.label)))
    for network, handle, name in ACCOUNTS:
        ChannelAccount.objects.get_or_create(
            organization=org,
            kind="sandbox",
            handle=handle,
            defaults={
                "network": network,
                "name": name,
                "default_team": teams["care"],
                "config": {"flavour": network},
            },
        )
    # care: SLA policies, office hours, holidays, the demo agents' shifts
    from relais.care.demo import load_care_demo

    load_care_demo(organization=org, teams=teams)
    if not org.routes.exists():
        from relais.transit.gtfs import import_feed

        import_feed(organization=org, path=GTFS_DIR)
    from relais.care.demo_routing import load_routing_demo  # routing part

    load_routing_demo(organization=org, teams=teams)
    return DemoInfo(organization=org, logins=logins, created=created)
