"""The listening part of the demo organisation: a keyword search stream, two monitors and
an on-call rota (called by relais.demo.setup.load_demo)."""

from __future__ import annotations

from datetime import time

from relais.accounts.models import Membership, Organization, Team
from relais.channels.models import ChannelAccount

MONITORS = [
    # name, query, team slug
    (
        "Rumeur aéroport",
        '("alerte à la bombe" OR bombe OR bomb OR "colis suspect" OR "bagage abandonné") '
        'AND (aéroport OR airport OR "saint-jacques")',
        "press",
    ),
    ("Grève", 'grève OR greve OR strike OR "mouvement social" OR #grevestar', "care"),
]
# user name, team slug: the press team on call round the clock, every day, in this order.
ON_CALL = [("claire", "press"), ("nina", "press")]  # the care team's rota is care.demo's


def learn_history(*, organization_id: int, since) -> int:
    """After a replay's history was ingested (relais.connectors.replay.player.play with
    history_until): thread and count it now, then let every series of the organisation
    judge its buckets from `since`, so that the live part is compared with that past.
    Returns the number of series rewound."""
    import time

    from relais.channels.models import RawEvent, RawEventState
    from relais.channels.pipeline import process_pending
    from relais.listening import actions

    waiting = RawEvent.objects.filter(
        account__organization_id=organization_id,
        state__in=[RawEventState.PENDING, RawEventState.PROCESSING],
    )
    for _ in range(300):  # a worker may hold a batch of it: up to a minute
        process_pending()
        if not waiting.exists():
            break
        time.sleep(0.2)
    rewound = actions.series_relearn(organization_id=organization_id, since=since)
    actions.close_buckets()
    return rewound


def load_listening_demo(*, organization: Organization, teams: dict[str, Team]) -> None:
    from relais.care.models import Shift
    from relais.listening import actions
    from relais.listening.models import Monitor

    ChannelAccount.objects.get_or_create(
        organization=organization,
        kind="replay",
        handle="search-rennes",
        defaults={
            "network": "x",
            "name": "Recherche X « Rennes aéroport »",
            "config": {"listening": True, "search": "Rennes (aéroport OR airport OR STAR)"},
        },
    )
    admin = Membership.objects.filter(organization=organization, role="admin").first()
    if admin is not None:
        for name, query, team in MONITORS:
            if not Monitor.objects.filter(organization=organization, name=name).exists():
                actions.monitor_create(
                    membership=admin, name=name, query_text=query, team=teams.get(team)
                )
    for username, team in ON_CALL:
        member = Membership.objects.filter(
            organization=organization, user__username=username
        ).first()
        if member is None or team not in teams:
            continue
        for day in range(7):
            Shift.objects.get_or_create(
                organization=organization,
                team=teams[team],
                user=member.user,
                weekday=day,
                starts=time(0, 0),
                ends=time(0, 0),
                defaults={"on_call": True},
            )
