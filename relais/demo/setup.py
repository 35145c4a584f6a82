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
SCENARIO_S3 = Path(__file__).parent / "scenarios" / "s3_bomb_rumour.jsonl"
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
    from relais.listening.demo import load_listening_demo

    load_listening_demo(organization=org, teams=teams)
    from relais.demo.wording import load_templates  # incidents part: approved templates

    load_templates(org)
    _demo_publishing(org)  # publishing part 2: subscribers, scheduled posts, officials
    from relais.care.demo_routing import load_routing_demo  # routing part

    load_routing_demo(organization=org, teams=teams)
    return DemoInfo(organization=org, logins=logins, created=created)


def _demo_publishing(org: Organization) -> None:
    """A few subscribers, scheduled posts (one promotional post on a line of the demo's
    incident, which the conflict guard holds) and officials for the neutrality report."""
    import uuid
    from datetime import timedelta

    from relais.common.timeutils import now
    from relais.publishing.models import (
        NeutralityPerson,
        Publication,
        Subscriber,
        SubscriberState,
    )

    if Subscriber.objects.filter(organization=org).exists():
        return
    routes = {r.short_name: r for r in org.routes.filter(short_name__in=["a", "b", "C4"])}
    incident = org.incidents.filter(status__in=["open", "monitoring"]).first()
    line = (incident.lines.first() if incident else None) or routes.get("a")
    people = [
        ("+33612000001", "sms"),
        ("+33612000002", "sms"),
        ("lea.voyageuse@example.org", "email"),
    ]
    for address, channel in people:
        subscriber = Subscriber.objects.create(
            organization=org,
            channel=channel,
            address=address,
            state=SubscriberState.CONFIRMED,
            confirmed_at=now(),
            token=uuid.uuid4().hex,
        )
        subscriber.lines.set([r for r in (line, routes.get("C4")) if r is not None])
    User = get_user_model()
    claire = User.objects.filter(username="claire").first()
    lea = User.objects.filter(username="lea").first()
    tomorrow_11 = (now() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    name = line.short_name if line else "a"
    posts = [
        (
            "promotion",
            "scheduled",
            claire,
            f"La station rénovée de la ligne {name} vous attend : "
            "nouveaux ascenseurs et quais plus larges !",
            tomorrow_11,
        ),
        (
            "institutional",
            "scheduled",
            claire,
            "Conseil métropolitain : le budget mobilité 2027 "
            "est voté. Hélène Martin présentera les projets jeudi.",
            tomorrow_11 + timedelta(days=2),
        ),
        (
            "promotion",
            "awaiting_approval",
            lea,
            "Jeu concours : gagnez un abonnement d'un an !",
            tomorrow_11 + timedelta(days=4),
        ),
    ]
    for category, state, author, text, at in posts:
        post = Publication.objects.create(
            organization=org,
            kind="post",
            category=category,
            state=state,
            text=text,
            scheduled_at=at,
            author=author,
            approved_by=claire if state == "scheduled" else None,
            approved_at=now() if state == "scheduled" else None,
        )
        if category == "promotion" and line is not None and state == "scheduled":
            post.lines.set([line])
    for person, title, aliases in [
        ("Hélène Martin", "Présidente de la métropole", ["@HMartin"]),
        ("Marc Petit", "Vice-président mobilités", ["M. Petit"]),
    ]:
        NeutralityPerson.objects.get_or_create(
            organization=org, name=person, defaults={"title": title, "aliases": aliases}
        )
