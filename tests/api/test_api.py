"""The REST API: every endpoint's happy path and its failures, and the signed ingest webhook."""

import json

import pytest
from django.core.management import call_command
from django.test import Client

from relais.accounts.models import ApiToken, AuditEntry
from relais.channels.models import DeliveryState, RawEvent
from relais.inbox.models import Conversation, Message, Note, Status
from tests.api.helpers import (
    db_state,
    make_conversation,
    make_world,
    post_json,
    post_webhook,
    signature,
    token_client,
    webhook_message,
)


@pytest.fixture
def world(personas, django_capture_on_commit_callbacks):
    return make_world(personas, django_capture_on_commit_callbacks)


@pytest.fixture
def agent(personas):
    return token_client(personas.agent_a)


# --- Authentication ----------------------------------------------------------------------


def test_no_token_is_401(personas):
    response = Client().get("/api/conversations")
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer rl_wrong", "Bearer ", "Token abc", "Basic YTpi"])
def test_wrong_token_is_401(personas, header):
    ApiToken.issue(membership=personas.admin, name="real")
    response = Client(headers={"Authorization": header}).get("/api/conversations")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid or revoked API token."


def test_token_acts_as_its_membership_and_records_use(personas):
    token, key = ApiToken.issue(membership=personas.agent_a, name="crm")
    assert token.last_used_at is None
    response = Client(headers={"Authorization": f"Bearer {key}"}).get("/api/accounts")
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_token_of_inactive_user_is_refused(personas):
    client = token_client(personas.agent_a)
    personas.agent_a.user.is_active = False
    personas.agent_a.user.save(update_fields=["is_active"])
    assert client.get("/api/accounts").status_code == 401


def test_session_reads_and_writes_with_csrf(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.personas.agent_a.user)
    assert client.get("/api/conversations").status_code == 200
    url = f"/api/conversations/{world.conversation.pk}/notes"
    # Without the CSRF token a signed-in browser cannot be made to write.
    response = post_json(client, url, {"text": "sans jeton"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    client.get("/login/")  # sets the csrftoken cookie
    response = client.post(
        url,
        data=json.dumps({"text": "avec jeton"}),
        content_type="application/json",
        headers={"X-CSRFToken": client.cookies["csrftoken"].value},
    )
    assert response.status_code == 201
    assert Note.objects.filter(text="avec jeton").exists()


def test_wrong_token_is_not_rescued_by_a_session(world):
    client = Client(headers={"Authorization": "Bearer rl_wrong"})
    client.force_login(world.personas.admin.user)
    assert client.get("/api/conversations").status_code == 401


def test_apitoken_command_prints_a_working_key(personas, capsys):
    call_command("apitoken", "supervisor", "--org", "alpha", "--name", "crm-sync")
    key = capsys.readouterr().out.strip()
    assert key.startswith("rl_")
    token = ApiToken.objects.get(name="crm-sync")
    assert token.membership == personas.supervisor
    assert token.key_hash == ApiToken.hash(key) and key not in token.key_hash
    assert (
        Client(headers={"Authorization": f"Bearer {key}"}).get("/api/accounts").status_code == 200
    )


def test_apitoken_command_refuses_a_stranger(personas):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("apitoken", "outsider", "--org", "alpha", "--name", "x")
    assert not ApiToken.objects.exists()


# --- Reads -------------------------------------------------------------------------------


def test_conversation_list_and_filters(world, agent, django_capture_on_commit_callbacks):
    p = world.personas
    second = make_conversation(
        p.account,
        django_capture_on_commit_callbacks,
        handle="noe",
        text="Ascenseur en panne station Gare",
    )

    def ids(query=""):
        response = agent.get(f"/api/conversations{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["count"] == len(body["items"]) or "limit" in query
        return {c["id"] for c in body["items"]}

    both = {world.conversation.pk, second.pk}
    assert ids() == both
    assert ids("?status=new") == {second.pk}
    assert ids("?status=pending") == {world.conversation.pk}
    assert ids(f"?account={p.account.pk}") == both
    assert ids(f"?account={p.other_account.pk}") == set()
    assert ids(f"?team={p.team_a.pk}") == both
    assert ids(f"?team={p.team_b.pk}") == set()
    assert ids("?mine=true") == {world.conversation.pk}  # agent_a answered it, so owns it
    assert ids("?unassigned=true") == {second.pk}
    assert ids("?q=ascenseur") == {second.pk}
    assert ids("?q=asc") == {second.pk}
    assert agent.get("/api/conversations?status=bogus").status_code == 422

    page = agent.get("/api/conversations?limit=1&offset=1").json()
    assert page["count"] == 2 and len(page["items"]) == 1

    item = agent.get("/api/conversations?status=all").json()["items"][0]
    assert set(item) >= {
        "id",
        "status",
        "contact",
        "account",
        "assignee",
        "team",
        "last_activity_at",
    }


def test_conversation_detail(world, agent):
    response = agent.get(f"/api/conversations/{world.conversation.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["contact"]["handle"] == "maelle_alpha"
    assert body["account"] == {
        "id": world.personas.account.pk,
        "name": "Alpha on X",
        "network": "x",
        "handle": "alpha_transit",
    }
    assert [m["direction"] for m in body["messages"]] == ["in", "out"]
    assert body["messages"][1]["delivery"]["state"] == DeliveryState.FAILED
    assert body["messages"][1]["sent_by"]["username"] == "agent_a"
    assert [n["text"] for n in body["notes"]] == ["Client régulier."]
    assert body["assignee"]["username"] == "agent_a"
    assert agent.get("/api/conversations/999999").status_code == 404


def test_messages_and_notes_lists(world, agent):
    messages = agent.get(f"/api/conversations/{world.conversation.pk}/messages").json()
    assert messages["count"] == 2
    assert messages["items"][0]["text"] == "La C4 circule ce matin ?"
    assert messages["items"][0]["author"]["handle"] == "maelle_alpha"
    notes = agent.get(f"/api/conversations/{world.conversation.pk}/notes").json()
    assert notes["count"] == 1 and notes["items"][0]["author"]["username"] == "agent_a"


def test_accounts_never_show_secrets(world, agent):
    response = agent.get("/api/accounts")
    assert response.status_code == 200
    body = response.json()
    assert [a["id"] for a in body["items"]] == [world.personas.account.pk]
    account = body["items"][0]
    assert account["message_length"] == 280
    assert not {"credentials", "webhook_secret", "config"} & set(account)
    assert world.personas.account.webhook_secret not in response.content.decode()


def test_openapi_and_docs(personas):
    client = Client()
    schema = client.get("/api/openapi.json")
    assert schema.status_code == 200
    assert "/api/webhooks/ingest/{account_id}" in schema.json()["paths"]
    assert client.get("/api/docs").status_code == 200


# --- Writes ------------------------------------------------------------------------------


def test_reply(personas, agent, django_capture_on_commit_callbacks):
    conversation = make_conversation(personas.account, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            agent,
            f"/api/conversations/{conversation.pk}/reply",
            {"text": "Bonjour, la C4 circule."},
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "out" and body["text"] == "Bonjour, la C4 circule."
    # The delivery is queued on commit: the answer shows it pending, then it goes out.
    assert body["delivery"]["state"] == DeliveryState.PENDING
    sent = agent.get(f"/api/conversations/{conversation.pk}/messages").json()["items"][-1]
    assert sent["id"] == body["id"]
    assert sent["delivery"]["state"] == DeliveryState.SENT and sent["external_id"]
    conversation.refresh_from_db()
    assert conversation.status == Status.PENDING


def test_reply_too_long_for_x_is_422(world, agent):
    before = db_state()
    url = f"/api/conversations/{world.conversation.pk}/reply"
    # Messages follow Accept-Language, French by default.
    response = agent.post(
        url, {"text": "é" * 281}, content_type="application/json", headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "The reply is 281 characters long; X allows 280."
    response = post_json(agent, url, {"text": "é" * 281})
    assert response.status_code == 422
    assert "281" in response.json()["detail"] and "280" in response.json()["detail"]
    assert db_state() == before
    # Exactly the limit is fine.
    assert (
        post_json(
            agent, f"/api/conversations/{world.conversation.pk}/reply", {"text": "é" * 280}
        ).status_code
        == 201
    )


@pytest.mark.parametrize("payload", [{"text": "   "}, {}, {"text": 12}, {"text": "x", "extra": 1}])
def test_reply_bad_body_is_422(world, agent, payload):
    before = db_state()
    response = post_json(agent, f"/api/conversations/{world.conversation.pk}/reply", payload)
    if "extra" in payload:
        # ninja ignores unknown keys in a request body; the reply itself is valid.
        assert response.status_code == 201
        return
    assert response.status_code == 422
    assert response.json()["detail"]
    assert db_state() == before


def test_assign_and_unassign(world, agent):
    p = world.personas
    url = f"/api/conversations/{world.conversation.pk}/assign"
    response = post_json(agent, url, {"user_id": p.agent_b.user_id})
    assert response.status_code == 200
    assert response.json()["assignee"]["username"] == "agent_b"
    response = post_json(agent, url, {"user_id": None})
    assert response.status_code == 200 and response.json()["assignee"] is None
    assert post_json(agent, url, {}).status_code == 422
    assert post_json(agent, url, {"user_id": 999999}).status_code == 404


def test_close_and_reopen(world, agent):
    url = f"/api/conversations/{world.conversation.pk}"
    response = agent.post(f"{url}/close")
    assert response.status_code == 200
    assert response.json()["status"] == "closed" and response.json()["closed_at"]
    assert agent.get("/api/conversations").json()["count"] == 0
    response = agent.post(f"{url}/reopen")
    assert response.status_code == 200
    assert response.json()["status"] == "open" and response.json()["closed_at"] is None
    assert AuditEntry.objects.filter(action="conversation.closed").count() == 1


def test_add_note(world, agent):
    response = post_json(
        agent, f"/api/conversations/{world.conversation.pk}/notes", {"text": "Rappeler demain."}
    )
    assert response.status_code == 201
    assert response.json()["text"] == "Rappeler demain."
    assert response.json()["author"]["username"] == "agent_a"
    assert (
        post_json(
            agent, f"/api/conversations/{world.conversation.pk}/notes", {"text": " "}
        ).status_code
        == 422
    )


WRITES = [
    ("reply", {"text": "Bonjour"}),
    ("assign", {"user_id": None}),
    ("close", None),
    ("reopen", None),
    ("notes", {"text": "note"}),
]


@pytest.mark.parametrize("role", ["viewer", "operations"])
@pytest.mark.parametrize(("action", "payload"), WRITES, ids=[w[0] for w in WRITES])
def test_read_only_roles_cannot_write(world, role, action, payload):
    client = token_client(getattr(world.personas, role))
    assert client.get(f"/api/conversations/{world.conversation.pk}").status_code == 200
    before = db_state()
    response = post_json(client, f"/api/conversations/{world.conversation.pk}/{action}", payload)
    assert response.status_code == 403
    assert response.json()["detail"]
    assert db_state() == before


# --- The ingest webhook ------------------------------------------------------------------


def test_webhook_stores_once(personas, django_capture_on_commit_callbacks):
    client = Client()
    payload = {"messages": [webhook_message("w-1")]}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, personas.account, payload)
    assert response.status_code == 202, response.content
    assert response.json() == {"stored": 1, "duplicates": 0}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, personas.account, payload)
    assert response.status_code == 202
    assert response.json() == {"stored": 0, "duplicates": 1}
    assert RawEvent.objects.count() == 1
    message = Message.objects.get()
    assert message.text == "Le tram T2 est-il à l'arrêt ?"
    assert message.author.handle == "lea" and message.author.reach == 150
    assert message.created_at.isoformat() == "2025-03-04T06:12:00+00:00"
    assert message.conversation.organization == personas.org


def test_webhook_duplicates_within_one_call(personas):
    payload = {"messages": [webhook_message("w-1"), webhook_message("w-1"), webhook_message("w-2")]}
    response = post_webhook(Client(), personas.account, payload)
    assert response.json() == {"stored": 2, "duplicates": 1}


def test_webhook_threads_replies(personas, django_capture_on_commit_callbacks):
    payload = {
        "messages": [
            webhook_message("root"),
            webhook_message(
                "answer", kind="reply", thread_id="root", reply_to_id="root", text="Toujours ?"
            ),
            webhook_message("dm-1", kind="dm", thread_id=None, text="En privé"),
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(Client(), personas.account, payload).status_code == 202
    assert Conversation.objects.count() == 2
    assert Conversation.objects.get(is_private=False).message_count == 2


def test_webhook_empty_batch(personas):
    response = post_webhook(Client(), personas.account, {"messages": []})
    assert response.json() == {"stored": 0, "duplicates": 0}


@pytest.mark.parametrize(
    "sig",
    [
        "",  # missing
        "sha256=" + "0" * 64,  # forged
        "sha1=abc",  # malformed
        "sha256=zz",
    ],
)
def test_webhook_bad_signature_is_401(personas, sig):
    response = post_webhook(Client(), personas.account, {"messages": [webhook_message()]}, sig=sig)
    assert response.status_code == 401
    assert (
        "signature" in response.json()["detail"].lower()
        or "X-Relais-Signature" in response.json()["detail"]
    )
    assert not RawEvent.objects.exists()


def test_webhook_signature_covers_the_exact_bytes(personas):
    body = json.dumps({"messages": [webhook_message()]}).encode()
    tampered = body.replace(b"T2", b"T3")
    response = post_webhook(
        Client(),
        personas.account,
        body=tampered,
        sig=signature(body, personas.account.webhook_secret),
    )
    assert response.status_code == 401
    assert not RawEvent.objects.exists()


def test_webhook_signed_with_another_accounts_secret(personas):
    response = post_webhook(
        Client(),
        personas.account,
        {"messages": [webhook_message()]},
        secret=personas.other_account.webhook_secret,
    )
    assert response.status_code == 401
    assert not RawEvent.objects.exists()


def test_webhook_unknown_account_is_404(personas):
    response = Client().post(
        "/api/webhooks/ingest/999999",
        data=b"{}",
        content_type="application/json",
        headers={"X-Relais-Signature": signature(b"{}", "x")},
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"\xff\xfe\x00", b'{"messages": [{"text": "\\ud800"}]}']
)
def test_webhook_malformed_json_is_400(personas, body):
    response = post_webhook(Client(), personas.account, body=body)
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]
    assert not RawEvent.objects.exists()


def _bad(field_path, **changes):
    message = webhook_message()
    message.update(changes)
    return pytest.param({"messages": [message]}, field_path, id="-".join(map(str, field_path)))


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        pytest.param(
            {"messages": [webhook_message()], "extra": 1}, ["body", "extra"], id="extra-top"
        ),
        pytest.param({}, ["body", "messages"], id="no-messages"),
        pytest.param({"messages": "x"}, ["body", "messages"], id="messages-not-list"),
        _bad(["body", "messages", 0, "unknown"], unknown="x"),
        _bad(["body", "messages", 0, "kind"], kind="post"),
        _bad(["body", "messages", 0, "external_id"], external_id=42),
        _bad(["body", "messages", 0, "external_id"], external_id=""),
        _bad(["body", "messages", 0, "external_id"], external_id="x" * 141),
        _bad(["body", "messages", 0, "created_at"], created_at="2025-03-04T07:12:00"),  # naive
        _bad(["body", "messages", 0, "created_at"], created_at="hier"),
        _bad(["body", "messages", 0, "text"], text=""),
        _bad(["body", "messages", 0, "text"], text="x" * 100_001),
        _bad(["body", "messages", 0, "text"], text="a\x00b"),
        _bad(
            ["body", "messages", 0, "author", "handle"], author={"external_id": "u", "handle": ""}
        ),
        _bad(
            ["body", "messages", 0, "author", "reach"],
            author={"external_id": "u", "handle": "h", "reach": -1},
        ),
        _bad(
            ["body", "messages", 0, "author", "reach"],
            author={"external_id": "u", "handle": "h", "reach": "9"},
        ),
        _bad(
            ["body", "messages", 0, "author", "avatar"],
            author={"external_id": "u", "handle": "h", "avatar": "x"},
        ),
    ],
)
def test_webhook_invalid_body_is_422_naming_the_field(personas, payload, loc):
    response = post_webhook(Client(), personas.account, payload)
    assert response.status_code == 422, response.content
    assert loc in [e["loc"] for e in response.json()["detail"]]
    assert not RawEvent.objects.exists()


def test_webhook_at_most_1000_messages(personas):
    payload = {"messages": [webhook_message(f"w-{i}", text="x") for i in range(1001)]}
    response = post_webhook(Client(), personas.account, payload)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "messages"]
    assert not RawEvent.objects.exists()
    payload["messages"].pop()
    assert post_webhook(Client(), personas.account, payload).json() == {
        "stored": 1000,
        "duplicates": 0,
    }


def test_webhook_body_too_large_is_413(personas, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_webhook(
        Client(), personas.account, {"messages": [webhook_message(text="x" * 2000)]}
    )
    assert response.status_code == 413
    assert not RawEvent.objects.exists()


UNUSUAL = (
    "مرحبا، هل الخط 3 يعمل؟ "  # Arabic, right to left
    "שלום \u200f"  # Hebrew and a right-to-left mark
    "\u202eevitcelfer\u202c "  # a right-to-left override
    "👩\u200d👩\u200d👧\u200d👦 🏳️\u200d🌈 👍🏽 "  # emoji joined by zero-width joiners, a skin tone
    "a\u200bb\u200cc\u2060d \ufeff"  # zero-width space, non-joiner, word joiner, BOM
    "e\u0301 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd \r\n\tfin  "  # combining accent, astral plane, private use, CRLF, trailing spaces
)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> {{ 7*7 }} {% now "Y" %} \'; DROP TABLE x; --'


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("La ligne 4 " * 1818 + "!!", id="20000-chars"),
        pytest.param(UNUSUAL, id="unicode"),
        pytest.param(HOSTILE, id="html-js"),
    ],
)
def test_webhook_text_round_trips_exactly(
    personas, agent, text, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(
            Client(), personas.account, {"messages": [webhook_message("t-1", text=text)]}
        )
    assert response.status_code == 202
    message = Message.objects.get(external_id="t-1")
    assert message.text == text
    detail = agent.get(f"/api/conversations/{message.conversation_id}").json()
    assert detail["messages"][0]["text"] == text


def test_webhook_long_ids_fit(personas, django_capture_on_commit_callbacks):
    # The longest ids accepted still make a conversation (thread key is 300 wide).
    message = webhook_message(
        "i" * 140,
        kind="reply",
        thread_id="t" * 140,
        reply_to_id="r" * 140,
        author={"external_id": "a" * 140, "handle": "h" * 200, "display_name": "d" * 200},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_webhook(Client(), personas.account, {"messages": [message]}).status_code == 202
    assert RawEvent.objects.get().state == "done"
    assert Conversation.objects.get().contact.handle == "h" * 200
