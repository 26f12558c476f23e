"""Golden outputs: a tiny offline→online job of every registered algorithm, fingerprinted.

A refactor of the host or training layer must not move a number. `record()` runs every job
of `jobs()` and returns, per job, the SHA-256 of every leaf of the final stacked `TrainState`,
float64 moments of every floating-point leaf, every metric record (without its wall-clock
`time`) and the summary (without `seconds`).

XLA's CPU code depends on the processor (vector width, fused multiply-add), so the same
program gives the same bits on one machine but can differ in the last bits on another: six of
the 22 jobs recorded on an earlier machine moved by up to 6e-7 relative on the next one, and
the bit-for-bit Cal-QL and ReBRAC checks failed on CI's (2026-12-04).
tests/test_golden.py therefore accepts a leaf whose digest matches or whose moments agree to
`RTOL`, and metrics that agree to `RTOL`; integers, keys and strings must match exactly. The
bit-for-bit check of a refactor is on one machine: record at the base commit and at the new
one (`python -m tests.golden BEFORE.json`, then `AFTER.json`) and compare the files.

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
RTOL = 1e-4  # cross-machine float noise measured at <1e-6 relative; real changes move far more


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


def _leaves(states):
    flat = jax.tree_util.tree_flatten_with_path(jax.device_get(states))[0]
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in flat]


def fingerprint(states) -> dict[str, str]:
    """Path -> SHA-256 of every leaf of a (host-fetched) stacked TrainState."""
    return {path: leaf_digest(leaf) for path, leaf in _leaves(states)}


def leaf_moments(x) -> list[float]:
    """[sum, sum |x|, sum x², sum x·sin(i)] over the finite elements, in float64 (a change of any
    element shows), then Σ code·sin(i) over the others (code 1 for +inf, 2 for −inf, 3 for NaN:
    unfinished episodes' Monte-Carlo returns are −inf)."""
    x = np.asarray(x, np.float64).ravel()
    weights = np.sin(np.arange(x.size, dtype=np.float64))
    finite = np.isfinite(x)
    y = np.where(finite, x, 0.0)
    code = np.select([x == np.inf, x == -np.inf, np.isnan(x)], [1.0, 2.0, 3.0], 0.0)
    moments = [y.sum(), np.abs(y).sum(), (y * y).sum(), y @ weights, code @ weights]
    return [float(m) for m in moments]


def moments(states) -> dict[str, list[float]]:
    """Path -> `leaf_moments` of every floating-point leaf."""
    return {
        path: leaf_moments(leaf)
        for path, leaf in _leaves(states)
        if jax.dtypes.issubdtype(leaf.dtype, np.floating)
    }


def moments_close(got: list[float], want: list[float], rtol: float = RTOL) -> bool:
    """Sums compared against the scale sum |x| (a sum can cancel), x² against itself."""
    total, scale, square, weighted, nonfinite = want
    tol = rtol * scale + 1e-12
    return (
        abs(got[0] - total) <= tol
        and abs(got[1] - scale) <= tol
        and abs(got[2] - square) <= rtol * square + 1e-24
        and abs(got[3] - weighted) <= tol
        and abs(got[4] - nonfinite) <= 1e-9
    )


def values_close(got, want, rtol: float = RTOL) -> bool:
    """JSON values equal, floats to `rtol` (NaN equals NaN); anything else exactly."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(values_close(got[k], want[k], rtol) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(values_close(g, w, rtol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if np.isnan(want) or np.isnan(got):
            return bool(np.isnan(want) and np.isnan(got))
        return abs(got - want) <= rtol * abs(want) + 1e-9
    return type(got) is type(want) and got == want


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
        "moments": moments(final["states"]),
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
