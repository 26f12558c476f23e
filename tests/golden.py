"""Golden outputs: a tiny offline→online job of every registered algorithm, fingerprinted.

A refactor of the host or training layer must not move a number. `record()` runs every job
of `jobs()` and returns, per job, the SHA-256 of every leaf of the final stacked `TrainState`,
every metric record (without its wall-clock `time`) and the summary (without `seconds`);
tests/test_golden.py compares a fresh run with tests/golden/outputs.json bit for bit.

Record anew (only when a change is meant to move numbers, and say so in its commit):

    python -m tests.golden tests/golden/outputs.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import jax
import numpy as np

from jaxrl.agents.registry import AGENTS
from tests.helpers import tiny_config, write_dataset

GOLDEN = Path(__file__).parent / "golden" / "outputs.json"


def jobs(dataset: str) -> dict[str, object]:
    """Job name -> config: every registered algorithm, plus the data and warm-up options."""
    common = dict(
        dataset=dataset,
        task="inverted_pendulum",
        offline_steps=20,
        online_steps=20,
        chunk_length=10,
        eval_every=10,
        eval_episodes=2,
        episode_length=10,
        batch_size=8,
        keep_checkpoints=0,
    )
    out = {algo: tiny_config(algo, **common) for algo in sorted(AGENTS)}
    out["iql+normalize+sampler"] = tiny_config(
        "iql", normalize_obs=True, sampler="aw", reward_scale=2.0, **common
    )
    out["sac+warmup+mixed"] = tiny_config(
        "sac", warmup_steps=10, warmup_policy="random", retention="mixed", utd=2, **common
    )
    out["bc+top_fraction"] = tiny_config("bc", agent={"top_fraction": 0.5}, **common)
    return out


def write_data(directory: Path) -> str:
    return write_dataset(
        directory / "pendulum.h5", n=256, obs_dim=4, action_dim=1, task="inverted_pendulum"
    )


def leaf_digest(x) -> str:
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    x = np.ascontiguousarray(np.asarray(x))
    return hashlib.sha256(x.tobytes() + str(x.dtype).encode() + str(x.shape).encode()).hexdigest()


def fingerprint(states) -> dict[str, str]:
    """Path -> SHA-256 of every leaf of a (host-fetched) stacked TrainState."""
    flat = jax.tree_util.tree_flatten_with_path(jax.device_get(states))[0]
    return {jax.tree_util.keystr(path): leaf_digest(leaf) for path, leaf in flat}


def clean_records(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"} for r in records]


def clean_summary(summary: dict) -> dict:
    """Without the wall-clock seconds, and with the dataset file's name, not its directory."""
    out = {k: v for k, v in summary.items() if k != "seconds"}
    out["dataset"] = Path(out["dataset"]).name
    return out


def run_job(config, workdir: Path) -> dict:
    """One job through `jaxrl.run.run`: the final states' fingerprint, records and summary."""
    from jaxrl.logging import read_metrics
    from jaxrl.run import run

    final = {}

    def on_eval(step, states, returns):
        final["states"] = jax.device_get(states)

    summary = run(config, workdir, progress=False, on_eval=on_eval)
    return {
        "states": fingerprint(final["states"]),
        "records": clean_records(read_metrics(workdir)),
        "summary": clean_summary(summary),
    }


def record(names=None) -> dict[str, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        all_jobs = jobs(write_data(tmp))
        return {
            name: json.loads(json.dumps(run_job(cfg, tmp / name)))
            for name, cfg in all_jobs.items()
            if names is None or name in names
        }


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else GOLDEN)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {out}")
