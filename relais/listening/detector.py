"""Online burst detector for count series (messages per bucket).

Each bucket is scored once, when it closes: ``score_bucket(state, value, timestamp=...)``
returns an anomaly score in [0, 1] and the series' new state. The state is a small,
JSON-serialisable dict stored per series by the caller. Pure Python, no Django.

First version: an exponentially weighted Gaussian on the variance-stabilised count
(Anscombe: sqrt(x + 3/8) has variance ~1/4 for Poisson counts), scored by the upper-tail
probability of the bucket. See docs/decisions/0004-burst-detector.md.
"""

from __future__ import annotations

import math
from typing import Any

VERSION = 1

#: A bucket whose score is at or above this is a burst.
ALERT_THRESHOLD: float = 0.5

DEFAULTS: dict[str, float] = {
    # Weight of a new bucket in the running mean / variance (about 1/alpha buckets).
    "alpha": 0.02,
    # Buckets seen before any score above zero is given.
    "warmup": 12,
    # -log10(tail probability) that maps to a score of 0.5.
    "surprise_half": 6.0,
}

_POISSON_VAR = 0.25  # variance of sqrt(x + 3/8) for Poisson counts


class DetectorInputError(ValueError):
    """The value or timestamp given to ``score_bucket`` cannot be scored."""


def new_state(**params: float) -> dict[str, Any]:
    """A fresh state for one series; ``params`` override ``DEFAULTS``."""
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown detector parameter(s): {', '.join(sorted(unknown))}")
    p = {**DEFAULTS, **{k: float(v) for k, v in params.items()}}
    return {"v": VERSION, "p": p, "n": 0, "t": None, "m": 0.0, "s2": _POISSON_VAR, "last": 0.0}


def _upper_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _score_from_tail(p_tail: float, half: float) -> float:
    surprise = -math.log10(max(p_tail, 1e-300))
    return surprise / (surprise + half) if surprise > 0 else 0.0


def score_bucket(
    state: dict[str, Any], value: float, *, timestamp: float
) -> tuple[float, dict[str, Any]]:
    """Score the bucket that just closed (``value`` messages, starting at ``timestamp``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DetectorInputError(f"bucket value must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise DetectorInputError(f"bucket value must be a finite count >= 0, got {value!r}")
    if not math.isfinite(timestamp):
        raise DetectorInputError(f"bucket timestamp must be finite, got {timestamp!r}")
    last_t = state["t"]
    if last_t is not None:
        if timestamp == last_t:
            return state["last"], state  # the same bucket again: same answer, no update
        if timestamp < last_t:
            raise DetectorInputError(
                f"bucket {timestamp} is older than the last scored one ({last_t})"
            )
    p = state["p"]
    y = math.sqrt(value + 0.375)
    n, m, s2 = state["n"], state["m"], state["s2"]
    score = 0.0
    if n >= p["warmup"]:
        z = (y - m) / math.sqrt(max(s2, _POISSON_VAR))
        if z > 0:
            score = _score_from_tail(_upper_tail(z), p["surprise_half"])
    a = max(p["alpha"], 1.0 / (n + 1))
    d = y - m
    m += a * d
    s2 = (1 - a) * (s2 + a * d * d)
    new = dict(state)
    new.update(n=n + 1, t=float(timestamp), m=m, s2=s2, last=score)
    return score, new
