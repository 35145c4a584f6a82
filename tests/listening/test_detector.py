"""The online burst detector (relais.listening.detector) and the NAB scorer of bench/."""

import copy
import json
import math
import random

import pytest

from bench.nab_scoring import (
    PROFILES,
    Series,
    normalise,
    optimize_threshold,
    scaled_sigmoid,
    score_at,
    score_detector,
    sweep_points,
    write_results,
)
from relais.listening.detector import (
    ALERT_THRESHOLD,
    DetectorInputError,
    expected_count,
    new_state,
    score_bucket,
)

FIVE_MIN = 300.0
T0 = 1_700_000_000.0 - (1_700_000_000 % 86400)  # a UTC midnight


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method (small rates) or a rounded normal (large ones): enough for tests."""
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def run(values, *, start=T0, step=FIVE_MIN, state=None, **params):
    state = state or new_state(**params)
    scores = []
    for i, value in enumerate(values):
        score, state = score_bucket(state, value, timestamp=start + i * step)
        scores.append(score)
    return scores, state


def flat(n, lam, seed=1):
    rng = random.Random(seed)
    return [poisson(rng, lam) for _ in range(n)]


def daily(n, day, night, seed=2, step=FIVE_MIN):
    """Busy 07:00-22:00 UTC, quiet at night."""
    rng = random.Random(seed)
    return [
        poisson(rng, day if 7 <= ((T0 + i * step) % 86400) // 3600 < 22 else night)
        for i in range(n)
    ]


# --- the detector ------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.3, 4.0, 40.0, 400.0])
def test_flat_poisson_series_never_alerts(lam):
    scores, _ = run(flat(5 * 288, lam, seed=int(lam * 10)))  # five days of 5-minute buckets
    assert max(scores) < ALERT_THRESHOLD
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_daily_cycle_is_learnt_not_alerted():
    scores, _ = run(daily(7 * 288, day=60, night=4))
    assert max(scores[2 * 288 :]) < ALERT_THRESHOLD  # the mornings' ramps are not bursts


@pytest.mark.parametrize("lam", [2.0, 20.0, 200.0])
def test_a_burst_is_flagged_in_its_first_buckets(lam):
    values = flat(2 * 288, lam) + [round(lam * 8 + 30)] * 6
    scores, _ = run(values)
    assert max(scores[: 2 * 288]) < ALERT_THRESHOLD
    burst = scores[2 * 288 :]
    assert burst[0] >= ALERT_THRESHOLD or burst[1] >= ALERT_THRESHOLD


def test_one_minute_buckets_flag_a_burst_within_two_minutes():
    # Scenario S3's shape: a quiet monitor (about 1 message a minute), then 40 a minute.
    values = flat(6 * 60, 1.0, seed=7) + [40, 45, 50]
    scores, _ = run(values, step=60.0)
    assert max(scores[:360]) < ALERT_THRESHOLD
    assert max(scores[360:362]) >= ALERT_THRESHOLD


def test_strike_morning_quiet_hours_then_hundreds_of_mentions():
    # Scenario S1's shape on 1-minute buckets: a few mentions an hour through the night
    # (a new monitor, no history), then hundreds an hour from 06:40.
    night = flat(6 * 60 + 40, 3 / 60, seed=11)
    morning = [poisson(random.Random(12 + i), 6.0) for i in range(10)]
    scores, _ = run(night + morning, step=60.0)
    assert max(scores[: len(night)]) < ALERT_THRESHOLD
    assert max(scores[len(night) : len(night) + 3]) >= ALERT_THRESHOLD


def test_a_burst_alerts_once_then_again_only_if_stronger_or_after_the_refractory_time():
    base = flat(2 * 288, 10.0, seed=3)
    quiet = flat(24, 10.0, seed=4)
    values = base + [150] * 6 + quiet + [150] * 6 + quiet + [1200] * 3
    scores, state = run(values)
    alerts = [i for i, s in enumerate(scores) if s >= ALERT_THRESHOLD]
    first, third = 2 * 288, 2 * 288 + 60  # the second burst starts at 2 * 288 + 30
    assert alerts[0] in (first, first + 1)
    assert not any(
        first + 2 <= i < third for i in alerts
    )  # same-size repeat two hours later: muted
    assert any(third <= i < third + 3 for i in alerts)  # eight times the messages: alerts again
    # after the refractory time (24 h) an ordinary burst alerts again
    later = T0 + (len(values) + 300) * FIVE_MIN
    more, _ = run(flat(12, 10.0, seed=5) + [150, 150], start=later, state=state)
    assert max(more[-2:]) >= ALERT_THRESHOLD


def test_a_score_at_the_threshold_is_exactly_an_alert():
    rng = random.Random(21)
    values = flat(2 * 288, 8.0, seed=6)
    for _ in range(6):  # bursts of every size, some within the refractory time
        values += [round(8 * rng.uniform(2, 60))] * rng.randint(1, 6) + flat(
            rng.randint(10, 400), 8.0, seed=rng.randint(0, 99)
        )
    state = new_state()
    alerts = 0
    for i, value in enumerate(values):
        ts = T0 + i * FIVE_MIN
        score, state = score_bucket(state, value, timestamp=ts)
        assert (score >= ALERT_THRESHOLD) == (state["alert_t"] == ts)
        alerts += score >= ALERT_THRESHOLD
    assert alerts >= 3


def _after_one_burst():
    values = flat(2 * 288, 10.0, seed=3) + [150] * 6 + flat(30 * 12, 10.0, seed=4)
    scores, state = run(values)
    assert sum(s >= ALERT_THRESHOLD for s in scores) == 1
    return state, T0 + len(values) * FIVE_MIN


def test_a_series_that_has_had_a_burst_needs_more_to_alert_again():
    state, t = _after_one_burst()  # 30 hours later: past the refractory time
    # one alert, faded by the 30 hours since: 2 ** -(30 / 24)
    assert state["hab"] == pytest.approx(0.5 ** ((state["t"] - state["alert_t"]) / 86400))
    twin = {**state, "hab": 0.0}  # the same series, had it never alerted
    alerts_habituated, alerts_fresh = set(), set()
    for size in range(20, 400, 5):
        score, _ = score_bucket(state, size, timestamp=t)
        alerts_habituated.update([size] if score >= ALERT_THRESHOLD else [])
        score, _ = score_bucket(twin, size, timestamp=t)
        alerts_fresh.update([size] if score >= ALERT_THRESHOLD else [])
    assert alerts_habituated < alerts_fresh  # some burst sizes page only a fresh series
    assert min(alerts_habituated) <= 400  # a big one still pages


def test_habituation_fades_by_half_each_half_life():
    state, t = _after_one_burst()
    hab_t = state["hab_t"]
    day = int(86400 / FIVE_MIN)
    _, later = run(flat(day, 10.0, seed=8), start=t, state=state)
    elapsed = later["hab_t"] - hab_t
    assert later["hab"] == pytest.approx(state["hab"] * 0.5 ** (elapsed / 86400.0), rel=1e-6)
    _, week = run(flat(10 * day, 10.0, seed=9), start=later["t"] + FIVE_MIN, state=later)
    assert week["hab"] == 0.0  # forgotten: ten days on, a burst pages as on a fresh series
    _, off = run(flat(2 * 288, 10.0, seed=3) + [150] * 6, habituation=0.0)
    assert 0.98 < off["hab"] <= 1.0 and off["p"]["habituation"] == 0.0  # counted, not applied


def test_an_escalation_of_the_same_burst_counts_once_in_the_habituation():
    values = flat(2 * 288, 10.0, seed=3) + [150, 1500, 1500]
    scores, state = run(values)
    assert scores[-3] >= ALERT_THRESHOLD and scores[-2] >= ALERT_THRESHOLD  # escalation pages
    assert 0.99 < state["hab"] <= 1.0  # one burst (ten minutes of fading), not two


def test_a_state_of_another_version_restarts_the_series():
    _, state = run(flat(300, 10.0))
    old = {**state, "v": 3}
    del old["hab"]  # a version 3 state had no habituation
    score, new = score_bucket(old, 12, timestamp=state["t"] + FIVE_MIN)
    assert new["v"] == state["v"] and new["n"] == 1 and score == 0.0
    score, new = score_bucket({"garbage": True}, 12, timestamp=T0)
    assert new["n"] == 1


def test_a_few_messages_after_a_silent_night_are_no_burst():
    values = [0] * (3 * 288) + [3, 4, 2]
    scores, _ = run(values)
    assert max(scores) < ALERT_THRESHOLD


def test_state_round_trips_through_json_and_stays_small():
    values = flat(3 * 288, 15.0) + [200, 180, 20, 15]
    _, state = run(values[:500])
    encoded = json.dumps(state)
    assert len(encoded) < 8000
    direct, _ = run(values[500:], start=T0 + 500 * FIVE_MIN, state=state)
    reloaded, _ = run(values[500:], start=T0 + 500 * FIVE_MIN, state=json.loads(encoded))
    assert direct == reloaded


def test_the_given_state_is_never_modified():
    _, state = run(flat(300, 5.0))
    before = copy.deepcopy(state)
    score_bucket(state, 90, timestamp=T0 + 300 * FIVE_MIN)
    assert state == before


def test_the_same_bucket_twice_gives_the_same_answer_and_no_update():
    _, state = run(flat(300, 5.0))
    ts = T0 + 300 * FIVE_MIN
    score, after = score_bucket(state, 40, timestamp=ts)
    again, after_again = score_bucket(after, 40, timestamp=ts)
    assert again == score
    assert after_again == after


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, -0.5, "12", None, True])
def test_bad_values_raise_a_clear_error_and_keep_the_state(bad):
    _, state = run(flat(50, 5.0))
    before = copy.deepcopy(state)
    with pytest.raises(DetectorInputError):
        score_bucket(state, bad, timestamp=T0 + 50 * FIVE_MIN)
    assert state == before


def test_bad_timestamps_raise():
    _, state = run(flat(50, 5.0))
    with pytest.raises(DetectorInputError, match="older"):
        score_bucket(state, 3, timestamp=T0)
    with pytest.raises(DetectorInputError):
        score_bucket(state, 3, timestamp=float("nan"))
    assert issubclass(DetectorInputError, ValueError)


def test_missing_buckets_count_as_empty_ones():
    values = flat(400, 8.0)
    explicit, _ = run(values[:300] + [0, 0, 0] + values[300:])
    stamps = [T0 + i * FIVE_MIN for i in range(300)] + [
        T0 + (i + 3) * FIVE_MIN for i in range(300, 400)
    ]
    state = new_state()
    gapped = []
    for ts, value in zip(stamps, values, strict=True):
        score, state = score_bucket(state, value, timestamp=ts)
        gapped.append(score)
    assert gapped == explicit[:300] + explicit[303:]


def test_expected_count_follows_the_series():
    _, state = run(flat(2 * 288, 30.0))
    assert 20 < expected_count(state) < 40


def test_parameters_are_checked():
    with pytest.raises(TypeError):
        new_state(windw=3)
    with pytest.raises(ValueError):
        new_state(scales=[0, 3])
    with pytest.raises(ValueError):
        new_state(alpha=0)
    with pytest.raises(ValueError):
        new_state(season_slots=7)
    with pytest.raises(ValueError):
        new_state(habituation=-1)
    with pytest.raises(ValueError):
        new_state(habituation_half_life=0)
    json.dumps(new_state(scales=[1, 2], season_slots=0))


# --- the NAB scorer ----------------------------------------------------------------------------

ROWS = 40  # probation: floor(0.15 * 40) = 6 rows
WINDOW = (20, 29)  # inclusive, 10 rows


def series():
    stamps = [f"2015-03-01 00:{i:02d}:00" for i in range(ROWS)]
    return Series(
        name="demo/one.csv",
        timestamps=stamps,
        values=[1.0] * ROWS,
        windows=[(stamps[WINDOW[0]] + ".000000", stamps[WINDOW[1]] + ".000000")],
    )


def scores_with(**hits):
    out = [0.0] * ROWS
    for i, s in hits.items():
        out[int(i.removeprefix("r"))] = s
    return out


def test_scaled_sigmoid_values():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_detection_on_a_window_first_row_earns_the_full_weight():
    std = PROFILES["standard"]
    result = score_at(sweep_points(series(), scores_with(r20=0.9), std), std, 0.5)
    assert result.score == pytest.approx(1.0)
    assert normalise(result.score, -1.0, 1, std) == pytest.approx(100.0)


def test_a_late_detection_earns_less_and_only_the_earliest_counts():
    std = PROFILES["standard"]
    late = score_at(sweep_points(series(), scores_with(r29=0.9), std), std, 0.5).score
    # last row: position -(29 - 29 + 1) / 10 = -0.1 -> 2 sigmoid(0.5) - 1 = 0.24492, / 0.98661
    assert late == pytest.approx((2 / (1 + math.exp(-0.5)) - 1) / scaled_sigmoid(-1.0))
    both = score_at(sweep_points(series(), scores_with(r25=0.9, r29=0.9), std), std, 0.5).score
    middle = scaled_sigmoid(-(29 - 25 + 1) / 10) / scaled_sigmoid(-1.0)
    assert both == pytest.approx(middle)


def test_false_positives_before_and_after_a_window():
    std = PROFILES["standard"]
    before = score_at(sweep_points(series(), scores_with(r10=0.9), std), std, 0.5).score
    assert before == pytest.approx(-1.0 - 0.11)  # the window missed, a full-weight FP
    after = score_at(sweep_points(series(), scores_with(r33=0.9), std), std, 0.5).score
    # 4 rows past a window of 10: relative position 4 / 9
    assert after == pytest.approx(-1.0 + 0.11 * scaled_sigmoid(4 / 9))
    probation = score_at(sweep_points(series(), scores_with(r3=0.9), std), std, 0.5).score
    assert probation == pytest.approx(-1.0)  # rows in the probationary period are not scored


def test_threshold_optimisation_picks_the_best_cut():
    std = PROFILES["standard"]
    points = sweep_points(series(), scores_with(r10=0.95, r22=0.9, r35=0.4), std)
    best = optimize_threshold(points, std)
    assert best.threshold == 0.9  # 0.95 adds an FP, 0.4 another
    assert best.score == pytest.approx(
        scaled_sigmoid(-(29 - 22 + 1) / 10) / scaled_sigmoid(-1) - 0.11
    )
    low_fn = PROFILES["reward_low_FN_rate"]
    assert score_at(sweep_points(series(), [0.0] * ROWS, low_fn), low_fn, 0.5).score == -2.0
    # detecting every row is a threshold too: here one window and 24 scorable rows outside it
    everything = optimize_threshold(sweep_points(series(), [0.0] * ROWS, low_fn), low_fn)
    assert everything.threshold == 0.0
    assert everything.fp == 24


def test_score_detector_normalises_between_null_and_perfect():
    corpus = [series()]
    perfect = score_detector(corpus, {"demo/one.csv": scores_with(r20=1.0)})
    null = score_detector(corpus, {"demo/one.csv": [0.0] * ROWS})
    for profile in PROFILES:
        assert perfect[profile].normalised == pytest.approx(100.0)
        assert null[profile].normalised == pytest.approx(0.0)
        assert perfect[profile].detected_windows == 1


def test_results_files_in_nab_format(tmp_path):
    s = series()
    s.name = "realTweets/Twitter_volume_X.csv"
    write_results(tmp_path, "relais", [s], {s.name: scores_with(r21=0.75)})
    lines = (
        (tmp_path / "relais" / "realTweets" / "relais_Twitter_volume_X.csv")
        .read_text()
        .splitlines()
    )
    assert lines[0] == "timestamp,value,anomaly_score,label"
    assert lines[22] == "2015-03-01 00:21:00,1,0.75,1"
    assert lines[1].endswith(",0")
    assert len(lines) == ROWS + 1
