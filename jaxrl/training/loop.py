"""The host loop: run a plan of compiled chunks over stacked train states; no file I/O.

`train(programs, states)` runs every chunk of the config's plan (offline chunks, the switch,
online chunks, evaluations) and returns the final states and a `History` of metric records,
one per run index per chunk, the same records `jaxrl.run.run` writes to `metrics.jsonl`.
Everything else (files, checkpoints, progress bars, your own logging) is a hook: any object
with some of the methods of `Hook`; a method that is absent is skipped.

Example:

    >>> from jaxrl.training import build, init_states, train
    >>> programs = build(config, dataset)  # doctest: +SKIP
    >>> states, history = train(programs, init_states(programs))  # doctest: +SKIP
    >>> history.summary()["final"]["iqm"]  # doctest: +SKIP

Resuming is an argument: `train(programs, states, start=Progress(chunks_done=k, ...))` runs
the plan's items after chunk k, with the counters a checkpoint stored.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxrl import sweep as sweep_lib
from jaxrl.config import TrainConfig
from jaxrl.envs import normalized_score
from jaxrl.training.programs import Programs, fetch
from jaxrl.training.summary import summarize


class DivergenceError(RuntimeError):
    """A run index produced non-finite losses or parameters and `on_divergence="stop"`."""


@dataclasses.dataclass(frozen=True)
class PlanItem:
    """One step of a plan.

    Attributes:
      index: chunks done once this item has run (0 for the evaluation before any chunk).
      step: offline gradient steps plus online environment steps after it.
      phase: "offline" or "online".
      chunk: runs a compiled chunk (False only for the evaluation at step 0 of a job without
        offline steps).
      evaluate: the policies are evaluated after it.
      switch: the offline→online switch follows it.
      boundary: it ends a phase (a checkpoint is always written after it).
    """

    index: int
    step: int
    phase: str
    chunk: bool
    evaluate: bool
    switch: bool
    boundary: bool


def make_plan(config: TrainConfig) -> tuple[PlanItem, ...]:
    """The config's plan: offline chunks, the switch, online chunks, and where to evaluate."""
    L = config.chunk_length
    n_off, n_on = config.offline_steps // L, config.online_steps // L
    n_total = n_off + n_on
    total = config.offline_steps + config.online_steps
    items = []
    if n_off == 0:
        items.append(PlanItem(0, 0, "offline", False, True, n_on > 0, True))
    for c in range(n_total):
        step = (c + 1) * L
        phase_step = step if c < n_off else step - config.offline_steps
        ends = (c + 1) in (n_off, n_total)
        items.append(
            PlanItem(
                index=c + 1,
                step=step,
                phase="offline" if c < n_off else "online",
                chunk=True,
                evaluate=phase_step % (config.eval_every or total) == 0 or ends,
                switch=c + 1 == n_off and n_on > 0,
                boundary=ends,
            )
        )
    return tuple(items)


@dataclasses.dataclass
class Progress:
    """The loop's counters: where a plan stands, as a checkpoint stores it.

    Attributes:
      chunks_done: `PlanItem.index` of the last item run; None before the first.
      records: metric records produced so far (in earlier processes too, when resumed).
      divergences: one entry per run index that diverged.
      elapsed_s: training seconds before this process started the loop.
    """

    chunks_done: int | None = None
    records: int = 0
    divergences: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    elapsed_s: float = 0.0

    def __post_init__(self):
        self._t0 = time.time() - self.elapsed_s

    def elapsed(self) -> float:
        return time.time() - self._t0


class Hook:
    """The hook points of `train`, all optional; subclass it or write any object with some.

    Called in this order for each plan item: `on_eval` (when it evaluates), `on_chunk`,
    `on_divergence` (when a run diverged), `on_switch` (after the switch), then
    `on_checkpoint` if any hook's `should_checkpoint` is true. `on_start` and `on_end` frame
    the loop. States passed to a hook are the live device states: copy what you keep
    (`jax.device_get`), the next chunk donates their buffers.
    """

    def on_start(self, programs: Programs, plan: Sequence[PlanItem], progress: Progress):
        pass

    def on_eval(self, step: int, states, returns: np.ndarray):
        """`returns`: [runs, episodes] episode returns of the deterministic policies."""

    def on_chunk(self, item: PlanItem, states, records: list[dict], progress: Progress):
        pass

    def on_divergence(self, item: PlanItem, found: list[dict], progress: Progress):
        pass

    def on_switch(self, states):
        pass

    def should_checkpoint(self, item: PlanItem, progress: Progress) -> bool:
        return False

    def on_checkpoint(self, item: PlanItem, states, progress: Progress):
        pass

    def on_end(self, states, history: History):
        pass


def _call(hooks: Sequence[Any], name: str, *args) -> list[Any]:
    return [getattr(h, name)(*args) for h in hooks if hasattr(h, name)]


@dataclasses.dataclass
class History:
    """What `train` returns beside the states, all in host memory.

    Attributes:
      programs: what ran.
      records: one metric record per run index per plan item (`metrics.jsonl`'s records).
      evals: (step, [runs, episodes] returns) of every evaluation.
      divergences: the run indices that diverged (this call's and earlier ones').
    """

    programs: Programs
    records: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    evals: list[tuple[int, np.ndarray]] = dataclasses.field(default_factory=list)
    divergences: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def metric(self, name: str, run: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of metric `name` for run index `run`, where recorded."""
        pairs = [(r["step"], r[name]) for r in self.records if r["run"] == run and name in r]
        steps, values = zip(*pairs, strict=True) if pairs else ((), ())
        return np.array(steps), np.array(values, float)

    def summary(self, seconds: float | None = None) -> dict[str, Any]:
        """Final scores, IQM and CIs over seeds (as `summary.json`), from these records.

        A call of `train` that resumed holds only the records after its start: make a
        `History(programs, earlier + later records)` to summarize the whole job.
        """
        p = self.programs
        elapsed = seconds if seconds is not None else (self.records or [{}])[-1].get("time", 0)
        summary = summarize(p.config, p.real_runs, self.records, p.references, elapsed)
        summary["divergences"] = self.divergences
        return summary


def _run_hparams(states, i: int) -> dict[str, float]:
    """Run `i`'s dynamic hyperparameters (a few scalars moved to the host)."""
    agent = states.agent
    small = {
        f"hparams.{f.name}": getattr(agent.hparams, f.name)
        for f in dataclasses.fields(agent.hparams)
    }
    for name, opt in agent.opt_states.items():
        hyper = getattr(opt, "hyperparams", None)
        if hyper is not None and "learning_rate" in hyper:
            small[f"{name}.learning_rate"] = hyper["learning_rate"]
    small["offline_ratio"] = states.offline_ratio
    return {k: float(np.asarray(v)[i]) for k, v in fetch(small).items()}


class _Run:
    """One call of `train`: the per-item steps, sharing the programs and counters."""

    def __init__(self, programs: Programs, hooks, progress: Progress, history: History, states):
        self.p, self.hooks, self.progress, self.history = programs, hooks, progress, history
        self.runs = programs.real_runs
        self.frozen = np.asarray(fetch(states.frozen))  # the guard reports newly frozen runs

    def evaluate(self, step: int, states) -> dict[int, dict[str, float]]:
        returns = self.p.evaluate(states.agent, self.p.eval_keys(step))
        returns = np.asarray(fetch(returns))[: len(self.runs)]
        self.history.evals.append((step, returns))
        _call(self.hooks, "on_eval", step, states, returns)
        rand_ret, expert_ret = self.p.references
        out = {}
        for i in range(len(self.runs)):
            score = float(normalized_score(returns[i].mean(), rand_ret, expert_ret))
            out[i] = {"eval_return": float(returns[i].mean()), "eval_score": score}
        return out

    def records(self, item: PlanItem, metrics, evals, states) -> list[dict[str, Any]]:
        grad, envs = (np.asarray(x) for x in fetch((states.grad_steps, states.env_steps)))
        recs = []
        for i, spec in enumerate(self.runs):
            r = {
                "run": i,
                "seed": spec.seed,
                **{sweep_lib.SETTINGS_PREFIX + k: v for k, v in spec.settings.items()},
                "phase": item.phase,
                "step": item.step,
                "grad_steps": int(grad[i]),
                "env_steps": int(envs[i]),
                "time": round(self.progress.elapsed(), 3),
            }
            r.update({k: float(v[i]) for k, v in metrics.items()})
            if evals is not None:
                r.update(evals[i])
            if self.frozen[i]:
                r["diverged"] = True
            recs.append(r)
        return recs

    def guard(self, item: PlanItem, states) -> list[dict[str, Any]]:
        """The run indices that diverged in this chunk (newly frozen), with their settings."""
        now = np.asarray(fetch(states.frozen))
        new = [i for i in range(len(self.runs)) if now[i] and not self.frozen[i]]
        self.frozen = now
        return [
            {
                "run": i,
                "seed": self.runs[i].seed,
                "settings": self.runs[i].settings,
                "step": item.step,
                "phase": item.phase,
                "hyperparameters": _run_hparams(states, i),
            }
            for i in new
        ]

    def item(self, item: PlanItem, states):
        p, config = self.p, self.p.config
        found, metrics = [], {}
        if item.chunk:
            chunk = p.offline_chunk if item.phase == "offline" else p.online_chunk
            states, metrics = chunk(states, p.dataset)
            metrics = {k: np.asarray(v) for k, v in fetch(metrics).items()}
            found = self.guard(item, states)
        evals = self.evaluate(item.step, states) if item.evaluate else None
        recs = self.records(item, metrics, evals, states)
        self.history.records += recs
        self.progress.records += len(recs)
        self.progress.chunks_done = item.index
        _call(self.hooks, "on_chunk", item, states, recs, self.progress)
        if found:
            self.progress.divergences += found
            self.history.divergences += found
            _call(self.hooks, "on_divergence", item, found, self.progress)
            if config.on_divergence == "stop":
                runs = ", ".join(f"run {d['run']} (seed {d['seed']})" for d in found)
                raise DivergenceError(
                    f"{runs} diverged (non-finite losses or parameters) by step {item.step}: "
                    f"{found}. The job stopped. Lower the learning rate (resume with "
                    "allow_config_change) or set on_divergence='freeze' to let the other runs "
                    "finish."
                )
        if item.switch:
            states = p.switch(states)
            _call(self.hooks, "on_switch", states)
        if any(_call(self.hooks, "should_checkpoint", item, self.progress)):
            _call(self.hooks, "on_checkpoint", item, states, self.progress)
        return states


def train(
    programs: Programs,
    states,
    plan: Sequence[PlanItem] | None = None,
    hooks: Sequence[Any] = (),
    start: Progress | None = None,
):
    """Runs `plan` (default `make_plan(programs.config)`) from `states`; touches no file.

    Args:
      programs: from `build`.
      states: the stacked `TrainState` (`init_states(programs)`, or restored ones). Donated:
        use the returned states, not these.
      plan: the items to run; those with `index <= start.chunks_done` are skipped.
      hooks: objects with some of `Hook`'s methods, called in order.
      start: the counters to continue from (a checkpoint's); None starts afresh.

    Returns:
      (final states, `History` of this call's records and evaluations).

    Raises:
      DivergenceError: a run diverged and `config.on_divergence == "stop"` (after the hooks'
        `on_chunk` and `on_divergence` saw the chunk).
    """
    plan = make_plan(programs.config) if plan is None else plan
    progress = start if start is not None else Progress()
    history = History(programs, divergences=list(progress.divergences))
    loop = _Run(programs, list(hooks), progress, history, states)
    _call(loop.hooks, "on_start", programs, plan, progress)
    done = progress.chunks_done
    for item in plan:
        if done is None or item.index > done:
            states = loop.item(item, states)
    _call(loop.hooks, "on_end", states, history)
    return states, history
