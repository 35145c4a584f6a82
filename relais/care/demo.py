"""The demo's care set-up: the default SLA policies, office hours and French public holidays,
and a week of shifts (day, evening, and a night on-call person). Idempotent."""

from __future__ import annotations

from datetime import date, time

from django.contrib.auth import get_user_model

from relais.accounts.models import Organization, Team
from relais.care.models import BusinessHours, Holiday, Shift, SlaPolicy
from relais.care.sla import DEFAULT_POLICIES

HOLIDAYS_2026 = [
    (date(2026, 1, 1), "Jour de l'an"),
    (date(2026, 4, 6), "Lundi de Pâques"),
    (date(2026, 5, 1), "Fête du travail"),
    (date(2026, 5, 8), "Victoire 1945"),
    (date(2026, 5, 14), "Ascension"),
    (date(2026, 5, 25), "Lundi de Pentecôte"),
    (date(2026, 7, 14), "Fête nationale"),
    (date(2026, 8, 15), "Assomption"),
    (date(2026, 11, 1), "Toussaint"),
    (date(2026, 11, 11), "Armistice"),
    (date(2026, 12, 25), "Noël"),
]

# user name, team slug, weekdays, starts, ends, on call
SHIFTS = [
    ("lea", "care", range(0, 7), time(7, 0), time(14, 30), False),  # day
    ("hugo", "care", range(0, 7), time(14, 30), time(22, 0), False),  # evening
    ("claire", "care", range(0, 7), time(22, 0), time(7, 0), True),  # night, on call
    ("nina", "press", range(0, 5), time(9, 0), time(18, 0), False),
    ("claire", "press", range(5, 7), time(10, 0), time(18, 0), True),
]


def load_care_demo(*, organization: Organization, teams: dict[str, Team]) -> None:
    if not SlaPolicy.objects.filter(organization=organization).exists():
        for name, network, audience, first, nxt in DEFAULT_POLICIES:
            SlaPolicy.objects.create(
                organization=organization,
                name=name,
                network=network,
                audience=audience,
                first_response_minutes=first,
                next_response_minutes=nxt,
            )
    if not BusinessHours.objects.filter(organization=organization).exists():
        for weekday in range(5):
            BusinessHours.objects.create(
                organization=organization, weekday=weekday, starts=time(8, 0), ends=time(19, 0)
            )
    for day, name in HOLIDAYS_2026:
        Holiday.objects.get_or_create(organization=organization, date=day, defaults={"name": name})
    if Shift.objects.filter(organization=organization).exists():
        return
    users = {
        u.username: u for u in get_user_model().objects.filter(username__in={s[0] for s in SHIFTS})
    }
    for username, team, weekdays, starts, ends, on_call in SHIFTS:
        if username not in users or team not in teams:
            continue
        for weekday in weekdays:
            Shift.objects.create(
                organization=organization,
                team=teams[team],
                user=users[username],
                weekday=weekday,
                starts=starts,
                ends=ends,
                on_call=on_call,
            )
