"""Tenant isolation: a member of another organisation gets 404 on organisation A's objects,
sees none of them in lists, and changes nothing, through every API endpoint and every inbox
page or action. A new endpoint is one line in API_CALLS or UI_CALLS; the coverage tests fail
until it is added."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from relais.accounts.permissions import SESSION_ORG_KEY, current_membership
from relais.api.api import api
from relais.channels.models import RawEvent
from relais.inbox import urls as inbox_urls
from relais.inbox.models import Conversation
from tests.api.helpers import (
    db_state,
    make_world,
    post_json,
    post_webhook,
    token_client,
    webhook_message,
)


@dataclass(frozen=True)
class Call:
    method: str
    route: str  # the OpenAPI path, or a URL name for the pages
    data: dict[str, Any] | None = None
    kwargs: tuple[str, ...] = ()  # for pages: which world ids the URL takes
    query: str = ""

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}{self.query}"


# Placeholders in paths and bodies, filled from the world of each test.
def _ids(world) -> dict[str, Any]:
    p = world.personas
    return {
        "conversation_id": world.conversation.pk,
        "message_id": world.reply.pk,
        "account_id": p.account.pk,
        "team_id": p.team_a.pk,
        "outsider_user": p.outsider.user_id,
        "agent_user": p.agent_a.user_id,
    }


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


# --- The API -----------------------------------------------------------------------------

# Endpoints that name one of organisation A's objects: the outsider must get 404.
API_CALLS = [
    Call("GET", "/api/conversations/{conversation_id}"),
    Call("GET", "/api/conversations/{conversation_id}/messages"),
    Call("GET", "/api/conversations/{conversation_id}/notes"),
    Call("POST", "/api/conversations/{conversation_id}/reply", {"text": "Hello from elsewhere"}),
    Call("POST", "/api/conversations/{conversation_id}/assign", {"user_id": "{outsider_user}"}),
    Call("POST", "/api/conversations/{conversation_id}/assign", {"user_id": None}),
    Call("POST", "/api/conversations/{conversation_id}/close"),
    Call("POST", "/api/conversations/{conversation_id}/reopen"),
    Call("POST", "/api/conversations/{conversation_id}/notes", {"text": "psst"}),
]

# Lists: the outsider sees only their own organisation's items, whatever the filters.
API_LISTS = [
    Call("GET", "/api/conversations", query="?status=all"),
    Call("GET", "/api/conversations", query="?status=all&account={account_id}"),
    Call("GET", "/api/conversations", query="?status=all&team={team_id}"),
    Call("GET", "/api/conversations", query="?status=all&q=C4"),
    Call("GET", "/api/accounts"),
]

# Authenticated by a signature rather than a membership: tested on its own below.
API_SIGNED = [Call("POST", "/api/webhooks/ingest/{account_id}")]

# No object named: the answer depends on the caller's organisation (its network).
API_ORG_SCOPED = [
    Call("POST", "/api/triage", {"text": "la C4 circule ?"}),
    Call("POST", "/api/triage/batch", [{"text": "la C4 circule ?"}]),
]


def _api_client(world, auth: str, membership=None) -> Client:
    membership = membership or world.personas.outsider
    if auth == "token":
        return token_client(membership)
    client = Client()
    client.force_login(membership.user)
    if auth == "session-tampered":
        # Even a session pointing at organisation A acts in the user's own organisation.
        session = client.session
        session[SESSION_ORG_KEY] = world.personas.org.pk
        session.save()
    return client


def _request(client: Client, call: Call, ids: dict[str, Any], path: str):
    if call.method == "GET":
        return client.get(path)
    return post_json(client, path, _fill(call.data, ids))


@pytest.fixture
def world(personas, django_capture_on_commit_callbacks):
    return make_world(personas, django_capture_on_commit_callbacks)


AUTHS = ["token", "session", "session-tampered"]


def test_every_api_endpoint_is_covered():
    schema = api.get_openapi_schema()
    endpoints = {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    covered = {(c.method, c.route) for c in API_CALLS + API_LISTS + API_SIGNED + API_ORG_SCOPED}
    assert endpoints == covered, "add the new endpoint to API_CALLS, API_LISTS or API_SIGNED"


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("call", API_CALLS, ids=lambda c: c.id + (f" {c.data}" if c.data else ""))
def test_api_outsider_gets_404_and_changes_nothing(world, auth, call):
    ids = _ids(world)
    client = _api_client(world, auth)
    before = db_state()
    response = _request(client, call, ids, _fill(call.route, ids))
    assert response.status_code == 404, response.content
    body = response.content.decode()
    assert "maelle_alpha" not in body and "C4" not in body
    assert db_state() == before


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("call", API_CALLS, ids=lambda c: c.id + (f" {c.data}" if c.data else ""))
def test_api_same_call_on_own_object_is_not_404(world, auth, call):
    """The control: the outsider's own conversation answers, so the 404 above is isolation."""
    ids = _ids(world) | {"conversation_id": world.other_conversation.pk}
    response = _request(_api_client(world, auth), call, ids, _fill(call.route, ids))
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("call", API_LISTS, ids=lambda c: c.id)
def test_api_lists_show_nothing_of_another_organisation(world, auth, call):
    ids = _ids(world)
    response = _api_client(world, auth).get(_fill(call.route, ids) + _fill(call.query, ids))
    assert response.status_code == 200
    items = response.json()["items"]
    assert response.json()["count"] == len(items)
    p = world.personas
    if call.route == "/api/accounts":
        assert [a["id"] for a in items] == [p.other_account.pk]
    else:
        theirs = set(Conversation.objects.filter(organization=p.org).values_list("pk", flat=True))
        assert not theirs & {c["id"] for c in items}
        assert "maelle_alpha" not in response.content.decode()
    if call.query == "?status=all":
        assert [c["id"] for c in items] == [world.other_conversation.pk]


def test_api_outsider_cannot_feed_another_organisations_account(world):
    """The webhook's identity is the account's secret: the outsider's own secret is refused."""
    p = world.personas
    before = RawEvent.objects.count()
    response = post_webhook(
        Client(),
        p.account,
        {"messages": [webhook_message("x-1")]},
        secret=p.other_account.webhook_secret,
    )
    assert response.status_code == 401
    assert RawEvent.objects.count() == before


@pytest.mark.parametrize("auth", ["token", "session"])
def test_api_agent_cannot_assign_to_another_organisations_user(world, auth):
    client = _api_client(world, auth, world.personas.agent_a)
    before = db_state()
    response = post_json(
        client,
        f"/api/conversations/{world.conversation.pk}/assign",
        {"user_id": world.personas.outsider.user_id},
    )
    assert response.status_code == 404
    assert db_state() == before


# --- The inbox pages -------------------------------------------------------------------

UI_CALLS = [
    Call("GET", "inbox:conversation", kwargs=("conversation_id",)),
    Call("GET", "inbox:thread", kwargs=("conversation_id",)),
    Call("GET", "inbox:thread", kwargs=("conversation_id",), query="?part=side"),
    Call("POST", "inbox:reply", {"text": "Hello from elsewhere"}, kwargs=("conversation_id",)),
    Call("POST", "inbox:assign", {"assignee": "{outsider_user}"}, kwargs=("conversation_id",)),
    Call("POST", "inbox:assign", {"assignee": ""}, kwargs=("conversation_id",)),
    Call("POST", "inbox:status", {"status": "closed"}, kwargs=("conversation_id",)),
    Call("POST", "inbox:note", {"text": "psst"}, kwargs=("conversation_id",)),
    Call("POST", "inbox:presence", {}, kwargs=("conversation_id",)),
    Call("POST", "inbox:presence", {"leave": "1"}, kwargs=("conversation_id",)),
    Call("POST", "inbox:triage", {"intent": "praise"}, kwargs=("conversation_id",)),
    Call("POST", "inbox:retry", {}, kwargs=("message_id",)),
    Call("POST", "inbox:bulk", {"ids": ["{conversation_id}"], "action": "close"}),
    Call(
        "POST",
        "inbox:bulk",
        {"ids": ["{conversation_id}"], "action": "assign", "assignee": "{outsider_user}"},
    ),
]
UI_LISTS = [
    Call("GET", "inbox:list", query="?status=all"),
    Call("GET", "inbox:list", query="?status=all&account={account_id}&team={team_id}"),
    Call("GET", "inbox:list", query="?status=all&q=C4"),
]


def _ui_client(world, session_org: str, membership=None) -> Client:
    membership = membership or world.personas.outsider
    client = Client()
    client.force_login(membership.user)
    if session_org == "tampered":
        session = client.session
        session[SESSION_ORG_KEY] = world.personas.org.pk
        session.save()
    return client


def _ui_path(call: Call, ids: dict[str, Any]) -> str:
    return reverse(call.route, kwargs={k: ids[k] for k in call.kwargs}) + _fill(call.query, ids)


def _ui_request(client: Client, call: Call, ids: dict[str, Any], **headers):
    path = _ui_path(call, ids)
    if call.method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, data=_fill(call.data, ids), headers=headers)


def test_every_inbox_page_is_covered():
    names = {f"inbox:{p.name}" for p in inbox_urls.urlpatterns}
    assert names == {c.route for c in UI_CALLS + UI_LISTS}, (
        "add the new page to UI_CALLS or UI_LISTS"
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", UI_CALLS, ids=lambda c: c.id + (f" {c.data}" if c.data else ""))
def test_ui_outsider_gets_404_and_changes_nothing(world, session_org, htmx, call):
    ids = _ids(world)
    client = _ui_client(world, session_org)
    before = db_state()
    response = _ui_request(client, call, ids, **({"HX-Request": "true"} if htmx else {}))
    assert response.status_code == 404, response.content[:500]
    assert "maelle_alpha" not in response.content.decode()
    assert db_state() == before


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", UI_LISTS, ids=lambda c: c.id)
def test_ui_lists_show_nothing_of_another_organisation(world, session_org, call):
    p = world.personas
    response = _ui_request(_ui_client(world, session_org), call, _ids(world))
    assert response.status_code == 200
    shown = {c.pk for c in response.context["conversations"]}
    assert world.conversation.pk not in shown
    if call.query == "?status=all":
        assert shown == {world.other_conversation.pk}
    # Nor the filters' choices: accounts, teams and members are the outsider's own.
    assert {a.organization_id for a in response.context["accounts"]} <= {p.other_org.pk}
    assert {t.organization_id for t in response.context["teams"]} <= {p.other_org.pk}
    assert {m.organization_id for m in response.context["members"]} == {p.other_org.pk}
    html = response.content.decode()
    assert "maelle_alpha" not in html and "Alpha on X" not in html and "agent_a" not in html


@pytest.mark.parametrize(
    "call",
    [c for c in UI_CALLS if (c.data or {}).get("assignee") == "{outsider_user}"],
    ids=lambda c: c.id + f" {c.data}",
)
def test_ui_agent_cannot_assign_to_another_organisations_user(world, call):
    client = _ui_client(world, "own", world.personas.agent_a)
    before = db_state()
    response = client.post(_ui_path(call, _ids(world)), data=_fill(call.data, _ids(world)))
    assert response.status_code == 404
    assert db_state() == before


# --- The live events stream ------------------------------------------------------------


@pytest.fixture
def streams(monkeypatch):
    """The SSE view's stream, replaced by a recorder: the real one never ends."""
    opened: list[int] = []

    def fake_stream(organization_id: int):
        opened.append(organization_id)

        async def gen():
            yield ": connected\n\n"

        return gen()

    monkeypatch.setattr("relais.realtime.views._stream", fake_stream)
    return opened


@pytest.mark.parametrize("session_org", ["own", "tampered"])
def test_events_stream_is_the_callers_organisation(world, streams, session_org):
    response = _ui_client(world, session_org).get("/events/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert streams == [world.personas.other_org.pk]


def test_events_stream_needs_a_signed_in_member(world, streams):
    assert Client().get("/events/").status_code == 401
    assert streams == []


@pytest.mark.parametrize("session_org", [None, "victim"])
def test_current_membership_never_crosses_organisations(world, rf, session_org):
    p = world.personas
    request = rf.get("/")
    request.user = p.outsider.user
    request.session = {SESSION_ORG_KEY: p.org.pk} if session_org else {}
    assert current_membership(request) == p.outsider


@pytest.mark.parametrize("call", API_ORG_SCOPED, ids=lambda c: c.id)
def test_triage_uses_the_callers_own_network(world, call):
    from relais.demo.setup import GTFS_DIR
    from relais.transit.gtfs import import_feed

    import_feed(organization=world.personas.org, path=GTFS_DIR)
    ids = world.ids if hasattr(world, "ids") else {}

    def lines(membership):
        response = post_json(token_client(membership), call.route, _fill(call.data, ids))
        assert response.status_code == 200, response.content
        body = response.json()
        return (body[0] if isinstance(body, list) else body)["lines"]

    assert lines(world.personas.agent_a) == ["C4"]
    assert lines(world.personas.outsider) == []


# --- The care pages ----------------------------------------------------------------------


@pytest.fixture
def care_world(world):
    """Organisation A's care objects, each named so that a leak shows in a page."""
    from datetime import date, time, timedelta

    from relais.care.models import (
        AlertKind,
        BusinessHours,
        CareAlert,
        ExceptionKind,
        Holiday,
        Shift,
        ShiftException,
        SlaPolicy,
    )
    from relais.common.timeutils import now

    p = world.personas
    t = now()
    objs = {
        "shift_id": Shift.objects.create(
            organization=p.org,
            team=p.team_a,
            user=p.agent_a.user,
            weekday=0,
            starts=time(8, 0),
            ends=time(16, 0),
        ).pk,
        "exception_id": ShiftException.objects.create(
            organization=p.org,
            team=p.team_a,
            user=p.agent_a.user,
            kind=ExceptionKind.ABSENT,
            starts_at=t,
            ends_at=t + timedelta(days=1),
            note="alpha-sick-leave",
        ).pk,
        "policy_id": SlaPolicy.objects.create(
            organization=p.org,
            name="alpha-policy",
            first_response_minutes=60,
            next_response_minutes=60,
        ).pk,
        "hours_id": BusinessHours.objects.create(
            organization=p.org, weekday=0, starts=time(9, 0), ends=time(17, 0)
        ).pk,
        "holiday_id": Holiday.objects.create(
            organization=p.org, date=date(2026, 5, 1), name="alpha-holiday"
        ).pk,
        "alert_id": CareAlert.objects.create(
            organization=p.org, kind=AlertKind.UNCOVERED, text="alpha-alert", created_at=t
        ).pk,
    }
    return world, objs


def care_state() -> dict[str, Any]:
    from relais.care.models import (
        AgentStatus,
        BusinessHours,
        CareAlert,
        Holiday,
        Shift,
        ShiftException,
        SlaPolicy,
    )

    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (
            Shift,
            ShiftException,
            SlaPolicy,
            BusinessHours,
            Holiday,
            CareAlert,
            AgentStatus,
        )
    } | db_state()


CARE_LEAKS = ("alpha-policy", "alpha-holiday", "alpha-alert", "alpha-sick-leave", "agent_a")

# Pages and actions that name one of organisation A's objects: 404, nothing changes.
CARE_CALLS = [
    Call("GET", "care:shifts", query="?team={team_id}"),
    Call(
        "POST",
        "care:shift_add",
        {"user": "{outsider_user}", "weekday": 0, "starts": "08:00", "ends": "09:00"},
        kwargs=("team_id",),
    ),
    Call("POST", "care:shift_delete", {}, kwargs=("shift_id",)),
    Call(
        "POST",
        "care:exception_add",
        {
            "user": "{outsider_user}",
            "kind": "extra",
            "starts_at": "2026-03-10T08:00",
            "ends_at": "2026-03-10T09:00",
        },
        kwargs=("team_id",),
    ),
    Call("POST", "care:exception_delete", {}, kwargs=("exception_id",)),
    Call(
        "POST",
        "care:policy_save",
        {
            "name": "stolen",
            "audience": "any",
            "first_response_minutes": 5,
            "next_response_minutes": 5,
            "warn_percent": 50,
        },
        kwargs=("policy_id",),
    ),
    Call("POST", "care:policy_delete", {}, kwargs=("policy_id",)),
    Call("POST", "care:hours_delete", {}, kwargs=("hours_id",)),
    Call("POST", "care:holiday_delete", {}, kwargs=("holiday_id",)),
    Call("POST", "care:alert_clear", {}, kwargs=("alert_id",)),
    Call("GET", "care:sla", query="?edit={policy_id}"),
]
# Pages of the caller's own organisation: nothing of organisation A shows or changes.
CARE_OWN = [
    Call("GET", "care:home"),
    Call("GET", "care:shifts"),
    Call("GET", "care:sla"),
    Call("GET", "care:analytics", query="?by=agent"),
    Call("GET", "care:analytics", query="?by=team"),
    Call("GET", "care:analytics", query="?by=account"),
    Call("GET", "care:analytics_csv"),
    Call("GET", "care:report", query="?hours=744"),
    Call("POST", "care:status", {"state": "away", "note": "bye"}),
    Call(
        "POST",
        "care:policy_add",
        {
            "name": "mine",
            "audience": "any",
            "first_response_minutes": 5,
            "next_response_minutes": 5,
            "warn_percent": 50,
        },
    ),
    Call("POST", "care:hours_add", {"weekday": 1, "starts": "09:00", "ends": "10:00"}),
    Call("POST", "care:holiday_add", {"date": "2026-07-14", "name": "mine"}),
]


def test_every_care_page_is_covered():
    from relais.care import urls as care_urls

    names = {f"care:{p.name}" for p in care_urls.urlpatterns}
    assert names == {c.route for c in CARE_CALLS + CARE_OWN}, "add the care page here"


def _care_ids(care_world) -> dict[str, Any]:
    world, objs = care_world
    return _ids(world) | objs


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", CARE_CALLS, ids=lambda c: c.id)
def test_care_outsider_gets_404_and_changes_nothing(care_world, session_org, call):
    world, _objs = care_world
    ids = _care_ids(care_world)
    before = care_state()
    response = _ui_request(_ui_client(world, session_org), call, ids)
    assert response.status_code == 404, response.content[:300]
    assert care_state() == before


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", CARE_OWN, ids=lambda c: c.id)
def test_care_pages_show_and_touch_only_the_callers_organisation(care_world, session_org, call):
    from relais.care.models import AgentStatus, Holiday, SlaPolicy

    world, _objs = care_world
    p = world.personas
    theirs = {
        "policies": list(SlaPolicy.objects.filter(organization=p.org).values()),
        "holidays": list(Holiday.objects.filter(organization=p.org).values()),
        "status": list(AgentStatus.objects.filter(organization=p.org).values()),
        "conversations": db_state()["conversations"],
    }
    response = _ui_request(_ui_client(world, session_org), call, _care_ids(care_world))
    assert response.status_code in (200, 302)
    body = response.content.decode()
    for leak in CARE_LEAKS:
        assert leak not in body, leak
    assert theirs == {
        "policies": list(SlaPolicy.objects.filter(organization=p.org).values()),
        "holidays": list(Holiday.objects.filter(organization=p.org).values()),
        "status": list(AgentStatus.objects.filter(organization=p.org).values()),
        "conversations": db_state()["conversations"],
    }
