r"""Every algorithm on the same generated datasets, offline then online: docs/RESULTS.md.

    python experiments/results.py --preset cpu                      # all configs, both datasets
    python experiments/results.py --preset cpu --algos iql,calql --datasets halfcheetah-medium-v0
    python experiments/results.py --preset cpu --report-only        # rewrite the report only

Each (dataset, algorithm) pair is one `jaxrl.run.run` job, vmapped over the preset's seeds,
started from the algorithm's own config file (`experiments/configs/<algo>.py`: its retention,
UTD, warm-up and switch behaviour) with the preset's budget and network width applied to all
of them alike. A job whose `summary.json` exists is not rerun, so the command resumes after an
interruption; `--fresh` reruns the selected jobs. `--algos` and `--datasets` choose what to
train; the report always covers every finished job under `<workdir>/<preset>`, so a call that
trains one algorithm keeps the others' rows. The table (printed and written to `--out`) gives,
per algorithm: the normalized score after offline training and after fine-tuning (mean ± std
over seeds), the IQM of the final score with its 95% stratified-bootstrap CI, the dip after the
switch (lowest score in the first 10% of fine-tuning minus the offline score), the online area
under the curve (time-averaged online score), and the budget. `--report-only` writes the table
from the jobs that have finished, runs nothing, and lists the ones still missing; `--notes`
inserts a hand-written analysis (a markdown file) after the header, by default the preset's
(`PRESET_NOTES`: experiments/results_notes.md for `cpu`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Preset:
    """The budget every algorithm gets.

    Attributes:
      seeds: runs per (dataset, algorithm), vmapped.
      offline_steps: offline gradient steps (RLPD, which trains from scratch, takes none).
      online_steps: online environment steps.
      width: hidden units of every hidden layer of every network (depths stay per algorithm).
      eval_every: steps between evaluations.
      eval_episodes: episodes per evaluation and run.
      warmup_cap: warm-up steps are capped at this (WSRL's 5,000 and RLPD's are too long here).
    """

    seeds: tuple[int, ...]
    offline_steps: int
    online_steps: int
    width: int
    eval_every: int
    eval_episodes: int
    warmup_cap: int


PRESETS = {
    "cpu": Preset((0, 1, 2, 3), 5_000, 5_000, 128, 1_000, 5, 1_000),
    "tiny": Preset((0, 1), 200, 200, 16, 100, 2, 50),
    "gpu": Preset(tuple(range(8)), 250_000, 250_000, 256, 10_000, 10, 5_000),
}
DEFAULT_DATASETS = ("halfcheetah-medium-v0", "hopper-medium-v0")
# Config files that are not algorithms of the comparison (the default job is IQL, "sac" is
# online-only SAC without data; sweeps and the gpu preset are variants of others).
EXCLUDED = {"default", "gpu", "sac"}


#: The hand-written analysis of a preset's committed results (`--notes` default).
PRESET_NOTES = {"cpu": ROOT / "experiments" / "results_notes.md"}


def available_configs() -> list[str]:
    names = sorted(p.stem for p in (ROOT / "experiments/configs").glob("[a-z]*.py"))
    return [n for n in names if n not in EXCLUDED and not n.startswith("sweep")]


#: The references' own settings for a dataset, where they differ from the config file's
#: (which follow each reference's halfcheetah-medium entry). Tables in ALGORITHMS.md.
DATASET_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "hopper-medium-v0": {
        # CORL configs/offline/rebrac/hopper/medium_v2.yaml (β_actor, β_critic).
        "rebrac": {"actor_bc_coef": 0.01, "critic_bc_coef": 0.01},
        # ltlhuuu/A2PR README, hopper-medium.
        "a2pr": {"alpha": 2.5, "mask": 0.4, "discount": 0.995},
        # LAMDA-RL/PRDC, hopper and walker2d (β 2 as on halfcheetah).
        "prdc": {"alpha": 2.5},
        # thuml/SPOT configs/offline/hopper-medium.yml (halfcheetah-medium: 0.05).
        "spot": {"lambd": 0.1},
    },
}


def _shown(path: Path) -> str:
    """`path` relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def report_datasets(root: Path, requested: list[str]) -> list[str]:
    """The datasets of the report: the requested ones, then any other with a finished job
    under `root` (`<workdir>/<preset>`), in that order."""
    finished = sorted({p.parent.parent.name for p in root.glob("*/*/summary.json")})
    return list(dict.fromkeys([*requested, *finished]))


def dataset_settings(name: str, dataset: str) -> dict[str, Any]:
    """Agent fields that `job_config` sets for `name` on `dataset` (see `DATASET_SETTINGS`)."""
    return dict(DATASET_SETTINGS.get(dataset, {}).get(name, {}))


def job_config(name: str, dataset: str, preset: Preset, task: str):
    """The `TrainConfig` of one job: the algorithm's config file under the preset's budget,
    with the reference's settings for this dataset (`DATASET_SETTINGS`)."""
    from jaxrl.config import from_mapping

    values = importlib.import_module(f"experiments.configs.{name}").get_config().to_dict()
    for field, value in dataset_settings(name, dataset).items():
        if field not in values["agent"]:
            raise KeyError(f"DATASET_SETTINGS: {name} has no agent field {field!r}")
        values["agent"][field] = value
    for field in list(values["agent"]):
        if field.endswith("hidden_dims"):
            depth = len(values["agent"][field])
            values["agent"][field] = (preset.width,) * depth
    from_scratch = values["offline_steps"] == 0  # RLPD
    values.update(
        task=task,
        dataset=dataset,
        seeds=preset.seeds,
        offline_steps=0 if from_scratch else preset.offline_steps,
        online_steps=preset.online_steps,
        eval_every=preset.eval_every,
        eval_episodes=preset.eval_episodes,
        chunk_length=min(values["chunk_length"], preset.eval_every),
        warmup_steps=min(values["warmup_steps"], preset.warmup_cap),
        keep_checkpoints=1,
    )
    return from_mapping(values)


def _signed(x: float) -> str:
    return "—" if not np.isfinite(x) else f"{x:+.1f}"


def _fmt(mean: float, std: float) -> str:
    return "—" if not np.isfinite(mean) else f"{mean:.1f} ± {std:.1f}"


def table_rows(summaries: dict[str, dict]) -> list[dict]:
    """One row per algorithm from its `summary.json`."""
    from jaxrl import stats

    rows = []
    for name, s in summaries.items():
        runs = s["runs"]
        off = np.array([r["offline_score"] for r in runs]) if s["offline_steps"] else None
        fin = np.array([r["final_score"] for r in runs])
        dips = np.array([r["dip"] for r in runs], dtype=float)
        auc = np.array([r["online_auc"] for r in runs], dtype=float)
        # From the score at the switch (RLPD: its untrained policy's) to the final score.
        gain = np.array([r["final_score"] - r["offline_score"] for r in runs], dtype=float)
        lo, hi = stats.bootstrap_ci(fin, stats.iqm, num_resamples=2000, seed=0)
        rows.append(
            {
                "algo": name,
                "seeds": len(runs),
                "offline": _fmt(off.mean(), off.std(ddof=1)) if off is not None else "—",
                "offline_mean": float(off.mean()) if off is not None else float("nan"),
                "final": _fmt(fin.mean(), fin.std(ddof=1)),
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


def references_note(summaries: dict[str, dict]) -> str:
    """The normalization references the jobs of one dataset used (from its manifest), or a
    warning naming the jobs when they differ: jobs run on different generations of a dataset
    (a cache rebuilt at another commit) do not compare."""
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


def settings_note(dataset: str, summaries: dict[str, dict]) -> str:
    """Which rows ran with the reference's settings for `dataset` instead of their config
    file's (`DATASET_SETTINGS`)."""
    parts = []
    for name in sorted(summaries):
        fields = dataset_settings(name, dataset)
        if fields:
            parts.append(f"{name} " + ", ".join(f"{k}={v}" for k, v in fields.items()))
    if not parts:
        return ""
    return "The references' settings for this dataset: " + "; ".join(parts) + "."


def markdown_table(rows: list[dict]) -> str:
    head = (
        "| algorithm | seeds | offline | fine-tuned | fine-tuned IQM [95% CI] | dip | online AUC "
        "| online gain | budget (offline grad steps + online env steps) | wall s |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r['algo']} | {r['seeds']} | {r['offline']} | {r['final']} | {r['final_iqm']:.1f} "
        f"[{r['iqm_ci'][0]:.1f}, {r['iqm_ci'][1]:.1f}] | "
        f"{_signed(r['dip'])} | {r['auc']:.1f} | {_signed(r['gain'])} | {r['budget']} "
        f"| {r['seconds']:.0f} |\n"
        for r in rows
    )
    return head + body


#: A mean dip (normalized points) smaller than this is not counted as CQL dipping: the
#: Cal-QL paper's CQL dips by tens of points, and 4 seeds × 5 episodes are noisier than 1.
DIP_VISIBLE = 5.0


def claims(rows: list[dict]) -> list[str]:
    """The papers' qualitative claims, checked against this table (not asserted)."""
    if not rows:
        return []
    by = {r["algo"]: r for r in rows}
    out = []
    offline = [r for r in rows if np.isfinite(r["offline_mean"])]
    if offline:
        best = max(offline, key=lambda r: r["offline_mean"])
        rebrac = by.get("rebrac")
        verdict = (
            "holds"
            if rebrac is not None and best["algo"] == "rebrac"
            else ("not tested (no rebrac run)" if rebrac is None else "does not hold here")
        )
        out.append(
            f"ReBRAC strongest offline: {verdict}; best offline mean is {best['algo']} "
            f"({best['offline_mean']:.1f})."
        )
    absent = sorted({"rlpd", "wsrl"} - set(by))

    def fastest(ranked: list[dict]) -> str:
        if absent:
            return f"not tested (no {' or '.join(absent)} run)"
        hits = sorted({"rlpd", "wsrl"} & {r["algo"] for r in ranked[:3]})
        return {0: "does not hold here", 2: "holds"}.get(len(hits)) or (
            f"holds for {hits[0].upper()} only"
        )

    ranked = sorted(rows, key=lambda r: -r["auc"])
    top = ", ".join(f"{r['algo']} ({r['auc']:.1f})" for r in ranked[:3])
    verdict = fastest(ranked)
    out.append(f"RLPD and WSRL fine-tune fastest (highest online AUC): {verdict}; top 3: {top}.")
    # The AUC counts the starting score, which a from-scratch method (RLPD) does not have; the
    # gain over the online steps is the other reading of "fastest".
    ranked = sorted(rows, key=lambda r: -r["gain"])
    top = ", ".join(f"{r['algo']} ({r['gain']:+.1f})" for r in ranked[:3])
    verdict = fastest(ranked)
    out.append(
        f"RLPD and WSRL fine-tune fastest (largest online gain, final minus the score at the "
        f"switch): {verdict}; top 3: {top}."
    )
    if "cql" in by and "calql" in by:
        c, k = by["cql"]["dip"], by["calql"]["dip"]
        if c > -DIP_VISIBLE:
            verdict = f"not visible here (CQL does not dip by {DIP_VISIBLE:g} points or more)"
        else:
            verdict = "holds" if k > c else "does not hold here"
        out.append(
            f"Cal-QL avoids CQL's dip after the switch: {verdict} (dip CQL {c:+.1f}, "
            f"Cal-QL {k:+.1f})."
        )
    return out


LOCK_NAME = ".running"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def claim_job(workdir: Path) -> bool:
    """Takes `workdir`'s lock for this process: False if a live process on this machine holds
    it (so several `results.py` processes can share one job list without training the same job
    twice in one directory); a lock left by a dead process is taken over."""
    workdir.mkdir(parents=True, exist_ok=True)
    lock = workdir / LOCK_NAME
    host = platform.node()
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = json.loads(lock.read_text())
            except (OSError, ValueError):
                owner = {}
            if owner.get("host") == host and _alive(int(owner.get("pid", -1))):
                return owner.get("pid") == os.getpid()
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": host}, f)
        return True
    return False


def release_job(workdir: Path) -> None:
    (workdir / LOCK_NAME).unlink(missing_ok=True)


def finished_summary(workdir: Path) -> dict | None:
    """The job's `summary.json`, or None while it has not finished."""
    done = workdir / "summary.json"
    return json.loads(done.read_text()) if done.exists() else None


def run_job(config, workdir: Path, fresh: bool, label: str = "") -> dict | None:
    """The summary of the job in `workdir`: read if it finished before (unless `fresh`, which
    empties the directory first), else trained now (resuming from a checkpoint if any). None
    if another live process is training it (see `claim_job`)."""
    from jaxrl.run import run

    done = finished_summary(workdir)
    if done is not None and not fresh:
        return done
    label = label or str(workdir)
    if not claim_job(workdir):
        print(f"{label}: being trained by another process ({workdir / LOCK_NAME}); skipped")
        return None
    try:
        if fresh:
            for child in workdir.iterdir():
                if child.name == LOCK_NAME:
                    continue
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        print(f"{label} …", flush=True)
        t0 = time.time()
        summary = run(config, workdir, progress=False)
        print(f"{label}: {time.time() - t0:.0f} s", flush=True)
    finally:
        release_job(workdir)
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    parser.add_argument(
        "--algos",
        default="",
        help="comma-separated config names to train (default: all); the report always covers "
        "every finished job",
    )
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument("--task", default="", help="task of the datasets (default: name prefix)")
    parser.add_argument("--workdir", default=str(ROOT / "runs" / "results"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "RESULTS.md"))
    parser.add_argument("--fresh", action="store_true", help="rerun jobs that already finished")
    parser.add_argument(
        "--report-only", action="store_true", help="tabulate finished jobs only; run nothing"
    )
    parser.add_argument(
        "--notes",
        default=None,
        help="markdown file inserted after the header (default: the preset's analysis in "
        "PRESET_NOTES, if any; '' for none)",
    )
    args = parser.parse_args(argv)

    from jaxrl.run import enable_compilation_cache

    preset = PRESETS[args.preset]
    names = [a for a in args.algos.split(",") if a] or available_configs()
    unknown = sorted(set(names) - set(available_configs()))
    if unknown:
        sys.exit(f"unknown algorithm config(s) {unknown}; available: {available_configs()}")
    enable_compilation_cache()
    command = "python experiments/results.py " + " ".join(sys.argv[1:] if argv is None else argv)
    datasets = [d for d in args.datasets.split(",") if d]
    root = Path(args.workdir) / args.preset
    if not args.report_only:
        for dataset in datasets:
            task = args.task or Path(dataset).name.split("-")[0]
            for name in names:
                config = job_config(name, dataset, preset, task)
                run_job(config, root / dataset / name, args.fresh, label=f"[{dataset}] {name}")
    # The report covers every finished job under the preset, not only this call's selection:
    # a call that trains one algorithm must not drop the other rows from `--out`.
    sections = []
    for dataset in report_datasets(root, datasets):
        summaries, missing = {}, []
        for name in available_configs():
            done = finished_summary(root / dataset / name)
            if done is not None:
                summaries[name] = done
            else:
                missing.append(name)
        rows = table_rows(summaries)
        table = markdown_table(rows) if rows else "(no finished job)\n"
        lines = [references_note(summaries), settings_note(dataset, summaries), *claims(rows)]
        notes = "\n".join(f"- {c}" for c in lines if c)
        if missing:
            notes += f"\n- Not finished yet under this preset: {', '.join(missing)}."
        print(f"\n{dataset} (normalized scores; {command})\n{table}\n{notes}\n", flush=True)
        sections.append(f"## {dataset}\n\n{table}\n{notes}\n")

    header = (
        "# Results: every algorithm on the same generated datasets\n\n"
        f"Written by `{command}` on {datetime.date.today().isoformat()} "
        f"({platform.machine()}, {platform.processor() or 'CPU'}; jax "
        f"{importlib.import_module('jax').__version__}) from every finished job under "
        f"`{_shown(root)}`; `python experiments/results.py --preset {args.preset}` trains the "
        "missing ones and skips the finished.\n\n"
        f"Preset `{args.preset}`: {dataclasses.asdict(preset)}. Scores are normalized "
        "(0 = random policy, 100 = the dataset suite's expert). Offline and fine-tuned "
        "columns are mean ± std over seeds; the IQM CI is a 95% percentile bootstrap over "
        "seeds; dip = lowest score in the first 10% of fine-tuning minus the offline score "
        f"(the claims count a mean dip of {DIP_VISIBLE:g} points or more); "
        "online AUC = time-averaged score over fine-tuning; online gain = final score minus "
        "the score at the switch (RLPD, trained from scratch: its untrained policy's score). "
        "Each algorithm keeps its own "
        "config file's online recipe (retention, UTD, warm-up); its other settings follow the "
        "reference's halfcheetah-medium entry, except where the reference publishes others for "
        "a dataset (listed under that dataset's table).\n\n"
    )
    notes_file = PRESET_NOTES.get(args.preset) if args.notes is None else args.notes
    if notes_file:
        header += Path(notes_file).read_text().rstrip() + "\n\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(header + "\n".join(sections))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
