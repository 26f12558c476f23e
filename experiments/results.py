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
import importlib
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jaxrl import claims, jobs, report  # noqa: E402
from jaxrl.jobs import Budget  # noqa: E402

PRESETS = {
    "cpu": Budget((0, 1, 2, 3), 5_000, 5_000, 128, 1_000, 5, 1_000),
    "tiny": Budget((0, 1), 200, 200, 16, 100, 2, 50),
    "gpu": Budget(tuple(range(8)), 250_000, 250_000, 256, 10_000, 10, 5_000),
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


def dataset_settings(name: str, dataset: str) -> dict[str, Any]:
    """Agent fields that `job_config` sets for `name` on `dataset` (see `DATASET_SETTINGS`)."""
    return dict(DATASET_SETTINGS.get(dataset, {}).get(name, {}))


def job_config(name: str, dataset: str, preset: Budget, task: str):
    """The `TrainConfig` of one job: the algorithm's config file under the preset's budget
    (WSRL's and RLPD's warm-ups capped by it), with the reference's settings for this dataset
    (`DATASET_SETTINGS`)."""
    values = importlib.import_module(f"experiments.configs.{name}").get_config().to_dict()
    return jobs.budget_config(values, preset, dataset, task, dataset_settings(name, dataset))


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
        todo = [
            jobs.Job(
                f"[{dataset}] {name}",
                job_config(name, dataset, preset, args.task or Path(dataset).name.split("-")[0]),
                root / dataset / name,
            )
            for dataset in datasets
            for name in names
        ]
        jobs.run_jobs(todo, args.fresh)
    # The report covers every finished job under the preset, not only this call's selection:
    # a call that trains one algorithm must not drop the other rows from `--out`.
    sections = []
    for dataset in jobs.finished_groups(root, datasets):
        summaries, missing = jobs.finished_summaries(root / dataset, available_configs())
        rows = report.summary_rows(summaries)
        table = report.summary_table(rows) if rows else "(no finished job)\n"
        lines = [
            report.references_note(summaries),
            settings_note(dataset, summaries),
            *claims.verdicts(rows),
        ]
        notes = "\n".join(f"- {c}" for c in lines if c)
        if missing:
            notes += f"\n- Not finished yet under this preset: {', '.join(missing)}."
        print(f"\n{dataset} (normalized scores; {command})\n{table}\n{notes}\n", flush=True)
        sections.append(f"## {dataset}\n\n{table}\n{notes}\n")

    header = (
        "# Results: every algorithm on the same generated datasets\n\n"
        f"Written by {report.produced_by(command)} from every finished job under "
        f"`{_shown(root)}`; `python experiments/results.py --preset {args.preset}` trains the "
        "missing ones and skips the finished.\n\n"
        f"Preset `{args.preset}`: {dataclasses.asdict(preset)}. Scores are normalized "
        "(0 = random policy, 100 = the dataset suite's expert). Offline and fine-tuned "
        "columns are mean ± std over seeds; the IQM CI is a 95% percentile bootstrap over "
        "seeds; dip = lowest score in the first 10% of fine-tuning minus the offline score "
        f"(the claims count a mean dip of {claims.DIP_VISIBLE:g} points or more); "
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
