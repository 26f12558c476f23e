"""Aggregate scores over seeds the way rliable does, and offline→online curve metrics.

Point estimates (mean, median, interquartile mean, optimality gap) and percentile-bootstrap
confidence intervals over runs, with the stratified bootstrap for a [runs, tasks] score matrix.
Written with numpy only; the definitions follow rliable so numbers can be compared with papers
that use it. Everything here runs on the host, after training, on plain arrays.

References:
  Agarwal, Schwarzer, Castro, Courville, Bellemare. "Deep Reinforcement Learning at the Edge
  of the Statistical Precipice". NeurIPS 2021 (rliable), §4: IQM, optimality gap and stratified
  bootstrap confidence intervals.

Example:

    >>> import numpy as np
    >>> scores = np.array([10.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 120.0])
    >>> float(iqm(scores))
    77.5
    >>> low, high = bootstrap_ci(scores, iqm, num_resamples=500)
    >>> bool(low <= 77.5 <= high)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def trim_mean(x: ArrayLike, proportion: float) -> float:
    """The mean of `x` (flattened) after cutting `int(proportion * n)` values from each end.

    Same as `scipy.stats.trim_mean(x, proportion, axis=None)`.

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


def optimality_gap(x: ArrayLike, gamma: float = 100.0) -> float:
    """How far the scores fall short of `gamma`, on average: `mean(max(gamma - x, 0))`.

    Scores above `gamma` count as reaching it. The default suits D4RL-normalized scores (expert
    = 100); rliable's default `gamma=1` is for scores normalized to [0, 1].

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
    the runs of each task column are resampled independently, and `statistic` is applied to the
    flattened [runs * tasks] resample.

    Args:
      x: scores, [runs] or [runs, tasks].
      statistic: maps a 1-D array of scores to a scalar (`np.mean`, `iqm`, ...).
      num_resamples: number of bootstrap resamples.
      confidence: coverage of the interval, in (0, 1).
      seed: seed of the numpy generator; the same seed gives the same interval.

    Returns:
      `(low, high)`: the (1 - confidence) / 2 and (1 + confidence) / 2 percentiles of the
      statistic over the resamples.

    Raises:
      ValueError: `x` is empty or not 1-D/2-D, or an argument is out of range.

    References:
      Agarwal et al. 2021, §4.2 and Appendix A.4 (stratified bootstrap).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise ValueError(f"x must be [runs] or [runs, tasks], got shape {x.shape}")
    if x.size == 0:
        raise ValueError("bootstrap_ci of an empty array")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be positive, got {num_resamples}")
    rng = np.random.default_rng(seed)
    num_runs = x.shape[0]
    if x.ndim == 1:
        resamples = x[rng.integers(0, num_runs, size=(num_resamples, num_runs))]
    else:
        num_tasks = x.shape[1]
        rows = rng.integers(0, num_runs, size=(num_resamples, num_runs, num_tasks))
        resamples = x[rows, np.arange(num_tasks)].reshape(num_resamples, -1)
    values = np.array([float(statistic(resample)) for resample in resamples])
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def summarize(
    scores: ArrayLike,
    seed: int = 0,
    gamma: float = 100.0,
    num_resamples: int = 2000,
) -> dict[str, Any]:
    """Summary statistics of final scores over runs, for `summary.json`.

    Args:
      scores: final scores, [runs] or [runs, tasks] (stratified bootstrap over tasks).
      seed: seed of the bootstrap.
      gamma: target score of the optimality gap.
      num_resamples: number of bootstrap resamples.

    Returns:
      A JSON-serializable dict:
        ``num_runs``: number of runs (rows).
        ``mean``, ``iqm``, ``optimality_gap``: over all scores.
        ``median``: over runs for 1-D scores; for [runs, tasks], the median over tasks of the
          per-task mean, as rliable's `aggregate_median`.
        ``std``: sample standard deviation (ddof=1) of all scores; 0.0 for a single score.
        ``mean_ci95``, ``iqm_ci95``: `[low, high]` 95 % bootstrap confidence intervals.

    References:
      Agarwal et al. 2021, §4.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim not in (1, 2) or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [runs] or [runs, tasks], got {scores.shape}")
    flat = scores.ravel()
    median = np.median(flat) if scores.ndim == 1 else np.median(scores.mean(axis=0))
    ci = dict(num_resamples=num_resamples, confidence=0.95, seed=seed)
    return {
        "num_runs": int(scores.shape[0]),
        "mean": float(np.mean(flat)),
        "median": float(median),
        "iqm": iqm(flat),
        "optimality_gap": optimality_gap(flat, gamma),
        "std": float(np.std(flat, ddof=1)) if flat.size > 1 else 0.0,
        "mean_ci95": list(bootstrap_ci(scores, np.mean, **ci)),
        "iqm_ci95": list(bootstrap_ci(scores, iqm, **ci)),
    }


def o2o_metrics(
    steps: ArrayLike,
    scores: ArrayLike,
    switch_step: float,
    dip_window_frac: float = 0.1,
) -> dict[str, float]:
    """Offline→online metrics of one run's evaluation curve.

    The online phase is every evaluation with `step > switch_step`; its duration is
    `steps[-1] - switch_step`.

    Args:
      steps: evaluation steps, 1-D, non-decreasing.
      scores: evaluation scores at `steps`.
      switch_step: the step at which training switched from offline to online.
      dip_window_frac: the dip is measured over the first `dip_window_frac` of the online
        phase.

    Returns:
      A dict of floats (NaN where undefined):
        ``offline_score``: the last score at or before `switch_step` (NaN if none).
        ``final_score``: the last score.
        ``improvement``: `final_score - offline_score`.
        ``dip``: `min(scores in the dip window) - offline_score`, unclipped: negative when
          performance drops after the switch ("unlearning"), positive when it does not. The
          window is `(switch_step, switch_step + dip_window_frac * duration]`; when it holds no
          evaluation, the first online evaluation is used.
        ``online_auc``: the trapezoidal integral of the online curve divided by its duration,
          i.e. the time-averaged online score. The curve starts at `(switch_step,
          offline_score)` (exact when an evaluation happens at the switch, as at a chunk
          boundary) and goes through every online evaluation. With no offline evaluation it
          spans the online evaluations only.

    Raises:
      ValueError: mismatched or non-1-D inputs, decreasing steps, or a bad window fraction.
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

    offline = steps <= switch_step
    online = ~offline
    offline_score = float(scores[offline][-1]) if offline.any() else float("nan")
    final_score = float(scores[-1])
    nan = float("nan")
    if not online.any():
        return {
            "offline_score": offline_score,
            "final_score": final_score,
            "improvement": final_score - offline_score,
            "dip": nan,
            "online_auc": nan,
        }

    online_steps, online_scores = steps[online], scores[online]
    duration = float(online_steps[-1] - switch_step)
    window = online_steps <= switch_step + dip_window_frac * duration
    dip_scores = online_scores[window] if window.any() else online_scores[:1]
    dip = float(np.min(dip_scores)) - offline_score

    if offline.any():
        curve_steps = np.concatenate([[switch_step], online_steps])
        curve_scores = np.concatenate([[offline_score], online_scores])
    else:
        curve_steps, curve_scores = online_steps, online_scores
    span = float(curve_steps[-1] - curve_steps[0])
    if span > 0:
        widths = np.diff(curve_steps)
        heights = (curve_scores[1:] + curve_scores[:-1]) / 2.0
        online_auc = float(np.sum(widths * heights)) / span
    else:
        online_auc = float(np.mean(curve_scores))
    return {
        "offline_score": offline_score,
        "final_score": final_score,
        "improvement": final_score - offline_score,
        "dip": dip,
        "online_auc": online_auc,
    }
