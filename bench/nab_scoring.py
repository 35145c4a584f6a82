"""The Numenta Anomaly Benchmark (NAB) scoring rules, written from the NAB paper (Lavin and
Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta Anomaly
Benchmark", 2015) and the rules documented in the NAB repository (numenta/NAB).

What is scored, for one detector over a corpus of series:

* Each series has labelled anomaly *windows* (``labels/combined_windows.json``): inclusive
  [start, end] timestamps. The first 15% of each series (at most 750 rows) is the
  *probationary period*: its rows are not scored at all.
* A row whose anomaly score is at or above a threshold is a *detection*.
* Inside a window only the earliest detection counts, weighted by the scaled sigmoid of
  its relative position: a detection on the window's first row earns ``tpWeight``, one on
  its last row almost nothing. A window without a detection costs ``fnWeight``.
* Every detection outside the windows costs ``fpWeight`` times the scaled sigmoid of its
  distance past the end of the previous window (relative to that window's width): right
  after a window it costs almost nothing, one window-width later nearly the full weight,
  before any window the full weight.
* The threshold is chosen per detector and profile to maximise the corpus's total score.
* The total is normalised: 100 * (raw - null) / (perfect - null), where *null* is the raw
  score of the detector that never detects (every window missed) and *perfect* is
  ``tpWeight`` times the number of windows.

Three application profiles weight the outcomes (NAB's ``config/profiles.json``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fpWeight": 0.22, "fnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fpWeight": 0.11, "fnWeight": 2.0},
}
PROBATION_PERCENT = 0.15
PROBATIONARY = "probationary"


def scaled_sigmoid(relative_position: float) -> float:
    """2·sigmoid(-5x) - 1: 0.987 at x = -1 (a window's left edge), 0 at x = 0 (its right
    edge), -0.987 at x = 1 (one window-width past it), -1 from x = 3 on."""
    if relative_position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * relative_position)) - 1.0


def probation_length(num_rows: int) -> float:
    return min(math.floor(PROBATION_PERCENT * num_rows), PROBATION_PERCENT * 5000)


def _ts_key(ts: str) -> str:
    """Timestamps compare as 'YYYY-MM-DD HH:MM:SS' (labels carry '.000000')."""
    return ts.strip()[:19]


@dataclass
class Series:
    name: str  # e.g. "realTweets/Twitter_volume_AAPL.csv"
    timestamps: list[str]
    values: list[float]
    windows: list[tuple[str, str]] = field(default_factory=list)

    def labels(self) -> list[int]:
        """1 for rows inside a window, as NAB's results files carry them."""
        out = [0] * len(self.timestamps)
        keys = [_ts_key(t) for t in self.timestamps]
        for start, end in self.windows:
            for i, k in enumerate(keys):
                if _ts_key(start) <= k <= _ts_key(end):
                    out[i] = 1
        return out


def load_corpus(data_dir: Path, corpus: str = "realTweets") -> list[Series]:
    """The series of one NAB corpus folder with their windows."""
    windows = json.loads((data_dir / "labels" / "combined_windows.json").read_text())
    out = []
    for path in sorted((data_dir / corpus).glob("*.csv")):
        rel = f"{corpus}/{path.name}"
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        out.append(
            Series(
                name=rel,
                timestamps=[r["timestamp"] for r in rows],
                values=[float(r["value"]) for r in rows],
                windows=[(w[0], w[1]) for w in windows.get(rel, [])],
            )
        )
    return out


@dataclass(frozen=True)
class Point:
    score: float  # the detector's anomaly score
    weight: float  # what a detection here adds (TP) or subtracts (FP), profile-weighted
    window: str | None  # window id, None outside windows, PROBATIONARY in probation


def sweep_points(series: Series, scores: Sequence[float], profile: dict[str, float]) -> list[Point]:
    """Weight every row of one series as NAB's sweeper does."""
    if len(scores) != len(series.timestamps):
        raise ValueError(f"{series.name}: {len(scores)} scores for {len(series.timestamps)} rows")
    keys = [_ts_key(t) for t in series.timestamps]
    index = {k: i for i, k in enumerate(keys)}
    spans = []
    for start, end in series.windows:
        try:
            spans.append((index[_ts_key(start)], index[_ts_key(end)], f"{series.name}|{start}"))
        except KeyError as exc:
            raise ValueError(f"{series.name}: window limit {exc} is not a row timestamp") from None
    spans.sort()
    probation = probation_length(len(keys))
    max_tp = scaled_sigmoid(-1.0)
    points = []
    prev_right: int | None = None
    prev_width = 0.0
    k = 0
    for i, s in enumerate(scores):
        in_window = k < len(spans) and spans[k][0] <= i <= spans[k][1]
        if in_window:
            left, right, name = spans[k]
            width = float(right - left + 1)
            weight = scaled_sigmoid(-(right - i + 1) / width) * profile["tpWeight"] / max_tp
            window: str | None = name
            if i == right:
                prev_right, prev_width = right, width
                k += 1
        else:
            past = 3.0 if prev_right is None else abs(prev_right - i) / (prev_width - 1.0)
            weight = scaled_sigmoid(past) * profile["fpWeight"]
            window = None
        points.append(Point(float(s), weight, window if i >= probation else PROBATIONARY))
    return points


@dataclass(frozen=True)
class ThresholdScore:
    threshold: float
    score: float
    tp: int
    fp: int
    fn: int
    tn: int


def sweep_thresholds(points: Iterable[Point], profile: dict[str, float]) -> list[ThresholdScore]:
    """The raw score for every distinct threshold, highest threshold first: the row for
    threshold t counts the points whose score is >= t as detections. The first row
    (threshold 1.1) detects nothing."""
    scorable = sorted(
        (p for p in points if p.window != PROBATIONARY), key=lambda p: p.score, reverse=True
    )
    best_in_window = {p.window: -profile["fnWeight"] for p in scorable if p.window is not None}
    fp_total = 0.0
    window_total = sum(best_in_window.values())
    tn = sum(1 for p in scorable if p.window is None)
    fn = len(scorable) - tn
    tp = fp = 0
    out = []
    threshold = 1.1
    for p in scorable:
        if p.score != threshold:
            out.append(ThresholdScore(threshold, window_total + fp_total, tp, fp, fn, tn))
            threshold = p.score
        if p.window is None:
            fp += 1
            tn -= 1
            fp_total += p.weight
        else:
            tp += 1
            fn -= 1
            old = best_in_window[p.window]
            if p.weight > old:
                best_in_window[p.window] = p.weight
                window_total += p.weight - old
    out.append(ThresholdScore(threshold, window_total + fp_total, tp, fp, fn, tn))
    return out


def optimize_threshold(points: Iterable[Point], profile: dict[str, float]) -> ThresholdScore:
    """The threshold with the best total raw score (the highest such threshold on ties)."""
    return max(sweep_thresholds(points, profile), key=lambda r: r.score)


def score_at(
    points: Iterable[Point], profile: dict[str, float], threshold: float
) -> ThresholdScore:
    """The raw score of one fixed threshold."""
    rows = sweep_thresholds(points, profile)
    chosen = rows[0]
    for row in rows:
        if row.threshold >= threshold:
            chosen = row
        else:
            break
    return chosen


def normalise(raw: float, null: float, num_windows: int, profile: dict[str, float]) -> float:
    perfect = num_windows * profile["tpWeight"]
    return 100.0 * (raw - null) / (perfect - null)


@dataclass
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    normalised: float
    tp: int
    fp: int
    fn: int
    detected_windows: int
    num_windows: int


def score_detector(
    corpus: Sequence[Series],
    scores: dict[str, Sequence[float]],
    *,
    profile_names: Sequence[str] = tuple(PROFILES),
    threshold: float | None = None,
) -> dict[str, ProfileResult]:
    """Score one detector's results (series name -> scores) on every profile: threshold
    optimised over the whole corpus as NAB does (or fixed), normalised between the null
    detector (scored by the same code) and the perfect one."""
    num_windows = sum(len(s.windows) for s in corpus)
    out = {}
    for name in profile_names:
        profile = PROFILES[name]
        points: list[Point] = []
        null_points: list[Point] = []
        for series in corpus:
            points += sweep_points(series, scores[series.name], profile)
            null_points += sweep_points(series, [0.0] * len(series.timestamps), profile)
        best = (
            optimize_threshold(points, profile)
            if threshold is None
            else score_at(points, profile, threshold)
        )
        null = optimize_threshold(null_points, profile).score
        detected = _detected_windows(points, best.threshold)
        out[name] = ProfileResult(
            profile=name,
            threshold=best.threshold,
            raw=best.score,
            null=null,
            normalised=normalise(best.score, null, num_windows, profile),
            tp=best.tp,
            fp=best.fp,
            fn=best.fn,
            detected_windows=detected,
            num_windows=num_windows,
        )
    return out


def _detected_windows(points: Iterable[Point], threshold: float) -> int:
    return len(
        {p.window for p in points if p.window not in (None, PROBATIONARY) and p.score >= threshold}
    )


def write_results(
    out_dir: Path, detector: str, corpus: Sequence[Series], scores: dict[str, Sequence[float]]
) -> None:
    """NAB's results layout: <out>/<detector>/<corpus>/<detector>_<file>.csv with the
    columns timestamp,value,anomaly_score,label, which NAB's own scorer reads."""
    for series in corpus:
        folder, filename = series.name.split("/", 1)
        path = out_dir / detector / folder / f"{detector}_{filename}"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["timestamp", "value", "anomaly_score", "label"])
            for ts, value, score, label in zip(
                series.timestamps, series.values, scores[series.name], series.labels(), strict=True
            ):
                writer.writerow([ts, _fmt_value(value), repr(float(score)), label])


def _fmt_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
