"""Hooks for `jaxrl.training.train` that write: metric files, checkpoints, a progress bar.

`jaxrl.run.run` composes these over `train`; use them the same way around your own call:

    >>> from jaxrl.hooks import MetricFiles, ProgressBar
    >>> from jaxrl.logging import MetricWriter
    >>> with MetricWriter("/tmp/my-run") as writer:  # doctest: +SKIP
    ...     states, history = train(programs, states, hooks=[MetricFiles(writer), ProgressBar()])
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import jaxrl
from jaxrl.checkpoint import FORMAT_VERSION, Checkpointer
from jaxrl.config import TrainConfig, config_to_json
from jaxrl.training.loop import Hook, PlanItem, Progress


class OnEval(Hook):
    """Calls `fn(step, states, returns)` after every evaluation (e.g. to snapshot policies)."""

    def __init__(self, fn: Callable[[int, Any, np.ndarray], None]):
        self.on_eval = fn


class MetricFiles(Hook):
    """Writes every chunk's records through a `jaxrl.logging.MetricWriter` (JSONL, CSV, TB)."""

    def __init__(self, writer):
        self.writer = writer

    def on_chunk(self, item: PlanItem, states, records: list[dict], progress: Progress):
        self.writer.write(records)


class ProgressBar(Hook):
    """A tqdm bar over the plan's steps, with the phase and the last mean evaluation score."""

    def __init__(self, disable: bool = False):
        self.disable = disable
        self.bar = None
        self.last_eval = float("nan")

    def on_start(self, programs, plan, progress: Progress):
        total = programs.config.offline_steps + programs.config.online_steps
        initial = (progress.chunks_done or 0) * programs.config.chunk_length
        self.length = programs.config.chunk_length
        self.bar = tqdm(
            total=total, initial=initial, disable=self.disable, unit="step", dynamic_ncols=True
        )

    def on_chunk(self, item: PlanItem, states, records: list[dict], progress: Progress):
        scores = [r["eval_score"] for r in records if "eval_score" in r]
        if scores:
            self.last_eval = float(np.mean(scores))
        if item.chunk:
            self.bar.set_postfix_str(f"{item.phase} eval={self.last_eval:.1f}", refresh=False)
            self.bar.update(self.length)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def on_end(self, states, history):
        self.close()


class Divergences(Hook):
    """Prints each divergence as the guard finds it."""

    def __init__(self, config: TrainConfig):
        self.freeze = config.on_divergence == "freeze"

    def on_divergence(self, item: PlanItem, found: list[dict], progress: Progress):
        for d in found:
            print(
                f"divergence: run {d['run']} (seed {d['seed']}) has non-finite losses or "
                f"parameters after step {d['step']} ({d['phase']}); hyperparameters "
                f"{d['hyperparameters']}"
                + ("; it is frozen, the others continue" if self.freeze else "")
            )


class Checkpoints(Hook):
    """Saves the whole stacked `TrainState` and the loop's counters through a `Checkpointer`.

    After every phase's end, every `config.checkpoint_every` chunks and whenever
    `config.checkpoint_interval_s` seconds passed since the last save.

    Args:
      checkpointer: where to write.
      config: the run's config (stored with every checkpoint; sets the cadence).
      extra: more meta stored with every checkpoint (e.g. observation statistics, run axis).
    """

    def __init__(self, checkpointer: Checkpointer, config: TrainConfig, extra=None):
        self.ckpt, self.config, self.extra = checkpointer, config, dict(extra or {})
        self.last_save = time.monotonic()

    def should_checkpoint(self, item: PlanItem, progress: Progress) -> bool:
        c = self.config
        return (
            item.boundary
            or bool(c.checkpoint_every and item.chunk and item.index % c.checkpoint_every == 0)
            or bool(
                c.checkpoint_interval_s
                and time.monotonic() - self.last_save >= c.checkpoint_interval_s
            )
        )

    def on_checkpoint(self, item: PlanItem, states, progress: Progress):
        c = self.config
        n_off, n_on = c.offline_steps // c.chunk_length, c.online_steps // c.chunk_length
        meta = {  # every process passes the same meta; orbax writes it from process 0
            "format_version": FORMAT_VERSION,
            "jaxrl_version": jaxrl.__version__,
            "config": json.loads(config_to_json(c)),
            "chunks_done": item.index,
            "step": item.index * c.chunk_length,
            "phase": "offline" if item.index < n_off or not n_on else "online",
            "metrics_records": progress.records,
            "elapsed_s": progress.elapsed(),
            "divergences": progress.divergences,
            **self.extra,
        }
        self.ckpt.save(item.index, states, meta)
        self.last_save = time.monotonic()
