"""Learning-curve figures over seeds, with the offline→online switch marked.

The figures are drawn on `matplotlib.figure.Figure` objects with the Agg canvas, without
`matplotlib.pyplot`: nothing is registered in pyplot's global figure list (so nothing leaks in
long sweeps) and importing this module never changes the backend of a notebook that uses it.

Example:

    >>> import numpy as np, tempfile, os
    >>> steps = np.arange(0, 200, 10)
    >>> curves = {run: (steps, steps / 2 + run) for run in range(3)}
    >>> path = learning_curve(curves, os.path.join(tempfile.mkdtemp(), "plots", "iql.png"),
    ...                       switch_step=100, title="IQL, 3 seeds")
    >>> path.stat().st_size > 0
    True
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

Curve = tuple[ArrayLike, ArrayLike]
"""One run's evaluation curve: (steps, scores), both 1-D."""

Curves = Mapping[int, Curve]
"""Run index -> curve, for one algorithm or setting."""

SWITCH_LABEL = "offline → online"
DPI = 120


def curves_from_records(
    records: Sequence[Mapping[str, Any]],
    score_key: str,
    step_key: str = "step",
    run_key: str = "run",
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Groups metric records (as from `jaxrl.logging.read_metrics`) into per-run curves.

    Records without `score_key` (chunks with no evaluation) are skipped; records without
    `run_key` belong to run 0.

    Args:
      records: flat metric records.
      score_key: the key of the score to plot.
      step_key: the key of the x coordinate.
      run_key: the key of the run index.

    Returns:
      Run index -> (steps, scores), each sorted by step.
    """
    grouped: dict[int, list[tuple[float, float]]] = {}
    for record in records:
        if score_key not in record:
            continue
        if step_key not in record:
            raise KeyError(f"record with {score_key!r} has no {step_key!r}: {dict(record)}")
        run = int(record.get(run_key, 0))
        grouped.setdefault(run, []).append((float(record[step_key]), float(record[score_key])))
    curves = {}
    for run, points in sorted(grouped.items()):
        points.sort(key=lambda point: point[0])
        steps, scores = zip(*points, strict=True)
        curves[run] = (np.asarray(steps), np.asarray(scores))
    return curves


def _is_curve(value: Any) -> bool:
    return isinstance(value, tuple | list) and len(value) == 2 and not isinstance(value, str)


def _labelled_curves(
    records_or_curves: Any, score_key: str | None, step_key: str, run_key: str
) -> dict[str | None, Curves]:
    """Normalizes every accepted input to label -> run index -> curve (label None: unlabelled)."""
    if isinstance(records_or_curves, Mapping):
        if not records_or_curves:
            raise ValueError("no curves to plot")
        values = list(records_or_curves.values())
        if all(_is_curve(value) for value in values):
            return {None: records_or_curves}
        if all(isinstance(value, Mapping) for value in values):
            return {str(label): curves for label, curves in records_or_curves.items()}
        raise TypeError(
            "expected {run_index: (steps, scores)} or {label: {run_index: (steps, scores)}}"
        )
    if isinstance(records_or_curves, Sequence) and not isinstance(records_or_curves, str):
        if score_key is None:
            raise ValueError("plotting metric records needs score_key")
        curves = curves_from_records(records_or_curves, score_key, step_key, run_key)
        if not curves:
            raise ValueError(f"no record has the key {score_key!r}")
        return {None: curves}
    raise TypeError(f"cannot plot a {type(records_or_curves).__name__}")


def on_common_grid(curves: Curves) -> tuple[np.ndarray, np.ndarray]:
    """The runs' scores on one step grid: [steps], [runs, steps].

    Runs evaluated at the same steps (the usual case: seeds of one vmapped program) are stacked
    as they are; otherwise they are linearly interpolated onto the union of their steps within
    the range every run covers.
    """
    pairs = [
        (np.asarray(steps, dtype=np.float64), np.asarray(scores, dtype=np.float64))
        for steps, scores in curves.values()
    ]
    for steps, scores in pairs:
        if steps.ndim != 1 or steps.shape != scores.shape:
            raise ValueError(
                f"a curve needs 1-D steps and scores of equal length, got "
                f"{steps.shape} and {scores.shape}"
            )
    first = pairs[0][0]
    if all(steps.shape == first.shape and np.array_equal(steps, first) for steps, _ in pairs):
        return first, np.stack([scores for _, scores in pairs])
    low = max(steps.min() for steps, _ in pairs)
    high = min(steps.max() for steps, _ in pairs)
    grid = np.unique(np.concatenate([steps for steps, _ in pairs]))
    grid = grid[(grid >= low) & (grid <= high)]
    if grid.size == 0:
        raise ValueError("the runs' step ranges do not overlap; cannot average them")
    return grid, np.stack([np.interp(grid, steps, scores) for steps, scores in pairs])


def plot_learning_curve(
    ax: Axes,
    records_or_curves: Any,
    switch_step: float | None = None,
    title: str | None = None,
    ylabel: str = "normalized score",
    xlabel: str = "step",
    score_key: str | None = None,
    step_key: str = "step",
    run_key: str = "run",
) -> Axes:
    """Draws learning curves on `ax`: per-seed thin lines, the mean and a ± std band.

    Args:
      ax: the axes to draw on.
      records_or_curves: `{run_index: (steps, scores)}` for one algorithm,
        `{label: {run_index: (steps, scores)}}` for several, or a list of metric records
        (then `score_key` is required).
      switch_step: where to draw the dashed "offline → online" line; None for none.
      title: the axes title.
      ylabel: the y-axis label.
      xlabel: the x-axis label.
      score_key: with records, the key of the plotted score.
      step_key: with records, the key of the x coordinate.
      run_key: with records, the key of the run index.

    Returns:
      `ax`.
    """
    labelled = _labelled_curves(records_or_curves, score_key, step_key, run_key)
    for index, (label, curves) in enumerate(labelled.items()):
        color = f"C{index % 10}"
        for steps, scores in curves.values():
            ax.plot(steps, scores, color=color, alpha=0.3, linewidth=0.7)
        grid, stacked = on_common_grid(curves)
        mean, std = stacked.mean(axis=0), stacked.std(axis=0)
        name = f"mean ± std, n={len(curves)}"
        ax.plot(
            grid,
            mean,
            color=color,
            linewidth=2.0,
            label=f"{label} ({name})" if label is not None else name,
        )
        ax.fill_between(grid, mean - std, mean + std, color=color, alpha=0.2, linewidth=0)
    if switch_step is not None:
        ax.axvline(switch_step, color="0.3", linestyle="--", linewidth=1.2, label=SWITCH_LABEL)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def learning_curve(
    records_or_curves: Any,
    path: str | os.PathLike[str],
    switch_step: float | None = None,
    title: str | None = None,
    ylabel: str = "normalized score",
    xlabel: str = "step",
    score_key: str | None = None,
    step_key: str = "step",
    run_key: str = "run",
    figsize: tuple[float, float] = (6.4, 4.0),
) -> Path:
    """Saves a learning-curve figure (see `plot_learning_curve`) as a PNG at 120 dpi.

    Args:
      records_or_curves: `{run_index: (steps, scores)}`, `{label: {run_index: (steps,
        scores)}}`, or a list of metric records with `score_key`.
      path: where to write the PNG; parent directories are created.
      switch_step: where to draw the dashed "offline → online" line; None for none.
      title: the figure title.
      ylabel: the y-axis label.
      xlabel: the x-axis label, e.g. "environment steps".
      score_key: with records, the key of the plotted score.
      step_key: with records, the key of the x coordinate.
      run_key: with records, the key of the run index.
      figsize: figure size in inches.

    Returns:
      `path`, as a `Path`.
    """
    return save_figure(
        lambda figure: plot_learning_curve(
            figure.add_subplot(),
            records_or_curves,
            switch_step=switch_step,
            title=title,
            ylabel=ylabel,
            xlabel=xlabel,
            score_key=score_key,
            step_key=step_key,
            run_key=run_key,
        ),
        path,
        figsize,
    )


def save_figure(
    draw: Callable[[Figure], Any],
    path: str | os.PathLike[str],
    figsize: tuple[float, float] = (6.4, 4.0),
) -> Path:
    """Calls `draw(figure)` on a new Agg figure and saves it as a PNG at 120 dpi.

    Args:
      draw: draws on the figure (adds its own axes).
      path: where to write the PNG; parent directories are created.
      figsize: figure size in inches.

    Returns:
      `path`, as a `Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure)
    figure.savefig(path, dpi=DPI, format="png")
    figure.clear()
    return path


Band = tuple[ArrayLike, ArrayLike, ArrayLike, ArrayLike]
"""(x, point, low, high): a statistic along x with its confidence band, all 1-D."""


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str | None, legend: bool = True) -> Axes:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize="small")
    return ax


def plot_curve_bands(
    ax: Axes,
    bands: Mapping[str, Band],
    switch_steps: Sequence[float] = (),
    title: str | None = None,
    ylabel: str = "normalized score (IQM, 95% CI)",
    xlabel: str = "step",
) -> Axes:
    """Draws one aggregate learning curve per label with its confidence band.

    Args:
      ax: the axes to draw on.
      bands: label -> (steps, point, low, high), e.g. from `jaxrl.stats.pointwise_ci`.
      switch_steps: where to draw dashed "offline → online" lines (one per distinct step).
      title: the axes title.
      ylabel: the y-axis label (say which statistic and interval).
      xlabel: the x-axis label.

    Returns:
      `ax`.
    """
    if not bands:
        raise ValueError("no curves to plot")
    for index, (label, (steps, point, low, high)) in enumerate(bands.items()):
        color = f"C{index % 10}"
        ax.plot(steps, point, color=color, linewidth=2.0, label=label)
        ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
    for i, step in enumerate(sorted(set(switch_steps))):
        ax.axvline(
            step, color="0.3", linestyle="--", linewidth=1.2, label=SWITCH_LABEL if i == 0 else None
        )
    return _finish(ax, xlabel, ylabel, title)


def plot_performance_profiles(
    ax: Axes,
    taus: ArrayLike,
    profiles: Mapping[str, tuple[ArrayLike, ArrayLike, ArrayLike]],
    title: str | None = None,
    xlabel: str = "normalized score τ",
) -> Axes:
    """Draws score distributions (fraction of runs scoring above τ) with confidence bands.

    Args:
      ax: the axes to draw on.
      taus: the thresholds, 1-D.
      profiles: label -> (profile, low, high) at `taus`, e.g. from
        `jaxrl.stats.performance_profile_ci`.
      title: the axes title.
      xlabel: the x-axis label.

    Returns:
      `ax`.
    """
    bands = {label: (taus, *profile) for label, profile in profiles.items()}
    ylabel = "fraction of runs with score > τ"
    plot_curve_bands(ax, bands, title=title, ylabel=ylabel, xlabel=xlabel)
    ax.set_ylim(-0.02, 1.02)
    return ax


def plot_probability_of_improvement(
    ax: Axes,
    labels: Sequence[str],
    matrix: ArrayLike,
    low: ArrayLike | None = None,
    high: ArrayLike | None = None,
    title: str | None = None,
) -> Axes:
    """Draws the pairwise P(row > column) as an annotated heat map (0.5: no difference).

    Args:
      ax: the axes to draw on.
      labels: the groups, in row (and column) order.
      matrix: [n, n] probabilities; the diagonal and undefined pairs are NaN (left blank).
      low: [n, n] lower ends of the confidence intervals, written under each value.
      high: [n, n] upper ends.
      title: the axes title.

    Returns:
      `ax`.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    if matrix.shape != (n, n):
        raise ValueError(f"matrix must be [{n}, {n}] for {n} labels, got {matrix.shape}")
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdBu", vmin=0.0, vmax=1.0)
    ax.figure.colorbar(image, ax=ax, label="P(row > column)")
    ax.set_xticks(range(n), labels, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(n), labels, fontsize="small")
    size = "small" if n <= 6 else "x-small"
    for i in range(n):
        for j in range(n):
            if not np.isfinite(matrix[i, j]):
                continue
            text = f"{matrix[i, j]:.2f}"
            if low is not None and high is not None and n <= 6:
                text += f"\n[{np.asarray(low)[i, j]:.2f}, {np.asarray(high)[i, j]:.2f}]"
            dark = abs(matrix[i, j] - 0.5) > 0.3
            ax.text(j, i, text, ha="center", va="center", fontsize=size, color="w" if dark else "k")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_sensitivity(
    ax: Axes,
    key: str,
    lines: Mapping[str, Band],
    title: str | None = None,
    ylabel: str = "final normalized score (IQM, 95% CI)",
    log_x: bool = False,
) -> Axes:
    """Draws a statistic against one swept hyperparameter, one line per other setting.

    Args:
      ax: the axes to draw on.
      key: the swept hyperparameter (the x-axis label).
      lines: line label -> (values, point, low, high); `values` numeric, or strings shown as
        categories.
      title: the axes title.
      ylabel: the y-axis label.
      log_x: a logarithmic x axis (for values spanning decades, e.g. CQL α).

    Returns:
      `ax`.
    """
    if not lines:
        raise ValueError("no sensitivity lines to plot")
    categories: list[str] = []
    for band in lines.values():
        if not all(isinstance(v, int | float) for v in band[0]):
            categories += [str(v) for v in band[0] if str(v) not in categories]
    for index, (label, (values, point, low, high)) in enumerate(lines.items()):
        x = [categories.index(str(v)) for v in values] if categories else list(values)
        point, low, high = (np.asarray(a, dtype=np.float64) for a in (point, low, high))
        ax.errorbar(
            x,
            point,
            yerr=[point - low, high - point],
            color=f"C{index % 10}",
            marker="o",
            capsize=3,
            label=label,
        )
    if categories:
        ax.set_xticks(range(len(categories)), categories)
    elif log_x:
        ax.set_xscale("log")
    return _finish(ax, key, ylabel, title, legend=len(lines) > 1 or next(iter(lines)) != "")
