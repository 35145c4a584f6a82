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
    made["Jaurès"] = Stop.objects.create(
        organization=org, gtfs_id="1234", code="JAU", name="Jaurès"
    )
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


def add_broadcast(world, capture) -> None:
    """Each organisation's incident (with the conversation linked), approved template and
    published alert, on the isolation tests' world."""
    from relais.incidents.actions import incident_link_conversation, incident_open
    from relais.publishing.alerts import alert_publish

    p = world.personas
    for prefix, admin, conversation, name in (
        ("", p.admin, world.conversation, "Alpha"),
        ("other_", p.outsider, world.other_conversation, "Beta"),
    ):
        incident = incident_open(
            membership=admin, title=f"{name} C4 incident", type="strike", external_id="OPS-1"
        )
        incident_link_conversation(incident=incident, conversation=conversation, membership=admin)
        template = approved(admin, admin, text=f"{name}: grève C4, trafic perturbé.")
        with capture(execute=True):
            publication = alert_publish(membership=admin, template=template, incident=incident)
        setattr(world, f"{prefix}incident", incident)
        setattr(world, f"{prefix}template", template)
        setattr(world, f"{prefix}publication", publication)
        setattr(world, f"{prefix}target", publication.targets.get())


def broadcast_state() -> dict:
    from relais.incidents.models import Incident, TimelineEntry
    from relais.publishing.models import Publication, PublicationTarget
    from relais.wording.models import Template

    return {
        "incidents": list(
            Incident.objects.order_by("pk").values(
                "pk", "organization_id", "title", "status", "severity", "cause", "operator_refs"
            )
        ),
        "incident_links": list(
            Incident.conversations.through.objects.order_by("pk").values_list(
                "incident_id", "conversation_id"
            )
        ),
        "timeline": TimelineEntry.objects.count(),
        "templates": list(Template.objects.order_by("pk").values("pk", "state", "text", "version")),
        "publications": list(Publication.objects.order_by("pk").values("pk", "state")),
        "targets": PublicationTarget.objects.count(),
    }
