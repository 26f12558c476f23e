"""IQL trained offline on datasets of the generated suite, against the data's own average.

    python experiments/dataset_results.py                     # halfcheetah medium-replay, -expert
    python experiments/dataset_results.py --datasets=hopper-medium-v0 --steps=20000

For each dataset: its normalized score (the mean over its episodes, as `python -m
jaxrl.data.info` prints it), then IQL (the default job's settings: 2x128 networks, expectile
0.7, beta 3, 4 seeds vmapped) trained offline only for `--steps` gradient steps and evaluated
with the deterministic policy (`eval_episodes` episodes per seed). Prints a markdown table and
writes the run directories under `--workdir`. Datasets missing from the cache are generated
with `--preset` first.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from absl import app, flags, logging

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jaxrl import report  # noqa: E402
from jaxrl.claims import Target  # noqa: E402

_DATASETS = flags.DEFINE_list(
    "datasets",
    ["halfcheetah-medium-replay-v0", "halfcheetah-medium-expert-v0"],
    "Suite datasets to train on.",
)
_PRESET = flags.DEFINE_enum("preset", "cpu", ["cpu", "d4rl", "tiny"], "Dataset preset.")
_STEPS = flags.DEFINE_integer("steps", 10_000, "Offline gradient steps.")
_SEEDS = flags.DEFINE_integer("seeds", 4, "Seeds, vmapped into one program.")
_EVAL_EPISODES = flags.DEFINE_integer("eval_episodes", 10, "Final evaluation episodes per seed.")
_WORKDIR = flags.DEFINE_string("workdir", "runs/dataset_results", "Where the runs go.")
_OVERRIDES = flags.DEFINE_list(
    "agent", [], "IQL overrides as field=value, e.g. beta=10,expectile=0.9."
)
#: The acceptance target of each row: IQL's mean score at least the data's own.
REACHES_DATA = Target("iql_mean", at_least="data_score")


def _config(dataset: str):
    from experiments.configs.default import get_config
    from jaxrl.config import from_mapping

    c = get_config()
    c.dataset = dataset
    c.task = dataset.split("-", 1)[0]
    c.dataset_preset = _PRESET.value
    c.seeds = tuple(range(_SEEDS.value))
    c.offline_steps = _STEPS.value
    c.online_steps = 0
    c.retention = "none"
    c.eval_every = _STEPS.value  # one evaluation, at the end
    c.eval_episodes = _EVAL_EPISODES.value
    c.keep_checkpoints = 0
    c.checkpoint_every = 0
    c.checkpoint_interval_s = 0.0
    for item in _OVERRIDES.value:
        field, value = item.split("=", 1)
        c.agent[field] = type(c.agent[field])(value)
    return from_mapping(c.to_dict())


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    import numpy as np

    from jaxrl.data import episode_returns, generate, suite
    from jaxrl.envs.registry import normalized_score
    from jaxrl.run import enable_compilation_cache, run

    enable_compilation_cache()
    rows = []
    for name in _DATASETS.value:
        generate.generate(name, preset=_PRESET.value)
        ds = suite.load(name, _PRESET.value)
        refs = ds.metadata["random_return"], ds.metadata["expert_return"]
        data_score = float(np.mean(normalized_score(episode_returns(ds), *refs)))
        config = _config(name)
        workdir = Path(_WORKDIR.value) / name
        t0 = time.time()
        summary = run(config, workdir, progress=True)
        final = summary["final"]
        scores = [r["final_score"] for r in summary["runs"]]
        rows.append(
            {
                "dataset": name,
                "transitions": ds.size,
                "data_score": data_score,
                "iql_mean": final["mean"],
                "iql_std": final["std"],
                "iql_iqm": final["iqm"],
                "iql_scores": scores,
                "seconds": round(time.time() - t0, 1),
            }
        )
        rows[-1]["reaches_data"] = REACHES_DATA.met(rows[-1])
        print(json.dumps(rows[-1]))
    agent = f" (agent {','.join(_OVERRIDES.value)})" if _OVERRIDES.value else ""
    print(
        f"\nIQL offline, {_STEPS.value:,} steps, {_SEEDS.value} seeds, preset "
        f"{_PRESET.value!r}{agent}\n"
    )
    header = ["dataset", "transitions", "data score", "IQL mean ± std", "IQL IQM", "per seed"]
    cells = [
        [
            r["dataset"],
            f"{r['transitions']:,}",
            f"{r['data_score']:.1f}",
            f"{r['iql_mean']:.1f} ± {r['iql_std']:.1f}",
            f"{r['iql_iqm']:.1f}",
            ", ".join(f"{s:.1f}" for s in r["iql_scores"]),
            f"{r['seconds']:.0f} s",
        ]
        for r in rows
    ]
    print(report.markdown_table([*header, "time"], cells, align=" rrrr r"), end="")
    out = Path(_WORKDIR.value) / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    app.run(main)
