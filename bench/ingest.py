"""Ingest benchmark: raw events to conversations (one worker, then two), and the live
latency from the ingest call to the event in a signed-in browser's stream.

    .venv/bin/python bench/ingest.py [--db sqlite|postgres|both] [--messages N]
                                     [--skip-live] [--skip-workers] [--json FILE]

Every phase runs in a fresh process on a fresh database (a temporary SQLite file in WAL
mode, or a PostgreSQL database `relais_bench` created and dropped here), so Django's
settings come from the environment the phase is given. docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment  # noqa: E402

TARGET_RATE = 2000  # messages/s, sustained, one worker (the figure)
TARGET_P99 = 0.5  # seconds, at LIVE_RATE
LIVE_RATE = 200.0
TRICKLE = [2.0, 5.0, 10.0, 20.0]  # pauses before each message of the quiet run


def run_phase(name: str, env: dict[str, str], **options: Any) -> dict[str, Any]:
    """Run `bench/ingest.py --phase NAME` in a process with `env`; return its RESULT line."""
    argv = [environment.PYTHON, __file__, "--phase", name]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(
        argv, env=env, cwd=environment.ROOT, capture_output=True, text=True, check=False
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(
        f"phase {name} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )


def _fresh(db: str, tmp: Path) -> dict[str, str]:
    if db == "postgres":
        environment.postgres_recreate()
    return environment.phase_env(var_dir=tmp, db=db)


def bench_throughput(db: str, n: int, batch: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"relais-bench-{db}-") as tmp:
        try:
            return run_phase(
                "throughput", _fresh(db, Path(tmp)), messages=n, batch=batch, seed=seed
            )
        finally:
            if db == "postgres":
                environment.drop_postgres()


def bench_workers(db: str, n: int, batch: int, seed: int) -> dict[str, Any]:
    """One worker process, then two at once, on the same events stored afresh: the ratio of
    the two rates is taken minutes apart rather than across the whole run."""
    one = _workers_run(db, n, batch, seed, 1)
    two = _workers_run(db, n, batch, seed, 2)
    two["one_worker_rate"] = one["rate"]
    two["one_worker_check"] = one["check"]
    if not one["check"]["ok"]:
        two["check"]["ok"] = False
        two["check"]["problems"] += [f"one worker: {p}" for p in one["check"]["problems"]]
    return two


def _workers_run(db: str, n: int, batch: int, seed: int, workers: int) -> dict[str, Any]:
    """`workers` processes call process_pending() on the same stored events at once."""
    with tempfile.TemporaryDirectory(prefix=f"relais-bench-{db}-workers-") as tmp:
        env = _fresh(db, Path(tmp))
        try:
            prepared = run_phase("prepare", env, messages=n, batch=batch, seed=seed)
            argv = [environment.PYTHON, __file__, "--phase", "worker"]
            procs = [
                subprocess.Popen(
                    argv,
                    env=env,
                    cwd=environment.ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for _ in range(workers)
            ]
            for p in procs:
                assert p.stdout.readline().strip() == "READY"
            for p in procs:  # both start within a millisecond
                p.stdin.write("go\n")
                p.stdin.flush()
            outputs = [p.communicate(timeout=600)[0] for p in procs]
            results = [
                json.loads(
                    next(line[7:] for line in out.splitlines() if line.startswith("RESULT "))
                )
                for out in outputs
            ]
            check = run_phase(
                "check",
                env,
                messages=n,
                expected_conversations=prepared["expected_conversations"],
                expected_contacts=prepared["expected_contacts"],
            )
        finally:
            if db == "postgres":
                environment.drop_postgres()
    started = min(r["started"] for r in results)
    seconds = max(r["finished"] for r in results) - started
    done = [r["done"] for r in results]
    if sum(done) != n:
        check["ok"] = False
        check["problems"].append(
            f"workers report {done} events done, {sum(done)} in all, expected {n}"
        )
    return {
        "workers": workers,
        "messages": n,
        "done_by_worker": done,
        "seconds_by_worker": [r["finished"] - r["started"] for r in results],
        "seconds": seconds,
        "rate": n / seconds,
        "check": check,
    }


def machine() -> dict[str, str]:
    """What docs/benchmarks.md reports: `nproc`, lscpu's model name, memory, versions."""
    import sqlite3

    def run(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in run("lscpu").splitlines()
            if line.startswith("Model name")
        ),
        "?",
    )
    kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    info = {
        "nproc": run("nproc"),
        "cpu": model,
        "memory": f"{kib / 1024**2:.0f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if environment.postgres_available():
        with environment._admin_connection() as conn:
            info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
    if environment.redis_available():
        import redis

        info["redis"] = redis.Redis.from_url(environment.REDIS_BENCH_URL).info("server")[
            "redis_version"
        ]
    return info


def _fmt_rate(r: float) -> str:
    return f"{r:,.0f}"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x * 1000:,.0f}"


def report(results: dict[str, Any]) -> str:
    lines = [
        f"Relais ingest benchmark, {results['date']}, {results['messages']} messages",
        f"machine: {results['machine']}",
        f"load average (1, 5, 15 min) at start {results['load_average_start']}, "
        f"at end {results.get('load_average_end')}; run took {results.get('seconds', 0):.0f} s",
        "",
    ]
    if results["throughput"]:
        lines.append(
            "one worker            store msg/s  pipeline msg/s  end-to-end msg/s  "
            "store s  pipeline s  conversations  check"
        )
        for db, r in results["throughput"].items():
            if "error" in r:
                lines.append(f"  {db:<19} ERROR {r['error']}")
                continue
            lines.append(
                f"  {db:<19} {_fmt_rate(r['ingest_rate']):>11}  {_fmt_rate(r['pipeline_rate']):>14}  "
                f"{_fmt_rate(r['end_to_end_rate']):>16}  {r['ingest_seconds']:7.1f}  "
                f"{r['pipeline_seconds']:10.1f}  {r['check']['conversations']:>13}  "
                f"{'ok' if r['check']['ok'] else 'FAILED ' + '; '.join(r['check']['problems'])}"
            )
        lines.append(f"  target: {TARGET_RATE} msg/s sustained")
        lines.append("")
    if results["workers"]:
        lines.append(
            "two workers           messages  one worker msg/s  two at once msg/s  ratio  "
            "done by each  check"
        )
        for db, r in results["workers"].items():
            if "error" in r:
                lines.append(f"  {db:<19} ERROR {r['error']}")
                continue
            ratio = f"{r['rate'] / r['one_worker_rate']:.2f}x"
            lines.append(
                f"  {db:<19} {r['messages']:>8}  {_fmt_rate(r['one_worker_rate']):>16}  "
                f"{_fmt_rate(r['rate']):>17}  {ratio:>5}  {str(r['done_by_worker']):>12}  "
                f"{'ok' if r['check']['ok'] else 'FAILED ' + '; '.join(r['check']['problems'])}"
            )
        lines.append("")
    if results["live"]:
        lines.append(
            f"live latency, ingest call -> SSE client, ms (target p99 < {TARGET_P99 * 1000:.0f} ms "
            f"at {LIVE_RATE:.0f} msg/s)"
        )
        lines.append(
            "  mode / db          accepted/s  delivered    p50    p95    p99    max  "
            "| to publish p99 | publish->client p99"
        )
        for key, r in results["live"].items():
            if "error" in r:
                lines.append(f"  {key:<22} ERROR {r['error']}")
                continue
            lat, pub, fan = r["latency"], r["ingest_to_publish"], r["publish_to_client"]
            lines.append(
                f"  {key:<18} {r['accepted_rate']:10.0f}  {r['delivered']:>4}/{r['sent']:<5}"
                f"{_ms(lat.get('p50')):>6} {_ms(lat.get('p95')):>6} {_ms(lat.get('p99')):>6} "
                f"{_ms(lat.get('max')):>6}  | {_ms(pub.get('p99')):>14} | {_ms(fan.get('p99')):>10}"
                + (f"  client error: {r['client_error']}" if r["client_error"] else "")
            )
            lines.append(
                f"    {r['via']}: call p50 {_ms(r['call_p50'])} ms, p99 {_ms(r['call_p99'])} ms; "
                f"failed calls {r['failed_calls'] or 'none'}; not processed at the end {r['not_done']}"
            )
            if "quiet" in r:
                q = r["quiet"]
                lines.append(
                    f"    quiet desk (pauses {q['gaps']} s): latencies "
                    f"{[round(x * 1000) for x in q['latencies']]} ms, "
                    f"{q['delivered']}/{q['expected']} delivered"
                )
    return "\n".join(lines)


def _guarded(part, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """One part failing (a server that does not start, a lost database) is reported with
    the others' figures rather than ending the run."""
    try:
        result = part(*args, **kwargs)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
    # Figures as they come, so that an interrupted run still shows them.
    print(
        "        " + json.dumps({k: v for k, v in result.items() if k != "server_log_tail"}),
        file=sys.stderr,
        flush=True,
    )
    return result


def orchestrate(args: argparse.Namespace) -> int:
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in dbs and not environment.postgres_available():
        print("PostgreSQL is not reachable at 127.0.0.1:5432: skipping it", file=sys.stderr)
        dbs.remove("postgres")
    results: dict[str, Any] = {
        "worker_messages": args.worker_messages,
        "load_average_start": [round(x, 1) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "messages": args.messages,
        "command": " ".join(["bench/ingest.py", *sys.argv[1:]]),
        "machine": machine(),
        "throughput": {},
        "workers": {},
        "live": {},
    }
    t0 = time.time()
    for db in [] if args.skip_throughput else dbs:
        print(f"[{time.time() - t0:5.0f}s] throughput, one worker, {db} ...", file=sys.stderr)
        results["throughput"][db] = _guarded(
            bench_throughput, db, args.messages, args.batch, args.seed
        )
    if not args.skip_workers:
        for db in dbs:
            print(f"[{time.time() - t0:5.0f}s] two workers, {db} ...", file=sys.stderr)
            results["workers"][db] = _guarded(
                bench_workers, db, args.worker_messages, args.batch, args.seed
            )
    if not args.skip_live:
        from bench import live

        runs = [("embedded", "sqlite")]
        if environment.redis_available():
            # Redis mode is the production layout: PostgreSQL when it is measured.
            runs.append(("redis", "postgres" if "postgres" in dbs else "sqlite"))
        else:
            print("Redis is not reachable: live latency in embedded mode only", file=sys.stderr)
        for mode, db in runs:
            print(f"[{time.time() - t0:5.0f}s] live latency, {mode} / {db} ...", file=sys.stderr)
            results["live"][f"{mode} / {db}"] = _guarded(
                live.run,
                mode=mode,
                db=db,
                rate=LIVE_RATE,
                seconds=args.live_seconds,
                trickle=TRICKLE if mode == "embedded" and not args.no_quiet else [],
                via=args.via,
                run_phase=run_phase,
            )
    results["seconds"] = time.time() - t0
    # The machine is shared: the load says how much of it the run had.
    results["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    print(report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    failed = [
        k
        for k, r in [*results["throughput"].items(), *results["workers"].items()]
        if "error" in r or not r["check"]["ok"]
    ]
    return 1 if failed else 0


def phase(args: argparse.Namespace) -> None:
    environment.django_setup()
    from bench import phases

    if args.phase == "throughput":
        phases.throughput(n=args.messages, batch=args.batch, seed=args.seed)
    elif args.phase == "prepare":
        phases.prepare(n=args.messages, batch=args.batch, seed=args.seed)
    elif args.phase == "worker":
        phases.worker()
    elif args.phase == "check":
        phases.check(
            n=args.messages,
            expected_conversations=args.expected_conversations,
            expected_contacts=args.expected_contacts,
        )
    elif args.phase == "live-setup":
        phases.live_setup()
    elif args.phase == "live-send":
        phases.live_send(
            account_id=args.account_id,
            rate=args.rate,
            seconds=args.seconds,
            prefix=args.prefix,
            settle=args.settle,
            via=args.via,
            base=args.base,
            gaps=[float(g) for g in args.gaps.split(",")] if args.gaps else None,
        )
    else:
        raise SystemExit(f"unknown phase {args.phase}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--worker-messages",
        type=int,
        default=5_000,
        help="events for the two-worker run (a quarter of the default, to stay within minutes)",
    )
    parser.add_argument(
        "--batch", type=int, default=100, help="messages per ingest() call (a webhook's worth)"
    )
    parser.add_argument("--seed", type=int, default=20260312)
    parser.add_argument("--live-seconds", type=float, default=20.0)
    parser.add_argument(
        "--via",
        choices=["webhook", "direct"],
        default="webhook",
        help="live messages through the signed webhook, or ingest() in a separate process",
    )
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument("--no-quiet", action="store_true", help="skip the quiet-desk latency run")
    parser.add_argument("--json", help="also write every figure to this file")
    # Internal: the phase processes.
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--expected-conversations", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--expected-contacts", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--account-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--settle", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--gaps", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
