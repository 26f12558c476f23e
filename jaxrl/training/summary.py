"""A job's summary from its metric records: final scores, IQM and CIs over seeds, dip, AUC.

`summarize` is what `summary.json` holds and `History.summary()` returns; `format_summary`
prints it in a few lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxrl import stats
from jaxrl import sweep as sweep_lib
from jaxrl.config import TrainConfig


def curves(records, num_runs: int) -> dict[int, list[tuple[int, float]]]:
    """Per run index, the (step, normalized score) of every evaluation in `records`."""
    out: dict[int, list[tuple[int, float]]] = {i: [] for i in range(num_runs)}
    for r in records:
        if "eval_score" in r:
            out[r["run"]].append((r["step"], r["eval_score"]))
    return out


def summarize(
    config: TrainConfig,
    runs: Sequence[sweep_lib.RunSpec],
    records: Sequence[dict[str, Any]],
    references: tuple[float, float],
    seconds: float,
) -> dict[str, Any]:
    """The summary of a job whose `records` are all its metric records (without padding)."""
    n = config.num_runs
    by_run = curves(records, n)
    at_switch = {i: [v for s, v in c if s <= config.offline_steps][-1] for i, c in by_run.items()}
    offline = np.array([at_switch[i] for i in range(n)])
    final = np.array([by_run[i][-1][1] for i in range(n)])
    per_run = []
    for i, spec in enumerate(runs):
        steps, scores = zip(*by_run[i], strict=True)
        o2o = stats.o2o_metrics(np.array(steps), np.array(scores), config.offline_steps)
        per_run.append(
            {
                "run": i,
                "seed": spec.seed,
                "settings": spec.settings,
                "offline_score": float(offline[i]),
                "final_score": float(final[i]),
                "dip": o2o["dip"],
                "relative_dip": o2o["relative_dip"],
                "online_auc": o2o["online_auc"],
            }
        )
    online = config.online_steps > 0
    by_setting = []  # one entry per sweep setting (a single one without a sweep)
    for settings in sweep_lib.settings_of(runs):
        idx = [r.run for r in runs if r.settings == settings]
        by_setting.append(
            {
                "settings": settings,
                "runs": idx,
                "offline": stats.summarize(offline[idx]) if config.offline_steps else None,
                "final": stats.summarize(final[idx]),
            }
        )
    return {
        "algo": config.algo,
        "task": config.task,
        "dataset": config.dataset,
        "reference_returns": {"random": references[0], "expert": references[1]},
        "offline_steps": config.offline_steps,
        "online_steps": config.online_steps,
        "seconds": round(seconds, 1),
        "runs": per_run,
        "offline": stats.summarize(offline) if config.offline_steps else None,
        "final": stats.summarize(final),
        # Aggregates (IQM, CIs, ...) of the per-run dip and online AUC (stats.o2o_metrics).
        "dip": stats.summarize([r["dip"] for r in per_run]) if online else None,
        "online_auc": stats.summarize([r["online_auc"] for r in per_run]) if online else None,
        "improved_runs": int(np.sum(final > offline)),
        "settings": by_setting,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal: per-seed offline and final scores, then mean ± std."""
    lines = [
        f"{summary['algo']} on {summary['dataset'] or summary['task']}: normalized score "
        f"(random={summary['reference_returns']['random']:.0f}, "
        f"expert={summary['reference_returns']['expert']:.0f})"
    ]
    for r in summary["runs"]:
        label = sweep_lib.settings_label(r.get("settings", {}))
        lines.append(
            f"  seed {r['seed']}: offline {r['offline_score']:7.1f} → final {r['final_score']:7.1f}"
            + (f"  ({label})" if label else "")
        )
    f = summary["final"]
    if summary["offline"]:
        o = summary["offline"]
        lines.append(
            f"  mean  : offline {o['mean']:7.1f} ± {o['std']:.1f} → final "
            f"{f['mean']:7.1f} ± {f['std']:.1f}  (IQM {f['iqm']:.1f}, 95% CI "
            f"[{f['iqm_ci95'][0]:.1f}, {f['iqm_ci95'][1]:.1f}])"
        )
    else:
        lines.append(f"  mean  : final {f['mean']:7.1f} ± {f['std']:.1f}")
    lines.append(
        f"  improved: {summary['improved_runs']}/{len(summary['runs'])} seeds; "
        f"{summary['seconds']:.0f} s"
    )
    return "\n".join(lines)
