"""Shared by the incidents, wording and publishing tests: a small network, more channels,
approved templates."""

from __future__ import annotations

from relais.accounts.models import Membership, Organization
from relais.channels.models import ChannelAccount
from relais.transit.models import Route, Stop
from relais.wording import actions as wording


def network(org: Organization) -> dict[str, Route | Stop]:
    """Lines C4, 12 and metro a, and two stops, with GTFS ids as a feed would give them."""
    made: dict[str, Route | Stop] = {}
    for gtfs_id, short, kind, color in (
        ("0004", "C4", 3, "e2007a"),
        ("0012", "12", 3, "4f2d7f"),
        ("1001", "a", 1, "e3001b"),
    ):
        made[short] = Route.objects.create(
            organization=org, gtfs_id=gtfs_id, short_name=short, route_type=kind, color=color
        )
    made["Jaurès"] = Stop.objects.create(organization=org, gtfs_id="1234", code="JAU", name="Jaurès")
    made["Gares"] = Stop.objects.create(organization=org, gtfs_id="5678", code="GAR", name="Gares")
    return made


def more_accounts(org: Organization, *flavours: str, **config) -> list[ChannelAccount]:
    """Sandbox accounts that look like Facebook, Bluesky, Mastodon … (the personas have X)."""
    return [
        ChannelAccount.objects.create(
            organization=org,
            kind="sandbox",
            network=flavour,
            handle=f"{org.slug}_{flavour}",
            name=f"{org.name} on {flavour}",
            config={"flavour": flavour, **config},
        )
        for flavour in flavours
    ]


def approved(
    author: Membership,
    approver: Membership,
    *,
    name: str = "Grève",
    text: str = "Mouvement social : trafic perturbé sur les lignes {line}. Infos : {incident_url}",
    short_text: str = "",
    category: str = "traffic",
    incident_types: list[str] | None = None,
    language: str = "fr",
    key: str = "",
):
    template = wording.template_create(
        membership=author,
        key=key,
        name=name,
        category=category,
        language=language,
        text=text,
        short_text=short_text,
        incident_types=incident_types if incident_types is not None else ["strike"],
    )
    return wording.template_approve(template=template, membership=approver)
