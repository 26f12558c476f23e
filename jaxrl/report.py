"""Compare finished runs: a table of aggregate scores with confidence intervals, and figures.

    python -m jaxrl.report DIR [DIR ...] [--out OUT] [--group-by auto|dir|algo|settings]

Each DIR is a run directory written by `jaxrl.run.run` (it holds `config.json`,
`metrics.jsonl` and `summary.json`), or a folder whose subfolders are. The runs (run indices:
seeds, and in a sweep seeds × settings) are grouped — by directory, by algorithm, or by sweep
setting (the `settings` of each entry of `summary.json["runs"]`) — and each group gets:

  * offline score, final score, dip after the switch and online AUC per run
    (`jaxrl.stats.o2o_metrics`), averaged over the group's runs;
  * IQM, mean and median of the final scores with 95 % stratified-bootstrap confidence
    intervals, and the optimality gap (`jaxrl.stats`, rliable's definitions). A group that spans
    several tasks is a [runs, tasks] matrix, resampled within tasks.

OUT receives `table.md`, `table.csv` and the figures `learning_curves.png` (IQM with 95 % CI
bands), `performance_profile.png` (fraction of runs above each score, with bands),
`probability_of_improvement.png` (pairwise P(row > column), with two groups or more) and,
for sweeps, `sensitivity.png` (final IQM with CI against each swept hyperparameter, one line per
combination of the other settings).

Example:

    >>> from jaxrl.report import report
    >>> result = report(["runs/iql", "runs/cql"], "runs/compare")  # doctest: +SKIP
    >>> print(result["markdown"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxrl import plots, stats
from jaxrl.logging import METRICS_JSONL, read_metrics

CONFIG_JSON = "config.json"
SUMMARY_JSON = "summary.json"
GROUP_BY = ("auto", "dir", "algo", "settings")
MAX_POI_GROUPS = 12  # above this the pairwise matrix is unreadable; the profile still shows all


class ReportError(ValueError):
    """A run directory is missing, incomplete or inconsistent; the message names it."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One run index of one run directory, with its evaluation curve and o2o metrics."""

    workdir: Path  # the run directory
    index: int  # the run index inside it (the `run` field of metrics.jsonl)
    seed: int | None  # its seed, from summary.json
    algo: str  # config.json's algo
    task: str  # the dataset if there is one, else the task: the stratum of the bootstrap
    settings: dict[str, Any]  # swept hyperparameters of this run ({} outside sweeps)
    steps: np.ndarray  # evaluation steps
    scores: np.ndarray  # normalized evaluation scores
    switch_step: float | None  # step of the offline→online switch; None without online phase
    metrics: dict[str, float]  # `jaxrl.stats.o2o_metrics` of the curve


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs compared as one entry of the table."""

    label: str
    runs: list[Run]
    algo: str | None = None  # set when every run has the same algorithm
    settings: dict[str, Any] | None = None  # set when grouped by sweep setting


# --------------------------------------------------------------------------- loading


def find_workdirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories from the command line: each path, or its subfolders that are runs.

    Raises:
      ReportError: a path does not exist, or is neither a run directory nor holds any.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            raise ReportError(f"{path}: no such directory")
        if (path / CONFIG_JSON).exists():
            found.append(path)
            continue
        children = sorted(p for p in path.iterdir() if (p / CONFIG_JSON).is_file())
        if not children:
            raise ReportError(
                f"{path}: missing {CONFIG_JSON}; this is not a run directory (one written by "
                f"jaxrl.run: {CONFIG_JSON}, {METRICS_JSONL}, {SUMMARY_JSON}) and none of its "
                "subfolders is one. Pass the workdir given to the training job."
            )
        found += children
    if not found:
        raise ReportError("no run directories given")
    return found


def _read_json(workdir: Path, name: str, hint: str) -> dict[str, Any]:
    path = workdir / name
    if not path.is_file():
        raise ReportError(f"{workdir}: missing {name}; {hint}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ReportError(f"{path} is not valid JSON ({err}); rewrite or remove it") from err


def _task_of(config: Mapping[str, Any]) -> str:
    dataset = config.get("dataset")
    return str(dataset) if dataset else str(config.get("task", "?"))


def load_runs(
    workdir: str | Path,
    score_key: str = "eval_score",
    dip_window_frac: float = 0.1,
    dip_window_evals: int | None = None,
) -> list[Run]:
    """Every run index of one run directory, with its curve and offline→online metrics.

    Args:
      workdir: a directory written by `jaxrl.run.run`.
      score_key: the metric of the evaluation curves.
      dip_window_frac: see `jaxrl.stats.o2o_metrics`.
      dip_window_evals: see `jaxrl.stats.o2o_metrics`.

    Returns:
      One `Run` per entry of `summary.json["runs"]` (or per seed of the config).

    Raises:
      ReportError: a file is missing or malformed, or a run has no evaluation.
    """
    workdir = Path(workdir)
    config = _read_json(
        workdir, CONFIG_JSON, "not a run directory: pass the workdir given to the training job"
    )
    if not (workdir / METRICS_JSONL).is_file():
        raise ReportError(
            f"{workdir}: missing {METRICS_JSONL}; the job has not logged anything yet "
            "(it writes one record per chunk)"
        )
    summary = _read_json(
        workdir,
        SUMMARY_JSON,
        "the job has not finished (it is written at the end); resume it with the same command "
        "and workdir, which continues from its last checkpoint, then report again",
    )
    entries = summary.get("runs") or [
        {"run": i, "seed": s} for i, s in enumerate(config.get("seeds", ()))
    ]
    curves: dict[int, list[tuple[float, float]]] = {}
    for record in read_metrics(workdir):
        if score_key in record:
            curves.setdefault(int(record.get("run", 0)), []).append(
                (float(record["step"]), float(record[score_key]))
            )
    offline_steps = float(config.get("offline_steps", 0))
    switch = offline_steps if config.get("online_steps", 0) else None
    runs = []
    for entry in entries:
        index = int(entry["run"])
        points = sorted(curves.get(index, []))
        if not points:
            raise ReportError(
                f"{workdir / METRICS_JSONL}: run {index} has no {score_key!r} records; "
                "was the job killed before its first evaluation?"
            )
        steps = np.array([p[0] for p in points])
        scores = np.array([p[1] for p in points])
        metrics = stats.o2o_metrics(steps, scores, offline_steps, dip_window_frac, dip_window_evals)
        runs.append(
            Run(
                workdir=workdir,
                index=index,
                seed=entry.get("seed"),
                algo=str(config.get("algo", "?")),
                task=_task_of(config),
                settings=dict(entry.get("settings") or {}),
                steps=steps,
                scores=scores,
                switch_step=switch,
                metrics=metrics,
            )
        )
    return runs


# --------------------------------------------------------------------------- grouping


def format_value(value: Any) -> str:
    """A hyperparameter value for labels: 3.0 -> "3", 0.0003 -> "0.0003"."""
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _settings_key(settings: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, json.dumps(v, sort_keys=True)) for k, v in settings.items()))


def group_runs(runs: Sequence[Run], by: str = "auto") -> list[Group]:
    """Groups runs for comparison.

    Args:
      runs: runs from `load_runs`.
      by: "dir" (one group per run directory), "algo" (per algorithm, merging directories),
        "settings" (per algorithm and sweep setting, merging directories) or "auto" ("settings"
        if any run has sweep settings, else "dir").

    Returns:
      Groups in first-seen order.
    """
    if by not in GROUP_BY:
        raise ReportError(f"--group-by must be one of {GROUP_BY}, got {by!r}")
    if by == "auto":
        by = "settings" if any(run.settings for run in runs) else "dir"
    algos = {run.algo for run in runs}
    keyed: dict[Any, list[Run]] = {}
    for run in runs:
        if by == "dir":
            key = run.workdir
        elif by == "algo":
            key = run.algo
        else:
            key = (run.algo, _settings_key(run.settings))
        keyed.setdefault(key, []).append(run)

    names = [str(key) for key in keyed] if by == "dir" else []
    short = [Path(name).name for name in names]
    groups = []
    for i, (key, members) in enumerate(keyed.items()):
        group_algos = {run.algo for run in members}
        algo = members[0].algo if len(group_algos) == 1 else None
        settings = None
        if by == "dir":
            label = short[i] if short.count(short[i]) == 1 else names[i]
        elif by == "algo":
            label = str(key)
        else:
            settings = dict(members[0].settings)
            text = ", ".join(f"{k}={format_value(v)}" for k, v in sorted(settings.items()))
            label = (f"{algo} " if len(algos) > 1 or not text else "") + text
        groups.append(Group(label=label.strip(), runs=members, algo=algo, settings=settings))
    return groups


def score_matrix(group: Group, values: Sequence[float] | None = None) -> np.ndarray:
    """The group's values (default: final scores) as [runs] or, over several tasks, [runs, tasks].

    Raises:
      ReportError: the tasks hold different numbers of runs (the stratified bootstrap needs
        equal counts).
    """
    if values is None:
        values = [run.metrics["final_score"] for run in group.runs]
    by_task: dict[str, list[float]] = {}
    for run, value in zip(group.runs, values, strict=True):
        by_task.setdefault(run.task, []).append(value)
    if len(by_task) == 1:
        return np.asarray(next(iter(by_task.values())), dtype=np.float64)
    counts = {task: len(v) for task, v in by_task.items()}
    if len(set(counts.values())) != 1:
        raise ReportError(
            f"group {group.label!r} has different numbers of runs per task {counts}; the "
            "stratified bootstrap needs the same number on every task. Run the same seeds on "
            "every task, or use --group-by dir to compare the directories one by one."
        )
    return np.stack([np.asarray(by_task[task], dtype=np.float64) for task in _tasks(group)], 1)


def _tasks(group: Group) -> tuple[str, ...]:
    """The group's tasks, sorted: the column order of its score matrices."""
    return tuple(sorted({run.task for run in group.runs}))


# --------------------------------------------------------------------------- the table


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def compare(
    groups: Sequence[Group],
    gamma: float = 100.0,
    num_resamples: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One table row per group: o2o metrics averaged over runs, final-score aggregates with CIs.

    Returns:
      Rows with keys ``group``, ``tasks``, ``runs``, ``offline`` (mean offline score),
      ``final`` (mean final score), ``iqm``/``iqm_low``/``iqm_high``, ``mean``/``mean_low``/
      ``mean_high``, ``median``/``median_low``/``median_high``, ``optimality_gap`` (final
      scores, 95 % CIs), ``dip``, ``relative_dip`` and ``auc`` (means over runs; NaN without
      an online phase).
    """
    rows = []
    for group in groups:
        final = score_matrix(group)
        summary = stats.summarize(final, seed=seed, gamma=gamma, num_resamples=num_resamples)

        def avg(name, group=group):
            return _mean([run.metrics[name] for run in group.runs])

        row = {
            "group": group.label,
            "tasks": len(_tasks(group)),
            "runs": len(group.runs),
            "offline": avg("offline_score"),
            "final": avg("final_score"),
        }
        for name in ("iqm", "mean", "median"):
            row[name] = summary[name]
            row[f"{name}_low"], row[f"{name}_high"] = summary[f"{name}_ci95"]
        row["optimality_gap"] = summary["optimality_gap"]
        row["dip"] = avg("dip")
        row["relative_dip"] = avg("relative_dip")
        row["auc"] = avg("online_auc")
        rows.append(row)
    return rows


def _num(value: float, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def format_markdown(rows: Sequence[Mapping[str, Any]], gamma: float = 100.0) -> str:
    """The rows as a Markdown table (scores to one decimal)."""
    header = [
        "group",
        "runs",
        "offline",
        "final IQM [95% CI]",
        "final mean [95% CI]",
        "median",
        f"opt. gap (γ={format_value(float(gamma))})",
        "dip",
        "online AUC",
    ]
    body = []
    for r in rows:
        runs = f"{r['runs']}" + (f" ({r['tasks']} tasks)" if r["tasks"] > 1 else "")
        cells = [
            str(r["group"]).replace("|", "\\|"),
            runs,
            _num(r["offline"]),
            f"{_num(r['iqm'])} [{_num(r['iqm_low'])}, {_num(r['iqm_high'])}]",
            f"{_num(r['mean'])} [{_num(r['mean_low'])}, {_num(r['mean_high'])}]",
            _num(r["median"]),
            _num(r["optimality_gap"]),
            _num(r["dip"]),
            _num(r["auc"]),
        ]
        body.append(cells)
    return markdown_table(header, body)


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | Sequence[str] = ""
) -> str:
    """A Markdown table: `header`, then one line per row of cells (each `str()`-ed as is).

    Args:
      header: the column names.
      rows: the cells of each row, already formatted.
      align: per column, "" (the default), "l" or "r" (right-aligned, `---:`); a string of
        one letter per column, or "" for all default.

    Example:

        >>> print(markdown_table(["a", "b"], [[1, "x"]], align=" r"), end="")
        | a | b |
        |---|---:|
        | 1 | x |
    """
    marks = {"": "---", " ": "---", "l": ":---", "r": "---:"}
    align = list(align) or [""] * len(header)
    if len(align) != len(header):
        raise ValueError(f"align has {len(align)} entries for {len(header)} columns")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """The rows at full precision, one column per key."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# --------------------------------------------------------------------------- summaries


def _signed(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:+.1f}"


def _mean_std(x: np.ndarray) -> str:
    return "—" if not np.isfinite(x.mean()) else f"{x.mean():.1f} ± {x.std(ddof=1):.1f}"


def final_scores(summary: Mapping[str, Any]) -> np.ndarray:
    """The final normalized score of every run of a `summary.json`."""
    return np.array([r["final_score"] for r in summary["runs"]])


def final_cell(summary: Mapping[str, Any], num_resamples: int = 2000, seed: int = 0) -> str:
    """'IQM [lo, hi] (mean ± std)' of a `summary.json`'s final scores (95 % bootstrap CI)."""
    x = final_scores(summary)
    lo, hi = stats.bootstrap_ci(x, stats.iqm, num_resamples=num_resamples, seed=seed)
    return f"{stats.iqm(x):.1f} [{lo:.1f}, {hi:.1f}] ({x.mean():.1f} ± {x.std(ddof=1):.1f})"


def summary_rows(summaries: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per job from its `summary.json` (name -> summary), for `summary_table`.

    Returns:
      Rows with keys ``algo`` (the name), ``seeds``, ``offline`` and ``final`` ('mean ± std'
      text; "—" without offline steps), ``offline_mean``, ``final_iqm``, ``iqm_ci`` (95 %
      bootstrap), ``dip``, ``auc`` and ``gain`` (final minus the score at the switch; from the
      untrained policy's score for a job trained from scratch), means over runs, ``budget``
      and ``seconds``.
    """
    rows = []
    for name, s in summaries.items():
        runs = s["runs"]
        off = np.array([r["offline_score"] for r in runs]) if s["offline_steps"] else None
        fin = final_scores(s)
        dips = np.array([r["dip"] for r in runs], dtype=float)
        auc = np.array([r["online_auc"] for r in runs], dtype=float)
        gain = np.array([r["final_score"] - r["offline_score"] for r in runs], dtype=float)
        lo, hi = stats.bootstrap_ci(fin, stats.iqm, num_resamples=2000, seed=0)
        rows.append(
            {
                "algo": name,
                "seeds": len(runs),
                "offline": _mean_std(off) if off is not None else "—",
                "offline_mean": float(off.mean()) if off is not None else float("nan"),
                "final": _mean_std(fin),
                "final_iqm": float(stats.iqm(fin)),
                "iqm_ci": (float(lo), float(hi)),
                "dip": float(np.nanmean(dips)) if off is not None else float("nan"),
                "auc": float(np.nanmean(auc)),
                "gain": float(np.nanmean(gain)),
                "budget": f"{s['offline_steps']} + {s['online_steps']}",
                "seconds": s["seconds"],
            }
        )
    return rows


def summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """`summary_rows` as a Markdown table."""
    header = [
        "algorithm",
        "seeds",
        "offline",
        "fine-tuned",
        "fine-tuned IQM [95% CI]",
        "dip",
        "online AUC",
        "online gain",
        "budget (offline grad steps + online env steps)",
        "wall s",
    ]
    cells = [
        [
            r["algo"],
            r["seeds"],
            r["offline"],
            r["final"],
            f"{r['final_iqm']:.1f} [{r['iqm_ci'][0]:.1f}, {r['iqm_ci'][1]:.1f}]",
            _signed(r["dip"]),
            f"{r['auc']:.1f}",
            _signed(r["gain"]),
            r["budget"],
            f"{r['seconds']:.0f}",
        ]
        for r in rows
    ]
    return markdown_table(header, cells)


def references_note(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """The normalization references the jobs used (from their `summary.json`), or a warning
    naming the jobs when they differ: jobs run on different generations of a dataset (a cache
    rebuilt at another commit) do not compare."""
    refs: dict[tuple[float, float], list[str]] = {}
    for name, s in summaries.items():
        r = s.get("reference_returns") or {}
        if "random" in r and "expert" in r:
            refs.setdefault((round(r["random"], 1), round(r["expert"], 1)), []).append(name)
    if not refs:
        return ""
    if len(refs) == 1:
        ((rand, expert),) = refs
        return f"Normalization references of every job: random {rand:,.1f}, expert {expert:,.1f}."
    groups = "; ".join(
        f"random {a:,.1f}, expert {b:,.1f}: {', '.join(sorted(names))}"
        for (a, b), names in sorted(refs.items())
    )
    return (
        f"**Warning: the jobs used different normalization references, i.e. different "
        f"generations of the dataset, and do not compare** ({groups}). Rerun the odd ones "
        "with --fresh on one cache."
    )


def produced_by(command: str) -> str:
    """ "`command` on <date> (<machine>, <processor>; jax <version>)": the provenance line of a
    written report."""
    import datetime
    import platform

    import jax

    return (
        f"`{command}` on {datetime.date.today().isoformat()} "
        f"({platform.machine()}, {platform.processor() or 'CPU'}; jax {jax.__version__})"
    )


# --------------------------------------------------------------------------- figures


def curve_matrix(group: Group) -> tuple[np.ndarray, np.ndarray]:
    """The group's evaluation curves on one step grid: ([steps], [runs, (tasks,) steps]).

    Runs evaluated at different steps are interpolated onto the union of their steps (see
    `jaxrl.plots.on_common_grid`).
    """
    curves = {i: (run.steps, run.scores) for i, run in enumerate(group.runs)}
    grid, stacked = plots.on_common_grid(curves)
    tasks = _tasks(group)
    if len(tasks) == 1:
        return grid, stacked
    per_task = [stacked[[run.task == t for run in group.runs]] for t in tasks]
    score_matrix(group)  # raises on unequal run counts
    return grid, np.stack(per_task, axis=1)


def learning_curves_figure(
    groups: Sequence[Group],
    path: Path,
    statistic: str = "iqm",
    num_resamples: int = 2000,
    seed: int = 0,
) -> Path:
    """Each group's `statistic` of the evaluation curves with a 95 % bootstrap band."""
    bands = {}
    for group in groups:
        grid, curves = curve_matrix(group)
        bands[group.label] = (
            grid,
            *stats.pointwise_ci(curves, statistic, num_resamples, 0.95, seed),
        )
    switches = [run.switch_step for g in groups for run in g.runs if run.switch_step]
    name = statistic.upper() if statistic == "iqm" else statistic
    return plots.save_figure(
        lambda fig: plots.plot_curve_bands(
            fig.add_subplot(),
            bands,
            switch_steps=switches,
            title="learning curves",
            ylabel=f"normalized score ({name}, 95% CI)",
            xlabel="offline gradient steps, then online steps",
        ),
        path,
    )


def performance_profile_figure(
    groups: Sequence[Group], path: Path, num_resamples: int = 2000, seed: int = 0
) -> Path:
    """The score distribution of each group's final scores, with 95 % bootstrap bands."""
    matrices = {group.label: score_matrix(group) for group in groups}
    everything = np.concatenate([m.ravel() for m in matrices.values()])
    low, high = float(everything.min()), float(everything.max())
    margin = 0.05 * (high - low) or 1.0
    taus = np.linspace(low - margin, high + margin, 101)
    profiles = {
        label: stats.performance_profile_ci(m, taus, num_resamples, 0.95, seed)
        for label, m in matrices.items()
    }
    return plots.save_figure(
        lambda fig: plots.plot_performance_profiles(
            fig.add_subplot(), taus, profiles, title="performance profile (final scores)"
        ),
        path,
    )


def improvement_matrix(
    groups: Sequence[Group], num_resamples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise P(row > column) of final scores, with 95 % CIs; NaN on the diagonal and for
    groups run on different tasks."""
    n = len(groups)
    point, low, high = (np.full((n, n), np.nan) for _ in range(3))
    matrices = [score_matrix(group) for group in groups]
    for i, j in itertools.permutations(range(n), 2):
        if _tasks(groups[i]) != _tasks(groups[j]):
            continue
        point[i, j] = stats.probability_of_improvement(matrices[i], matrices[j])
        low[i, j], high[i, j] = stats.probability_of_improvement_ci(
            matrices[i], matrices[j], num_resamples, 0.95, seed
        )
    return point, low, high


def improvement_figure(
    groups: Sequence[Group], path: Path, num_resamples: int = 2000, seed: int = 0
) -> Path:
    """A heat map of `improvement_matrix`."""
    point, low, high = improvement_matrix(groups, num_resamples, seed)
    labels = [group.label for group in groups]
    size = max(4.8, 0.9 * len(groups) + 2.5)
    return plots.save_figure(
        lambda fig: plots.plot_probability_of_improvement(
            fig.add_subplot(),
            labels,
            point,
            low,
            high,
            title="probability of improvement (final scores)",
        ),
        path,
        figsize=(size + 1.2, size),
    )


def sensitivity_lines(
    groups: Sequence[Group], rows: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, plots.Band]]:
    """For each swept key: line label (algorithm and the other settings) -> (values, IQM, CI)."""
    swept = {}
    for group in groups:
        for key, value in (group.settings or {}).items():
            swept.setdefault(key, set()).add(json.dumps(value, sort_keys=True))
    keys = sorted(key for key, values in swept.items() if len(values) > 1)
    algos = {group.algo for group in groups}
    out = {}
    for key in keys:
        lines: dict[str, list[tuple[Any, float, float, float]]] = {}
        for group, row in zip(groups, rows, strict=True):
            settings = group.settings or {}
            if key not in settings:
                continue
            others = ", ".join(
                f"{k}={format_value(v)}" for k, v in sorted(settings.items()) if k != key
            )
            label = " ".join(p for p in ((group.algo or "") if len(algos) > 1 else "", others) if p)
            lines.setdefault(label, []).append(
                (settings[key], row["iqm"], row["iqm_low"], row["iqm_high"])
            )
        out[key] = {}
        for label, points in lines.items():
            numeric = all(isinstance(p[0], int | float) for p in points)
            points.sort(key=lambda p: p[0] if numeric else str(p[0]))
            values, point, low, high = zip(*points, strict=True)
            out[key][label] = (list(values), np.array(point), np.array(low), np.array(high))
    return out


def sensitivity_figure(groups: Sequence[Group], rows: Sequence[Mapping[str, Any]], path: Path):
    """Final IQM (95 % CI) against each swept hyperparameter; None when nothing was swept."""
    per_key = sensitivity_lines(groups, rows)
    if not per_key:
        return None

    def draw(fig):
        axes = fig.subplots(1, len(per_key), squeeze=False)[0]
        for ax, (key, lines) in zip(axes, per_key.items(), strict=True):
            values = [v for band in lines.values() for v in band[0]]
            numeric = all(isinstance(v, int | float) and v > 0 for v in values)
            log_x = numeric and max(values) / min(values) >= 20
            plots.plot_sensitivity(ax, key, lines, title=f"sensitivity to {key}", log_x=log_x)

    return plots.save_figure(draw, path, figsize=(5.0 * len(per_key) + 1.0, 4.0))


# --------------------------------------------------------------------------- entry points


def report(
    dirs: Sequence[str | Path],
    out: str | Path | None = None,
    group_by: str = "auto",
    score_key: str = "eval_score",
    gamma: float = 100.0,
    num_resamples: int = 2000,
    seed: int = 0,
    statistic: str = "iqm",
    dip_window_frac: float = 0.1,
    dip_window_evals: int | None = None,
) -> dict[str, Any]:
    """Loads, groups and compares runs; writes the table and figures into `out`.

    Args:
      dirs: run directories, or folders of run directories.
      out: the output folder; default `DIR/report` for one DIR (a run directory or a folder
        of them), else `./report`.
      group_by: see `group_runs`.
      score_key: the evaluation metric (normalized score by default).
      gamma: target of the optimality gap.
      num_resamples: bootstrap resamples of every interval.
      seed: seed of every bootstrap.
      statistic: the statistic of the learning-curve figure ("iqm", "mean" or "median").
      dip_window_frac: see `jaxrl.stats.o2o_metrics`.
      dip_window_evals: see `jaxrl.stats.o2o_metrics`.

    Returns:
      ``rows`` (see `compare`), ``markdown`` (the table), ``groups`` and ``files`` (name ->
      path of everything written).

    Raises:
      ReportError: a directory is missing files or the runs cannot be compared.
    """
    workdirs = find_workdirs(dirs)
    if out is None:
        out = Path(dirs[0]) / "report" if len(dirs) == 1 else Path("report")
    out = Path(out)
    runs = [
        run
        for workdir in workdirs
        for run in load_runs(workdir, score_key, dip_window_frac, dip_window_evals)
    ]
    groups = group_runs(runs, group_by)
    rows = compare(groups, gamma, num_resamples, seed)
    markdown = format_markdown(rows, gamma)
    out.mkdir(parents=True, exist_ok=True)
    files = {"table.md": out / "table.md"}
    files["table.md"].write_text(markdown)
    files["table.csv"] = write_csv(rows, out / "table.csv")
    files["learning_curves.png"] = learning_curves_figure(
        groups, out / "learning_curves.png", statistic, num_resamples, seed
    )
    files["performance_profile.png"] = performance_profile_figure(
        groups, out / "performance_profile.png", num_resamples, seed
    )
    if 2 <= len(groups) <= MAX_POI_GROUPS:
        files["probability_of_improvement.png"] = improvement_figure(
            groups, out / "probability_of_improvement.png", num_resamples, seed
        )
    sensitivity = sensitivity_figure(groups, rows, out / "sensitivity.png")
    if sensitivity is not None:
        files["sensitivity.png"] = sensitivity
    return {"rows": rows, "markdown": markdown, "groups": groups, "files": files}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jaxrl.report",
        description="Compare jaxrl run directories: a table with 95%% CIs and figures.",
    )
    parser.add_argument("dirs", nargs="+", help="run directories, or folders of them")
    parser.add_argument("--out", help="output folder (default: DIR/report, or ./report)")
    parser.add_argument(
        "--group-by",
        default="auto",
        choices=GROUP_BY,
        help="dir: one group per directory; algo: per algorithm; settings: per sweep setting; "
        "auto: settings for sweeps, else dir",
    )
    parser.add_argument("--score-key", default="eval_score", help="evaluation metric")
    parser.add_argument("--gamma", type=float, default=100.0, help="optimality-gap target")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--statistic", default="iqm", choices=stats.CURVE_STATISTICS, help="of learning curves"
    )
    parser.add_argument(
        "--dip-window", type=float, default=0.1, help="fraction of online steps for the dip"
    )
    parser.add_argument(
        "--dip-evals", type=int, default=None, help="first K online evaluations for the dip"
    )
    args = parser.parse_args(argv)
    try:
        result = report(
            args.dirs,
            args.out,
            args.group_by,
            args.score_key,
            args.gamma,
            args.resamples,
            args.seed,
            args.statistic,
            args.dip_window,
            args.dip_evals,
        )
    except ReportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result["markdown"])
    for path in result["files"].values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
