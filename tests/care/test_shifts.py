"""Who is on shift, on call and available: weekly pattern in the organisation's zone,
overnight shifts, exceptions, availability; and the shift pages' bad-input rules."""

from datetime import time

import pytest
from django.core.exceptions import ValidationError

from relais.care import actions, selectors
from relais.care.models import AgentState, AgentStatus, ExceptionKind, Shift, ShiftException
from tests.care.conftest import paris


def shift(p, member, weekday, starts, ends, team=None, on_call=False):
    return Shift.objects.create(
        organization=p.org,
        team=team or p.team_a,
        user=member.user,
        weekday=weekday,
        starts=time(*starts),
        ends=time(*ends),
        on_call=on_call,
    )


def test_day_shift_in_the_organisations_zone(personas):
    p = personas
    shift(p, p.agent_a, 1, (8, 0), (16, 0))  # Tuesday 08:00-16:00 Paris
    org = p.org
    assert selectors.on_shift(organization=org, at=paris(2026, 3, 10, 8, 0)) == [p.agent_a.user_id]
    assert selectors.on_shift(organization=org, at=paris(2026, 3, 10, 15, 59)) == [
        p.agent_a.user_id
    ]
    assert selectors.on_shift(organization=org, at=paris(2026, 3, 10, 16, 0)) == []
    assert selectors.on_shift(organization=org, at=paris(2026, 3, 10, 7, 59)) == []
    # 07:30 UTC is 08:30 in Paris in March: on shift.
    assert selectors.on_shift(
        organization=org, at=paris(2026, 3, 10, 8, 30).astimezone(paris(2026, 1, 1).tzinfo)
    ) == [p.agent_a.user_id]
    assert selectors.on_shift(organization=org, at=paris(2026, 3, 11, 9, 0)) == []  # Wednesday


def test_overnight_shift_covers_both_days_and_ends_next_morning(personas):
    p = personas
    shift(p, p.agent_b, 6, (22, 0), (6, 0), team=p.team_b, on_call=True)  # Sunday night
    org = p.org
    sunday_late = paris(2026, 3, 15, 23, 0)
    monday_early = paris(2026, 3, 16, 5, 59)
    assert selectors.on_call(organization=org, at=sunday_late) == [p.agent_b.user_id]
    assert selectors.on_call(organization=org, at=monday_early) == [p.agent_b.user_id]
    assert selectors.on_call(organization=org, at=paris(2026, 3, 16, 6, 0)) == []
    assert selectors.on_call(organization=org, at=sunday_late, team_id=p.team_a.pk) == []
    end = paris(2026, 3, 16, 6, 0)
    for at in (sunday_late, monday_early):
        assert selectors.shift_end(organization=org, user_id=p.agent_b.user_id, at=at) == end


def test_exceptions_absent_and_extra(personas):
    p = personas
    shift(p, p.agent_a, 1, (8, 0), (16, 0))
    at = paris(2026, 3, 10, 10, 0)
    ShiftException.objects.create(
        organization=p.org,
        user=p.agent_a.user,
        kind=ExceptionKind.ABSENT,
        starts_at=paris(2026, 3, 10, 0, 0),
        ends_at=paris(2026, 3, 11, 0, 0),
    )
    ShiftException.objects.create(
        organization=p.org,
        team=p.team_a,
        user=p.agent_b.user,
        kind=ExceptionKind.EXTRA,
        starts_at=paris(2026, 3, 10, 9, 0),
        ends_at=paris(2026, 3, 10, 12, 0),
        on_call=True,
    )
    assert selectors.on_shift(organization=p.org, at=at) == [p.agent_b.user_id]
    assert selectors.on_call(organization=p.org, at=at, team_id=p.team_a.pk) == [p.agent_b.user_id]
    assert selectors.shift_end(organization=p.org, user_id=p.agent_a.user_id, at=at) is None
    assert selectors.shift_end(organization=p.org, user_id=p.agent_b.user_id, at=at) == paris(
        2026, 3, 10, 12, 0
    )


def test_away_agents_are_not_available(personas):
    p = personas
    shift(p, p.agent_a, 1, (8, 0), (16, 0))
    shift(p, p.supervisor, 1, (8, 0), (16, 0))
    at = paris(2026, 3, 10, 10, 0)
    AgentStatus.objects.create(
        organization=p.org, user=p.agent_a.user, state=AgentState.AWAY, changed_at=at
    )
    assert selectors.on_shift(organization=p.org, at=at) == [
        p.agent_a.user_id,
        p.supervisor.user_id,
    ]
    assert selectors.available_agents(organization=p.org, at=at) == [p.supervisor.user_id]
    assert selectors.available_agents(organization=p.org, at=at, team_id=p.team_b.pk) == []


def test_another_organisations_shifts_never_count(personas):
    p = personas
    Shift.objects.create(
        organization=p.other_org,
        team=p.team_a,  # even pointing at our team by mistake
        user=p.outsider.user,
        weekday=1,
        starts=time(0, 0),
        ends=time(23, 59),
    )
    assert selectors.on_shift(organization=p.org, at=paris(2026, 3, 10, 10, 0)) == []


def test_overlapping_shift_of_one_person_is_refused_with_the_reason(personas):
    p = personas
    actions.shift_add(
        membership=p.supervisor,
        team=p.team_a,
        user_id=p.agent_a.user_id,
        weekday=6,
        starts=time(22, 0),
        ends=time(6, 0),
    )
    with pytest.raises(ValidationError, match="overlaps"):
        # Monday 05:00-09:00 overlaps the Sunday night shift's morning part.
        actions.shift_add(
            membership=p.supervisor,
            team=p.team_b,
            user_id=p.agent_a.user_id,
            weekday=0,
            starts=time(5, 0),
            ends=time(9, 0),
        )
    # Back to back is fine; another person at the same time is fine.
    actions.shift_add(
        membership=p.supervisor,
        team=p.team_a,
        user_id=p.agent_a.user_id,
        weekday=0,
        starts=time(6, 0),
        ends=time(9, 0),
    )
    actions.shift_add(
        membership=p.supervisor,
        team=p.team_a,
        user_id=p.agent_b.user_id,
        weekday=0,
        starts=time(5, 0),
        ends=time(9, 0),
    )
    assert Shift.objects.count() == 3


def test_agents_cannot_edit_shifts(personas):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        actions.shift_add(
            membership=personas.agent_a,
            team=personas.team_a,
            user_id=personas.agent_a.user_id,
            weekday=0,
            starts=time(8, 0),
            ends=time(9, 0),
        )


def test_coverage_gaps_and_empty_team_are_explained(personas):
    p = personas
    for day in range(7):
        shift(p, p.agent_a, day, (6, 0), (22, 0))
    gaps = selectors.coverage_gaps(team=p.team_a)
    assert len(gaps) == 7 and gaps[0].starts == time(22, 0) and gaps[0].ends == time(6, 0)
    shift(p, p.agent_b, 6, (22, 0), (6, 0))
    assert len(selectors.coverage_gaps(team=p.team_a)) == 6
    problems = selectors.team_problems(team=p.team_b, at=paris(2026, 3, 10, 10, 0))
    assert any("no shift" in str(x) for x in problems)
    p.team_b.members.clear()
    problems = selectors.team_problems(team=p.team_b, at=paris(2026, 3, 10, 10, 0))
    assert any("nobody in it" in str(x) for x in problems)
