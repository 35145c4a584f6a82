"""Routing rules: conditions, actions through the real pipeline, order and stop, assignment
strategies among available agents, explanations of rules that cannot match, the tester."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from relais.accounts.models import Role, Team
from relais.care import routing
from relais.care.models import (
    AgentSkill,
    AgentState,
    AgentStatus,
    AssignStrategy,
    AuthorProfile,
    ConversationTag,
    RoutingRule,
    RuleMatch,
)
from relais.channels.models import ChannelAccount
from relais.common.testing import _member
from relais.common.timeutils import now
from relais.inbox.models import Conversation, Message, Priority, Status
from tests.care.helpers import converse, on_shift_now


def rule(org, name="r", position=10, **kwargs) -> RoutingRule:
    kwargs.setdefault("conditions", {})
    return RoutingRule.objects.create(organization=org, name=name, position=position, **kwargs)


def facts(**kwargs) -> routing.Facts:
    base = dict(
        network="x",
        account_id=1,
        intent="question",
        sentiment="neutral",
        urgency="normal",
        lang="fr",
        lines={"0004"},
        author_flags=set(),
        monitors=set(),
        text=routing.fold("La C4 est en GRÈVE ?"),
    )
    base.update(kwargs)
    return routing.Facts(**base)


# --- Conditions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "conditions, expected",
    [
        ({}, True),
        ({"networks": ["x", "bluesky"]}, True),
        ({"networks": ["facebook"]}, False),
        ({"accounts": [1]}, True),
        ({"accounts": [2]}, False),
        ({"intents": ["question"]}, True),
        ({"intents": ["polemic"]}, False),
        ({"sentiments": ["negative"]}, False),
        ({"urgencies": ["normal", "safety"]}, True),
        ({"languages": ["en"]}, False),
        ({"lines": ["0004", "0001"]}, True),
        ({"lines": ["0011"]}, False),
        ({"author_flags": ["journalist"]}, False),
        ({"monitors": [7]}, False),
        ({"text_contains": ["greve"]}, True),  # accents and case do not matter
        ({"text_contains": ["metro"]}, False),
        ({"text_excludes": ["Grève"]}, False),
        ({"intents": ["question"], "networks": ["facebook"]}, False),  # all must hold
    ],
)
def test_conditions(conditions, expected):
    assert routing.matches(conditions, facts()) is expected


def test_flags_and_monitors_conditions():
    f = facts(author_flags={"journalist"}, monitors={7})
    assert routing.matches({"author_flags": ["elected", "journalist"]}, f)
    assert routing.matches({"monitors": [7]}, f)


def test_clean_conditions_refuses_unknown_and_bad_ids():
    assert routing.clean_conditions({"intents": ["question", "question", " "]}) == {
        "intents": ["question"]
    }
    with pytest.raises(ValidationError, match="Unknown condition"):
        routing.clean_conditions({"colour": ["red"]})
    with pytest.raises(ValidationError, match="not an id"):
        routing.clean_conditions({"accounts": ["abc"]})


# --- Actions through the pipeline ---------------------------------------------------------


def test_rule_routes_tags_prioritises_and_records(personas, django_capture_on_commit_callbacks):
    r = rule(
        personas.org,
        conditions={"text_contains": ["grève"]},
        team=personas.team_b,
        priority=Priority.URGENT,
        tags=["greve"],
    )
    c = converse(personas.account, django_capture_on_commit_callbacks, "La greve continue ?")
    assert c.team == personas.team_b  # instead of the account's default team A
    assert c.priority == Priority.URGENT
    assert list(c.tags.values_list("name", flat=True)) == ["greve"]
    match = RuleMatch.objects.get()
    assert match.rule == r and match.message.conversation == c
    other = converse(personas.account, django_capture_on_commit_callbacks, "Merci !", handle="zoe")
    assert other.team == personas.team_a and not other.tags.exists()


def test_order_stop_and_continue(personas, django_capture_on_commit_callbacks):
    rule(personas.org, "first", 10, conditions={"text_contains": ["c4"]}, tags=["a"], stop=False)
    rule(personas.org, "second", 20, conditions={"text_contains": ["c4"]}, tags=["b"])
    rule(personas.org, "third", 30, conditions={"text_contains": ["c4"]}, tags=["c"])
    rule(personas.org, "off", 5, conditions={}, tags=["off"], enabled=False)
    c = converse(personas.account, django_capture_on_commit_callbacks)
    assert sorted(c.tags.values_list("name", flat=True)) == ["a", "b"]


def test_rules_of_another_organisation_never_apply(personas, django_capture_on_commit_callbacks):
    rule(personas.other_org, conditions={}, tags=["beta"], lock=True)
    c = converse(personas.account, django_capture_on_commit_callbacks)
    assert not c.tags.exists() and c.locked_at is None


def test_lock_and_author_flag_rule(personas, django_capture_on_commit_callbacks):
    rule(personas.org, conditions={"author_flags": ["politicised"]}, lock=True)
    first = converse(personas.account, django_capture_on_commit_callbacks, handle="militant")
    assert first.locked_at is None  # not flagged yet
    AuthorProfile.objects.create(
        organization=personas.org, contact=first.contact, flags=["politicised"], updated_at=now()
    )
    second = converse(
        personas.account, django_capture_on_commit_callbacks, "Encore !", handle="militant"
    )
    assert second.locked_at is not None and "r" in second.lock_reason


def test_agent_assignment_only_when_unowned(personas, django_capture_on_commit_callbacks):
    rule(
        personas.org,
        conditions={},
        strategy=AssignStrategy.AGENT,
        agent=personas.agent_b.user,
        stop=True,
    )
    c = converse(personas.account, django_capture_on_commit_callbacks)
    assert c.assignee == personas.agent_b.user and c.status == Status.OPEN
    Conversation.objects.filter(pk=c.pk).update(assignee=personas.agent_a.user)
    again = converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "Et alors ?",
        handle="maelle",
        thread_id=c.thread_external_id,
    )
    assert again.pk == c.pk
    c.refresh_from_db()
    assert c.assignee == personas.agent_a.user


@pytest.fixture
def care_team(personas):
    """Team A with three answering agents on shift now."""
    extra = _member(personas.org, "agent_c", Role.AGENT, [personas.team_a])
    agents = [personas.agent_a, extra, personas.supervisor]
    for m in agents:
        on_shift_now(m, personas.team_a)
    return sorted(agents, key=lambda m: m.user_id)


def test_round_robin_among_available(personas, care_team, django_capture_on_commit_callbacks):
    r = rule(personas.org, conditions={}, team=personas.team_a, strategy=AssignStrategy.ROUND_ROBIN)
    AgentStatus.objects.create(
        organization=personas.org, user=care_team[1].user, state=AgentState.AWAY, changed_at=now()
    )
    got = [
        converse(personas.account, django_capture_on_commit_callbacks, handle=f"p{i}").assignee_id
        for i in range(4)
    ]
    a, c = care_team[0].user_id, care_team[2].user_id
    assert got == [a, c, a, c]  # the away agent gets nothing
    r.refresh_from_db()
    assert r.last_assigned_id == c


def test_least_loaded(personas, care_team, django_capture_on_commit_callbacks):
    busy, light, middle = care_team
    # Before any rule: two open conversations on the first, one on the third, none on the
    # second (a closed one does not count).
    for i, (m, status) in enumerate(
        [(busy, Status.OPEN), (busy, Status.PENDING), (middle, Status.NEW), (light, Status.CLOSED)]
    ):
        c = converse(personas.account, django_capture_on_commit_callbacks, handle=f"old{i}")
        Conversation.objects.filter(pk=c.pk).update(assignee=m.user, status=status)
    rule(personas.org, conditions={}, team=personas.team_a, strategy=AssignStrategy.LEAST_LOADED)
    got = [
        converse(personas.account, django_capture_on_commit_callbacks, handle=f"n{i}").assignee_id
        for i in range(3)
    ]
    # light (0) → light and middle tie at 1, the lower id first → then the remaining one.
    assert got[0] == light.user_id
    assert routing.open_load([m.user_id for m in care_team], personas.org.pk) == {
        busy.user_id: 2,
        light.user_id: 2 if got[1] == light.user_id or got[2] == light.user_id else 1,
        middle.user_id: 1 + sum(1 for g in got if g == middle.user_id),
    }
    assert busy.user_id not in got[:2]


def test_language_skill(personas, care_team, django_capture_on_commit_callbacks):
    rule(personas.org, conditions={}, team=personas.team_a, strategy=AssignStrategy.ROUND_ROBIN)
    english = care_team[2]
    AgentSkill.objects.create(organization=personas.org, user=english.user, languages=["fr", "en"])
    c = converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "Hello, is the C4 bus running this morning? Thank you",
        handle="tourist",
    )
    assert c.lang == "en"
    assert c.assignee_id == english.user_id


def test_nobody_available_is_left_to_the_team_and_said(
    personas, django_capture_on_commit_callbacks
):
    rule(personas.org, conditions={}, team=personas.team_b, strategy=AssignStrategy.ROUND_ROBIN)
    c = converse(personas.account, django_capture_on_commit_callbacks)
    assert c.assignee is None and c.team == personas.team_b
    assert "nobody available: left to the team" in RuleMatch.objects.get().applied


# --- Explanations ---------------------------------------------------------------------------


def _problems(r, earlier=()):
    return routing.explain(r, earlier=earlier)


def test_contradictory_account_and_network(personas):
    r = rule(personas.org, conditions={"accounts": [personas.account.pk], "networks": ["facebook"]})
    e = _problems(r)
    assert e.never_matches
    assert any("can never match" in p.text for p in e.problems)


def test_contains_what_it_excludes(personas):
    r = rule(personas.org, conditions={"text_contains": ["grève"], "text_excludes": ["greve"]})
    assert _problems(r).never_matches
    r.conditions = {"text_contains": ["grève", "métro"], "text_excludes": ["greve"]}
    e = _problems(r)
    assert not e.never_matches and any("grève" in p.text for p in e.problems)


def test_unknown_values_team_without_agents_and_shadowing(personas):
    empty = Team.objects.create(organization=personas.org, name="Nuit", slug="night")
    r = rule(
        personas.org,
        conditions={"intents": ["bogus"], "lines": ["9999"]},
        team=empty,
        strategy=AssignStrategy.ROUND_ROBIN,
    )
    texts = " ".join(p.text for p in _problems(r).problems)
    assert "bogus" in texts and "lines" in texts and "Nuit" in texts
    catch_all = rule(personas.org, "catch-all", 5, conditions={})
    e = _problems(
        rule(personas.org, "later", 20, conditions={"intents": ["question"]}), [catch_all]
    )
    assert e.never_matches and "catch-all" in e.problems[0].text
    assert any("every inbound message" in p.text for p in _problems(catch_all).problems)


def test_rules_page_explains(personas, client_as):
    rule(
        personas.org,
        "FB only on X account",
        conditions={"accounts": [personas.account.pk], "networks": ["facebook"]},
    )
    client = client_as(personas.agent_a)
    html = client.get("/care/rules/").content.decode()
    assert "FB only on X account" in html and "problem-error" in html
    r = RoutingRule.objects.get(name="FB only on X account")
    html = client.get(f"/care/rules/{r.pk}/").content.decode()
    assert "problem-error" in html and 'name="networks"' in html


# --- The tester ----------------------------------------------------------------------------


def _old(conversation, days):
    Message.objects.filter(conversation=conversation).update(
        created_at=now() - timedelta(days=days)
    )


def test_try_rule_last_week_only_own_org(personas, django_capture_on_commit_callbacks, monkeypatch):
    r = rule(personas.org, conditions={"text_contains": ["ascenseur"]})
    for i in range(3):
        converse(
            personas.account,
            django_capture_on_commit_callbacks,
            "L'ascenseur est en panne",
            handle=f"a{i}",
        )
    old = converse(
        personas.account, django_capture_on_commit_callbacks, "ascenseur encore", handle="old"
    )
    _old(old, 9)
    converse(personas.account, django_capture_on_commit_callbacks, "Rien à voir", handle="b")
    converse(
        personas.other_account,
        django_capture_on_commit_callbacks,
        "ascenseur chez beta",
        handle="beta",
    )
    result = routing.try_rule(rule=r)
    assert result.count == 3 and not result.bounded
    assert all("ascenseur" in m.text.lower() for m in result.examples)
    monkeypatch.setattr(routing, "TRY_BOUND", 2)
    bounded = routing.try_rule(rule=r)
    assert bounded.bounded and bounded.scanned == 2


def test_try_view(personas, client_as, django_capture_on_commit_callbacks):
    r = rule(personas.org, conditions={"text_contains": ["ascenseur"]})
    converse(personas.account, django_capture_on_commit_callbacks, "ascenseur <script>x</script>")
    html = client_as(personas.agent_a).get(f"/care/rules/{r.pk}/try/").content.decode()
    assert 'data-count="1"' in html
    assert "<script>x" not in html and "&lt;script&gt;" in html


# --- Writes ---------------------------------------------------------------------------------


def test_create_edit_move_delete_via_ui(personas, client_as):
    client = client_as(personas.supervisor)
    data = {
        "name": "Presse",
        "enabled": "1",
        "stop": "1",
        "intents": ["polemic"],
        "text_contains": "affiche, expo",
        "team": personas.team_b.pk,
        "strategy": "",
        "tags": "presse, Polémique",
        "priority": "2",
        "notify": [personas.supervisor.user_id],
    }
    response = client.post("/care/rules/new/", data)
    assert response.status_code == 302
    r = RoutingRule.objects.get()
    assert r.conditions == {"intents": ["polemic"], "text_contains": ["affiche", "expo"]}
    assert r.team == personas.team_b and r.priority == 2
    assert r.tags == ["polémique", "presse"]
    assert list(r.notify.all()) == [personas.supervisor.user]
    second = rule(personas.org, "second", 20)
    client.post(f"/care/rules/{second.pk}/move/", {"direction": "up"})
    assert list(RoutingRule.objects.order_by("position").values_list("name", flat=True)) == [
        "second",
        "Presse",
    ]
    assert client.post("/care/rules/new/", {"name": ""}).status_code == 400
    client.post(f"/care/rules/{r.pk}/delete/")
    assert not RoutingRule.objects.filter(pk=r.pk).exists()


def test_agents_cannot_write_rules(personas, client_as):
    r = rule(personas.org)
    client = client_as(personas.agent_a)
    assert client.post("/care/rules/new/", {"name": "x"}).status_code == 403
    assert client.post(f"/care/rules/{r.pk}/delete/").status_code == 403
    with pytest.raises(PermissionDenied):
        routing.rule_delete(membership=personas.agent_a, rule=r)


def test_rule_form_refuses_another_organisations_objects(personas, client_as):
    beta_account = ChannelAccount.objects.get(pk=personas.other_account.pk)
    client = client_as(personas.supervisor)
    response = client.post("/care/rules/new/", {"name": "x", "accounts": [beta_account.pk]})
    assert response.status_code == 404
    response = client.post("/care/rules/new/", {"name": "x", "agent": personas.outsider.user_id})
    assert response.status_code == 404
    from relais.listening.models import Monitor

    beta_monitor = Monitor.objects.create(organization=personas.other_org, name="b", query="x")
    response = client.post("/care/rules/new/", {"name": "x", "monitors": [beta_monitor.pk]})
    assert response.status_code == 404
    assert not RoutingRule.objects.exists()


def test_tags_are_not_duplicated(personas, django_capture_on_commit_callbacks):
    rule(personas.org, conditions={}, tags=["x"])
    c = converse(personas.account, django_capture_on_commit_callbacks)
    converse(personas.account, django_capture_on_commit_callbacks, "encore", handle="maelle")
    same = converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "et encore",
        handle="maelle",
        thread_id=c.thread_external_id,
    )
    assert same.pk == c.pk
    assert ConversationTag.objects.filter(conversation=c).count() == 1
    assert RuleMatch.objects.filter(conversation=c).count() == 2


def test_notify_by_email_after_commit(personas, django_capture_on_commit_callbacks, mailoutbox):
    r = rule(personas.org, conditions={"urgencies": ["safety"]})
    r.notify.set([personas.supervisor.user, personas.agent_b.user])
    converse(personas.account, django_capture_on_commit_callbacks, "Merci", handle="calm")
    assert mailoutbox == []
    c = converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "Un homme est tombé sur les voies, blessé, appelez les secours",
        handle="witness",
    )
    assert c.urgency == "safety"
    (mail,) = mailoutbox
    assert sorted(mail.to) == ["agent_b@example.test", "supervisor@example.test"]
    assert f"/inbox/c/{c.pk}/" in mail.body


# --- The listening monitor condition (listening.MonitorMatch) -------------------------------


@pytest.fixture
def bomb_monitor(personas):
    from relais.listening import actions as listening

    return listening.monitor_create(
        membership=personas.supervisor, name="Bomb", query_text="bombe (aéroport OR airport)"
    )


def test_monitor_condition_in_the_pipeline_and_the_tester(
    personas, bomb_monitor, django_capture_on_commit_callbacks
):
    r = rule(personas.org, conditions={"monitors": [bomb_monitor.pk]}, team=personas.team_b)
    hit = converse(
        personas.account,
        django_capture_on_commit_callbacks,
        "Alerte à la bombe à l'aéroport ?",
        handle="p1",
    )
    miss = converse(
        personas.account, django_capture_on_commit_callbacks, "La bombe de bain", handle="p2"
    )
    assert hit.team == personas.team_b and miss.team == personas.team_a
    result = routing.try_rule(rule=r)
    assert result.count == 1 and result.examples[0].conversation_id == hit.pk
    assert not routing.explain(r).problems


def test_unknown_monitor_is_explained(personas, bomb_monitor):
    from relais.listening.models import Monitor

    r = rule(personas.org, conditions={"monitors": [bomb_monitor.pk]})
    beta = Monitor.objects.create(organization=personas.other_org, name="b", query="x")
    r.conditions = {"monitors": [beta.pk]}  # another organisation's: as good as unknown
    assert routing.explain(r).never_matches


def test_fast_fold_agrees_with_the_reference_fold():
    """The table-based fold gives what NFKD-and-drop-marks gives, on a real morning's text."""
    from relais.connectors.replay.connector import load_scenario
    from relais.demo.setup import SCENARIO_S1
    from relais.triage.text import fold as reference

    texts = [line.text for line in load_scenario(SCENARIO_S1).lines]
    texts += ["Ångström Œuvre Straße ĞÜŞ", "e\u0301te\u0301", "مرحبا 🚇", "ÀÉÎÕÜ çñ"]
    assert [routing.fold(t) for t in texts] == [reference(t) for t in texts]
