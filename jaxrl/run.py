"""The host driver: build everything, then loop over compiled chunks, logging and evaluating.

Example:

    >>> from jaxrl.config import TrainConfig
    >>> from jaxrl.run import run
    >>> summary = run(TrainConfig(seeds=(0, 1)), "/tmp/jaxrl-demo")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxrl import data as data_lib
from jaxrl import stats
from jaxrl.agents.registry import make_agent
from jaxrl.config import TrainConfig, config_to_json, validate
from jaxrl.envs import Env, make_env, normalized_score
from jaxrl.logging import MetricWriter
from jaxrl.training import (
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)
from jaxrl.types import Transition, empty_transition


def enable_compilation_cache(path: str | os.PathLike | None = None) -> None:
    """Persists compiled programs across processes (`$JAXRL_COMPILE_CACHE` or ~/.cache)."""
    path = path or os.environ.get("JAXRL_COMPILE_CACHE") or Path.home() / ".cache/jaxrl/xla"
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


@dataclasses.dataclass
class Built:
    """Everything `build` makes from a config, before any training."""

    config: TrainConfig
    env: Env
    agent: Any
    dataset: Transition
    dataset_size: int
    references: tuple[float, float]
    offline_chunk: Callable
    online_chunk: Callable
    evaluate: Callable
    switch: Callable


def needs_mc_returns(config: TrainConfig) -> bool:
    return bool(getattr(config.agent_config(), "calibrated", False))


def load_dataset(config: TrainConfig, env: Env) -> data_lib.Dataset | None:
    """The configured dataset, generated into the cache first if it is a known missing name."""
    if not config.dataset:
        return None
    try:
        ds = data_lib.load(config.dataset, spec=env.spec)
    except data_lib.DatasetError as err:
        from jaxrl.data import generate

        if not generate.is_generatable(config.dataset) or Path(config.dataset).suffix:
            raise
        if not str(err).startswith(str(config.dataset)) and "not in the cache" not in str(err):
            raise
        print(
            f"dataset {config.dataset} is not cached; generating it (preset "
            f"{config.dataset_preset!r}) into {data_lib.data_dir()}"
        )
        generate.generate(config.dataset, preset=config.dataset_preset)
        ds = data_lib.load(config.dataset, spec=env.spec)
    task = ds.metadata.get("task")
    if task and task != env.task.name:
        raise data_lib.DatasetError(
            f"{config.dataset}: dataset was made for task {task!r} but the config's task is "
            f"{env.task.name!r}; set task={task!r} or pick a {env.task.name} dataset"
        )
    return ds


def build(config: TrainConfig) -> Built:
    """Checks the config, loads data, builds the agent and the compiled (not yet traced) chunks."""
    validate(config)
    env = make_env(config.task, config.episode_length or None)
    agent_cfg = config.agent_config()
    agent = make_agent(config.algo, agent_cfg, env.spec)
    ds = load_dataset(config, env)
    if ds is not None:
        validate(config, dataset_size=ds.size)
        rew = ds.transitions.reward * config.reward_scale + config.reward_bias
        ds = dataclasses.replace(ds, transitions=ds.transitions.replace(reward=rew))
        if needs_mc_returns(config):
            ds = data_lib.with_mc_returns(ds, agent_cfg.discount)
        dataset = data_lib.to_device(ds)
        size = ds.size
        meta = ds.metadata
    else:
        dataset = jax.device_put(empty_transition(env.spec.obs_dim, env.spec.action_dim, (1,)))
        size = 1
        meta = {}
    references = (
        float(meta.get("random_return", env.task.random_return)),
        float(meta.get("expert_return", env.task.expert_return)),
    )
    mc = agent_cfg.discount if needs_mc_returns(config) else None
    return Built(
        config=config,
        env=env,
        agent=agent,
        dataset=dataset,
        dataset_size=size,
        references=references,
        offline_chunk=make_offline_chunk(config, agent),
        online_chunk=make_online_chunk(config, agent, env, size, mc),
        evaluate=make_evaluator(agent, env, config.eval_episodes),
        switch=make_switch(agent, env, config.num_envs),
    )


def init_states(built: Built):
    """The stacked initial `TrainState` of every run (leading axis = run index)."""
    seeds = jnp.asarray(built.config.seeds, jnp.uint32)
    return jax.jit(jax.vmap(lambda s: init_train_state(built.config, built.agent, built.env, s)))(
        seeds
    )


def _host(tree) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in jax.device_get(tree).items()}


def run(
    config: TrainConfig,
    workdir: str | os.PathLike,
    *,
    progress: bool = True,
    on_eval: Callable[[int, Any, np.ndarray], None] | None = None,
) -> dict[str, Any]:
    """Trains every seed of `config` offline then online and writes the run directory.

    Args:
      config: the run; checked before anything compiles.
      workdir: where `config.json`, `metrics.jsonl`, `metrics.csv`, `summary.json` and
        `plots/learning_curve.png` go.
      progress: show a progress bar.
      on_eval: called as `on_eval(step, states, returns)` after every evaluation, with the
        stacked train states and the [runs, episodes] returns (e.g. to snapshot policies).

    Returns:
      The summary written to `summary.json`.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    built = build(config)
    (workdir / "config.json").write_text(config_to_json(config))
    states = init_states(built)
    rand_ret, expert_ret = built.references
    eval_key = jax.random.key(10_000 + config.seeds[0])
    curves: dict[int, list[tuple[int, float]]] = {i: [] for i in range(config.num_runs)}
    scores_at_switch = None
    total = config.offline_steps + config.online_steps
    bar = tqdm(total=total, disable=not progress, unit="step", dynamic_ncols=True)
    last_eval = float("nan")
    t_start = time.time()

    def evaluate(step: int, phase: str, states) -> dict[int, dict[str, float]]:
        nonlocal eval_key, last_eval
        eval_key, key = jax.random.split(eval_key)
        returns = np.asarray(built.evaluate(states.agent, jax.random.split(key, config.num_runs)))
        if on_eval is not None:
            on_eval(step, states, returns)
        out = {}
        for i in range(config.num_runs):
            score = float(normalized_score(returns[i].mean(), rand_ret, expert_ret))
            curves[i].append((step, score))
            out[i] = {"eval_return": float(returns[i].mean()), "eval_score": score}
        last_eval = float(np.mean([o["eval_score"] for o in out.values()]))
        return out

    def records(step: int, phase: str, metrics: dict[str, np.ndarray], evals, states):
        grad = np.asarray(states.grad_steps)
        envs = np.asarray(states.env_steps)
        recs = []
        for i, seed in enumerate(config.seeds):
            r = {
                "run": i,
                "seed": seed,
                "phase": phase,
                "step": step,
                "grad_steps": int(grad[i]),
                "env_steps": int(envs[i]),
                "time": round(time.time() - t_start, 3),
            }
            r.update({k: float(v[i]) for k, v in metrics.items()})
            if evals is not None:
                r.update(evals[i])
            recs.append(r)
        return recs

    with MetricWriter(workdir) as writer:
        step = 0
        # Offline phase.
        n_off = config.offline_steps // config.chunk_length
        for _ in range(n_off):
            states, metrics = built.offline_chunk(states, built.dataset)
            step += config.chunk_length
            evals = None
            if step % (config.eval_every or total) == 0 or step == config.offline_steps:
                evals = evaluate(step, "offline", states)
            writer.write(records(step, "offline", _host(metrics), evals, states))
            bar.set_postfix_str(f"offline eval={last_eval:.1f}", refresh=False)
            bar.update(config.chunk_length)
        if config.offline_steps == 0:
            evals = evaluate(0, "offline", states)
            writer.write(records(0, "offline", {}, evals, states))
        scores_at_switch = {i: curves[i][-1][1] for i in curves}
        # The switch and the online phase.
        if config.online_steps:
            states = built.switch(states)
            n_on = config.online_steps // config.chunk_length
            for _ in range(n_on):
                states, metrics = built.online_chunk(states, built.dataset)
                step += config.chunk_length
                evals = None
                online_step = step - config.offline_steps
                if online_step % (config.eval_every or total) == 0 or step == total:
                    evals = evaluate(step, "online", states)
                writer.write(records(step, "online", _host(metrics), evals, states))
                bar.set_postfix_str(f"online eval={last_eval:.1f}", refresh=False)
                bar.update(config.chunk_length)
    bar.close()
    summary = _summarize(config, curves, scores_at_switch, built.references, time.time() - t_start)
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    _plot(workdir, curves, config)
    return summary


def _summarize(config, curves, at_switch, references, seconds) -> dict[str, Any]:
    offline = np.array([at_switch[i] for i in range(config.num_runs)])
    final = np.array([curves[i][-1][1] for i in range(config.num_runs)])
    per_run = []
    for i, seed in enumerate(config.seeds):
        steps, scores = zip(*curves[i], strict=True)
        o2o = stats.o2o_metrics(np.array(steps), np.array(scores), config.offline_steps)
        per_run.append(
            {
                "run": i,
                "seed": seed,
                "offline_score": float(offline[i]),
                "final_score": float(final[i]),
                "dip": o2o["dip"],
                "online_auc": o2o["online_auc"],
            }
        )
    return {
        "algo": config.algo,
        "task": config.task,
        "dataset": config.dataset,
        "reference_returns": {"random": references[0], "expert": references[1]},
        "offline_steps": config.offline_steps,
        "online_steps": config.online_steps,
        "seconds": round(seconds, 1),
        "runs": per_run,
        "offline": stats.summarize(offline) if config.offline_steps else None,
        "final": stats.summarize(final),
        "improved_runs": int(np.sum(final > offline)),
    }


def _plot(workdir: Path, curves, config: TrainConfig) -> None:
    from jaxrl import plots

    data = {
        i: (np.array([s for s, _ in c]), np.array([v for _, v in c])) for i, c in curves.items()
    }
    plots.learning_curve(
        {config.algo: data},
        workdir / "plots" / "learning_curve.png",
        switch_step=config.offline_steps if config.online_steps and config.offline_steps else None,
        title=f"{config.algo} on {config.dataset or config.task}",
        xlabel="offline gradient steps, then online environment steps",
    )


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal: per-seed offline and final scores, then mean ± std."""
    lines = [
        f"{summary['algo']} on {summary['dataset'] or summary['task']}: normalized score "
        f"(random={summary['reference_returns']['random']:.0f}, "
        f"expert={summary['reference_returns']['expert']:.0f})"
    ]
    for r in summary["runs"]:
        lines.append(
            f"  seed {r['seed']}: offline {r['offline_score']:7.1f} → final {r['final_score']:7.1f}"
        )
    f = summary["final"]
    if summary["offline"]:
        o = summary["offline"]
        lines.append(
            f"  mean  : offline {o['mean']:7.1f} ± {o['std']:.1f} → final "
            f"{f['mean']:7.1f} ± {f['std']:.1f}  (IQM {f['iqm']:.1f}, 95% CI "
            f"[{f['iqm_ci95'][0]:.1f}, {f['iqm_ci95'][1]:.1f}])"
        )
    else:
        lines.append(f"  mean  : final {f['mean']:7.1f} ± {f['std']:.1f}")
    lines.append(
        f"  improved: {summary['improved_runs']}/{len(summary['runs'])} seeds; "
        f"{summary['seconds']:.0f} s"
    )
    return "\n".join(lines)
