"""Tenant isolation: a member of another organisation gets 404 on organisation A's objects,
sees none of them in lists, and changes nothing, through every API endpoint and every inbox
page or action. A new endpoint is one line in API_CALLS or UI_CALLS; the coverage tests fail
until it is added."""

from __future__ import annotations

import json
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
from tests.incidents.helpers import add_broadcast


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
        "rule_id": world.rule.pk,  # routing part
        **_listening_ids(world, p.org, p.supervisor),
        "incident_id": world.incident.pk,
        "template_id": world.template.pk,
        "publication_id": world.publication.pk,
        "target_id": world.target.pk,
        "other_incident_id": world.other_incident.pk,
        "external_id": "OPS-1",  # both organisations' operator systems use it
    }


def _own_ids(world) -> dict[str, Any]:
    """The same names, pointing at the outsider's own objects (the control tests)."""
    _listening_ids(world, world.personas.other_org, world.personas.outsider)
    return _ids(world) | {
        "conversation_id": world.other_conversation.pk,
        "incident_id": world.other_incident.pk,
        "template_id": world.other_template.pk,
        "publication_id": world.other_publication.pk,
        "target_id": world.other_target.pk,
        **_listening_ids(world, world.personas.other_org, world.personas.outsider),
    }


def _listening_ids(world, org, membership) -> dict[str, Any]:
    """A monitor and a burst alert in `org` (made once per world)."""
    cache = world.__dict__.setdefault("_listening", {})
    if org.pk not in cache:
        from relais.common.timeutils import now
        from relais.listening.actions import monitor_create
        from relais.listening.models import Alert

        monitor = monitor_create(
            membership=membership, name=f"Rumour {org.slug}", query_text=f"bombe {org.slug}"
        )
        at = now()
        alert = Alert.objects.create(
            organization=org,
            monitor=monitor,
            granularity=60,
            bucket_start=at,
            last_bucket_start=at,
            score=0.9,
            count=12,
            created_at=at,
        )
        cache[org.pk] = {"monitor_id": monitor.pk, "alert_id": alert.pk}
    return cache[org.pk]


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
    Call("GET", "/api/listening/monitors/{monitor_id}"),
    Call("PUT", "/api/listening/monitors/{monitor_id}", {"name": "Mine", "query": "bombe gare"}),
    Call("DELETE", "/api/listening/monitors/{monitor_id}"),
    Call("GET", "/api/listening/monitors/{monitor_id}/volume"),
    Call("GET", "/api/listening/monitors/{monitor_id}/messages"),
    Call("GET", "/api/listening/alerts/{alert_id}"),
    Call("POST", "/api/listening/alerts/{alert_id}/ack"),
    Call("POST", "/api/listening/alerts/{alert_id}/close"),
    Call("POST", "/api/listening/crisis", {"active": True, "alert_id": "{alert_id}"}),
    # Incidents, templates, publications (incidents part)
    Call("GET", "/api/incidents/{incident_id}"),
    Call("PATCH", "/api/incidents/{incident_id}", {"cause": "from elsewhere"}),
    Call("POST", "/api/incidents/{incident_id}/status", {"status": "resolved"}),
    Call("POST", "/api/incidents/{incident_id}/actions", {"text": "psst"}),
    Call("POST", "/api/incidents/{incident_id}/reports", {"report_id": "R-1"}),
    Call(
        "POST",
        "/api/incidents/{incident_id}/conversations",
        {"conversation_id": "{conversation_id}"},
    ),
    Call("GET", "/api/templates/{template_id}"),
    Call("PATCH", "/api/templates/{template_id}", {"text": "Changed from elsewhere"}),
    Call("POST", "/api/templates/{template_id}/approve"),
    Call("POST", "/api/templates/{template_id}/retire"),
    Call("POST", "/api/templates/{template_id}/render", {"values": {}}),
    Call("GET", "/api/publications/{publication_id}"),
    Call("POST", "/api/publications/{publication_id}/targets/{target_id}/retry"),
    Call(
        "POST",
        "/api/alerts",
        {"template_id": "{template_id}", "incident_id": "{incident_id}", "kind": "update"},
    ),
]
# Routing part: author profile, lock, flags (in API_CALLS: 404 for the outsider, 200 on own).
API_CALLS_ROUTING_CONVERSATION = [
    Call("GET", "/api/conversations/{conversation_id}/profile"),
    Call("POST", "/api/conversations/{conversation_id}/lock", {"reason": "x"}),
    Call("POST", "/api/conversations/{conversation_id}/unlock"),
    Call("POST", "/api/conversations/{conversation_id}/author-flags", {"flags": ["vip"]}),
]
API_CALLS += API_CALLS_ROUTING_CONVERSATION
# Routing part: named objects whose own-object control needs more set-up (tested below).
API_CALLS_ROUTING = [
    Call(
        "POST",
        "/api/conversations/{conversation_id}/operator-reports",
        {"line": "C4", "at": "2026-03-10T07:42:00"},
    ),
    Call("GET", "/api/routing/rules/{rule_id}/try"),
]
API_LISTS_ROUTING = [Call("GET", "/api/routing/rules")]

# The control on the outsider's own object is refused for a reason of its own, not hidden:
# the template is approved already, the channel was sent already.
CONTROL_REFUSALS = {
    ("POST", "/api/templates/{template_id}/approve"): (422,),
    ("POST", "/api/publications/{publication_id}/targets/{target_id}/retry"): (422,),
}

# Lists: the outsider sees only their own organisation's items, whatever the filters.
API_LISTS = [
    Call("GET", "/api/conversations", query="?status=all"),
    Call("GET", "/api/conversations", query="?status=all&account={account_id}"),
    Call("GET", "/api/conversations", query="?status=all&team={team_id}"),
    Call("GET", "/api/conversations", query="?status=all&q=C4"),
    Call("GET", "/api/accounts"),
    Call("GET", "/api/listening/monitors"),
    Call("GET", "/api/listening/alerts"),
    Call("GET", "/api/incidents"),
    Call("GET", "/api/templates", query="?state=all"),
]

# Authenticated by a signature rather than a membership: tested on its own below.
API_SIGNED = [Call("POST", "/api/webhooks/ingest/{account_id}")]

# No object named: the answer depends on the caller's organisation (its network).
API_ORG_SCOPED = [
    Call("POST", "/api/triage", {"text": "la C4 circule ?"}),
    Call("POST", "/api/triage/batch", [{"text": "la C4 circule ?"}]),
]
# Listening writes that name no object: they act on the caller's organisation only.
API_LISTENING_ORG_SCOPED = [
    Call("POST", "/api/listening/monitors", {"name": "Theirs", "query": "bombe gare"}),
    Call("GET", "/api/listening/crisis"),
    Call("POST", "/api/listening/crisis", {"active": True, "reason": "theirs"}),
]


# Writes that name no object of organisation A: they act in the caller's own organisation.
API_OWN_WRITES = [
    Call("POST", "/api/incidents", {"title": "Ours", "type": "other", "external_id": "OPS-1"}),
    Call("PUT", "/api/incidents/external/{external_id}", {"status": "resolved"}),
    Call("POST", "/api/templates", {"name": "Ours", "category": "traffic", "text": "x"}),
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
    if call.method == "POST":
        return post_json(client, path, _fill(call.data, ids))
    data = json.dumps(_fill(call.data, ids)) if call.data is not None else ""
    return client.generic(call.method, path, data, content_type="application/json")


@pytest.fixture
def world(personas, django_capture_on_commit_callbacks):
    from relais.care.models import RoutingRule

    made = make_world(personas, django_capture_on_commit_callbacks)
    add_broadcast(made, django_capture_on_commit_callbacks)
    # Routing part: a rule in each organisation, A's with a name that must never leak.
    made.rule = RoutingRule.objects.create(  # type: ignore[attr-defined]
        organization=personas.org, name="alpha-secret-rule", conditions={"text_contains": ["C4"]}
    )
    made.other_rule = RoutingRule.objects.create(  # type: ignore[attr-defined]
        organization=personas.other_org, name="beta rule"
    )
    _own_ids(made)  # listening objects of both organisations, before any db_state()
    _ids(made)
    return made


AUTHS = ["token", "session", "session-tampered"]


def test_every_api_endpoint_is_covered():
    schema = api.get_openapi_schema()
    endpoints = {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    covered = {
        (c.method, c.route)
        for c in API_CALLS
        + API_LISTS
        + API_SIGNED
        + API_ORG_SCOPED
        + API_LISTENING_ORG_SCOPED
        + API_OWN_WRITES
        + API_CALLS_ROUTING
        + API_LISTS_ROUTING
    }
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
    ids = _own_ids(world)
    response = _request(_api_client(world, auth), call, ids, _fill(call.route, ids))
    expected = CONTROL_REFUSALS.get((call.method, call.route), (200, 201, 204))
    assert response.status_code in expected, response.content


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("call", API_LISTS, ids=lambda c: c.id)
def test_api_lists_show_nothing_of_another_organisation(world, auth, call):
    ids = _ids(world)
    _own_ids(world)  # the outsider's own monitor and alert exist before the call
    response = _api_client(world, auth).get(_fill(call.route, ids) + _fill(call.query, ids))
    assert response.status_code == 200
    items = response.json()["items"]
    assert response.json()["count"] == len(items)
    p = world.personas
    if call.route == "/api/accounts":
        assert [a["id"] for a in items] == [p.other_account.pk]
    elif call.route.startswith("/api/listening/"):
        key = "monitor_id" if call.route.endswith("monitors") else "alert_id"
        assert [i["id"] for i in items] == [_own_ids(world)[key]]
    elif call.route == "/api/incidents":
        assert [i["id"] for i in items] == [world.other_incident.pk]
    elif call.route == "/api/templates":
        assert [t["id"] for t in items] == [world.other_template.pk]
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
# Routing part (relais/care/urls_routing.py): one conversation's or one rule's pages.
UI_CALLS_ROUTING = [
    Call("GET", "care:routing_replies", kwargs=("conversation_id",), query="?q=/"),
    Call("POST", "care:routing_lock", {"reason": "x"}, kwargs=("conversation_id",)),
    Call("POST", "care:routing_unlock", {}, kwargs=("conversation_id",)),
    Call("POST", "care:routing_flags", {"flags": ["vip"]}, kwargs=("conversation_id",)),
    Call(
        "POST",
        "care:routing_operator",
        {"line": "C4", "at": "2026-03-10T07:42"},
        kwargs=("conversation_id",),
    ),
    Call("POST", "care:routing_customer", {"reference": "X-1"}, kwargs=("conversation_id",)),
    Call("GET", "care:routing_rule", kwargs=("rule_id",)),
    Call("POST", "care:routing_rule", {"name": "stolen"}, kwargs=("rule_id",)),
    Call("POST", "care:routing_rule_delete", {}, kwargs=("rule_id",)),
    Call("POST", "care:routing_rule_move", {"direction": "up"}, kwargs=("rule_id",)),
    Call("GET", "care:routing_rule_try", kwargs=("rule_id",)),
]
# Pages that name no object: they show and write the caller's own organisation only.
UI_ORG_SCOPED_ROUTING = [Call("GET", "care:routing_rules"), Call("GET", "care:routing_rule_new")]
UI_CALLS += UI_CALLS_ROUTING

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
    # "incident_id=other_incident_id": the URL's argument, filled from another world id.
    kwargs = {k.partition("=")[0]: ids[k.partition("=")[2] or k] for k in call.kwargs}
    return reverse(call.route, kwargs=kwargs) + _fill(call.query, ids)


def _ui_request(client: Client, call: Call, ids: dict[str, Any], **headers):
    path = _ui_path(call, ids)
    if call.method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, data=_fill(call.data, ids), headers=headers)


def test_every_inbox_page_is_covered():
    from relais.care import urls_routing

    names = {f"inbox:{p.name}" for p in inbox_urls.urlpatterns}
    names |= {f"care:{p.name}" for p in urls_routing.urlpatterns}
    assert names == {c.route for c in UI_CALLS + UI_LISTS + UI_ORG_SCOPED_ROUTING}, (
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


@pytest.mark.parametrize("call", API_OWN_WRITES, ids=lambda c: c.id)
def test_api_writes_without_an_object_stay_in_the_callers_organisation(world, call):
    """The operator system's PUT names an id that organisation A also uses: the outsider's
    call opens or updates the outsider's own incident, never A's."""
    p = world.personas
    before = _broadcast_of(p.org.pk)
    response = _request(token_client(p.outsider), call, _ids(world), _fill(call.route, _ids(world)))
    assert response.status_code in (200, 201), response.content
    assert _broadcast_of(p.org.pk) == before
    body = response.json()
    from relais.incidents.models import Incident
    from relais.wording.models import Template

    model = Template if "/templates" in call.route else Incident
    assert model.objects.get(pk=body["id"]).organization_id == p.other_org.pk


def _broadcast_of(org_id: int) -> dict:
    from relais.incidents.models import Incident
    from relais.wording.models import Template

    return {
        "incidents": list(Incident.objects.filter(organization_id=org_id).order_by("pk").values()),
        "templates": list(Template.objects.filter(organization_id=org_id).order_by("pk").values()),
    }


# --- Incidents, templates, the one-click alert and publications (pages) ------------------

BROADCAST_UI_CALLS = [
    Call("GET", "incidents:detail", kwargs=("incident_id",)),
    Call("GET", "incidents:detail", kwargs=("incident_id",), query="?part=timeline"),
    Call("GET", "incidents:edit", kwargs=("incident_id",)),
    Call(
        "POST",
        "incidents:edit",
        {"title": "x", "type": "strike", "severity": "low"},
        kwargs=("incident_id",),
    ),
    Call("POST", "incidents:status", {"status": "resolved"}, kwargs=("incident_id",)),
    Call("POST", "incidents:action", {"text": "psst"}, kwargs=("incident_id",)),
    Call("POST", "incidents:report", {"report_id": "R-1"}, kwargs=("incident_id",)),
    Call("POST", "incidents:link", {"conversation": "{conversation_id}"}, kwargs=("incident_id",)),
    # The outsider's own incident, organisation A's conversation.
    Call(
        "POST",
        "incidents:link",
        {"conversation": "{conversation_id}", "from": "inbox"},
        kwargs=("incident_id=other_incident_id",),
    ),
    Call("GET", "wording:detail", kwargs=("template_id",)),
    Call("GET", "wording:edit", kwargs=("template_id",)),
    Call(
        "POST",
        "wording:edit",
        {"name": "x", "category": "traffic", "text": "x"},
        kwargs=("template_id",),
    ),
    Call("GET", "wording:new", query="?translate={template_id}"),
    Call("POST", "wording:approve", {}, kwargs=("template_id",)),
    Call("POST", "wording:retire", {}, kwargs=("template_id",)),
    Call("GET", "publishing:alert", query="?incident={incident_id}"),
    Call("POST", "publishing:alert", {"incident": "{incident_id}"}),
    Call(
        "POST",
        "publishing:publish",
        {"incident": "{incident_id}", "template": "{template_id}", "kind": "update"},
    ),
    Call("GET", "publishing:detail", kwargs=("publication_id",)),
    Call("GET", "publishing:detail", kwargs=("publication_id",), query="?part=status"),
    Call("POST", "publishing:retry", {}, kwargs=("publication_id", "target_id")),
]
BROADCAST_UI_LISTS = [
    Call("GET", "incidents:list"),
    Call("GET", "incidents:list", query="?status=active"),
    Call("GET", "incidents:new"),
    Call("GET", "wording:list", query="?state=all"),
    Call("GET", "wording:new"),
    Call(
        "POST",
        "wording:new",
        {"name": "Ours", "category": "traffic", "language": "fr", "text": "x"},
    ),
    Call("GET", "publishing:alert"),
]


def test_every_broadcast_page_is_covered():
    from relais.incidents import urls as incident_urls
    from relais.publishing import urls as publishing_urls
    from relais.wording import urls as wording_urls

    names = {
        f"{module.app_name}:{p.name}"
        for module in (incident_urls, wording_urls, publishing_urls)
        for p in module.urlpatterns
    }
    # The calendar, neutrality and subscriber pages are covered below (PUBLISHING_*).
    part2 = {c.route for c in PUBLISHING_CALLS + PUBLISHING_LISTS} | PUBLISHING_PUBLIC
    assert names - part2 == {c.route for c in BROADCAST_UI_CALLS + BROADCAST_UI_LISTS}, (
        "add the new page to BROADCAST_UI_CALLS or BROADCAST_UI_LISTS"
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize(
    "call", BROADCAST_UI_CALLS, ids=lambda c: c.id + (f" {c.data}" if c.data else "")
)
def test_broadcast_ui_outsider_gets_404_and_changes_nothing(world, session_org, htmx, call):
    ids = _ids(world)
    client = _ui_client(world, session_org)
    before = db_state()
    response = _ui_request(client, call, ids, **({"HX-Request": "true"} if htmx else {}))
    assert response.status_code == 404, response.content[:500]
    html = response.content.decode()
    assert "maelle_alpha" not in html and "Alpha C4 incident" not in html
    assert "Alpha: grève C4" not in html
    assert db_state() == before


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", BROADCAST_UI_LISTS, ids=lambda c: c.id)
def test_broadcast_ui_lists_show_nothing_of_another_organisation(world, session_org, call):
    p = world.personas
    before = _broadcast_of(p.org.pk)
    response = _ui_request(_ui_client(world, session_org), call, _ids(world))
    assert response.status_code in (200, 302), response.content[:500]
    html = response.content.decode()
    assert "Alpha C4 incident" not in html and "Alpha: grève C4" not in html
    assert "Alpha on X" not in html and "maelle_alpha" not in html
    for name in ("incidents", "templates"):
        shown = response.context[name] if response.context and name in response.context else []
        assert all(obj.organization_id == p.other_org.pk for obj in shown)
    assert _broadcast_of(p.org.pk) == before


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


# --- Routing part ----------------------------------------------------------------------


def _routing_state(world) -> dict[str, Any]:
    from relais.care.models import AuthorProfile, CustomerLookup, RoutingRule

    return {
        "locks": list(
            Conversation.objects.order_by("pk").values_list("pk", "locked_at", "lock_reason")
        ),
        "profiles": list(AuthorProfile.objects.order_by("pk").values_list("pk", "flags")),
        "rules": list(RoutingRule.objects.order_by("pk").values_list("pk", "name", "position")),
        "lookups": CustomerLookup.objects.count(),
    }


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize(
    "call", API_CALLS_ROUTING_CONVERSATION + API_CALLS_ROUTING, ids=lambda c: c.id
)
def test_api_routing_outsider_changes_no_lock_flag_or_rule(world, auth, call, settings):
    settings.RELAIS_OPERATOR_REPORTS = "relais.care.demo_routing.fake_operator_reports"
    ids = _ids(world)
    before = _routing_state(world)
    response = _request(_api_client(world, auth), call, ids, _fill(call.route, ids))
    assert response.status_code == 404, response.content
    assert "alpha-secret-rule" not in response.content.decode()
    assert _routing_state(world) == before


@pytest.mark.parametrize("call", API_CALLS_ROUTING, ids=lambda c: c.id)
def test_api_routing_same_call_on_own_object_is_not_404(world, call, settings):
    settings.RELAIS_OPERATOR_REPORTS = "relais.care.demo_routing.fake_operator_reports"
    ids = _ids(world) | {
        "conversation_id": world.other_conversation.pk,
        "rule_id": world.other_rule.pk,
    }
    response = _request(_api_client(world, "token"), call, ids, _fill(call.route, ids))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("auth", AUTHS)
def test_api_routing_rules_list_is_the_callers(world, auth):
    response = _api_client(world, auth).get("/api/routing/rules")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == [world.other_rule.pk]


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", UI_CALLS_ROUTING, ids=lambda c: c.id)
def test_ui_routing_outsider_changes_no_lock_flag_or_rule(world, session_org, call):
    before = _routing_state(world)
    response = _ui_request(_ui_client(world, session_org), call, _ids(world))
    assert response.status_code == 404
    assert "alpha-secret-rule" not in response.content.decode()
    assert _routing_state(world) == before


@pytest.mark.parametrize("session_org", ["own", "tampered"])
def test_ui_routing_org_pages_show_only_the_callers(world, session_org):
    client = _ui_client(world, session_org)
    html = client.get(reverse("care:routing_rules")).content.decode()
    assert "beta rule" in html and "alpha-secret-rule" not in html
    html = client.get(reverse("care:routing_rule_new")).content.decode()
    for leak in ("Alpha on X", "agent_a", "Passenger care"):
        assert leak not in html


@pytest.mark.parametrize("auth", AUTHS)
@pytest.mark.parametrize("call", API_LISTENING_ORG_SCOPED, ids=lambda c: c.id)
def test_api_listening_writes_act_on_the_callers_organisation(world, auth, call):
    from relais.listening.models import CrisisMode, Monitor

    p = world.personas
    ids = _ids(world)
    theirs_before = list(Monitor.objects.filter(organization=p.org).values("pk", "name", "query"))
    response = _request(_api_client(world, auth), call, ids, _fill(call.route, ids))
    assert response.status_code in (200, 201), response.content
    assert list(Monitor.objects.filter(organization=p.org).values("pk", "name", "query")) == (
        theirs_before
    )
    assert not CrisisMode.objects.filter(organization=p.org, active=True).exists()
    if call.method == "POST" and call.route.endswith("monitors"):
        assert Monitor.objects.get(pk=response.json()["id"]).organization_id == p.other_org.pk
    if call.method == "POST" and call.route.endswith("crisis"):
        assert CrisisMode.objects.get(organization=p.other_org).active


# --- The listening pages ----------------------------------------------------------------

LISTENING_UI_CALLS = [
    Call("GET", "listening:monitor", kwargs=("monitor_id",)),
    Call("GET", "listening:monitor_edit", kwargs=("monitor_id",)),
    Call(
        "POST",
        "listening:monitor_edit",
        {"name": "Mine", "query": "bombe gare", "sources": "all", "escalate_after_minutes": 5},
        kwargs=("monitor_id",),
    ),
    Call("POST", "listening:monitor_delete", {}, kwargs=("monitor_id",)),
    Call("GET", "listening:alert", kwargs=("alert_id",)),
    Call("POST", "listening:alert_ack", {}, kwargs=("alert_id",)),
    Call("POST", "listening:alert_close", {}, kwargs=("alert_id",)),
    Call("POST", "listening:crisis", {"active": "1", "alert": "{alert_id}"}),
]
LISTENING_UI_LISTS = [
    Call("GET", "listening:dashboard"),
    Call("GET", "listening:alerts"),
    Call("GET", "listening:monitor_new"),
]


def test_every_listening_page_is_covered():
    from relais.listening import urls as listening_urls

    names = {f"listening:{p.name}" for p in listening_urls.urlpatterns}
    assert names == {c.route for c in LISTENING_UI_CALLS + LISTENING_UI_LISTS}


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", LISTENING_UI_CALLS, ids=lambda c: c.id)
def test_listening_ui_outsider_gets_404_and_changes_nothing(world, session_org, call):
    ids = _ids(world)
    client = _ui_client(world, session_org)
    before = db_state()
    response = _ui_request(client, call, ids)
    assert response.status_code == 404, response.content[:500]
    assert "Rumour alpha" not in response.content.decode()
    assert db_state() == before


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", LISTENING_UI_CALLS, ids=lambda c: c.id)
def test_listening_ui_same_call_on_own_object_is_not_404(world, session_org, call):
    ids = _ids(world) | _own_ids(world)
    response = _ui_request(_ui_client(world, session_org), call, ids)
    assert response.status_code in (200, 302), response.content[:500]


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", LISTENING_UI_LISTS, ids=lambda c: c.id)
def test_listening_ui_lists_show_nothing_of_another_organisation(world, session_org, call):
    ids = _ids(world)
    _own_ids(world)
    response = _ui_request(_ui_client(world, session_org), call, ids)
    assert response.status_code == 200
    html = response.content.decode()
    assert "bombe alpha" not in html and "Rumour alpha" not in html
    if "monitors" in response.context:
        assert {m.organization_id for m in response.context["monitors"]} <= {
            world.personas.other_org.pk
        }
    if "alerts" in response.context:
        assert {a.organization_id for a in response.context["alerts"]} <= {
            world.personas.other_org.pk
        }
    if "form" in response.context:
        teams = [c[0] for c in response.context["form"].fields["team"].choices if c[0]]
        assert set(teams) <= set(world.personas.other_org.teams.values_list("pk", flat=True))


# --- The publishing pages (part 2: calendar, neutrality, subscribers) --------------------

PUBLISHING_CALLS = [
    Call("GET", "publishing:post", kwargs=("publication_id",)),
    Call("POST", "publishing:post_action", {}, kwargs=("publication_id", "approve")),
    Call("POST", "publishing:post_action", {"reason": "x"}, kwargs=("publication_id", "reject")),
    Call("POST", "publishing:post_action", {}, kwargs=("publication_id", "cancel")),
    Call(
        "POST",
        "publishing:post_action",
        {"scheduled_at": "2099-01-01T10:00"},
        kwargs=("publication_id", "reschedule"),
    ),
    Call("POST", "publishing:post_action", {}, kwargs=("publication_id", "accept")),
    Call("POST", "publishing:neutrality_people", {"remove": "{person_id}"}),
]
PUBLISHING_LISTS = [
    Call("GET", "publishing:calendar"),
    Call("GET", "publishing:calendar", query="?view=month"),
    Call("GET", "publishing:neutrality"),
    Call("GET", "publishing:neutrality_csv"),
    Call("GET", "publishing:subscribers"),
    Call("GET", "publishing:post_new"),
    Call("POST", "publishing:post_new", {"text": "x"}),
]
# Public by design (no sign-in); tested in tests/publishing/test_subscribers.py: a page of
# one organisation never subscribes, confirms or unsubscribes for another one.
PUBLISHING_PUBLIC = {
    "publishing:subscribe",
    "publishing:subscribe_confirm",
    "publishing:subscribe_email_confirm",
    "publishing:unsubscribe",
}


@pytest.fixture
def publishing_world(world):
    from datetime import timedelta

    from relais.common.timeutils import now
    from relais.publishing.models import NeutralityPerson, Publication

    p = world.personas
    post = Publication.objects.create(
        organization=p.org,
        kind="post",
        category="promotion",
        state="awaiting_approval",
        text="Secret launch of maelle_alpha",
        scheduled_at=now() + timedelta(days=1),
        author=p.agent_a.user,
    )
    person = NeutralityPerson.objects.create(organization=p.org, name="Mayor maelle_alpha")
    return world, post, person


def _publishing_state():
    from relais.publishing.models import NeutralityPerson, Publication, PublicationHold

    return (
        list(Publication.objects.order_by("pk").values("pk", "state", "scheduled_at")),
        list(NeutralityPerson.objects.order_by("pk").values("pk", "name")),
        PublicationHold.objects.count(),
    )


def _publishing_path(call: Call, ids: dict[str, Any]) -> str:
    args = [ids.get(k, k) for k in call.kwargs]
    return reverse(call.route, args=args) + call.query


def test_every_publishing_page_is_covered():
    from relais.publishing import urls as publishing_urls

    names = {f"publishing:{p.name}" for p in publishing_urls.urlpatterns}
    covered = {c.route for c in PUBLISHING_CALLS + PUBLISHING_LISTS} | PUBLISHING_PUBLIC
    covered |= {c.route for c in BROADCAST_UI_CALLS + BROADCAST_UI_LISTS}  # part 1's pages
    assert names == covered & names and covered - names <= {
        c.route for c in BROADCAST_UI_CALLS + BROADCAST_UI_LISTS
    }, "add the new page to PUBLISHING_CALLS or PUBLISHING_LISTS"


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize(
    "call", PUBLISHING_CALLS, ids=lambda c: c.id + " " + " ".join(c.kwargs[1:])
)
def test_publishing_outsider_gets_404_and_changes_nothing(publishing_world, session_org, call):
    world, post, person = publishing_world
    ids = {"publication_id": post.pk, "person_id": person.pk}
    client = _ui_client(world, session_org)
    before = _publishing_state()
    path = _publishing_path(call, ids)
    if call.method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, data=_fill(call.data, ids))
    assert response.status_code == 404, response.content[:300]
    assert "maelle_alpha" not in response.content.decode()
    assert _publishing_state() == before


@pytest.mark.parametrize("session_org", ["own", "tampered"])
@pytest.mark.parametrize("call", PUBLISHING_LISTS, ids=lambda c: c.id)
def test_publishing_lists_show_nothing_of_another_organisation(publishing_world, session_org, call):
    world, post, person = publishing_world
    client = _ui_client(world, session_org)
    before = _publishing_state()
    path = _publishing_path(call, {})
    response = client.get(path) if call.method == "GET" else client.post(path, data=call.data)
    assert response.status_code in (200, 400)
    body = response.content.decode()
    assert "maelle_alpha" not in body and "Secret launch" not in body
    assert _publishing_state() == before


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
    from relais.care import urls_routing

    names = {f"care:{p.name}" for p in care_urls.urlpatterns}
    # The routing part's pages (same namespace) are covered with the inbox pages above.
    names -= {f"care:{p.name}" for p in urls_routing.urlpatterns}
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
