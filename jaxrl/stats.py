"""Aggregate scores over seeds the way rliable does, and offline→online curve metrics.

Point estimates (mean, median, interquartile mean, optimality gap), percentile-bootstrap
confidence intervals over runs (stratified by task for a [runs, tasks] score matrix), the
probability of improvement and performance profiles (score distributions). Written with numpy
only; the definitions are rliable's, and `tests/test_stats.py` checks them against the rliable
package where it is installed, so numbers can be compared with papers that use it. Everything
here runs on the host, after training, on plain arrays.

Scores are arranged as in rliable: axis 0 indexes runs (seeds), an optional axis 1 indexes tasks.
A 1-D array is one task. Bootstrap resamples draw runs with replacement independently within each
task column ("stratified bootstrap"), never across tasks.

Differences from rliable, on purpose:
  * `optimality_gap` defaults to `gamma=100` (D4RL-normalized scores, expert = 100);
    rliable's default `gamma=1` suits scores normalized to [0, 1]. Pass `gamma=1` to match.
  * `median` of a 1-D array is the median over runs; rliable's `aggregate_median` is the median
    over tasks of the per-task mean, which for one task is the mean. For 2-D arrays both agree.
  * The generator is numpy's `default_rng(seed)`, so an interval is reproducible from `seed`;
    rliable draws from numpy's global generator. Intervals agree within Monte-Carlo error.

References:
  Agarwal, Schwarzer, Castro, Courville, Bellemare. "Deep Reinforcement Learning at the Edge
  of the Statistical Precipice". NeurIPS 2021 (rliable), §4: IQM, optimality gap, stratified
  bootstrap confidence intervals, performance profiles and probability of improvement.

Example:

    >>> import numpy as np
    >>> scores = np.array([10.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 120.0])
    >>> float(iqm(scores))
    77.5
    >>> low, high = bootstrap_ci(scores, iqm, num_resamples=500)
    >>> bool(low <= 77.5 <= high)
    True
    >>> float(probability_of_improvement([3.0, 4.0], [1.0, 3.0]))
    0.875
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

CURVE_STATISTICS = ("iqm", "mean", "median")
"""Statistics `pointwise_ci` computes at every point of a learning curve."""

_MAX_RESAMPLE_ELEMENTS = 2**23  # resampled curves held at once by `pointwise_ci` (64 MiB)


def trim_mean(x: ArrayLike, proportion: float) -> float:
    """The mean of `x` (flattened) after cutting `int(proportion * n)` values from each end.

    Same as `scipy.stats.trim_mean(x, proportion, axis=None)`; NaN if `x` holds a NaN.

    Args:
      x: scores, any shape; flattened.
      proportion: fraction cut from each end, in [0, 0.5).

    Returns:
      The trimmed mean.

    Raises:
      ValueError: `x` is empty or `proportion` is out of range.
    """
    values = np.sort(np.asarray(x, dtype=np.float64).ravel())
    if values.size == 0:
        raise ValueError("trim_mean of an empty array")
    if not 0.0 <= proportion < 0.5:
        raise ValueError(f"proportion must be in [0, 0.5), got {proportion}")
    if np.isnan(values[-1]):  # sorting puts NaN last, where trimming would hide it
        return float("nan")
    cut = int(proportion * values.size)
    return float(np.mean(values[cut : values.size - cut]))


def iqm(x: ArrayLike) -> float:
    """Interquartile mean: the mean of the middle 50 % of the scores (rliable's `aggregate_iqm`).

    Args:
      x: scores, usually 1-D over runs; a [runs, tasks] matrix is flattened, as rliable does.

    Returns:
      `trim_mean(x, 0.25)`.

    References:
      Agarwal et al. 2021, §4.3 ("Interquartile Mean").
    """
    return trim_mean(x, 0.25)


def median(x: ArrayLike) -> float:
    """The median score: over runs for [runs]; for [runs, tasks], over tasks of the task means.

    The 2-D case is rliable's `aggregate_median`.

    Args:
      x: scores, [runs] or [runs, tasks].

    Returns:
      The median.
    """
    x = _scores(x, "x")
    return float(np.median(x) if x.ndim == 1 else np.median(x.mean(axis=0)))


def optimality_gap(x: ArrayLike, gamma: float = 100.0) -> float:
    """How far the scores fall short of `gamma`, on average: `mean(max(gamma - x, 0))`.

    Scores above `gamma` count as reaching it; equal to rliable's `aggregate_optimality_gap`,
    `gamma - mean(min(x, gamma))`. The default suits D4RL-normalized scores (expert = 100);
    rliable's default `gamma=1` is for scores normalized to [0, 1].

    Args:
      x: scores, any shape; flattened.
      gamma: the target score.

    Returns:
      The optimality gap (lower is better).

    References:
      Agarwal et al. 2021, §4.3 ("Optimality Gap").
    """
    values = np.asarray(x, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("optimality_gap of an empty array")
    return float(np.mean(np.maximum(gamma - values, 0.0)))


def probability_of_improvement(x: ArrayLike, y: ArrayLike) -> float:
    """P(X > Y): the chance that a run of X beats a run of Y on a task, averaged over tasks.

    Per task, the Mann–Whitney U statistic of X over Y divided by `n_x * n_y`: the fraction of
    (run of X, run of Y) pairs in which X scores higher, ties counting one half. rliable's
    `probability_of_improvement`.

    Args:
      x: scores of X, [runs_x] or [runs_x, tasks].
      y: scores of Y, [runs_y] or [runs_y, tasks]; the same tasks in the same order.

    Returns:
      The probability, in [0, 1]; 0.5 means neither is better.

    Raises:
      ValueError: the arrays are empty, or their task axes differ.

    References:
      Agarwal et al. 2021, §4.3 ("Probability of Improvement").
    """
    x, y = _scores(x, "x"), _scores(y, "y")
    x, y = _pair(x, y)
    return float(_poi(x[None], y[None])[0])


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as [runs, tasks]; raises unless they hold the same number of tasks."""
    x2, y2 = x.reshape(x.shape[0], -1), y.reshape(y.shape[0], -1)
    if x.ndim != y.ndim or x2.shape[1] != y2.shape[1]:
        raise ValueError(
            f"x and y must cover the same tasks: got shapes {x.shape} and {y.shape} "
            "([runs] or [runs, tasks])"
        )
    return x2, y2


def _poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) for batches: x [B, nx, tasks], y [B, ny, tasks] -> [B]."""
    xs, ys = x[:, :, None, :], y[:, None, :, :]
    wins = (xs > ys).mean(axis=(1, 2)) + 0.5 * (xs == ys).mean(axis=(1, 2))
    return wins.mean(axis=-1)


def performance_profile(x: ArrayLike, taus: ArrayLike) -> np.ndarray:
    """The score distribution: for each threshold τ, the fraction of all scores above τ.

    rliable's `create_performance_profile` with `use_score_distribution=True` (over runs and
    tasks; strictly greater than τ).

    Args:
      x: scores, [runs] or [runs, tasks].
      taus: thresholds, 1-D.

    Returns:
      [len(taus)] fractions in [0, 1], non-increasing in τ for sorted `taus`.

    References:
      Agarwal et al. 2021, §4.1 ("Performance Profiles").
    """
    x = _scores(x, "x")
    taus = np.asarray(taus, dtype=np.float64)
    if taus.ndim != 1:
        raise ValueError(f"taus must be 1-D, got shape {taus.shape}")
    return (x.reshape(-1, 1) > taus).mean(axis=0)


def _scores(x: ArrayLike, name: str, max_ndim: int = 2) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.ndim > max_ndim or x.size == 0:
        layout = "[runs] or [runs, tasks]" if max_ndim == 2 else "[runs, (tasks,) steps]"
        raise ValueError(f"{name} must be a non-empty {layout} array, got shape {x.shape}")
    return x


def _check_bootstrap_args(num_resamples: int, confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be positive, got {num_resamples}")


def resample_runs(x: np.ndarray, num_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified bootstrap resamples of `x`: [num_resamples, *x.shape].

    Axis 0 of `x` is runs. For 1-D `x`, each resample draws `runs` rows with replacement. With a
    task axis (axis 1), every task column draws its own run indices (strata = tasks). Any further
    axes (e.g. evaluation steps of a learning curve) travel with their run: a resample holds
    whole curves, so the pointwise intervals of a curve come from one set of resampled runs.
    """
    num_runs = x.shape[0]
    if x.ndim == 1:
        return x[rng.integers(0, num_runs, size=(num_resamples, num_runs))]
    num_tasks = x.shape[1]
    rows = rng.integers(0, num_runs, size=(num_resamples, num_runs, num_tasks))
    return x[rows, np.arange(num_tasks)]


def _interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval over axis 0 (numpy's linear interpolation, as arch does)."""
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail], axis=0)
    return low, high


def bootstrap_ci(
    x: ArrayLike,
    statistic: Callable[[np.ndarray], Any],
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of `statistic` over runs.

    For 1-D `x` (one score per run) each resample draws n runs with replacement. For a 2-D
    `x` of shape [runs, tasks] the bootstrap is stratified, as rliable's `StratifiedBootstrap`:
    the runs of each task column are resampled independently, and `statistic` gets the
    [runs, tasks] resample (so rliable's aggregate functions, which flatten or average over
    tasks, apply unchanged).

    Args:
      x: scores, [runs] or [runs, tasks].
      statistic: maps an array shaped like `x` to a scalar (`np.mean`, `iqm`, `median`, ...).
      num_resamples: number of bootstrap resamples.
      confidence: coverage of the interval, in (0, 1).
      seed: seed of the numpy generator; the same seed gives the same interval.

    Returns:
      `(low, high)`: the (1 - confidence) / 2 and (1 + confidence) / 2 percentiles of the
      statistic over the resamples (rliable's `method="percentile"`).

    Raises:
      ValueError: `x` is empty or not 1-D/2-D, or an argument is out of range.

    References:
      Agarwal et al. 2021, §4.2 and Appendix A.4 (stratified bootstrap).
    """
    return _bootstrap(
        _scores(x, "x"), statistic, _BATCHED.get(statistic), num_resamples, confidence, seed
    )


def _bootstrap(
    x: np.ndarray,
    statistic: Callable[[np.ndarray], Any],
    batched: Callable[[np.ndarray], np.ndarray] | None,
    num_resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """`bootstrap_ci`, with `batched(resamples) -> [B]` computing the statistic all at once."""
    _check_bootstrap_args(num_resamples, confidence)
    resamples = resample_runs(x, num_resamples, np.random.default_rng(seed))
    if batched is not None:
        values = batched(resamples)
    else:
        values = np.array([float(statistic(resample)) for resample in resamples])
    low, high = _interval(values, confidence)
    return float(low), float(high)


def probability_of_improvement_ci(
    x: ArrayLike,
    y: ArrayLike,
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of `probability_of_improvement(x, y)`.

    X and Y are resampled independently, each stratified by task (rliable's
    `StratifiedIndependentBootstrap`).

    Args:
      x: scores of X, [runs_x] or [runs_x, tasks].
      y: scores of Y, [runs_y] or [runs_y, tasks].
      num_resamples: number of bootstrap resamples.
      confidence: coverage of the interval, in (0, 1).
      seed: seed of the numpy generator.

    Returns:
      `(low, high)`.
    """
    x, y = _pair(_scores(x, "x"), _scores(y, "y"))
    _check_bootstrap_args(num_resamples, confidence)
    rng = np.random.default_rng(seed)
    values = _poi(resample_runs(x, num_resamples, rng), resample_runs(y, num_resamples, rng))
    low, high = _interval(values, confidence)
    return float(low), float(high)


def performance_profile_ci(
    x: ArrayLike,
    taus: ArrayLike,
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A performance profile and its pointwise percentile-bootstrap band.

    Args:
      x: scores, [runs] or [runs, tasks] (stratified bootstrap over runs within tasks).
      taus: thresholds, 1-D.
      num_resamples: number of bootstrap resamples (rliable's profile default is 2000).
      confidence: coverage of the band, in (0, 1).
      seed: seed of the numpy generator.

    Returns:
      `(profile, low, high)`, each [len(taus)].
    """
    x = _scores(x, "x")
    profile = performance_profile(x, taus)
    _check_bootstrap_args(num_resamples, confidence)
    resamples = resample_runs(x, num_resamples, np.random.default_rng(seed))
    flat = resamples.reshape(num_resamples, -1, 1)
    values = (flat > np.asarray(taus, dtype=np.float64)).mean(axis=1)
    low, high = _interval(values, confidence)
    return profile, low, high


def _along_runs(statistic: str, x: np.ndarray) -> np.ndarray:
    """`statistic` over runs and tasks for batches: x [B, runs, tasks, T] -> [B, T]."""
    if statistic == "mean":
        return x.mean(axis=(1, 2))
    if statistic == "iqm":
        ordered = np.sort(x.reshape(x.shape[0], -1, x.shape[-1]), axis=1)
        n = ordered.shape[1]
        cut = int(0.25 * n)
        if np.isnan(ordered[:, -1]).any():  # as `trim_mean`: NaN stays NaN
            return np.where(np.isnan(ordered[:, -1]), np.nan, ordered[:, cut : n - cut].mean(1))
        return ordered[:, cut : n - cut].mean(axis=1)
    # median: over runs for one task, else over tasks of the task means (as `median`)
    if x.shape[2] == 1:
        return np.median(x[:, :, 0], axis=1)
    return np.median(x.mean(axis=1), axis=1)


def _batch_of(statistic: str) -> Callable[[np.ndarray], np.ndarray]:
    """`statistic` of resamples [B, runs] or [B, runs, tasks] -> [B]."""

    def batched(resamples: np.ndarray) -> np.ndarray:
        as_curves = resamples.reshape(resamples.shape[0], resamples.shape[1], -1, 1)
        return _along_runs(statistic, as_curves)[:, 0]

    return batched


_BATCHED = {np.mean: _batch_of("mean"), iqm: _batch_of("iqm"), median: _batch_of("median")}


def pointwise_ci(
    curves: ArrayLike,
    statistic: str = "iqm",
    num_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A statistic of learning curves at every evaluation step, with a bootstrap band.

    Args:
      curves: scores on a common step grid, [runs, steps] or [runs, tasks, steps].
      statistic: "iqm", "mean" or "median" (as `iqm`, `np.mean`, `median` at each step).
      num_resamples: number of bootstrap resamples (whole runs are resampled, stratified by
        task, as in `resample_runs`).
      confidence: coverage of the band, in (0, 1).
      seed: seed of the numpy generator.

    Returns:
      `(point, low, high)`, each [steps].
    """
    if statistic not in CURVE_STATISTICS:
        raise ValueError(f"statistic must be one of {CURVE_STATISTICS}, got {statistic!r}")
    curves = _scores(curves, "curves", max_ndim=3)
    if curves.ndim == 1:
        raise ValueError(f"curves must be [runs, (tasks,) steps], got shape {curves.shape}")
    if curves.ndim == 2:
        curves = curves[:, None, :]  # one task
    _check_bootstrap_args(num_resamples, confidence)
    point = _along_runs(statistic, curves[None])[0]
    num_runs, num_tasks = curves.shape[:2]
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, num_runs, size=(num_resamples, num_runs, num_tasks))  # = resample_runs
    block = max(1, _MAX_RESAMPLE_ELEMENTS // curves.size)  # bounds memory for long sweeps
    values = np.concatenate(
        [
            _along_runs(statistic, curves[rows[start : start + block], np.arange(num_tasks)])
            for start in range(0, num_resamples, block)
        ]
    )
    low, high = _interval(values, confidence)
    return point, low, high


def summarize(
    scores: ArrayLike,
    seed: int = 0,
    gamma: float = 100.0,
    num_resamples: int = 2000,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Summary statistics of final scores over runs, for `summary.json` and reports.

    Args:
      scores: final scores, [runs] or [runs, tasks] (stratified bootstrap over tasks).
      seed: seed of the bootstrap.
      gamma: target score of the optimality gap.
      num_resamples: number of bootstrap resamples.
      confidence: coverage of the intervals (the keys still say ``ci95``).

    Returns:
      A JSON-serializable dict:
        ``num_runs``: number of runs (rows).
        ``mean``, ``iqm``, ``optimality_gap``: over all scores.
        ``median``: see `median`.
        ``std``: sample standard deviation (ddof=1) of all scores; 0.0 for a single score.
        ``mean_ci95``, ``median_ci95``, ``iqm_ci95``, ``optimality_gap_ci95``: `[low, high]`
          bootstrap confidence intervals (each from the same seed).

    References:
      Agarwal et al. 2021, §4.
    """
    scores = _scores(scores, "scores")
    flat = scores.ravel()
    ci = dict(num_resamples=num_resamples, confidence=confidence, seed=seed)

    def gap(x):
        return optimality_gap(x, gamma)

    def gaps(resamples):
        return np.maximum(gamma - resamples.reshape(resamples.shape[0], -1), 0.0).mean(axis=1)

    return {
        "num_runs": int(scores.shape[0]),
        "mean": float(np.mean(flat)),
        "median": median(scores),
        "iqm": iqm(flat),
        "optimality_gap": gap(flat),
        "std": float(np.std(flat, ddof=1)) if flat.size > 1 else 0.0,
        "mean_ci95": list(bootstrap_ci(scores, np.mean, **ci)),
        "median_ci95": list(bootstrap_ci(scores, median, **ci)),
        "iqm_ci95": list(bootstrap_ci(scores, iqm, **ci)),
        "optimality_gap_ci95": list(_bootstrap(scores, gap, gaps, **ci)),
    }


def o2o_metrics(
    steps: ArrayLike,
    scores: ArrayLike,
    switch_step: float,
    dip_window_frac: float = 0.1,
    dip_window_evals: int | None = None,
) -> dict[str, float]:
    """Offline→online metrics of one run's evaluation curve.

    The online phase is every evaluation with `step > switch_step`; its duration is
    `steps[-1] - switch_step`.

    Args:
      steps: evaluation steps, 1-D, non-decreasing.
      scores: evaluation scores at `steps`.
      switch_step: the step at which training switched from offline to online.
      dip_window_frac: the dip is measured over the first `dip_window_frac` of the online
        phase (by steps).
      dip_window_evals: if given, the dip is measured over the first `dip_window_evals` online
        evaluations instead (useful when evaluations are sparse).

    Returns:
      A dict of floats (NaN where undefined):
        ``offline_score``: the last score at or before `switch_step` (NaN if none).
        ``final_score``: the last score.
        ``improvement``: `final_score - offline_score`.
        ``dip``: `min(scores in the dip window) - offline_score`, unclipped: negative when
          performance drops after the switch ("unlearning"), positive when it does not. The
          window is `(switch_step, switch_step + dip_window_frac * duration]`; when it holds no
          evaluation, the first online evaluation is used.
        ``relative_dip``: `dip / |offline_score|` (−0.2: the worst early online score is 20 %
          below the offline score); NaN when the offline score is 0 or missing.
        ``online_auc``: the area under the online curve with the online steps normalized to
          [0, 1] (trapezoidal rule), i.e. the time-averaged online score, in score units. The
          curve starts at `(switch_step, offline_score)` (exact when an evaluation happens at
          the switch, as at a chunk boundary) and goes through every online evaluation. With no
          offline evaluation it spans the online evaluations only.

    Raises:
      ValueError: mismatched or non-1-D inputs, decreasing steps, or a bad window.
    """
    steps = np.asarray(steps, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if steps.ndim != 1 or steps.shape != scores.shape or steps.size == 0:
        raise ValueError(
            f"steps and scores must be 1-D of equal length, got {steps.shape}, {scores.shape}"
        )
    if np.any(np.diff(steps) < 0):
        raise ValueError("steps must be non-decreasing")
    if not 0.0 < dip_window_frac <= 1.0:
        raise ValueError(f"dip_window_frac must be in (0, 1], got {dip_window_frac}")
    if dip_window_evals is not None and dip_window_evals < 1:
        raise ValueError(f"dip_window_evals must be at least 1, got {dip_window_evals}")

    offline = steps <= switch_step
    online = ~offline
    offline_score = float(scores[offline][-1]) if offline.any() else float("nan")
    final_score = float(scores[-1])
    nan = float("nan")
    out = {
        "offline_score": offline_score,
        "final_score": final_score,
        "improvement": final_score - offline_score,
        "dip": nan,
        "relative_dip": nan,
        "online_auc": nan,
    }
    if not online.any():
        return out

    online_steps, online_scores = steps[online], scores[online]
    duration = float(online_steps[-1] - switch_step)
    if dip_window_evals is not None:
        dip_scores = online_scores[:dip_window_evals]
    else:
        window = online_steps <= switch_step + dip_window_frac * duration
        dip_scores = online_scores[window] if window.any() else online_scores[:1]
    dip = float(np.min(dip_scores)) - offline_score
    out["dip"] = dip
    if np.isfinite(offline_score) and offline_score != 0.0:
        out["relative_dip"] = dip / abs(offline_score)

    if offline.any():
        curve_steps = np.concatenate([[switch_step], online_steps])
        curve_scores = np.concatenate([[offline_score], online_scores])
    else:
        curve_steps, curve_scores = online_steps, online_scores
    span = float(curve_steps[-1] - curve_steps[0])
    if span > 0:
        widths = np.diff(curve_steps)
        heights = (curve_scores[1:] + curve_scores[:-1]) / 2.0
        out["online_auc"] = float(np.sum(widths * heights)) / span
    else:
        out["online_auc"] = float(np.mean(curve_scores))
    return out
