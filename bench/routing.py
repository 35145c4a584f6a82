"""Routing-rules benchmark: what the rules step adds to the ingest pipeline, and how long the
"what would this rule have matched last week" tester takes on a busy week.

    .venv/bin/python bench/routing.py [--db sqlite|postgres|both] [--messages N] [--rules K]

For each database, two fresh databases in fresh processes: the same N stored messages
processed by the pipeline once without any rule and once with K enabled rules (text,
intent, urgency, line, author-flag conditions; tags, priority, team, round-robin and
least-loaded assignment among three agents on shift). The difference per message is the
rules step's cost. Then the tester runs on every rule over the (bounded) week.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment  # noqa: E402

PG_NAME = "relais_bench_routing"  # not the ingest bench's database: they may run together


def emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result), flush=True)


def _rules(org, team, k: int) -> list:
    from relais.care.models import AssignStrategy, RoutingRule

    kinds = [
        {"text_contains": ["grève", "greve"]},
        {"intents": ["complaint"], "sentiments": ["negative"]},
        {"urgencies": ["safety", "blocking"]},
        {"lines": ["0004", "0001"]},
        {"author_flags": ["journalist", "elected"]},
        {"text_contains": ["ascenseur", "escalator"], "text_excludes": ["merci"]},
        {"intents": ["polemic"]},
        {"networks": ["facebook"]},  # never true here: every message is on X
    ]
    made = []
    for i in range(k):
        strategy = [AssignStrategy.NONE, AssignStrategy.ROUND_ROBIN, AssignStrategy.LEAST_LOADED][
            i % 3
        ]
        made.append(
            RoutingRule.objects.create(
                organization=org,
                name=f"rule {i}",
                position=(i + 1) * 10,
                conditions=kinds[i % len(kinds)],
                stop=i % 2 == 0,  # half continue: more rules evaluated per message
                team=team if strategy else None,
                strategy=strategy,
                priority=i % 4 if i % 5 == 0 else None,
                tags=[f"t{i % 6}"],
            )
        )
    return made


def phase(*, n: int, k: int, seed: int) -> None:
    environment.django_setup()
    from datetime import timedelta

    from django.contrib.auth import get_user_model

    from bench.workload import generate
    from relais.accounts.models import Membership, Role
    from relais.care.models import AuthorProfile, ExceptionKind, ShiftException
    from relais.care.routing import TRY_BOUND, try_rule
    from relais.channels.ingest import ingest
    from relais.channels.pipeline import process_pending
    from relais.common.timeutils import now
    from relais.inbox.models import Contact, Conversation, Message

    environment.migrate()
    org, account = environment.create_org_and_account()
    team = account.default_team
    t = now()
    for i in range(3):
        user = get_user_model().objects.create_user(username=f"agent{i}")
        Membership.objects.create(user=user, organization=org, role=Role.AGENT).teams.set([team])
        ShiftException.objects.create(
            organization=org,
            team=team,
            user=user,
            kind=ExceptionKind.EXTRA,
            starts_at=t - timedelta(hours=1),
            ends_at=t + timedelta(days=1),
        )
    rules = _rules(org, team, k)
    workload = generate(n, seed=seed)
    for i in range(0, n, 100):
        ingest(account=account, messages=workload.messages[i : i + 100])
    # Flag one author in fifty (contacts exist once the first batch is processed: flag the
    # authors in advance by creating their contacts).
    for author in {m.author.external_id: m.author for m in workload.messages}.values():
        if zlib.crc32(author.external_id.encode()) % 50 == 0:
            contact = Contact.objects.create(
                organization=org,
                network="x",
                external_id=author.external_id,
                handle=author.handle,
                first_seen_at=t,
                last_seen_at=t,
            )
            AuthorProfile.objects.create(
                organization=org, contact=contact, flags=["journalist"], updated_at=t
            )
    # Time each pipeline step inside this run: separate runs on a shared machine differ by
    # more than the rules step costs.
    from relais.channels import pipeline

    step_seconds: dict[str, float] = {}

    def timed_run_steps(batch) -> None:
        for step in pipeline.pipeline_steps():
            t0 = time.perf_counter()
            step(batch)
            name = f"{step.__module__}.{step.__name__}"
            step_seconds[name] = step_seconds.get(name, 0.0) + time.perf_counter() - t0

    pipeline.run_steps = timed_run_steps
    started = time.perf_counter()
    done = process_pending()
    seconds = time.perf_counter() - started
    assert done == n, (done, n)
    result: dict[str, Any] = {
        "messages": n,
        "rules": k,
        "pipeline_seconds": seconds,
        "per_message_ms": seconds / n * 1000,
        "step_ms_per_message": {k: v / n * 1000 for k, v in step_seconds.items()},
        "assigned": Conversation.objects.filter(assignee__isnull=False).count(),
        "conversations": Conversation.objects.count(),
    }
    if rules:
        from relais.care.models import RuleMatch

        result["rule_matches"] = RuleMatch.objects.count()
        # The tester reads last week: put the messages there (spread over six days).
        ids = list(Message.objects.order_by("pk").values_list("pk", flat=True))
        step = timedelta(days=6) / max(len(ids), 1)
        for j in range(0, len(ids), 1000):
            for offset, pk in enumerate(ids[j : j + 1000]):
                Message.objects.filter(pk=pk).update(created_at=t - step * (j + offset))
        timings, counts = [], []
        for rule in rules:
            started = time.perf_counter()
            found = try_rule(rule=rule)
            timings.append(time.perf_counter() - started)
            counts.append((found.count, found.scanned, found.bounded))
        result.update(
            try_bound=TRY_BOUND,
            try_median_s=statistics.median(timings),
            try_max_s=max(timings),
            try_counts=counts,
        )
    emit(result)


def run(db: str, n: int, k: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"relais-bench-routing-{db}-") as tmp:
        env = environment.phase_env(var_dir=Path(tmp), db="sqlite")
        if db == "postgres":
            environment.postgres_recreate(PG_NAME)
            env["DATABASE_URL"] = f"{environment.POSTGRES_ADMIN_URL}/{PG_NAME}"
        argv = [environment.PYTHON, __file__, "--phase", "--messages", str(n), "--rules", str(k)]
        argv += ["--seed", str(seed)]
        try:
            done = subprocess.run(
                argv, env=env, cwd=environment.ROOT, capture_output=True, text=True, check=False
            )
        finally:
            if db == "postgres":
                environment.drop_postgres(PG_NAME)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"phase failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="both", choices=["sqlite", "postgres", "both"])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rules", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20260312)
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(n=args.messages, k=args.rules, seed=args.seed)
        return
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not environment.postgres_available():
        print("PostgreSQL does not answer: skipped")
        dbs.remove("postgres")
    print(f"machine: {platform.machine()}, {platform.python_version()}, {args.messages} messages")
    for db in dbs:
        without = run(db, args.messages, 0, args.seed)
        with_rules = run(db, args.messages, args.rules, args.seed)
        extra = with_rules["per_message_ms"] - without["per_message_ms"]
        steps = with_rules["step_ms_per_message"]
        rules_step = steps["relais.care.routing.apply_rules"]
        print(
            f"{db}: inside the run with rules, the rules step took {rules_step:.3f} ms/message "
            f"of {sum(steps.values()):.3f} for all steps "
            f"({100 * rules_step / sum(steps.values()):.0f}%); without rules it took "
            f"{without['step_ms_per_message']['relais.care.routing.apply_rules']:.3f}"
        )
        print(
            f"{db}: pipeline {without['per_message_ms']:.3f} ms/message without rules, "
            f"{with_rules['per_message_ms']:.3f} with {args.rules} rules "
            f"(+{extra:.3f} ms/message; {with_rules['rule_matches']} rule matches, "
            f"{with_rules['assigned']}/{with_rules['conversations']} conversations assigned); "
            f"tester median {with_rules['try_median_s'] * 1000:.0f} ms, "
            f"max {with_rules['try_max_s'] * 1000:.0f} ms "
            f"(bound {with_rules['try_bound']} messages)"
        )


if __name__ == "__main__":
    main()
