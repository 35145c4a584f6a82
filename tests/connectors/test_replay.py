"""The replay connector and scenario S1."""

import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from relais.channels.models import ChannelAccount, RawEvent
from relais.channels.pipeline import process_pending
from relais.connectors.replay.connector import ScenarioError, load_scenario
from relais.connectors.replay.player import play
from relais.connectors.sandbox.models import SandboxPost
from relais.demo.setup import GTFS_DIR, SCENARIO_S1, load_demo
from relais.inbox.models import Contact, Conversation, Message


def test_s1_is_a_realistic_strike_morning():
    scenario = load_scenario(SCENARIO_S1)
    lines = scenario.lines
    assert len(lines) >= 300
    assert scenario.meta["scenario"] == "S1"
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    ids = {line.id for line in lines}
    assert len(ids) == len(lines)
    assert all(line.reply_to in ids for line in lines if line.reply_to)
    assert Counter(line.lang for line in lines)["en"] >= 5
    assert {line.network for line in lines} == {"x", "facebook", "bluesky"}
    assert Counter(line.kind for line in lines)["dm"] >= 3
    # Quiet before the strike (06:40 = 4,200 s after 05:30), hundreds after.
    assert sum(1 for line in lines if line.at < 4200) < 15
    # Real line names of the STAR network appear.
    routes = {
        row.split(",")[2].strip('"')
        for row in (GTFS_DIR / "routes.txt").read_text().splitlines()[1:]
    }
    text = " ".join(line.text for line in lines)
    assert sum(1 for short in ("C4", "C1", "C3") if short in routes and short in text) >= 2


def test_bad_scenario_files_say_which_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"at": 0, "id": "1", "author": {"handle": "a"}, "text": "ok"}\nnot json\n')
    with pytest.raises(ScenarioError, match="line 2"):
        load_scenario(path)
    path.write_text('{"at": 0, "id": "1", "text": "no author"}\n')
    with pytest.raises(ScenarioError, match="line 1: KeyError"):
        load_scenario(path)


def test_play_into_sandbox_accounts_threads_replies(
    db, tmp_path, django_capture_on_commit_callbacks
):
    info = load_demo()
    path = tmp_path / "mini.jsonl"
    lines = [
        {"meta": {"scenario": "mini"}},
        {
            "at": 0,
            "id": "m1",
            "network": "x",
            "kind": "mention",
            "author": {"handle": "ana", "name": "Ana", "reach": 50},
            "text": "@STAR_Rennes la C4 ?",
            "reply_to": None,
            "lang": "fr",
        },
        {
            "at": 1,
            "id": "m2",
            "network": "x",
            "kind": "reply",
            "author": {"handle": "bob", "reach": 10},
            "text": "@ana non, grève",
            "reply_to": "m1",
        },
        {
            "at": 2,
            "id": "m3",
            "network": "x",
            "kind": "reply",
            "author": {"handle": "ana"},
            "text": "merci bob",
            "reply_to": "m2",
        },
        {
            "at": 3,
            "id": "m4",
            "network": "bluesky",
            "kind": "dm",
            "author": {"handle": "carl.bsky.social"},
            "text": "remboursement ?",
        },
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    with django_capture_on_commit_callbacks(execute=True):
        result = play(load_scenario(path), organization=info.organization, speed=0)
    assert (result.played, result.skipped) == (4, 0)
    x = ChannelAccount.objects.get(organization=info.organization, network="x", kind="sandbox")
    # On the sandbox network: the reply chain hangs under the first post.
    root = SandboxPost.objects.get(account=x, text="@STAR_Rennes la C4 ?")
    assert SandboxPost.objects.filter(thread_root=root).count() == 2
    # In the inbox: Ana's two messages are one conversation, Bob's another, the DM a third.
    ana = Contact.objects.get(handle="ana")
    assert Conversation.objects.get(contact=ana).message_count == 2
    assert Conversation.objects.filter(is_private=True, account__network="bluesky").count() == 1
    assert Message.objects.count() == 4
    # None went to the demo's listening source (no line is marked "source": "search").
    assert not Message.objects.filter(account__config__listening=True).exists()


def test_replay_command_at_full_speed(db, django_capture_on_commit_callbacks):
    load_demo()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "replay", str(SCENARIO_S1), "--speed", "0", "--limit", "40", "--org", "star-rennes"
        )
    process_pending()
    assert RawEvent.objects.count() == 40
    assert Message.objects.count() == 40


def test_replay_command_errors(db, tmp_path):
    with pytest.raises(CommandError, match="organisation"):
        call_command("replay", str(SCENARIO_S1), "--org", "nope")
    load_demo()
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("replay", str(tmp_path / "missing.jsonl"), "--org", "star-rennes")
    with pytest.raises(CommandError, match="speed"):
        call_command("replay", str(SCENARIO_S1), "--speed", "-1")


def test_replay_into_a_non_sandbox_account_threads_by_root(
    personas, tmp_path, django_capture_on_commit_callbacks
):
    from relais.channels.models import ChannelAccount as CA

    CA.objects.filter(organization=personas.org).update(kind="replay")
    path = tmp_path / "s.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(line)
            for line in [
                {"at": 0, "id": "a", "network": "x", "author": {"handle": "ana"}, "text": "one"},
                {
                    "at": 0,
                    "id": "b",
                    "network": "x",
                    "kind": "reply",
                    "author": {"handle": "bob"},
                    "text": "two",
                    "reply_to": "a",
                },
                {
                    "at": 0,
                    "id": "c",
                    "network": "x",
                    "kind": "reply",
                    "author": {"handle": "ana"},
                    "text": "three",
                    "reply_to": "b",
                },
            ]
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        play(load_scenario(path), organization=personas.org, speed=0)
    assert Conversation.objects.get(contact__handle="ana").message_count == 2


def test_search_lines_go_to_the_listening_source(db, tmp_path, django_capture_on_commit_callbacks):
    info = load_demo()
    path = tmp_path / "search.jsonl"
    line = {
        "at": 0,
        "id": "q1",
        "network": "x",
        "kind": "mention",
        "author": {"handle": "dan", "reach": 5},
        "text": "alerte à la bombe à l'aéroport de Rennes",
        "source": "search",
    }
    path.write_text(json.dumps(line))
    with django_capture_on_commit_callbacks(execute=True):
        play(load_scenario(path), organization=info.organization, speed=0)
    process_pending()
    message = Message.objects.get()
    assert message.account.config.get("listening") is True
    assert message.conversation.status == "closed"  # not addressed to us: not in the inbox
