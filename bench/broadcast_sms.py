"""SMS subscribers benchmark: an alert on a line with 100,000 SMS subscribers is queued
(one SubscriberMessage each), then handed to a real SMPP server (the npm `smpp` simulator
of tests/peers/smpp) by sender processes sharing the account's token bucket.

    .venv/bin/python bench/broadcast_sms.py [--db sqlite|postgres|both] [--subscribers N]
        [--rate R ...] [--window SECONDS] [--senders K] [--json FILE]

Targets (issue 7): every message queued under 10 s after the alert; handed to the gateway
at the configured rate. The rate is measured from the SMSC's side (submit_sm received in
the window) and from ours (sent_at of the rows), over a window of --window seconds per
configured rate: a full 100,000 at a realistic 200 SMS/s would take over eight minutes.
Each phase runs in a fresh process on a fresh database (SQLite file in WAL mode, or the
PostgreSQL database relais_bench_sms, created and dropped here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import environment  # noqa: E402

PG_DATABASE = "relais_bench_sms"
QUEUE_TARGET = 10.0  # seconds
PEER_DIR = environment.ROOT / "tests" / "peers" / "smpp"
SYSTEM_ID, PASSWORD = "relais", "benchpw1"  # noqa: S105 - a throw-away simulator


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Smsc:
    """The SMPP simulator in a process of its own, for one measurement."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None or not (PEER_DIR / "node_modules" / "smpp").is_dir():
            raise SystemExit("SMPP peer not installed: run `make peers`")
        self.smpp_port, self.control_port = _free_port(), _free_port()
        env = {**os.environ, "SMPP_USERS": f"{SYSTEM_ID}:{PASSWORD}"}
        self.proc = subprocess.Popen(  # noqa: S603 - our own script
            [node, "server.js", str(self.smpp_port), str(self.control_port)],
            cwd=PEER_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url("/health"), timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("SMPP peer did not start")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.control_port}{path}"

    def submitted(self) -> list[dict]:
        import httpx

        return httpx.get(self.url("/submitted"), timeout=60).json()

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _run(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [environment.PYTHON, __file__, *argv],
        env=env,
        cwd=environment.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(
        f"{argv} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


def _env(db: str, tmp: Path) -> dict[str, str]:
    env = environment.phase_env(var_dir=tmp, db=db)
    if db == "postgres":
        env["DATABASE_URL"] = f"{environment.POSTGRES_ADMIN_URL}/{PG_DATABASE}"
    return env


def bench_db(
    db: str,
    *,
    subscribers: int,
    rates: list[float],
    window: float,
    senders: int,
    receipts_budget: float = 60.0,
):
    results: dict[str, Any] = {"db": db, "subscribers": subscribers, "rates": []}
    with tempfile.TemporaryDirectory(prefix=f"relais-bench-sms-{db}-") as tmp:
        if db == "postgres":
            environment.postgres_recreate(PG_DATABASE)
        try:
            env = _env(db, Path(tmp))
            smsc = Smsc()
            try:
                setup = _run(
                    [
                        "--phase",
                        "setup",
                        "--subscribers",
                        str(subscribers),
                        "--smpp-port",
                        str(smsc.smpp_port),
                    ],
                    env,
                )
                results["setup_seconds"] = setup["seconds"]
                queued = _run(["--phase", "queue"], env)
                results["queue"] = queued
                for rate in rates:
                    results["rates"].append(_send(env, smsc, rate, window, senders))
                results["receipts"] = _run(
                    ["--phase", "receipts", "--receipts-budget", str(receipts_budget)], env
                )
            finally:
                smsc.stop()
        finally:
            if db == "postgres":
                environment.drop_postgres(PG_DATABASE)
    return results


def _send(env, smsc: Smsc, rate: float, window: float, senders: int) -> dict[str, Any]:
    before = len(smsc.submitted())
    procs = [
        subprocess.Popen(  # noqa: S603 - this very script
            [
                environment.PYTHON,
                __file__,
                "--phase",
                "send",
                "--rate",
                str(rate),
                "--window",
                str(window),
            ],
            env=env,
            cwd=environment.ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(senders)
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate()
        result = next(
            (
                json.loads(line[7:])
                for line in reversed(out.splitlines())
                if line.startswith("RESULT ")
            ),
            None,
        )
        if result is None:
            raise RuntimeError(f"sender failed:\n{out[-2000:]}\n{err[-4000:]}")
        outs.append(result)
    at_smsc = len(smsc.submitted()) - before
    stats = _run(["--phase", "stats", "--since", str(min(o["started"] for o in outs))], env)
    return {
        "configured_rate": rate,
        "senders": senders,
        "window_s": window,
        "sent_by_senders": sum(o["sent"] for o in outs),
        "failed": sum(o["failed"] for o in outs),
        "submitted_at_smsc": at_smsc,
        "measured_rate": round(stats["count"] / stats["span"], 1) if stats["span"] else None,
        "measured_span_s": round(stats["span"], 2),
        "busiest_second": stats["busiest_second"],
    }


# --- Phases (inside a process whose environment _env made) ---------------------------------


def phase_setup(subscribers: int, smpp_port: int) -> dict[str, Any]:
    environment.django_setup()
    environment.migrate()
    import uuid

    from relais.accounts.models import Organization
    from relais.channels.models import ChannelAccount
    from relais.publishing.models import Publication, Subscriber
    from relais.transit.models import Route

    started = time.perf_counter()
    org = Organization.objects.create(slug="bench", name="Bench Transit")
    line = Route.objects.create(organization=org, gtfs_id="B", short_name="B", route_type=1)
    other = Route.objects.create(organization=org, gtfs_id="A", short_name="A", route_type=1)
    ChannelAccount.objects.create(
        organization=org,
        kind="sms",
        network="sms",
        handle="+33700000001",
        name="SMS",
        config={
            "gateway": "smpp",
            "host": "127.0.0.1",
            "port": smpp_port,
            "system_id": SYSTEM_ID,
            "source_address": "+33700000001",
            "timeout": 10,
        },
        credentials={"password": PASSWORD},
    )
    through = Subscriber.lines.through
    batch = 10_000
    for start in range(0, subscribers, batch):
        rows = [
            Subscriber(
                organization=org,
                channel="sms",
                address=f"+3361{i:07d}",
                state="confirmed",
                token=uuid.uuid4().hex,
            )
            for i in range(start, min(start + batch, subscribers))
        ]
        Subscriber.objects.bulk_create(rows, batch_size=2000)
    ids = list(Subscriber.objects.filter(organization=org).values_list("pk", flat=True))
    links = [through(subscriber_id=pk, route_id=line.pk) for pk in ids]
    # A tenth of them also follow another line: the query must not queue them twice.
    links += [through(subscriber_id=pk, route_id=other.pk) for pk in ids[::10]]
    through.objects.bulk_create(links, batch_size=5000)
    publication = Publication.objects.create(
        organization=org,
        kind="alert",
        category="traffic",
        state="publishing",
        text="Ligne B : trafic interrompu entre Gares et République jusqu'à 10 h 30 (incident "
        "technique). Bus de remplacement.",
    )
    publication.lines.set([line])
    return {"seconds": round(time.perf_counter() - started, 2), "publication": publication.pk}


def phase_queue() -> dict[str, Any]:
    environment.django_setup()
    from relais.publishing.models import Publication, SubscriberMessage
    from relais.publishing.subscribers.actions import broadcast_publication

    publication = Publication.objects.get(kind="alert")
    started = time.perf_counter()
    queued = broadcast_publication(publication_id=publication.pk)  # the task's body, committed
    seconds = time.perf_counter() - started
    rows = SubscriberMessage.objects.filter(broadcast__publication=publication).count()
    again = broadcast_publication(publication_id=publication.pk)
    return {
        "queued": queued.get("sms", 0),
        "rows": rows,
        "seconds": round(seconds, 3),
        "target_s": QUEUE_TARGET,
        "met": seconds < QUEUE_TARGET and rows == queued.get("sms"),
        "second_call_queued": again.get("sms", 0),
    }


def phase_send(rate: float, window: float) -> dict[str, Any]:
    environment.django_setup()
    from relais.channels.models import ChannelAccount
    from relais.common.timeutils import now
    from relais.publishing.models import SendRateBucket
    from relais.publishing.subscribers.sending import send_sms

    account = ChannelAccount.objects.get(kind="sms")
    ChannelAccount.objects.filter(pk=account.pk).update(
        config={**account.config, "send_rate": rate}
    )
    SendRateBucket.objects.filter(account=account).update(tokens=0.0, refilled_at=now())
    started = now()
    result = send_sms(account_id=account.pk, budget_seconds=window)
    return {"sent": result.sent, "failed": result.failed, "started": started.timestamp()}


def phase_receipts(budget: float) -> dict[str, Any]:
    """The SMSC's delivery receipts for what was sent, read through the product's polling
    path (poll_account: SMPP deliver_sm → apply_delivery_reports → our receiver)."""
    environment.django_setup()
    from relais.channels.models import ChannelAccount
    from relais.channels.polling import poll_account
    from relais.publishing.models import SubscriberMessage

    account = ChannelAccount.objects.get(kind="sms")
    sent = SubscriberMessage.objects.exclude(external_id="").count()
    started = time.perf_counter()
    polls = 0
    while time.perf_counter() - started < budget:
        ChannelAccount.objects.filter(pk=account.pk).update(polled_at=None)
        before = SubscriberMessage.objects.filter(receipt_at__isnull=False).count()
        poll_account(account.pk)
        polls += 1
        after = SubscriberMessage.objects.filter(receipt_at__isnull=False).count()
        if after >= sent or after == before:
            break
    seconds = time.perf_counter() - started
    stored = SubscriberMessage.objects.filter(receipt_at__isnull=False).count()
    return {
        "sent": sent,
        "receipts_stored": stored,
        "delivered": SubscriberMessage.objects.filter(state="delivered").count(),
        "seconds": round(seconds, 2),
        "per_second": round(stored / seconds, 1) if seconds else None,
        "polls": polls,
    }


def phase_stats(since: float) -> dict[str, Any]:
    environment.django_setup()
    from collections import Counter

    from relais.publishing.models import SubscriberMessage

    times = sorted(
        t.timestamp()
        for t in SubscriberMessage.objects.filter(
            sent_at__gte=datetime.fromtimestamp(since, UTC)
        ).values_list("sent_at", flat=True)
    )
    if len(times) < 2:
        return {"count": len(times), "span": 0, "busiest_second": len(times)}
    per_second = Counter(int(t - times[0]) for t in times)
    # Rate over the span between the first and the last message recorded (the first chunk
    # records its time after its send, so the count minus one chunk spans the interval).
    return {
        "count": len(times),
        "span": times[-1] - times[0],
        "busiest_second": max(per_second.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phase", choices=["setup", "queue", "send", "stats", "receipts"])
    parser.add_argument("--receipts-budget", type=float, default=60.0)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--rate", type=float, action="append")
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--smpp-port", type=int)
    parser.add_argument("--since", type=float)
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.phase == "setup":
        result = phase_setup(args.subscribers, args.smpp_port)
    elif args.phase == "queue":
        result = phase_queue()
    elif args.phase == "send":
        result = phase_send(args.rate[0], args.window)
    elif args.phase == "stats":
        result = phase_stats(args.since)
    elif args.phase == "receipts":
        result = phase_receipts(args.receipts_budget)
    if args.phase:
        print("RESULT " + json.dumps(result))
        return
    rates = args.rate or [200.0, 1000.0]
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    report = {
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
        "python": platform.python_version(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": [],
    }
    for db in dbs:
        if db == "postgres" and not environment.postgres_available():
            print("PostgreSQL unreachable: skipped")
            continue
        run = bench_db(
            db,
            subscribers=args.subscribers,
            rates=rates,
            window=args.window,
            senders=args.senders,
            receipts_budget=args.receipts_budget,
        )
        report["runs"].append(run)
        print(json.dumps(run, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
