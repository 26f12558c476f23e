"""Jobs: training runs in their own directories, trained once, resumable, shared by processes.

A job is a name, a `TrainConfig` and the run directory it trains in. `run_job` trains it with
`jaxrl.run.run` unless its `summary.json` exists (a run resumes from its checkpoint if it has
one), holding a lock file in the directory while it trains, so several processes can work
through one job list without training a job twice; `run_jobs` does a list and
`finished_summary` reads a finished job. `Budget` and `budget_config` put every algorithm of a
comparison under one budget while each keeps its own recipe.

A host-layer module beside `jaxrl.run`: it may import `jaxrl.run`, and nothing else in jaxrl
imports it.

Example:

    >>> from jaxrl import jobs
    >>> job = jobs.Job("iql", config, Path("runs/compare/iql"))  # doctest: +SKIP
    >>> summaries = jobs.run_jobs([job])  # doctest: +SKIP
    >>> summaries["iql"]["final"]  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from jaxrl.report import SUMMARY_JSON

#: The lock file of a job being trained: `{"pid": ..., "host": ...}` of the process training it.
LOCK_NAME = ".running"


@dataclasses.dataclass(frozen=True)
class Budget:
    """The budget every algorithm of a comparison gets.

    Attributes:
      seeds: runs per job, vmapped.
      offline_steps: offline gradient steps (a config that trains from scratch keeps none).
      online_steps: online environment steps.
      width: hidden units of every hidden layer of every network (depths stay per algorithm).
      eval_every: steps between evaluations.
      eval_episodes: episodes per evaluation and run.
      warmup_cap: warm-up steps are capped at this.
    """

    seeds: tuple[int, ...]
    offline_steps: int
    online_steps: int
    width: int
    eval_every: int
    eval_episodes: int
    warmup_cap: int


def budget_config(
    values: Mapping[str, Any],
    budget: Budget,
    dataset: str,
    task: str,
    settings: Mapping[str, Any] | None = None,
):
    """The `TrainConfig` of an algorithm's config values under `budget`, on `dataset`.

    Args:
      values: a config as a mapping (`get_config().to_dict()` of a config file).
      budget: seeds, steps, width and evaluation, applied alike to every algorithm. A config
        with no offline steps (trained from scratch, as RLPD) keeps none.
      dataset: the dataset path or suite name.
      task: its task.
      settings: agent fields replaced (e.g. the reference's settings for this dataset).

    Schedule lengths (agent fields marked `schedule=`, `jaxrl.agents.base.schedule_fields`:
    ReBRAC's and PRDC's BC decay, A2PR's mask decay, SPOT's λ cooling and VAE steps) are
    scaled with their phase's steps, so each ends at the same fraction of the run as in the
    config file (before `settings`, which are taken as given).

    Raises:
      KeyError: a field of `settings` is not one of the agent's.
    """
    from jaxrl.agents.base import schedule_fields
    from jaxrl.agents.registry import AGENTS
    from jaxrl.config import from_mapping

    values = {**values, "agent": dict(values["agent"])}
    from_scratch = values["offline_steps"] == 0
    new_steps = {
        "offline": 0 if from_scratch else budget.offline_steps,
        "online": budget.online_steps,
    }
    for field, phase in schedule_fields(AGENTS[values["algo"]][0]).items():
        old = values[f"{phase}_steps"]
        if field in values["agent"] and old > 0:
            scaled = round(values["agent"][field] * new_steps[phase] / old)
            values["agent"][field] = max(1, scaled)
    for field, value in (settings or {}).items():
        if field not in values["agent"]:
            raise KeyError(f"settings: {values.get('algo')} has no agent field {field!r}")
        values["agent"][field] = value
    for field in list(values["agent"]):
        if field.endswith("hidden_dims"):
            depth = len(values["agent"][field])
            values["agent"][field] = (budget.width,) * depth
    values.update(
        task=task,
        dataset=dataset,
        seeds=budget.seeds,
        offline_steps=new_steps["offline"],
        online_steps=budget.online_steps,
        eval_every=budget.eval_every,
        eval_episodes=budget.eval_episodes,
        chunk_length=min(values["chunk_length"], budget.eval_every),
        warmup_steps=min(values["warmup_steps"], budget.warmup_cap),
        keep_checkpoints=1,
    )
    return from_mapping(values)


class Job(NamedTuple):
    """One training run: `name` (its label and key), its config and its run directory."""

    name: str
    config: Any  # TrainConfig
    workdir: Path


# --------------------------------------------------------------------------- the lock


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
    it (so several processes can share one job list without training the same job twice in one
    directory); a lock left by a dead process is taken over. Re-entrant for its owner."""
    workdir = Path(workdir)
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
    """Drops `workdir`'s lock."""
    (Path(workdir) / LOCK_NAME).unlink(missing_ok=True)


# --------------------------------------------------------------------------- running


def finished_summary(workdir: Path) -> dict | None:
    """The job's `summary.json`, or None while it has not finished."""
    done = Path(workdir) / SUMMARY_JSON
    return json.loads(done.read_text()) if done.exists() else None


def _empty(workdir: Path) -> None:
    """Removes everything in `workdir` but the lock."""
    for child in workdir.iterdir():
        if child.name == LOCK_NAME:
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def run_job(config, workdir: Path, fresh: bool, label: str = "") -> dict | None:
    """The summary of the job in `workdir`: read if it finished before (unless `fresh`, which
    empties the directory first), else trained now (resuming from a checkpoint if any). None
    if another live process is training it (see `claim_job`)."""
    workdir = Path(workdir)
    done = finished_summary(workdir)
    if done is not None and not fresh:
        return done
    label = label or str(workdir)
    if not claim_job(workdir):
        print(f"{label}: being trained by another process ({workdir / LOCK_NAME}); skipped")
        return None
    try:
        from jaxrl.run import run

        if fresh:
            _empty(workdir)
        print(f"{label} …", flush=True)
        t0 = time.time()
        summary = run(config, workdir, progress=False)
        print(f"{label}: {time.time() - t0:.0f} s", flush=True)
    finally:
        release_job(workdir)
    return summary


def run_jobs(jobs: Iterable[Job], fresh: bool = False) -> dict[str, dict | None]:
    """`run_job` for each job in order: name -> its summary (None: another process has it)."""
    return {job.name: run_job(job.config, job.workdir, fresh, label=job.name) for job in jobs}


# --------------------------------------------------------------------------- reading


def finished_summaries(root: Path, names: Sequence[str]) -> tuple[dict[str, dict], list[str]]:
    """The summaries of the finished jobs `root/<name>` (name -> summary, in `names` order),
    and the names of the others."""
    summaries, missing = {}, []
    for name in names:
        done = finished_summary(Path(root) / name)
        if done is not None:
            summaries[name] = done
        else:
            missing.append(name)
    return summaries, missing


def finished_groups(root: Path, requested: Sequence[str] = ()) -> list[str]:
    """The groups of a job tree `root/<group>/<job>/`: the `requested` ones, then any other
    with a finished job, in that order."""
    finished = sorted({p.parent.parent.name for p in Path(root).glob(f"*/*/{SUMMARY_JSON}")})
    return list(dict.fromkeys([*requested, *finished]))
