"""SLA evaluation speed: 50,000 open conversations with running clocks.

    .venv/bin/python bench/sla.py [--db sqlite|postgres|both] [--conversations 50000]
        [--breaches 1000] [--passes 5] [--json FILE]

Each database runs in a fresh process (a temporary SQLite file; the PostgreSQL database
relais_bench_care, created and dropped). Loaded in bulk: one organisation, two teams with a
supervisor each, five accounts (X, Bluesky, Mastodon, Facebook, and direct messages on X),
the default SLA policies (Facebook counted in business hours, Monday-Friday 08:00-18:00,
with ten holidays), N open conversations and their clocks, started over the past hours.

Measured, per pass:
- `evaluate`: relais.care.actions.sla_evaluate at a time when --breaches clocks have just
  gone past due: claim, breach rows, audit entries, hourly counts, one alert per team and
  the supervisors' e-mails (the in-memory mail backend). Then a pass with nothing new due
  (the usual minute).
- `classify`: every running clock loaded and coloured green / orange / red (what the inbox
  shows, for all N at once).
- `start`: due times of N clocks computed as the pipeline does (policy choice, business
  hours with holidays), in memory.
Target: one full pass (evaluate + classify) under 1 s for 50,000 open conversations.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.care_common import copy_rows, machine, reset_sequences, run_phases  # noqa: E402

TARGET_S = 1.0


def phase(args) -> dict:
    from bench.environment import django_setup, migrate

    django_setup()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    migrate()
    from django.contrib.auth import get_user_model
    from django.core import mail
    from django.db import connection

    from relais.accounts.models import Membership, Organization, Role, Team
    from relais.care.actions import sla_evaluate
    from relais.care.models import (
        Audience,
        BusinessHours,
        CareBucket,
        Holiday,
        SlaBreach,
        SlaPolicy,
    )
    from relais.care.selectors import classify_all
    from relais.care.sla import DEFAULT_POLICIES, Calendar, due_times, policy_for
    from relais.channels.models import ChannelAccount
    from relais.inbox.models import Contact, Conversation

    mail.outbox = []
    n = args.conversations
    rng = random.Random(7)
    org = Organization.objects.create(slug="bench", name="Bench Transit")
    teams = [Team.objects.create(organization=org, name=f"T{i}", slug=f"t{i}") for i in range(2)]
    User = get_user_model()
    for i, team in enumerate(teams):
        u = User.objects.create_user(username=f"sup{i}", email=f"sup{i}@bench.test")
        m = Membership.objects.create(user=u, organization=org, role=Role.SUPERVISOR)
        m.teams.set([team])
    accounts = [
        ChannelAccount.objects.create(
            organization=org,
            kind="sandbox",
            network=net,
            handle=f"h{net}",
            name=f"on {net}",
            default_team=teams[i % 2],
            config={},
        )
        for i, net in enumerate(["x", "bluesky", "mastodon", "facebook"])
    ]
    for name, network, audience, first, nxt in DEFAULT_POLICIES:
        SlaPolicy.objects.create(
            organization=org,
            name=name,
            network=network,
            audience=audience,
            first_response_minutes=first,
            next_response_minutes=nxt,
            business_hours=network == "facebook",
        )
    for day in range(5):
        BusinessHours.objects.create(
            organization=org, weekday=day, starts=dtime(8, 0), ends=dtime(18, 0)
        )
    for i in range(10):
        Holiday.objects.create(organization=org, date=date(2026, 1, 1) + timedelta(days=36 * i))

    at = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday afternoon
    t0 = time.perf_counter()
    copy_rows(
        "inbox_contact",
        [
            "id",
            "organization_id",
            "network",
            "external_id",
            "handle",
            "display_name",
            "reach",
            "first_seen_at",
            "last_seen_at",
            "message_count",
        ],
        ((i + 1, org.pk, "x", f"u{i}", f"user{i}", "", 10, at, at, 1) for i in range(n)),
    )
    conv_rows, clock_rows = [], []
    passes = args.passes
    for i in range(n):
        account = accounts[i % 4]
        private = account.network == "x" and i % 8 == 0
        started = at - timedelta(minutes=rng.randint(1, 600))
        conv_rows.append(
            (
                i + 1,
                org.pk,
                account.pk,
                i + 1,
                f"t:{i}:u{i}",
                str(i),
                private,
                "open",
                account.default_team_id,
                1,
                f"message {i}",
                1,
                started,
                started,
                started,
                at,
                "",
                "",
                "",
                "",
                "",  # lock_reason (routing part): not locked
            )
        )
        # --breaches clocks fall due in each of the passes' minutes; the rest are either in
        # the future or breached before.
        if i < args.breaches * passes:
            due = at + timedelta(minutes=i // args.breaches, seconds=-30)
            breached = None
        elif i % 3 == 0:
            due = at - timedelta(minutes=rng.randint(10, 300))
            breached = due
        else:
            due = at + timedelta(minutes=rng.randint(passes + 1, 600))
            breached = None
        warn = due - timedelta(minutes=15)
        clock_rows.append((i + 1, org.pk, started, warn, due, breached, "first", "", False, True))
    copy_rows(
        "inbox_conversation",
        [
            "id",
            "organization_id",
            "account_id",
            "contact_id",
            "thread_key",
            "thread_external_id",
            "is_private",
            "status",
            "team_id",
            "priority",
            "preview",
            "message_count",
            "first_message_at",
            "last_inbound_at",
            "last_activity_at",
            "created_at",
            "lang",
            "intent",
            "sentiment",
            "urgency",
            "lock_reason",
        ],
        conv_rows,
    )
    copy_rows(
        "care_slaclock",
        [
            "conversation_id",
            "organization_id",
            "started_at",
            "warn_at",
            "due_at",
            "breached_at",
            "kind",
            "problem",
            "closed",
            "awaiting",
        ],
        clock_rows,
    )
    reset_sequences(Contact, Conversation)
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("ANALYZE")
    load_s = time.perf_counter() - t0

    evaluate, quiet, classify = [], [], []
    breaches_seen = []
    for p in range(passes):
        now_ = at + timedelta(minutes=p)
        t = time.perf_counter()
        if os.environ.get("BENCH_PROFILE") and p == 0:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            breaches_seen.append(prof.runcall(sla_evaluate, at=now_))
            pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        else:
            breaches_seen.append(sla_evaluate(at=now_))
        evaluate.append(time.perf_counter() - t)
        t = time.perf_counter()
        assert sla_evaluate(at=now_ + timedelta(seconds=1)) == 0  # noqa: S101
        quiet.append(time.perf_counter() - t)
        t = time.perf_counter()
        colours = classify_all(organization_id=org.pk, at=now_)
        classify.append(time.perf_counter() - t)
    # Pipeline-side: due times for n clocks in memory.
    calendar = Calendar.load(org)
    networks = ["x", "bluesky", "mastodon", "facebook"]
    t = time.perf_counter()
    for i in range(n):
        policy = policy_for(
            calendar.policies, network=networks[i % 4], is_private=i % 8 == 0, priority=1
        )
        if policy is not None:
            due_times(calendar, policy, "first", at - timedelta(minutes=i % 997))
    start_s = time.perf_counter() - t

    assert breaches_seen == [args.breaches] * passes, breaches_seen  # noqa: S101
    assert SlaBreach.objects.count() == args.breaches * passes  # noqa: S101
    assert sum(CareBucket.objects.values_list("breaches", flat=True)) == args.breaches * passes  # noqa: S101
    assert len(mail.outbox) == 2 * passes, len(mail.outbox)  # noqa: S101
    assert Audience  # the import documents the defaults' audiences  # noqa: S101
    full = [e + c for e, c in zip(evaluate, classify, strict=True)]
    return {
        "db": connection.vendor,
        "conversations": n,
        "breaches_per_pass": args.breaches,
        "load_s": round(load_s, 1),
        "evaluate_s": [round(x, 3) for x in evaluate],
        "quiet_pass_s": [round(x, 4) for x in quiet],
        "classify_s": [round(x, 3) for x in classify],
        "full_pass_max_s": round(max(full), 3),
        "colours_last_pass": colours,
        "start_due_times_s": round(start_s, 3),
        "target_s": TARGET_S,
        "met": max(full) < TARGET_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--conversations", type=int, default=50_000)
    parser.add_argument("--breaches", type=int, default=1_000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return 0
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    extra = [
        "--conversations",
        str(args.conversations),
        "--breaches",
        str(args.breaches),
        "--passes",
        str(args.passes),
    ]
    results = run_phases("sla.py", dbs, extra)
    print(f"machine: {machine()}")
    for db, r in results.items():
        print(
            f"{db:9} {r['conversations']:,} open, {r['breaches_per_pass']:,} new breaches a pass: "
            f"evaluate {max(r['evaluate_s']):.3f} s max, quiet pass {max(r['quiet_pass_s']):.4f} s, "
            f"classify all {max(r['classify_s']):.3f} s, full pass max {r['full_pass_max_s']:.3f} s "
            f"({'met' if r['met'] else 'MISSED'} < {TARGET_S} s); due times for all in memory "
            f"{r['start_due_times_s']:.3f} s; load {r['load_s']} s"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    return 0 if all(r["met"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
