"""Summary of a dataset: `python -m jaxrl.data.info PATH_OR_NAME`.

Prints the size, the number of episodes, the episode-return distribution and, when reference
returns are known (the dataset's metadata first, else its task in `jaxrl.envs.registry`), the
mean normalized score 100 · (R − R_random) / (R_expert − R_random). A generated file's
manifest adds what built it (jaxrl version and commit, jax, brax).

Example:

    $ python -m jaxrl.data.info halfcheetah-medium-v0
    dataset      /home/me/.cache/jaxrl/datasets/halfcheetah-medium-v0.hdf5
    name         halfcheetah-medium-v0
    task         halfcheetah
    transitions  1,000,000
    episodes     1,000  (0 terminated, 1,000 truncated or cut)
    returns      min 1103.2   mean 1512.9   median 1520.4   max 1830.1
    normalized   mean 47.6   (random -290.0, expert 3500.0: dataset metadata)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxrl.data.dataset import Dataset, DatasetError, episode_ends, episode_returns
from jaxrl.data.io import _resolve, load
from jaxrl.data.suite import manifest_path
from jaxrl.envs.registry import TASKS, normalized_score


def reference_returns(ds: Dataset) -> tuple[float, float, str] | None:
    """(random_return, expert_return, where from) for `ds`, or None if unknown.

    Args:
      ds: a dataset.

    Returns:
      The dataset's own references if its metadata has both, else those of its registered
      "task", else None.
    """
    meta = ds.metadata
    rand, expert = meta.get("random_return"), meta.get("expert_return")
    if rand is not None and expert is not None:
        return float(rand), float(expert), "dataset metadata"
    task = meta.get("task")
    if isinstance(task, str) and task in TASKS:
        spec = TASKS[task]
        return spec.random_return, spec.expert_return, f"registry task {task!r}"
    return None


def summary(ds: Dataset, source: str = "") -> str:
    """The human-readable summary printed by the command line.

    Args:
      ds: a dataset.
      source: where it was loaded from (printed first if given).

    Returns:
      A few aligned lines, without a trailing newline.
    """
    rows: list[tuple[str, str]] = []
    if source:
        rows.append(("dataset", source))
    for key in ("name", "task"):
        if key in ds.metadata:
            rows.append((key, str(ds.metadata[key])))
    ends = episode_ends(ds)
    terminated = int(np.sum(ends & (np.asarray(ds.transitions.terminated) > 0)))
    rows.append(("transitions", f"{ds.size:,}"))
    rows.append(
        (
            "episodes",
            f"{int(ends.sum()):,}  ({terminated:,} terminated, "
            f"{int(ends.sum()) - terminated:,} truncated or cut)",
        )
    )
    returns = episode_returns(ds)
    stats = [
        ("min", returns.min()),
        ("mean", returns.mean()),
        ("median", np.median(returns)),
        ("max", returns.max()),
    ]
    rows.append(("returns", "   ".join(f"{k} {v:.1f}" for k, v in stats)))
    refs = reference_returns(ds)
    if refs is not None:
        rand, expert, origin = refs
        score = float(np.mean(normalized_score(returns, rand, expert)))
        rows.append(
            ("normalized", f"mean {score:.1f}   (random {rand:.1f}, expert {expert:.1f}: {origin})")
        )
    width = max(len(k) for k, _ in rows) + 2
    return "\n".join(f"{k:<{width}}{v}" for k, v in rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m jaxrl.data.info", description="Summarize an offline dataset."
    )
    parser.add_argument("dataset", help="a .hdf5/.npz path, or a dataset name in the cache")
    args = parser.parse_args(argv)
    try:
        path = _resolve(args.dataset)
        ds = load(path)
    except DatasetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(summary(ds, str(path)))
    built = built_with_line(path)
    if built:
        print(built)
    return 0


def built_with_line(path: str | Path) -> str:
    """The "built with …" line from the manifest beside a generated file (jaxrl version and
    commit, jax, brax), or "" when there is no manifest or it predates the record."""
    try:
        manifest = json.loads(manifest_path(path).read_text())
    except (OSError, ValueError):
        return ""
    b = manifest.get("built_with")
    if not isinstance(b, dict):
        return ""
    commit = f" @ {b['jaxrl_commit']}" if b.get("jaxrl_commit") else ""
    versions = f"jaxrl {b.get('jaxrl')}{commit}, jax {b.get('jax')}, brax {b.get('brax')}"
    return f"{'built with':<13}{versions}"


if __name__ == "__main__":
    sys.exit(main())
