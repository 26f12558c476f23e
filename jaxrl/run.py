"""The run directory: `run(config, workdir)` is `jaxrl.training.train` with hooks that write.

`run` checks the config against the directory's, makes the dataset if it is a suite name not
yet generated, builds the programs, restores the newest valid checkpoint (or starts afresh),
and trains with hooks for `metrics.jsonl`/`metrics.csv`/TensorBoard, checkpoints, the
divergence report and a progress bar; then it writes `summary.json` and the learning curve.
For training in memory, with no directory, use `jaxrl.training` directly.

Example:

    >>> from jaxrl.config import TrainConfig
    >>> from jaxrl.run import run
    >>> summary = run(TrainConfig(seeds=(0, 1)), "/tmp/jaxrl-demo")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxrl import plots
from jaxrl import sweep as sweep_lib
from jaxrl.checkpoint import OBS_NORMALIZER_JSON, Checkpointer, CheckpointError, checkpoint_dir
from jaxrl.config import (  # noqa: F401 (re-exported)
    ConfigError,
    TrainConfig,
    check_config_change,
    config_dict,
    validate,
)
from jaxrl.data import generate
from jaxrl.distributed import init_distributed, is_writer  # noqa: F401 (re-exported)
from jaxrl.hooks import Checkpoints, Divergences, MetricFiles, OnEval, ProgressBar
from jaxrl.logging import METRICS_JSONL, MetricWriter, read_metrics, truncate_metrics
from jaxrl.training import programs as programs_lib
from jaxrl.training.loop import DivergenceError, Progress, train
from jaxrl.training.programs import (  # noqa: F401 (re-exported)
    RUN_AXIS,
    Programs,
    build_agent,
    enable_compilation_cache,
    init_states,
    load_dataset,
    make_mesh,
    state_template,
)
from jaxrl.training.summary import curves, format_summary, summarize  # noqa: F401

_fetch = programs_lib.fetch


def default_workdir(config: TrainConfig, root: str | os.PathLike, stamp: str) -> Path:
    """`root/<algo>-<dataset>-<stamp>`, one directory level: a dataset given by path contributes
    its file name without the suffixes; without a dataset, the task's name.

    Example:
        >>> from jaxrl.config import TrainConfig
        >>> default_workdir(TrainConfig(dataset="/data/my.hopper.hdf5"), "runs", "t").as_posix()
        'runs/iql-my.hopper-t'
    """
    name = config.dataset or config.task
    if any(sep in name for sep in ("/", os.sep)) or Path(name).suffix in (".hdf5", ".h5", ".npz"):
        name = Path(name).name.removesuffix(Path(name).suffix)
    return Path(root) / f"{config.algo}-{name}-{stamp}"


def ensure_dataset(config: TrainConfig, progress: bool = True) -> None:
    """Generates the config's dataset first if it is a suite name not yet in the cache."""
    if config.dataset and generate.is_generatable(config.dataset):
        if not Path(config.dataset).suffix:
            generate.ensure(config.dataset, config.dataset_preset, progress=progress)


def build(config: TrainConfig, devices=None) -> Programs:
    """`jaxrl.training.build` of the config's dataset, read from its file or the suite cache."""
    return programs_lib.build(config, devices=devices)


class RunDirectory:
    """One run directory: its config check, restore-or-start, hooks and the final files.

    In a multi-host job every process makes one; process 0 alone writes files (orbax writes
    checkpoints from every process).
    """

    def __init__(self, workdir, programs: Programs, allow_config_change: bool = False):
        self.workdir, self.p, self.allow = Path(workdir), programs, allow_config_change
        self.config = config = programs.config
        self.writer_process = is_writer()
        self.n_pad = len(programs.runs)
        has = checkpoint_dir(self.workdir).exists()
        keep = config.keep_checkpoints
        self.ckpt = Checkpointer(self.workdir, keep) if keep > 0 or has else None
        norm = programs.obs_normalizer
        self.normalizer = norm.to_dict() if norm is not None else None

    @staticmethod
    def check_stored_config(workdir: Path, config: TrainConfig, allow: bool) -> None:
        """Refuses a config that differs from the one the directory was started with; makes
        the directory (on the writing process)."""
        validate(config)
        if (workdir / "config.json").exists():
            stored = json.loads((workdir / "config.json").read_text())
            check_config_change(stored, config, str(workdir), allow)
        if is_writer():
            workdir.mkdir(parents=True, exist_ok=True)

    def _template(self, meta):
        stored = meta.get("run_axis", self.n_pad)
        if stored != self.n_pad:
            n = len(self.p.real_runs)
            raise ConfigError(
                f"{self.ckpt.directory} holds a run axis of {stored} runs (the {n} runs "
                f"padded for its devices), but on these {self.p.mesh.size} devices it is "
                f"{self.n_pad}; resume on a device count that pads {n} runs to {stored} "
                "(e.g. the same devices), or start afresh in another workdir"
            )
        c, p = self.config, self.p
        return state_template(c, p.agent, p.env, self.n_pad, p.state_sharding)

    def restore_or_init(self, verbose: bool = True):
        """(states, `Progress`): the newest valid checkpoint's, or fresh ones (start=None)."""
        found = self.ckpt.restore_latest(self._template) if self.ckpt is not None else None
        if found is None:
            if self.writer_process:
                old = len(read_metrics(self.workdir))
                if old:
                    print(
                        f"{self.workdir} holds {old} metric records but no checkpoint; "
                        "starting afresh"
                    )
                truncate_metrics(self.workdir, 0)
            return init_states(self.p), None
        _, states, meta = found
        where = f"{self.ckpt.directory}"
        check_config_change(meta["config"], self.config, where, self.allow)
        if meta.get("obs_normalizer", self.normalizer) != self.normalizer:
            raise CheckpointError(
                f"{where}: the observation statistics of dataset {self.config.dataset} "
                "differ from those the run started with (the dataset file changed); resuming "
                "would change the inputs of every network. Restore the original dataset or "
                "start in a new workdir."
            )
        done, n_records = meta["chunks_done"], meta["metrics_records"]
        if self.writer_process:
            n_records = truncate_metrics(self.workdir, meta["metrics_records"])
        if n_records != meta["metrics_records"]:
            raise CheckpointError(
                f"{self.workdir / METRICS_JSONL} holds {n_records} records but checkpoint "
                f"{done} was written after {meta['metrics_records']}; restore the metrics file"
            )
        L = self.config.chunk_length
        n_total = (self.config.offline_steps + self.config.online_steps) // L
        if (verbose or done < n_total) and self.writer_process:
            print(f"resuming {self.workdir} from its checkpoint after {done}/{n_total} chunks")
        return states, Progress(done, n_records, list(meta["divergences"]), meta["elapsed_s"])

    def write_config(self) -> None:
        if not self.writer_process:
            return
        runs = [r.to_dict() for r in self.p.real_runs]
        stored = {**config_dict(self.config), "runs": runs}
        (self.workdir / "config.json").write_text(json.dumps(stored, indent=2, sort_keys=True))
        if self.normalizer is not None:  # for users of the policy outside jaxrl (load_policy)
            (self.workdir / OBS_NORMALIZER_JSON).write_text(json.dumps(self.normalizer))

    def hooks(self, writer, progress: bool) -> list[Any]:
        hooks = [
            Divergences(self.config),
            ProgressBar(disable=not (progress and writer is not None)),
        ]
        if writer is not None:
            hooks.insert(0, MetricFiles(writer))
        if self.config.keep_checkpoints > 0:
            extra = {"obs_normalizer": self.normalizer, "run_axis": self.n_pad}
            hooks.append(Checkpoints(self.ckpt, self.config, extra))
        return hooks

    def checkpoint_note(self) -> str:
        kept = self.ckpt.steps() if self.ckpt is not None else []
        if kept:
            return f" The last good checkpoint (after {kept[-1]} chunks) is kept."
        return " There is no checkpoint yet."

    def finish(self, seconds: float, divergences: list[dict]) -> dict[str, Any]:
        """Writes `summary.json` and the learning curve from every record of the directory."""
        if not self.writer_process:
            return {}
        config, runs = self.config, self.p.real_runs
        records = read_metrics(self.workdir)
        summary = summarize(config, runs, records, self.p.references, seconds)
        summary["divergences"] = divergences
        (self.workdir / "summary.json").write_text(json.dumps(summary, indent=2))
        _plot(self.workdir, curves(records, config.num_runs), config, runs)
        return summary


def run(
    config: TrainConfig,
    workdir: str | os.PathLike,
    *,
    progress: bool = True,
    on_eval: Callable[[int, Any, np.ndarray], None] | None = None,
    allow_config_change: bool = False,
    devices=None,
    hooks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Trains every run of `config` (seeds × sweep settings) offline then online in `workdir`.

    The run axis is split over `devices` (default: every device of every host); in a
    multi-host job every process calls `run` and process 0 alone writes the files. On a
    workdir that holds checkpoints the run resumes from the newest valid one and produces
    exactly the numbers an uninterrupted run would; a finished run rewrites its summary.

    Args:
      config: the run; checked before anything compiles.
      workdir: gets `config.json`, `metrics.jsonl`, `metrics.csv`, `checkpoints/`,
        `summary.json` and `plots/learning_curve.png`.
      progress: show a progress bar.
      on_eval: called as `on_eval(step, states, returns)` after every evaluation.
      allow_config_change: resume even if fields outside `RESUME_SAFE_FIELDS` differ.
      devices: the devices to split the run axis over (see `jaxrl.training.build`).
      hooks: more `jaxrl.training.Hook`s, called after the run directory's.

    Returns:
      The summary written to `summary.json` (on processes other than 0: `{}`).

    Raises:
      ConfigError: the config is invalid, or differs from the workdir's (see above).
      CheckpointError: a checkpoint cannot be written (disk full, …) or none can be read.
      DivergenceError: a run diverged and `config.on_divergence == "stop"`.
    """
    workdir = Path(workdir)
    RunDirectory.check_stored_config(workdir, config, allow_config_change)
    ensure_dataset(config, progress)
    programs = build(config) if devices is None else build(config, devices)
    rundir = RunDirectory(workdir, programs, allow_config_change)
    states, start = rundir.restore_or_init(progress)
    rundir.write_config()
    progress_ = start or Progress()
    writer = MetricWriter(workdir) if rundir.writer_process else None
    extra = [*([OnEval(on_eval)] if on_eval else []), *hooks]
    all_hooks = rundir.hooks(writer, progress) + extra
    try:
        _, history = train(programs, states, hooks=all_hooks, start=progress_)
    except BaseException as e:
        note = rundir.checkpoint_note() if isinstance(e, DivergenceError) else ""
        _close(rundir, writer, all_hooks, failed=True)
        if note:
            raise DivergenceError(str(e) + note) from None
        raise
    _close(rundir, writer, all_hooks, failed=False)
    return rundir.finish(progress_.elapsed(), history.divergences)


def _close(rundir: RunDirectory, writer, hooks, failed: bool) -> None:
    """Closes the bar, the writer and the checkpointer (after an error: keeping what is saved)."""
    for h in hooks:
        if isinstance(h, ProgressBar):
            h.close()
    if writer is not None:
        writer.close()
    if rundir.ckpt is not None:
        rundir.ckpt.close(raise_errors=not failed)


def _plot(workdir: Path, curves_, config: TrainConfig, runs) -> None:
    groups = {}  # one curve (IQM over its seeds) per sweep setting
    for spec in runs:
        label = sweep_lib.settings_label(spec.settings)
        label = f"{config.algo} {label}" if label else config.algo
        c = curves_[spec.run]
        groups.setdefault(label, {})[spec.run] = (
            np.array([s for s, _ in c]),
            np.array([v for _, v in c]),
        )
    plots.learning_curve(
        groups,
        workdir / "plots" / "learning_curve.png",
        switch_step=config.offline_steps if config.online_steps and config.offline_steps else None,
        title=f"{config.algo} on {config.dataset or config.task}",
        xlabel="offline gradient steps, then online environment steps",
    )
