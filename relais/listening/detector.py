"""Online burst detector for count series (messages per time bucket).

Each bucket is scored once, when it closes::

    state = new_state()
    score, state = score_bucket(state, 42, timestamp=bucket_start_epoch_seconds)
    if score >= ALERT_THRESHOLD: ...  # a burst

The state is a small JSON-serialisable dict (about 3.8 KB as JSON), stored by the caller
per series; ``score_bucket`` never mutates the dict it is given. A state of another
version (after an upgrade) is not refused: the series is relearnt from a new state. Pure
Python, no Django; one call costs about ten microseconds (measured by bench/nab.py).

How a bucket is scored (docs/decisions/0004-burst-detector.md says why):

1. **Counts on several time scales.** For each scale k (1, 3, 6, 12 and 36 buckets) the
   sum S of the last k buckets is variance-stabilised, y = sqrt(S + 3/8) (Anscombe: for
   Poisson counts its variance is about 1/4 whatever the rate), so that one model serves
   a series of 2 messages an hour and one of 2,000.
2. **Baseline with a daily cycle.** Per scale, an exponentially weighted level of y and a
   correction per hour of the day (UTC; trusted as the hour gathers data) give the
   expected y; the residual's variance is tracked the same way, never below the Poisson
   1/4. z = (y - expected) / sd. Learning is robust: the residual it learns from is
   clipped to 3 sd, so that a burst moves neither the baseline nor the variance more
   than a 3-sigma bucket would, and the detector stays sharp after a burst.
3. **Calibration per series.** Each scale's z is divided by a running high quantile of
   that series' own z (p = 0.999, stochastic quantile tracking, starting at 3): a series
   used to 10-sigma spikes (a big brand) needs more to alert than a quiet one. The
   evidence e is the sum of the scales' calibrated z: a sudden burst shows on the short
   scales within a bucket, a slow swell on the long ones.
4. **Score and alert policy.** score = e / (e + T) lies in [0, 1) and reaches
   ``ALERT_THRESHOLD`` (0.5) exactly when e reaches T (4). A bucket with e >= T is an
   alert unless (its score is then halved, which keeps it under the threshold):
   it holds fewer than ``min_count`` (5) messages, or no scale is ``min_z`` (5) standard
   deviations up (calibration alone would make the rarest buckets of a flat, purely
   random series look like bursts); or it comes within ``refractory`` seconds (24 h) of
   the last alert without beating ``escalation`` (1.5) times the evidence peak of the
   alerted burst (one page per burst, again only if something much bigger happens).
5. **Habituation.** Each alerted burst adds one to a count that halves every
   ``habituation_half_life`` (a day), and the threshold T is raised by ``habituation``
   (a half) times that count: a series with a burst every evening needs more to page on
   the third evening than on the first, and a week without bursts makes it fresh again.
   An escalation within the same burst is not counted twice. The score is then
   e / (e + raised T), so that score >= ``ALERT_THRESHOLD`` is still exactly an alert.

Missing buckets (a gap between timestamps longer than the bucket width, learnt from the
first two calls or given as ``bucket_seconds``) are counted as empty buckets, at most
``max_fill`` of them; after a longer silence the short-term memory restarts from empty.
"""

from __future__ import annotations

import math
from typing import Any

VERSION = 4  # a state of another version is not trusted: scoring restarts from new_state()

#: A bucket whose score is at or above this is a burst.
ALERT_THRESHOLD: float = 0.5

DEFAULTS: dict[str, Any] = {
    "scales": [1, 3, 6, 12, 36],  # buckets summed, per time scale
    "alpha": 0.0003,  # weight of a new bucket in the level and variance (~3,300 buckets)
    "season_alpha": 0.005,  # weight of a new bucket in its hour-of-day correction
    "season_slots": 24,  # hour-of-day slots (0 = no daily cycle)
    "quantile": 0.999,  # the high quantile of the series' own z that calibrates it
    "quantile_step": 0.05,  # speed of the quantile tracking
    "quantile_start": 3.0,
    "calibrate": True,  # False: raw z, summed over scales
    "warmup": 12,  # buckets before a scale contributes (plus the scale's own length)
    "evidence_threshold": 4.0,  # T: evidence at which the score reaches 0.5
    "refractory": 86400.0,  # seconds after an alert during which repeats are muted
    "escalation": 1.5,  # ...unless the evidence is this many times the alert's
    "habituation": 0.5,  # each alerted burst raises the evidence threshold by this share
    "habituation_half_life": 86400.0,  # seconds for that raise to fade by half
    "min_count": 5.0,  # a bucket with fewer messages never alerts
    "min_z": 5.0,  # nor one where no scale is at least this many standard deviations up
    "season_prior": 12.0,  # buckets of an hour slot before its correction counts for half
    "clip": 3.0,  # learning sees residuals clipped to this many standard deviations
    "bucket_seconds": 0.0,  # 0: learnt from the first gap between timestamps
    "max_fill": 36,  # empty buckets filled in for a gap, at most
}

_POISSON_VAR = 0.25  # variance of sqrt(x + 3/8) for Poisson counts
_Q_FLOOR = 1.0


class DetectorInputError(ValueError):
    """The value or timestamp given to ``score_bucket`` cannot be scored."""


def new_state(**params: Any) -> dict[str, Any]:
    """A fresh state for one series; ``params`` override ``DEFAULTS`` (unknown names and
    values of the wrong kind raise ``TypeError`` / ``ValueError``)."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown detector parameter(s): {', '.join(sorted(unknown))}")
    p = {**DEFAULTS, **params}
    scales = [int(k) for k in p["scales"]]
    if not scales or any(k < 1 for k in scales) or len(set(scales)) != len(scales):
        raise ValueError(f"scales must be distinct positive bucket counts, got {p['scales']!r}")
    p["scales"] = sorted(scales)
    for name in ("alpha", "season_alpha", "quantile_step"):
        if not 0 < float(p[name]) <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {p[name]!r}")
    if not 0.5 < float(p["quantile"]) < 1:
        raise ValueError(f"quantile must be in (0.5, 1), got {p['quantile']!r}")
    if float(p["evidence_threshold"]) <= 0 or float(p["escalation"]) < 1:
        raise ValueError("evidence_threshold must be > 0 and escalation >= 1")
    if float(p["habituation"]) < 0 or float(p["habituation_half_life"]) <= 0:
        raise ValueError("habituation must be >= 0 and habituation_half_life > 0")
    slots = int(p["season_slots"])
    if slots < 0 or (slots and 86400 % slots):
        raise ValueError(f"season_slots must divide a day, got {slots}")
    ns = len(scales)
    return {
        "v": VERSION,
        "p": p,
        "n": 0,  # buckets seen (filled gaps included)
        "t": None,  # start of the last scored bucket
        "dt": float(p["bucket_seconds"]) or None,  # bucket width
        "buf": [],  # the last max(scales) counts, oldest first
        "m": [0.0] * ns,  # level of y per scale
        "s2": [_POISSON_VAR] * ns,  # residual variance per scale
        "q": [float(p["quantile_start"])] * ns,  # calibrating quantile per scale
        "prof": [[0.0] * slots for _ in range(ns)],  # hour-of-day correction per scale
        "cnt": [0] * slots,  # buckets seen per slot
        "alert_t": None,  # time and evidence of the last alert
        "alert_e": 0.0,
        "alert_open": False,  # the alerted burst is still going on
        "hab": 0.0,  # habituation: alerted bursts, each fading with the half-life
        "hab_t": None,  # when "hab" was last brought up to date
        "e": 0.0,  # evidence of the last bucket
        "x": 0.0,  # expected count of the last bucket (one-bucket scale)
        "last": 0.0,  # score of the last bucket
    }


def _check(value: Any, timestamp: Any) -> tuple[float, float]:
    for name, v in (("value", value), ("timestamp", timestamp)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DetectorInputError(f"bucket {name} must be a number, got {type(v).__name__}")
        if not math.isfinite(v):
            raise DetectorInputError(f"bucket {name} must be finite, got {v!r}")
    if value < 0:
        raise DetectorInputError(f"bucket value must be a count >= 0, got {value!r}")
    return float(value), float(timestamp)


def score_bucket(
    state: dict[str, Any], value: float, *, timestamp: float
) -> tuple[float, dict[str, Any]]:
    """Score the bucket that just closed: ``value`` messages in the bucket starting at
    ``timestamp`` (UTC epoch seconds). Returns (score in [0, 1], new state).

    Scoring the same bucket again returns the same score and the state unchanged; a bucket
    older than the last one scored, a negative, NaN or infinite value raise
    ``DetectorInputError`` (a ``ValueError``) and leave the state as it was. A state of
    another version, or not a state at all, is replaced by a new one."""
    x, ts = _check(value, timestamp)
    if not isinstance(state, dict) or state.get("v") != VERSION:
        # A state written by another version of the detector (or damaged) means other
        # fields and another scale of evidence: the series is relearnt from scratch.
        state = new_state()
    last_t = state["t"]
    if last_t is not None:
        if ts == last_t:
            return state["last"], state
        if ts < last_t:
            raise DetectorInputError(f"bucket {ts} is older than the last scored one ({last_t})")

    st = _copy(state)
    p = st["p"]
    if last_t is not None:
        gap = ts - last_t
        dt = st["dt"]
        if dt is None:
            st["dt"] = gap
        elif gap > 1.5 * dt:
            missing = round(gap / dt) - 1
            if missing > p["max_fill"]:
                st["buf"] = []  # the short-term memory restarts after a long silence
            else:
                for i in range(missing):
                    _update(st, 0.0, last_t + (i + 1) * dt, score=False)
        elif gap < dt:
            st["dt"] = gap  # a finer bucket than learnt: trust the smaller width
    score = _update(st, x, ts, score=True)
    st["t"] = ts
    st["last"] = score
    return score, st


def expected_count(state: dict[str, Any]) -> float:
    """The count the baseline expected for the last scored bucket (for display)."""
    return float(state["x"])


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    st = dict(state)
    st["buf"] = list(state["buf"])
    st["m"] = list(state["m"])
    st["s2"] = list(state["s2"])
    st["q"] = list(state["q"])
    st["prof"] = [list(row) for row in state["prof"]]
    st["cnt"] = list(state["cnt"])
    return st


def _update(st: dict[str, Any], x: float, ts: float, *, score: bool) -> float:
    """Score bucket x at ts against the current model, then learn from it."""
    p = st["p"]
    scales = p["scales"]
    buf = st["buf"]
    buf.append(x)
    if len(buf) > scales[-1]:
        del buf[0]
    n = st["n"]
    slots = p["season_slots"]
    slot = int((ts % 86400) // (86400 // slots)) if slots else 0
    seen = st["cnt"][slot] if slots else 0
    shrink = seen / (seen + p["season_prior"]) if seen else 0.0  # trusted as data comes
    alpha = max(p["alpha"], 1.0 / (n + 1))
    warm = p["warmup"]
    qp, qstep, calibrate, clip = p["quantile"], p["quantile_step"], p["calibrate"], p["clip"]
    m, s2, q, prof = st["m"], st["s2"], st["q"], st["prof"]
    nbuf = len(buf)
    evidence = 0.0
    z_max = 0.0
    for j, k in enumerate(scales):
        have = k if nbuf >= k else nbuf
        total = sum(buf[-have:]) if have > 1 else x
        if have < k:
            total = total * k / have
        y = math.sqrt(total + 0.375)
        if n == 0:
            m[j] = y
        expected = m[j] + shrink * prof[j][slot] if slots else m[j]
        resid = y - expected
        sd = math.sqrt(s2[j] if s2[j] > _POISSON_VAR else _POISSON_VAR)
        if n >= warm + k:
            z = resid / sd
            if z > 0:
                evidence += z / q[j] if calibrate else z
                if z > z_max:
                    z_max = z
            # calibrating quantile of this series' z on this scale
            q[j] += qstep * ((1.0 if z > q[j] else 0.0) - (1.0 - qp))
            if q[j] < _Q_FLOOR:
                q[j] = _Q_FLOOR
        if j == 0:
            st["x"] = max(0.0, expected * expected - 0.375)
        # learn, from a clipped residual once the scale is warm: a burst moves the
        # baseline and the variance no more than a 3-sigma bucket would
        if clip and n >= warm + k:
            limit = clip * sd
            if resid > limit:
                y -= resid - limit
                resid = limit
            elif resid < -limit:
                y -= resid + limit
                resid = -limit
        m[j] += alpha * resid
        s2[j] = (1.0 - alpha) * (s2[j] + alpha * resid * resid)
        if slots:
            # the slot's mean offset, then an exponentially weighted one
            rate = max(p["season_alpha"], 1.0 / (seen + 1))
            prof[j][slot] += rate * ((y - m[j]) - prof[j][slot])
    if slots:
        st["cnt"][slot] += 1
    st["n"] = n + 1
    st["e"] = evidence
    if not score:
        return 0.0
    # Habituation: a series that has just had bursts needs more evidence for the next
    # one (a brand whose mentions spike every evening stops paging for each spike), and
    # the raise fades by half every half-life.
    hab = st["hab"]
    if hab:
        hab *= 0.5 ** ((ts - st["hab_t"]) / p["habituation_half_life"])
        if hab < 1e-3:
            hab = 0.0
    st["hab"], st["hab_t"] = hab, ts
    threshold = p["evidence_threshold"] * (1.0 + p["habituation"] * hab)
    result = evidence / (evidence + threshold) if evidence > 0 else 0.0
    if evidence >= threshold:
        alert_t = st["alert_t"]
        if x < p["min_count"] or z_max < p["min_z"]:
            result *= 0.5  # too few messages, or nothing statistically remarkable
        elif (
            alert_t is not None
            and ts - alert_t < p["refractory"]
            and evidence < p["escalation"] * st["alert_e"]
        ):
            # the alerted burst going on, or another no stronger within the refractory
            # time. An escalation must beat the alerted burst's peak evidence.
            result *= 0.5
            if st["alert_open"] and evidence > st["alert_e"]:
                st["alert_e"] = evidence
        else:
            if not st["alert_open"]:
                st["hab"] = hab + 1.0  # an escalation of the same burst counts once
            st["alert_t"] = ts
            st["alert_e"] = evidence
            st["alert_open"] = True
    else:
        st["alert_open"] = False  # the alerted burst is over: its peak is kept
    return result
