"""Triage speed and memory: batch throughput of Triager.triage_many on one core, latency of
single triage() calls, memory of the loaded models.

    .venv/bin/python bench/triage_speed.py [--data ../shared/data] [--messages 20000]
        [--single 3000] [--repeat 3] [--json FILE]

The process pins itself to one CPU (os.sched_setaffinity, as `taskset -c 0`). Messages:
the airline tweets (English) then the RATP tweets (French), cycled to --messages. The
lexicon is the STAR Rennes feed (the demo network: 156 routes, 1,792 stops). Memory is the
resident set size grown by importing the engine, loading the lexicon, building the Triager
and triaging a French and an English message (the language models load on first use).
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STAR_GTFS = ROOT / "relais" / "demo" / "data" / "gtfs" / "star_rennes"
TARGETS = {"batch_messages_per_second": 3000, "single_p99_ms": 5.0, "models_mb": 500}


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_texts(data: Path, n: int) -> list[str]:
    texts: list[str] = []
    with open(data / "airline" / "Tweets.csv", encoding="utf-8", newline="") as f:
        texts += [r["text"] for r in csv.DictReader(f)]
    for path in sorted(glob.glob(str(data / "ratp" / "Ligne*_RATP.csv"))):
        with open(path, encoding="utf-8", newline="") as f:
            texts += [r["tweet"] for r in csv.DictReader(f)]
    # Interleave the two languages so that the batch is not English first, French after.
    english, french = texts[:14640], texts[14640:]
    mixed = [t for pair in zip(english, french, strict=False) for t in pair]
    return [mixed[i % len(mixed)] for i in range(n)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=3_000, help="single triage() calls timed")
    parser.add_argument("--repeat", type=int, default=3, help="batch runs (the median is reported)")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to; -1 to not pin")
    parser.add_argument("--json", help="write every figure to this file")
    args = parser.parse_args()

    pinned = None
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
        pinned = sorted(os.sched_getaffinity(0))
    texts = load_texts(Path(args.data), args.messages)
    load_before = os.getloadavg()

    rss_before = rss_mb()
    started = time.perf_counter()
    from relais.triage.engine import Triager
    from relais.triage.entities import NetworkLexicon

    lexicon = NetworkLexicon.from_gtfs(STAR_GTFS)
    triager = Triager(lexicon=lexicon, languages=("fr", "en"))
    triager.triage("Le métro a est bloqué à République depuis 10 minutes")
    triager.triage("My flight was cancelled and nobody at the desk can help")
    # Messages without clear function words go to lingua: load its models now, so that
    # they are counted in the memory of the loaded models.
    triager.triage("Retard énorme, République")
    triager.triage("Flight delayed again, Boston")
    load_seconds = time.perf_counter() - started
    rss_loaded = rss_mb()

    # Warm the per-word caches as a running worker has them; fold() memoises whole texts,
    # which a worker never sees twice: its cache is emptied before every run.
    from relais.triage.text import fold

    triager.triage_many(texts[:500])
    batch_runs: list[float] = []
    batch_cpu: list[float] = []
    for _ in range(args.repeat):
        fold.cache_clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        results = triager.triage_many(texts)
        batch_runs.append(time.perf_counter() - started)
        batch_cpu.append(time.process_time() - cpu_started)
        assert len(results) == len(texts)
    batch_seconds = statistics.median(batch_runs)

    fold.cache_clear()
    single_texts = texts[-args.single :]
    latencies_ms, cpu_ms = [], []
    for text in single_texts:
        started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
        triager.triage(text)
        latencies_ms.append((time.perf_counter_ns() - started) / 1e6)
        cpu_ms.append((time.thread_time_ns() - cpu_started) / 1e6)
    long_text = ("Le métro a est encore bloqué à République, " * 500)[:20_000]
    started = time.perf_counter_ns()
    triager.triage(long_text)
    long_ms = (time.perf_counter_ns() - started) / 1e6
    rss_after = rss_mb()

    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "pinned_cpus": pinned,
        "cpus": os.cpu_count(),
        # Other processes on the machine take the pinned core too: the tail latencies show it.
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "lexicon": {
            "gtfs": "STAR Rennes",
            "routes": sum(len(v) for v in lexicon.routes_by_short.values()),
            "stop_names": len(lexicon.stops_by_name),
        },
        "messages": len(texts),
        "batch": {
            "runs_seconds": [round(s, 3) for s in batch_runs],
            "median_seconds": round(batch_seconds, 3),
            "messages_per_second": round(len(texts) / batch_seconds),
            "us_per_message": round(batch_seconds / len(texts) * 1e6, 1),
            # On CPU time: what one core would do with no other process on it.
            "cpu_runs_seconds": [round(s, 3) for s in batch_cpu],
            "cpu_messages_per_second": round(len(texts) / statistics.median(batch_cpu)),
        },
        "single": {
            "calls": len(latencies_ms),
            "p50_ms": round(percentile(latencies_ms, 50), 3),
            "p90_ms": round(percentile(latencies_ms, 90), 3),
            "p99_ms": round(percentile(latencies_ms, 99), 3),
            "max_ms": round(max(latencies_ms), 3),
            # CPU time of the call itself: what the tail would be without other processes
            # taking the core (the wall-clock figures above include them).
            "cpu_p99_ms": round(percentile(cpu_ms, 99), 3),
            "cpu_max_ms": round(max(cpu_ms), 3),
            "text_20000_chars_ms": round(long_ms, 2),
        },
        "memory": {
            "rss_before_mb": round(rss_before, 1),
            "rss_loaded_mb": round(rss_loaded, 1),
            "models_mb": round(rss_loaded - rss_before, 1),
            "rss_after_runs_mb": round(rss_after, 1),
            "load_seconds": round(load_seconds, 2),
        },
    }
    met = {
        "batch_messages_per_second": report["batch"]["messages_per_second"]
        >= TARGETS["batch_messages_per_second"],
        "single_p99_ms": report["single"]["p99_ms"] < TARGETS["single_p99_ms"],
        "models_mb": report["memory"]["models_mb"] < TARGETS["models_mb"],
    }
    report["targets"] = {k: {"target": TARGETS[k], "met": v} for k, v in met.items()}

    b, s, m = report["batch"], report["single"], report["memory"]
    print(
        f"== Triage speed (CPU {pinned} of {os.cpu_count()}, {len(texts)} messages, STAR Rennes lexicon; "
        f"load average {report['load_average_1min_before_after']})"
    )
    print(
        f"batch triage_many: {b['messages_per_second']:,} messages/s ({b['us_per_message']} µs each; "
        f"runs {b['runs_seconds']} s) target >= 3,000: {'met' if met['batch_messages_per_second'] else 'NOT met'} "
        f"(on CPU time: {b['cpu_messages_per_second']:,} messages/s)"
    )
    print(
        f"single triage(): p50 {s['p50_ms']} ms, p90 {s['p90_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms "
        f"over {s['calls']} calls; target p99 < 5 ms: {'met' if met['single_p99_ms'] else 'NOT met'} "
        f"(CPU time of the call: p99 {s['cpu_p99_ms']} ms, max {s['cpu_max_ms']} ms)"
    )
    print(f"20,000-character message: {s['text_20000_chars_ms']} ms")
    print(
        f"memory: RSS {m['rss_before_mb']} -> {m['rss_loaded_mb']} MB loaded (+{m['models_mb']} MB, "
        f"{m['load_seconds']} s), {m['rss_after_runs_mb']} MB after the runs; target < 500 MB: "
        f"{'met' if met['models_mb'] else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
