"""Burst detection on the Numenta Anomaly Benchmark (NAB), realTweets corpus.

    .venv/bin/python bench/nab.py [--data ../shared/data/nab] [--out DIR] [--json FILE]
        [--variants] [--timing-calls N]

Runs, on the 10 realTweets series (mentions of a company per 5 minutes):

* ``null``: never detects (the normalisation's zero);
* ``windowedGaussian``: NAB's windowed Gaussian detector re-implemented exactly (window
  6400 rows, moved by 100, two-sided Gaussian tail score), to check the scorer against
  the published figure;
* ``relais``: ``relais.listening.detector`` fed bucket by bucket through its public
  interface (``new_state`` / ``score_bucket``), as production calls it;
* with ``--variants``: the detector with parts switched off, for the table in
  docs/benchmarks.md.

Every detector is scored by bench/nab_scoring.py (NAB's rules: windows, scaled sigmoid,
standard / reward_low_FP_rate / reward_low_FN_rate profiles, threshold optimised over the
corpus, normalised between the null and the perfect detector) and compared with the
published scores in score_table_all_and_realTweets.csv and thresholds_realTweets.json.
With ``--out DIR`` each detector's results are written in NAB's own results format
(DIR/<detector>/realTweets/<detector>_Twitter_volume_X.csv: timestamp,value,anomaly_score,
label) so that NAB's official scorer can score them.

Finally the per-call cost of ``score_bucket`` is measured (µs per closed bucket, one core).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nab_scoring import PROFILES, Series, load_corpus, score_detector, write_results  # noqa: E402

from relais.listening import detector as relais_detector  # noqa: E402
from relais.listening.detector import ALERT_THRESHOLD  # noqa: E402

Detector = Callable[[Series], list[float]]
TARGET_STANDARD = 83.2


# --- reference detectors ----------------------------------------------------------------------


def null_detector(series: Series) -> list[float]:
    return [0.0] * len(series.values)


def _gaussian_tail(x: float, mean: float, std: float) -> float:
    """P(X > x) for X ~ N(mean, std), computed as NAB's detector does: below the mean,
    one minus the tail of the value mirrored above it."""
    if x < mean:
        return 1.0 - _gaussian_tail(2 * mean - x, mean, std)
    z = (x - mean) / std
    return 0.5 * math.erfc(z / math.sqrt(2))


def windowed_gaussian(
    series: Series, window_size: int = 6400, step_size: int = 100, digits: int | None = None
) -> list[float]:
    """NAB's windowedGaussian detector: the score of a row is 1 - the Gaussian tail
    probability of its value under the mean and standard deviation of the window before
    it; the window grows to ``window_size`` rows, then moves by ``step_size`` rows.

    ``digits``: round each score to that many significant digits. NAB's published
    results files carry the scores as Python 2 printed them (12 significant digits), so
    that every score within 5e-13 of 1 reads as exactly 1.0, the detector's optimal
    threshold; with ``digits=12`` the published per-file scores are reproduced."""
    window: list[float] = []
    step: list[float] = []
    mean, std = 0.0, 1.0
    out = []

    def update() -> tuple[float, float]:
        arr = np.asarray(window, dtype=float)
        m, s = float(np.mean(arr)), float(np.std(arr))
        return m, (s if s != 0.0 else 0.000001)

    for value in series.values:
        out.append(1.0 - _gaussian_tail(value, mean, std) if window else 0.0)
        if len(window) < window_size:
            window.append(value)
            mean, std = update()
        else:
            step.append(value)
            if len(step) == step_size:
                window = window[step_size:] + step
                step = []
                mean, std = update()
    if digits is not None:
        out = [float(f"{x:.{digits}g}") for x in out]
    return out


def _epoch(ts: str) -> float:
    return datetime.strptime(ts[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def relais_runner(**params: float) -> Detector:
    """The production detector, fed one closed bucket at a time through its interface,
    with a JSON round-trip of the state every 1,000 buckets (as the database does)."""

    def run(series: Series) -> list[float]:
        state = relais_detector.new_state(**params)
        out = []
        for i, (ts, value) in enumerate(zip(series.timestamps, series.values, strict=True)):
            score, state = relais_detector.score_bucket(state, value, timestamp=_epoch(ts))
            out.append(score)
            if i % 1000 == 999:
                state = json.loads(json.dumps(state))
        return out

    return run


# --- published figures ------------------------------------------------------------------------


def published(
    data_dir: Path,
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, dict[str, float]]]]:
    table = {}
    path = data_dir / "score_table_all_and_realTweets.csv"
    if path.exists():
        with path.open(newline="") as fh:
            table = {row["detector"]: row for row in csv.DictReader(fh)}
    thresholds = {}
    path = data_dir / "thresholds_realTweets.json"
    if path.exists():
        thresholds = json.loads(path.read_text())
    return table, thresholds


def published_normalised(raw: float, profile: str, num_windows: int) -> float:
    """The published realTweets raw score (thresholds_realTweets.json) normalised."""
    weights = PROFILES[profile]
    null = -weights["fnWeight"] * num_windows
    return 100.0 * (raw - null) / (num_windows * weights["tpWeight"] - null)


# --- timing -----------------------------------------------------------------------------------


def time_score_bucket(corpus: Sequence[Series], calls: int) -> dict[str, float]:
    """µs per score_bucket call over real series (the state carried from call to call)."""
    series = max(corpus, key=lambda s: max(s.values))
    values = series.values
    stamps = [_epoch(t) for t in series.timestamps]
    n = len(values)
    state = relais_detector.new_state()
    for i in range(2000):  # warm the state so that every call does the full work
        _, state = relais_detector.score_bucket(state, values[i], timestamp=stamps[i])
    state0 = state
    per_call = []
    for _ in range(5):
        state = state0
        t0 = time.perf_counter()
        base = stamps[1999]
        for j in range(calls):
            i = 2000 + j % (n - 2000)
            _, state = relais_detector.score_bucket(
                state, values[i], timestamp=base + 300.0 * (j + 1)
            )
        per_call.append((time.perf_counter() - t0) / calls * 1e6)
    encoded = json.dumps(state)
    return {
        "us_per_call_best": min(per_call),
        "us_per_call_median": sorted(per_call)[len(per_call) // 2],
        "calls": calls,
        "state_json_bytes": len(encoded),
    }


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "nab")
    parser.add_argument("--out", type=Path, help="write NAB results files under this folder")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also score the detector's variants (ablation, sensitivity) and a two-fold check",
    )
    parser.add_argument("--timing-calls", type=int, default=100_000)
    parser.add_argument("--timing-only", action="store_true", help="only the per-call cost")
    args = parser.parse_args(argv)

    if not (args.data / "realTweets").is_dir():
        print(f"no NAB data in {args.data} (expected realTweets/ and labels/)", file=sys.stderr)
        return 2
    corpus = load_corpus(args.data)
    num_windows = sum(len(s.windows) for s in corpus)
    table, thresholds = published(args.data)
    if args.timing_only:
        timing = time_score_bucket(corpus, args.timing_calls)
        print(
            f"score_bucket: {timing['us_per_call_best']:.1f} µs per call (best of 5 runs of"
            f" {args.timing_calls:,} calls; median {timing['us_per_call_median']:.1f}),"
            f" state {timing['state_json_bytes']:,} bytes as JSON"
        )
        return 0
    print(
        f"NAB realTweets: {len(corpus)} series, {sum(len(s.values) for s in corpus):,} rows, {num_windows} windows"
    )
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    )

    detectors: dict[str, Detector] = {
        "null": null_detector,
        "windowedGaussian": lambda series: windowed_gaussian(series, digits=12),
        "windowedGaussian-fullprecision": windowed_gaussian,
        "relais": relais_runner(),
    }
    if args.variants:
        detectors.update({name: relais_runner(**params) for name, params in VARIANTS.items()})

    report: dict[str, Any] = {"detectors": {}, "machine": platform.platform()}
    all_scores: dict[str, dict[str, list[float]]] = {}
    print(
        f"{'detector':<30} {'standard':>8} {'low FP':>7} {'low FN':>7}  {'thr(std)':>8}"
        f" {'windows':>7} {'FP rows':>7}  {'run s':>5}"
    )
    for name, detect in detectors.items():
        t0 = time.perf_counter()
        scores = {s.name: detect(s) for s in corpus}
        elapsed = time.perf_counter() - t0
        all_scores[name] = scores
        results = score_detector(corpus, scores)
        std = results["standard"]
        print(
            f"{name:<30} {std.normalised:8.1f} {results['reward_low_FP_rate'].normalised:7.1f}"
            f" {results['reward_low_FN_rate'].normalised:7.1f}  {std.threshold:8.4f}"
            f" {std.detected_windows:>3}/{std.num_windows:<3} {std.fp:7d}  {elapsed:5.1f}"
        )
        report["detectors"][name] = {p: asdict(r) for p, r in results.items()}
        if args.out and not name.startswith("relais-"):
            write_results(args.out, name, corpus, scores)

    fixed = score_detector(corpus, all_scores["relais"], threshold=ALERT_THRESHOLD)
    report["relais_at_alert_threshold"] = {p: asdict(r) for p, r in fixed.items()}
    print(
        f"relais at its own ALERT_THRESHOLD ({ALERT_THRESHOLD}) instead of NAB's optimised one: "
        + ", ".join(f"{p} {r.normalised:.1f}" for p, r in fixed.items())
    )
    if args.variants:
        report["two_fold"] = two_fold(
            corpus, {k: v for k, v in all_scores.items() if k.startswith("relais")}
        )

    print(
        "\nPublished (data/nab): realTweets table | raw scores of thresholds_realTweets.json, normalised"
    )
    for name in ("null", "windowedGaussian", "ARTime", "numenta", "contextOSE"):
        row = table.get(name, {})
        th = thresholds.get(name, {})
        from_raw = {
            p: published_normalised(th[p]["score"], p, num_windows) for p in PROFILES if p in th
        }
        print(
            f"  {name:<17} standard {row.get('tw_standard', '?'):>5} low FP {row.get('tw_reward_low_FP_rate', '?'):>5}"
            f" low FN {row.get('tw_reward_low_FN_rate', '?'):>5} | "
            + " ".join(f"{v:.1f}" for v in from_raw.values())
        )
    report["published"] = {
        k: table[k] for k in ("null", "windowedGaussian", "ARTime", "numenta") if k in table
    }

    timing = time_score_bucket(corpus, args.timing_calls)
    report["timing"] = timing
    print(
        f"\nscore_bucket: {timing['us_per_call_best']:.1f} µs per call (best of 5 runs of"
        f" {args.timing_calls:,} calls; median {timing['us_per_call_median']:.1f}),"
        f" state {timing['state_json_bytes']:,} bytes as JSON"
    )
    relais_std = report["detectors"]["relais"]["standard"]["normalised"]
    print(
        f"target NAB standard > {TARGET_STANDARD}: {'met' if relais_std > TARGET_STANDARD else 'NOT met'}"
    )
    print(f"target < 50 µs per call: {'met' if timing['us_per_call_best'] < 50 else 'NOT met'}")
    if args.out:
        print(f"results files written under {args.out}/<detector>/realTweets/")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


#: The detector with parts switched off (ablation, each line adds one part to the one
#: before; "relais" itself, the defaults of relais.listening.detector, adds habituation),
#: then with one setting moved (sensitivity).
_BARE = {
    "scales": [1],
    "season_slots": 0,
    "calibrate": False,
    "refractory": 0.0,
    "min_count": 0.0,
    "min_z": 0.0,
    "clip": 0.0,
    "habituation": 0.0,
}
_NO_HAB = {"habituation": 0.0}
VARIANTS: dict[str, dict[str, Any]] = {
    "relais-A-ewgauss-fast": {**_BARE, "alpha": 0.02},
    "relais-B-slow-baseline": {**_BARE},
    "relais-C-+daily-cycle": {**_BARE, "season_slots": 24},
    "relais-D-+calibration": {**_BARE, "season_slots": 24, "calibrate": True},
    "relais-E-+5-scales": {
        **_NO_HAB,
        "refractory": 0.0,
        "min_count": 0.0,
        "min_z": 0.0,
        "clip": 0.0,
    },
    "relais-F-+refractory": {**_NO_HAB, "min_count": 0.0, "min_z": 0.0, "clip": 0.0},
    "relais-G-+min-count-min-z": {**_NO_HAB, "clip": 0.0},
    "relais-H-+robust-learning": {**_NO_HAB},
    "relais-v3-alpha.002-no-hab": {**_NO_HAB, "alpha": 0.002},
    "relais-T3.5": {"evidence_threshold": 3.5},
    "relais-T4.5": {"evidence_threshold": 4.5},
    "relais-refractory12h": {"refractory": 43200.0},
    "relais-refractory48h": {"refractory": 172800.0},
    "relais-escalation2": {"escalation": 2.0},
    "relais-alpha.0001": {"alpha": 0.0001},
    "relais-alpha.001": {"alpha": 0.001},
    "relais-alpha.002": {"alpha": 0.002},
    "relais-habituation.25": {"habituation": 0.25},
    "relais-habituation1": {"habituation": 1.0},
    "relais-hab-half-life12h": {"habituation_half_life": 43200.0},
    "relais-hab-half-life48h": {"habituation_half_life": 172800.0},
    "relais-qstep.02": {"quantile_step": 0.02},
    "relais-qstep.1": {"quantile_step": 0.1},
    "relais-12slots": {"season_slots": 12},
    "relais-min_z4": {"min_z": 4.0},
}


def two_fold(
    corpus: Sequence[Series], candidates: dict[str, dict[str, list[float]]]
) -> list[dict[str, Any]]:
    """How much of the figure is choice on the test data: pick the best configuration on
    half of the series (by NAB standard score), then score it on the other half, with the
    threshold optimised there (NAB's way) and with the threshold carried over."""
    folds = [list(corpus[0::2]), list(corpus[1::2])]
    out = []
    print("\ntwo-fold check (configuration chosen on one half of the series, scored on the other):")
    for i, (pick_on, test_on) in enumerate((folds, folds[::-1])):
        best = max(
            candidates,
            key=lambda name: (
                score_detector(pick_on, candidates[name], profile_names=("standard",))[
                    "standard"
                ].normalised
            ),
        )
        chosen = score_detector(pick_on, candidates[best], profile_names=("standard",))["standard"]
        nab_way = score_detector(test_on, candidates[best], profile_names=("standard",))["standard"]
        carried = score_detector(
            test_on, candidates[best], profile_names=("standard",), threshold=chosen.threshold
        )["standard"]
        default = score_detector(test_on, candidates["relais"], profile_names=("standard",))[
            "standard"
        ]
        names = ", ".join(s.name.split("_")[-1].removesuffix(".csv") for s in pick_on)
        row = {
            "chosen_on": names,
            "chosen": best,
            "score_where_chosen": chosen.normalised,
            "held_out_nab_threshold": nab_way.normalised,
            "held_out_carried_threshold": carried.normalised,
            "default_on_held_out": default.normalised,
        }
        out.append(row)
        print(
            f"  fold {i + 1}: chosen on {names}: {best} ({chosen.normalised:.1f} there);"
            f" on the other half {nab_way.normalised:.1f} (threshold optimised there),"
            f" {carried.normalised:.1f} (threshold carried over); the default scores {default.normalised:.1f} there"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
