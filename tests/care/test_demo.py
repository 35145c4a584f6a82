"""The demo organisation comes with SLA policies, holidays and a rota that covers the day."""

from relais.care import selectors
from relais.care.models import Holiday, SlaPolicy
from relais.demo.setup import load_demo
from tests.care.conftest import paris


def test_demo_has_policies_and_a_rota(db):
    org = load_demo().organization
    assert SlaPolicy.objects.filter(organization=org).count() == 5
    assert Holiday.objects.filter(organization=org).count() == 11
    care = org.teams.get(slug="care")
    names = {}
    for hour in (8, 16, 23, 3):
        ids = selectors.on_shift(organization=org, at=paris(2026, 3, 10, hour, 0), team_id=care.pk)
        names[hour] = sorted(
            org.memberships.filter(user_id__in=ids).values_list("user__username", flat=True)
        )
    assert names == {8: ["lea"], 16: ["hugo"], 23: ["claire"], 3: ["claire"]}
    on_call = selectors.on_call(organization=org, at=paris(2026, 3, 10, 23, 0), team_id=care.pk)
    assert len(on_call) == 1
    assert selectors.coverage_gaps(team=care) == []
    load_demo()  # again: nothing doubled
    assert SlaPolicy.objects.filter(organization=org).count() == 5
