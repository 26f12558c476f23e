"""Tests for jaxrl.stats: hand-computed values, invariants, and agreement with rliable.

The rliable comparisons run where rliable is installed (the `test` extra pins it): point
estimates must agree exactly, bootstrap intervals within Monte-Carlo error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from jaxrl import stats


def test_iqm_hand_values():
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    # n = 10 cuts int(2.5) = 2 from each side: mean of 3..8.
    assert stats.iqm(np.arange(1, 11)) == pytest.approx(5.5)
    assert stats.iqm([10.0, 1.0, 100.0, 3.0, 2.0, 4.0, -50.0, 5.0]) == pytest.approx(3.5)
    assert stats.iqm([7.0]) == 7.0
    assert stats.trim_mean([1.0, 2.0, 3.0, 100.0], 0.0) == pytest.approx(26.5)
    with pytest.raises(ValueError):
        stats.iqm([])


def test_optimality_gap_hand_values():
    assert stats.optimality_gap([50.0, 100.0, 150.0]) == pytest.approx(50.0 / 3)
    assert stats.optimality_gap([0.5, 1.2], gamma=1.0) == pytest.approx(0.25)
    assert stats.optimality_gap([120.0, 130.0]) == 0.0


def test_bootstrap_ci_contains_statistic_and_narrows():
    rng = np.random.default_rng(1)
    small = rng.normal(50.0, 10.0, size=10)
    large = rng.normal(50.0, 10.0, size=400)
    for statistic in (np.mean, stats.iqm):
        low_s, high_s = stats.bootstrap_ci(small, statistic, num_resamples=1000)
        low_l, high_l = stats.bootstrap_ci(large, statistic, num_resamples=1000)
        assert low_s <= statistic(small) <= high_s
        assert low_l <= statistic(large) <= high_l
        assert high_l - low_l < (high_s - low_s) / 2


def test_bootstrap_ci_is_deterministic_per_seed():
    x = np.arange(20.0)
    a = stats.bootstrap_ci(x, np.mean, num_resamples=300, seed=3)
    assert a == stats.bootstrap_ci(x, np.mean, num_resamples=300, seed=3)
    assert a != stats.bootstrap_ci(x, np.mean, num_resamples=300, seed=4)
    lo50, hi50 = stats.bootstrap_ci(x, np.mean, num_resamples=300, seed=3, confidence=0.5)
    assert a[0] <= lo50 <= hi50 <= a[1]


def test_bootstrap_constant_and_single_run():
    assert stats.bootstrap_ci(np.full(5, 3.0), np.mean, num_resamples=50) == (3.0, 3.0)
    assert stats.bootstrap_ci([4.0], stats.iqm, num_resamples=50) == (4.0, 4.0)


def test_stratified_bootstrap_resamples_within_tasks():
    # Task 0 scores are all 0, task 1 all 100: a stratified resample always holds n of each,
    # so the mean is exactly 50 (an unstratified resample of the flat array would vary).
    x = np.stack([np.zeros(6), np.full(6, 100.0)], axis=1)  # [runs=6, tasks=2]
    seen_sizes = []

    def mean_recording_size(sample):
        seen_sizes.append(sample.shape)
        return np.mean(sample)

    assert stats.bootstrap_ci(x, mean_recording_size, num_resamples=100) == (50.0, 50.0)
    assert set(seen_sizes) == {(6, 2)}  # the [runs, tasks] resample, as rliable passes it
    low, high = stats.bootstrap_ci(x.ravel(), np.mean, num_resamples=100)
    assert low < 50.0 < high

    varied = np.random.default_rng(0).normal(size=(5, 3))
    low, high = stats.bootstrap_ci(varied, stats.iqm, num_resamples=200)
    assert low <= high
    with pytest.raises(ValueError):
        stats.bootstrap_ci(np.zeros((2, 2, 2)), np.mean)


def test_summarize():
    scores = np.array([10.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 120.0])
    summary = stats.summarize(scores)
    assert summary["num_runs"] == 8
    assert summary["mean"] == pytest.approx(73.75)
    assert summary["median"] == pytest.approx(77.5)
    assert summary["iqm"] == pytest.approx(77.5)
    assert summary["optimality_gap"] == pytest.approx(np.mean([90, 40, 30, 25, 20, 15, 10, 0]))
    assert summary["std"] == pytest.approx(np.std(scores, ddof=1))
    low, high = summary["mean_ci95"]
    assert low <= summary["mean"] <= high
    low, high = summary["iqm_ci95"]
    assert low <= summary["iqm"] <= high
    assert json.loads(json.dumps(summary)) == summary
    assert stats.summarize(scores, seed=1)["mean_ci95"] != summary["mean_ci95"]

    multi = stats.summarize(np.array([[1.0, 10.0], [3.0, 30.0]]))
    assert multi["num_runs"] == 2
    assert multi["median"] == pytest.approx(np.median([2.0, 20.0]))
    assert stats.summarize([5.0])["std"] == 0.0


def test_o2o_metrics_hand_made_curve():
    steps = np.array([0, 50, 100, 110, 120, 150, 200])
    scores = np.array([10.0, 20.0, 30.0, 25.0, 28.0, 40.0, 50.0])
    m = stats.o2o_metrics(steps, scores, switch_step=100)
    assert m["offline_score"] == 30.0
    assert m["final_score"] == 50.0
    assert m["improvement"] == 20.0
    assert m["dip"] == pytest.approx(-5.0)  # window (100, 110]: min 25
    # Trapezoids from (100, 30): 10*27.5 + 10*26.5 + 30*34 + 50*45 = 3810 over 100 steps.
    assert m["online_auc"] == pytest.approx(38.1)

    wider = stats.o2o_metrics(steps, scores, switch_step=100, dip_window_frac=0.5)
    assert wider["dip"] == pytest.approx(-5.0)  # (100, 150]: min(25, 28, 40)
    rising = stats.o2o_metrics(steps, scores + np.array([0, 0, 0, 10, 0, 0, 0]), 100)
    assert rising["dip"] == pytest.approx(5.0)  # no drop: the raw difference is positive


def test_o2o_metrics_edge_cases():
    # Switch between evaluations: offline score is the last one before it.
    m = stats.o2o_metrics([0, 10, 30], [1.0, 2.0, 4.0], switch_step=20, dip_window_frac=0.05)
    assert m["offline_score"] == 2.0
    assert m["dip"] == 2.0  # empty window falls back to the first online evaluation
    assert m["online_auc"] == pytest.approx(3.0)  # (2 + 4) / 2 over [20, 30]
    offline_only = stats.o2o_metrics([0, 10], [1.0, 2.0], switch_step=10)
    assert math.isnan(offline_only["dip"]) and math.isnan(offline_only["online_auc"])
    online_only = stats.o2o_metrics([10, 20], [1.0, 3.0], switch_step=0)
    assert math.isnan(online_only["offline_score"]) and online_only["online_auc"] == 2.0
    with pytest.raises(ValueError):
        stats.o2o_metrics([2, 1], [0.0, 0.0], switch_step=1)


def test_o2o_dip_window_by_evaluations_and_relative_dip():
    steps = np.array([0, 100, 110, 120, 150, 200])
    scores = np.array([10.0, 40.0, 35.0, 20.0, 30.0, 60.0])
    # By fraction (10 % of the 100 online steps): window (100, 110] holds 35 -> dip -5.
    m = stats.o2o_metrics(steps, scores, switch_step=100)
    assert m["dip"] == pytest.approx(-5.0) and m["relative_dip"] == pytest.approx(-5.0 / 40)
    # First 2 online evaluations: min(35, 20) - 40 = -20, relative -0.5.
    m = stats.o2o_metrics(steps, scores, switch_step=100, dip_window_evals=2)
    assert m["dip"] == pytest.approx(-20.0) and m["relative_dip"] == pytest.approx(-0.5)
    # More evaluations than there are: all online ones, min 20.
    assert stats.o2o_metrics(steps, scores, 100, dip_window_evals=9)["dip"] == -20.0
    # A negative offline score divides by its magnitude: (-30 - -10) / 10 = -2.
    m = stats.o2o_metrics([0, 10, 20], [-10.0, -30.0, 5.0], switch_step=0, dip_window_evals=1)
    assert m["relative_dip"] == pytest.approx(-2.0)
    zero = stats.o2o_metrics([0, 10], [0.0, 5.0], switch_step=0)
    assert zero["dip"] == 5.0 and math.isnan(zero["relative_dip"])
    with pytest.raises(ValueError, match="dip_window_evals"):
        stats.o2o_metrics(steps, scores, 100, dip_window_evals=0)


def test_median_hand_values():
    assert stats.median([5.0, 1.0, 3.0]) == 3.0  # over runs
    # [runs=3, tasks=2]: task means 2 and 30, median of those 16 (rliable's aggregate_median).
    assert stats.median([[1.0, 10.0], [3.0, 30.0], [2.0, 50.0]]) == pytest.approx(16.0)


def test_iqm_with_nan_is_nan():
    assert math.isnan(stats.iqm([1.0, 2.0, 3.0, float("nan")]))


def test_probability_of_improvement_hand_values():
    # Pairs (x, y): (3,1) win, (3,3) tie = 1/2, (4,1) win, (4,3) win -> 3.5 / 4.
    assert stats.probability_of_improvement([3.0, 4.0], [1.0, 3.0]) == pytest.approx(0.875)
    assert stats.probability_of_improvement([1.0, 3.0], [3.0, 4.0]) == pytest.approx(0.125)
    # Two tasks: task 0 x={1,2} vs y={0,3}: 2 of 4 pairs; task 1 x={0,0} vs y={5,5}: none.
    x = [[1.0, 0.0], [2.0, 0.0]]
    y = [[0.0, 5.0], [3.0, 5.0]]
    assert stats.probability_of_improvement(x, y) == pytest.approx((0.5 + 0.0) / 2)
    # Unequal run counts: x={2} vs y={1,2,3}: 1 win + 1 tie out of 3.
    assert stats.probability_of_improvement([2.0], [1.0, 2.0, 3.0]) == pytest.approx(0.5)
    assert stats.probability_of_improvement([1.0, 2.0], [1.0, 2.0]) == 0.5
    with pytest.raises(ValueError, match="same tasks"):
        stats.probability_of_improvement(np.zeros((2, 2)), np.zeros((2, 3)))


def test_probability_of_improvement_ci():
    # A single run each: every resample is the same pair, so the interval is a point.
    assert stats.probability_of_improvement_ci([1.0], [0.0], num_resamples=50) == (1.0, 1.0)
    # Separated groups: every resample has X above Y.
    assert stats.probability_of_improvement_ci([10.0, 11.0], [1.0, 2.0]) == (1.0, 1.0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(1.0, 1.0, 10), rng.normal(0.0, 1.0, 10)
    low, high = stats.probability_of_improvement_ci(x, y, num_resamples=1000)
    assert low <= stats.probability_of_improvement(x, y) <= high and high - low > 0.1


def test_performance_profile_hand_values():
    profile = stats.performance_profile([10.0, 20.0, 20.0, 40.0], [0, 10, 20, 30, 50])
    np.testing.assert_allclose(profile, [1.0, 0.75, 0.25, 0.25, 0.0])  # strictly above tau
    matrix = stats.performance_profile([[10.0, 20.0], [20.0, 40.0]], [0, 10, 20, 30, 50])
    np.testing.assert_allclose(matrix, profile)  # over runs and tasks
    point, low, high = stats.performance_profile_ci([10.0, 20.0, 20.0, 40.0], [0, 50, 25])
    np.testing.assert_allclose(point, [1.0, 0.0, 0.25])
    assert list(low[:2]) == [1.0, 0.0] and list(high[:2]) == [1.0, 0.0]  # certain at the ends
    # P(no run above 25 in a resample) = (3/4)^4 = 0.32 and P(all 4) = 1/256 < 2.5 %.
    assert low[2] == 0.0 and high[2] in (0.5, 0.75)


def test_bootstrap_two_runs_hand_values():
    # Resample means of {0, 1}: 0 w.p. 1/4, 1/2 w.p. 1/2, 1 w.p. 1/4: 2.5 % and 97.5 % are 0, 1.
    assert stats.bootstrap_ci([0.0, 1.0], np.mean, num_resamples=2000) == (0.0, 1.0)
    low, high = stats.bootstrap_ci([0.0, 1.0], np.mean, confidence=0.4)  # 30th, 70th pct
    assert (low, high) == (0.5, 0.5)


def test_pointwise_ci_hand_values_and_whole_curve_resampling():
    curves = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 10.0], [4.0, 100.0]])  # [runs=4, steps=2]
    point, low, high = stats.pointwise_ci(curves, "iqm", num_resamples=500)
    np.testing.assert_allclose(point, [2.5, 5.0])  # means of {2, 3} and {0, 10}
    assert np.all(low <= point) and np.all(point <= high)
    point, _, _ = stats.pointwise_ci(curves, "mean", num_resamples=10)
    np.testing.assert_allclose(point, [2.5, 27.5])
    point, _, _ = stats.pointwise_ci(curves, "median", num_resamples=10)
    np.testing.assert_allclose(point, [2.5, 5.0])
    # The second step is exactly twice the first in every run; because whole runs are
    # resampled, the band scales exactly too.
    doubled = np.stack([curves[:, 0], 2 * curves[:, 0]], axis=1)
    _, low, high = stats.pointwise_ci(doubled, "mean", num_resamples=300)
    np.testing.assert_allclose([low[1], high[1]], [2 * low[0], 2 * high[0]])
    # Constant runs give a zero-width band; a [runs, tasks, steps] input is stratified.
    flat = np.broadcast_to(np.array([3.0, 4.0]), (5, 2))
    point, low, high = stats.pointwise_ci(flat)
    np.testing.assert_allclose(low, point) and np.testing.assert_allclose(high, point)
    tasks = np.stack([np.zeros((4, 3)), np.full((4, 3), 100.0)], axis=1)  # [4, 2, 3]
    point, low, high = stats.pointwise_ci(tasks, "mean", num_resamples=100)
    np.testing.assert_allclose([point, low, high], np.full((3, 3), 50.0))
    # vs the statistic at each step for a matrix of random curves.
    rand = np.random.default_rng(2).normal(size=(7, 5))
    point, _, _ = stats.pointwise_ci(rand, "iqm", num_resamples=10)
    np.testing.assert_allclose(point, [stats.iqm(rand[:, t]) for t in range(5)])
    with pytest.raises(ValueError, match="statistic"):
        stats.pointwise_ci(curves, "max")
    with pytest.raises(ValueError, match="curves"):
        stats.pointwise_ci(np.zeros(3))


def test_summarize_intervals_for_every_aggregate():
    scores = np.array([10.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 120.0])
    summary = stats.summarize(scores, num_resamples=500)
    for name in ("mean", "median", "iqm", "optimality_gap"):
        low, high = summary[f"{name}_ci95"]
        assert low <= summary[name] <= high, name
    # Single run: every interval collapses onto the point.
    single = stats.summarize([42.0], num_resamples=20)
    assert single["iqm_ci95"] == [42.0, 42.0] and single["optimality_gap_ci95"] == [58.0, 58.0]


# --------------------------------------------------------------------------- against rliable


@pytest.fixture(scope="module")
def rliable():
    pytest.importorskip("rliable")
    from rliable import library, metrics

    return library, metrics


@pytest.fixture
def global_numpy_seed():
    """rliable draws from numpy's global generator; seed it and restore it afterwards."""
    state = np.random.get_state()
    np.random.seed(0)
    yield
    np.random.set_state(state)


SCORES = {
    "a": np.random.default_rng(0).normal(60.0, 15.0, size=(10, 3)),
    "b": np.random.default_rng(1).normal(50.0, 20.0, size=(8, 3)),
    "ties": np.array([[50.0, 10.0], [50.0, 20.0], [70.0, 20.0], [100.0, 90.0], [100.0, 90.0]]),
}


@pytest.mark.parametrize("name", sorted(SCORES))
def test_point_estimates_equal_rliable(rliable, name):
    _, metrics = rliable
    x = SCORES[name]
    assert stats.iqm(x) == pytest.approx(metrics.aggregate_iqm(x), abs=1e-12)
    assert stats.median(x) == pytest.approx(metrics.aggregate_median(x), abs=1e-12)
    assert np.mean(x) == pytest.approx(metrics.aggregate_mean(x), abs=1e-12)
    for gamma in (1.0, 75.0, 100.0):
        ours = stats.optimality_gap(x, gamma)
        assert ours == pytest.approx(metrics.aggregate_optimality_gap(x, gamma), abs=1e-12)
    summary = stats.summarize(x, num_resamples=10)
    assert summary["median"] == pytest.approx(metrics.aggregate_median(x), abs=1e-12)


def test_probability_of_improvement_equals_rliable(rliable):
    _, metrics = rliable
    a, b = SCORES["a"], SCORES["b"]
    assert stats.probability_of_improvement(a, b) == pytest.approx(
        metrics.probability_of_improvement(a, b), abs=1e-12
    )
    ties = SCORES["ties"]
    shifted = np.round(ties[::-1] / 20.0) * 20.0  # many ties with `ties`
    for x, y in ((ties, shifted), (shifted, ties), (ties, ties)):
        assert stats.probability_of_improvement(x, y) == pytest.approx(
            metrics.probability_of_improvement(x, y), abs=1e-12
        )


def test_performance_profile_equals_rliable(rliable, global_numpy_seed):
    library, _ = rliable
    taus = np.linspace(0.0, 120.0, 13)
    for x in SCORES.values():
        np.testing.assert_allclose(
            stats.performance_profile(x, taus), library.score_distributions(x, taus)
        )


def _ci_close(ours, theirs, width, rel=0.1):
    """Two Monte-Carlo estimates of an interval agree within `rel` of its width."""
    np.testing.assert_allclose(np.ravel(ours), np.ravel(theirs), atol=rel * width)


def test_bootstrap_intervals_match_rliable(rliable, global_numpy_seed):
    library, metrics = rliable
    reps = 2000
    aggregates = {
        "iqm": (stats.iqm, metrics.aggregate_iqm),
        "median": (stats.median, metrics.aggregate_median),
        "optimality_gap": (
            lambda x: stats.optimality_gap(x, 70.0),
            lambda x: metrics.aggregate_optimality_gap(x, 70.0),
        ),
    }
    for ours_fn, theirs_fn in aggregates.values():
        points, intervals = library.get_interval_estimates(
            {"a": SCORES["a"]}, lambda x, f=theirs_fn: np.array([f(x)]), reps=reps
        )
        theirs = intervals["a"][:, 0]
        ours = stats.bootstrap_ci(SCORES["a"], ours_fn, num_resamples=reps)
        assert ours_fn(SCORES["a"]) == pytest.approx(points["a"][0])
        _ci_close(ours, theirs, theirs[1] - theirs[0])


def test_probability_of_improvement_interval_matches_rliable(rliable, global_numpy_seed):
    library, metrics = rliable
    a, b = SCORES["a"], SCORES["b"]
    _, intervals = library.get_interval_estimates(
        {"ab": [a, b]}, lambda x, y: np.array([metrics.probability_of_improvement(x, y)]), reps=500
    )
    theirs = intervals["ab"][:, 0]
    # rliable calls scipy's Mann-Whitney test per resample (slow): 500 resamples, wider tolerance.
    ours = stats.probability_of_improvement_ci(a, b, num_resamples=500)
    _ci_close(ours, theirs, theirs[1] - theirs[0], rel=0.2)


def test_performance_profile_band_matches_rliable(rliable, global_numpy_seed):
    library, _ = rliable
    taus = np.linspace(20.0, 100.0, 9)
    x = SCORES["a"]
    profiles, bands = library.create_performance_profile({"a": x}, taus, reps=2000)
    point, low, high = stats.performance_profile_ci(x, taus, num_resamples=2000)
    np.testing.assert_allclose(point, profiles["a"])
    # Resampled fractions move in steps of 1/30: allow two steps of Monte-Carlo disagreement.
    np.testing.assert_allclose(low, bands["a"][0], atol=2.01 / x.size)
    np.testing.assert_allclose(high, bands["a"][1], atol=2.01 / x.size)


@pytest.mark.parametrize("statistic", [np.mean, stats.iqm, stats.median])
@pytest.mark.parametrize("shape", [(9,), (6, 3)])
def test_vectorized_bootstrap_equals_the_loop(statistic, shape):
    x = np.random.default_rng(3).normal(size=shape)
    fast = stats.bootstrap_ci(x, statistic, num_resamples=300, seed=5)
    slow = stats.bootstrap_ci(x, lambda sample: statistic(sample), num_resamples=300, seed=5)
    assert fast == pytest.approx(slow, abs=1e-12)


def test_pointwise_ci_blocks_do_not_change_the_band(monkeypatch):
    curves = np.random.default_rng(4).normal(size=(6, 2, 5))
    whole = stats.pointwise_ci(curves, "iqm", num_resamples=100, seed=1)
    monkeypatch.setattr(stats, "_MAX_RESAMPLE_ELEMENTS", 7 * curves.size)  # 15 blocks
    np.testing.assert_array_equal(stats.pointwise_ci(curves, "iqm", 100, seed=1), whole)
    rows = np.random.default_rng(1).integers(0, 6, size=(100, 6, 2))  # the documented draws
    by_hand = [[stats.iqm(curves[r, np.arange(2), t]) for t in range(5)] for r in rows]
    np.testing.assert_allclose(whole[1], np.percentile(by_hand, 2.5, axis=0))
