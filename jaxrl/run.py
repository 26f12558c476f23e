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
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

import jaxrl
from jaxrl import data as data_lib
from jaxrl import stats
from jaxrl import sweep as sweep_lib
from jaxrl.agents.registry import make_agent
from jaxrl.buffers import WeightedDataset
from jaxrl.checkpoint import (
    FORMAT_VERSION,
    OBS_NORMALIZER_JSON,
    Checkpointer,
    CheckpointError,
    checkpoint_dir,
)
from jaxrl.config import (
    RESUME_SAFE_FIELDS,
    ConfigError,
    TrainConfig,
    config_diff,
    config_to_json,
    validate,
)
from jaxrl.data import samplers, trajectories
from jaxrl.distributed import init_distributed, is_writer  # noqa: F401 (re-exported)
from jaxrl.envs import Env, make_env, normalized_score
from jaxrl.logging import METRICS_JSONL, MetricWriter, read_metrics, truncate_metrics
from jaxrl.training import (
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)
from jaxrl.training.chunks import uses_next_action
from jaxrl.types import Transition, empty_transition

RUN_AXIS = "runs"


def make_mesh(devices=None) -> Mesh:
    """A one-axis mesh ("runs") over `devices` (default: every device of every host)."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (RUN_AXIS,))


def _fetch(tree):
    """`tree` as numpy arrays on this host, gathering shards from other hosts if needed."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def _replicate(tree, sharding: NamedSharding):
    """Host arrays → one full copy on every device of `sharding`'s mesh (all hosts)."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), tree
    )


def _on_run_axis(fn: Callable, sharding: NamedSharding, donate: bool) -> Callable:
    """`fn` (a jitted vmapped program) with every output split over the run axis.

    The inputs arrive already placed (train states split on the run axis, the dataset
    replicated), so only the outputs are pinned; that keeps the states' sharding from chunk
    to chunk, which makes donation reuse the buffers and every chunk hit the same executable.
    """
    return jax.jit(fn, out_shardings=sharding, donate_argnums=(0,) if donate else ())


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
    dataset: Transition | WeightedDataset  # weighted when config.sampler != "uniform"
    dataset_size: int
    references: tuple[float, float]
    offline_chunk: Callable
    online_chunk: Callable
    evaluate: Callable
    switch: Callable
    mesh: Mesh
    runs: tuple[sweep_lib.RunSpec, ...]  # every run index, padding (copies of the last) included

    @property
    def state_sharding(self) -> NamedSharding:
        return NamedSharding(self.mesh, P(RUN_AXIS))

    @property
    def real_runs(self) -> tuple[sweep_lib.RunSpec, ...]:
        return tuple(r for r in self.runs if not r.padding)

    obs_normalizer: data_lib.ObsNormalizer | None = None  # set when config.normalize_obs


def needs_mc_returns(config: TrainConfig) -> bool:
    return bool(getattr(config.agent_config(), "calibrated", False))


def load_dataset(config: TrainConfig, env: Env) -> data_lib.Dataset | None:
    """The configured dataset; a suite name is generated first if missing, then checksummed."""
    if not config.dataset:
        return None
    from jaxrl.data import generate, suite

    if generate.is_generatable(config.dataset) and not Path(config.dataset).suffix:
        # A suite name (`<task>-<kind>-v0`) means that dataset of `dataset_preset`.
        name, preset = config.dataset, config.dataset_preset
        if not suite.dataset_path(name, preset).is_file():
            print(
                f"dataset {name} is not cached; generating it (preset {preset!r}) into "
                f"{suite.suite_dir(preset)}"
            )
        generate.generate(name, preset=preset)  # no-op if cached and up to date
        ds = suite.load(name, preset, spec=env.spec)  # verifies the SHA-256
    else:
        ds = data_lib.load(config.dataset, spec=env.spec)
    task = ds.metadata.get("task")
    if task and task != env.task.name:
        raise data_lib.DatasetError(
            f"{config.dataset}: dataset was made for task {task!r} but the config's task is "
            f"{env.task.name!r}; set task={task!r} or pick a {env.task.name} dataset"
        )
    return ds


def build_agent(config: TrainConfig) -> tuple[Any, Env]:
    """The agent and environment of a config (no dataset, nothing compiled)."""
    env = make_env(config.task, config.episode_length or None)
    return make_agent(config.algo, config.agent_config(), env.spec), env


def build(config: TrainConfig, devices=None) -> Built:
    """Checks the config, loads data, builds the agent and the compiled (not yet traced) chunks.

    Args:
      config: the run.
      devices: the devices the run axis is split over (default: all, on every host). A run
        axis that does not divide their number is padded with copies of the last run.
    """
    validate(config)
    agent, env = build_agent(config)
    sweep_lib.check(config, env.spec)
    mesh = make_mesh(devices)
    runs = sweep_lib.pad(sweep_lib.expand(config), mesh.size)
    replicated = NamedSharding(mesh, P())
    split = NamedSharding(mesh, P(RUN_AXIS))
    agent_cfg = config.agent_config()
    ds = load_dataset(config, env)
    normalizer = None
    if ds is not None:
        if getattr(agent_cfg, "top_fraction", 1.0) < 1.0:  # %BC: best episodes, raw rewards
            ds = trajectories.top_trajectories(
                ds, agent_cfg.top_fraction, agent_cfg.top_fraction_discount
            )
        if uses_next_action(config):
            ds = trajectories.with_next_actions(ds)
        validate(config, dataset_size=ds.size)
        ds = data_lib.scale_rewards(ds, config.reward_scale, config.reward_bias)
        if needs_mc_returns(config):
            ds = data_lib.with_mc_returns(ds, agent_cfg.discount)
        if config.normalize_obs:
            with_next = getattr(agent_cfg, "normalize_with_next_obs", False)  # RIQL
            normalizer = data_lib.obs_normalizer(ds, include_next_obs=with_next)
            ds = data_lib.normalize_obs(ds, normalizer)
        dataset = _replicate(ds.transitions, replicated)  # one copy per device, every run
        if config.sampler != "uniform":
            # Weights from the rewards as training sees them, as the reference does.
            probs = samplers.sampling_probabilities(
                ds,
                config.sampler,
                temperature=config.sampler_temperature,
                top_fraction=config.sampler_top_fraction,
            )
            cdf = _replicate(samplers.sampling_cdf(probs), replicated)
            dataset = WeightedDataset(dataset, cdf)
        size = ds.size
        meta = ds.metadata
    else:
        dataset = _replicate(
            empty_transition(
                env.spec.obs_dim, env.spec.action_dim, (1,), next_action=uses_next_action(config)
            ),
            replicated,
        )
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
        offline_chunk=_on_run_axis(make_offline_chunk(config, agent), split, donate=True),
        online_chunk=_on_run_axis(
            make_online_chunk(config, agent, env, size, mc, normalizer), split, True
        ),
        evaluate=_on_run_axis(
            make_evaluator(agent, env, config.eval_episodes, normalizer), split, False
        ),
        switch=_on_run_axis(make_switch(agent, env, config.num_envs), split, donate=True),
        mesh=mesh,
        runs=runs,
        obs_normalizer=normalizer,
    )


def _init_one(config: TrainConfig, agent, env: Env, seed, values):
    """One run's initial state; `values` holds its swept settings (traced under vmap)."""
    if values:
        config = sweep_lib.with_traced(config, values)
        if any(k.startswith("agent.") for k in values):
            # The same factory with traced hyperparameters: they land in the state's leaves.
            agent = make_agent(config.algo, config.agent_config(), env.spec)
    return init_train_state(config, agent, env, seed)


def init_states(built: Built):
    """The stacked initial `TrainState` of every run (leading axis = run index, split over the
    mesh), each from its seed with its sweep setting in the dynamic leaves."""
    runs = built.runs
    seeds = np.array([r.seed for r in runs], np.uint32)
    values = sweep_lib.run_values(runs, sweep_lib.swept_keys(built.config))
    init = jax.vmap(lambda s, v: _init_one(built.config, built.agent, built.env, s, v))
    return jax.jit(init, out_shardings=built.state_sharding)(seeds, values)


def state_template(
    config: TrainConfig, agent, env: Env, num_runs: int | None = None, sharding=None
):
    """The abstract (shape and dtype only) stacked `TrainState` of a config; nothing runs.

    Args:
      num_runs: the run axis length (default `config.num_runs`; `len(Built.runs)` when padded).
      sharding: attached to every leaf (e.g. `Built.state_sharding`), so a checkpoint restores
        straight into the run-axis split.
    """
    n = config.num_runs if num_runs is None else num_runs
    seeds = jax.ShapeDtypeStruct((n,), jnp.uint32)
    values = {k: jax.ShapeDtypeStruct((n,), jnp.float32) for k in sweep_lib.swept_keys(config)}
    tree = jax.eval_shape(jax.vmap(lambda s, v: _init_one(config, agent, env, s, v)), seeds, values)
    if sharding is None:
        return tree
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


class DivergenceError(RuntimeError):
    """A run index produced non-finite losses or parameters and `on_divergence="stop"`."""


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    return json.loads(config_to_json(config))


def _with_new_defaults(old: dict[str, Any]) -> dict[str, Any]:
    """`old` with the defaults of fields added to the library since it was written.

    A new field's default reproduces the behaviour from before the field existed, so a run
    directory written by an older version resumes without `allow_config_change`.
    """
    from jaxrl.agents.registry import AGENTS

    algo = old.get("algo", TrainConfig.algo)
    if algo not in AGENTS:
        return old
    defaults = json.loads(config_to_json(TrainConfig(algo=algo)))
    filled = {**defaults, **old}
    filled["agent"] = {**defaults["agent"], **(old.get("agent") or {})}
    return filled


def check_config_change(
    old: dict[str, Any], config: TrainConfig, where: str, allow: bool = False
) -> list[tuple[str, Any, Any]]:
    """The differing fields between a stored config and `config`; raises unless they are safe.

    Raises:
      ConfigError: a field outside `RESUME_SAFE_FIELDS` differs and `allow` is false.
    """
    old = {k: v for k, v in old.items() if k != "runs"}  # derived from the config
    diff = config_diff(_with_new_defaults(old), _config_dict(config))
    unsafe = [d for d in diff if d[0] not in RESUME_SAFE_FIELDS]
    if unsafe and not allow:
        lines = "\n".join(f"  {name}: {a!r} → {b!r}" for name, a, b in unsafe)
        raise ConfigError(
            f"{where} was written by a run with a different config; resuming it would not give "
            f"the numbers of either config. Differing fields (stored → given):\n{lines}\n"
            "Rerun with the stored config to resume, choose another workdir to start afresh, "
            "or pass allow_config_change=True (CLI: --allow_config_change) to resume anyway."
        )
    return diff


def _host(tree) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in _fetch(tree).items()}


def _run_hparams(states, i: int) -> dict[str, float]:
    """Run `i`'s dynamic hyperparameters (a few scalars moved to the host)."""
    agent = states.agent
    small = {f"hparams.{k}": v for k, v in agent.hparams.items()}
    for name, opt in agent.opt_states.items():
        hyper = getattr(opt, "hyperparams", None)
        if hyper is not None and "learning_rate" in hyper:
            small[f"{name}.learning_rate"] = hyper["learning_rate"]
    small["offline_ratio"] = states.offline_ratio
    return {k: float(np.asarray(v)[i]) for k, v in _fetch(small).items()}


def run(
    config: TrainConfig,
    workdir: str | os.PathLike,
    *,
    progress: bool = True,
    on_eval: Callable[[int, Any, np.ndarray], None] | None = None,
    allow_config_change: bool = False,
    devices=None,
) -> dict[str, Any]:
    """Trains every run of `config` (seeds × sweep settings) offline then online.

    The run axis is split over `devices` (default: every device of every host); in a
    multi-host job every process calls `run` and process 0 alone writes the run directory's
    files (checkpoints are written by orbax from every process).

    On a workdir that already holds checkpoints the run resumes from the newest valid one and
    produces exactly the numbers an uninterrupted run would (README, "Checkpoints and
    resuming"); a finished run just rewrites its summary.

    Args:
      config: the run; checked before anything compiles.
      workdir: where `config.json`, `metrics.jsonl`, `metrics.csv`, `checkpoints/`,
        `summary.json` and `plots/learning_curve.png` go.
      progress: show a progress bar.
      on_eval: called as `on_eval(step, states, returns)` after every evaluation, with the
        stacked train states and the [runs, episodes] returns (e.g. to snapshot policies).
      allow_config_change: resume even if fields outside `RESUME_SAFE_FIELDS` differ from
        the config the workdir was started with.
      devices: the devices to split the run axis over (see `build`).

    Returns:
      The summary written to `summary.json` (on processes other than 0: `{}`).

    Raises:
      ConfigError: the config is invalid, or differs from the workdir's (see above).
      CheckpointError: a checkpoint cannot be written (disk full, …) or none can be read.
      DivergenceError: a run diverged and `config.on_divergence == "stop"`.
    """
    workdir = Path(workdir)
    validate(config)
    if (workdir / "config.json").exists():
        stored = json.loads((workdir / "config.json").read_text())
        check_config_change(stored, config, str(workdir), allow_config_change)
    writer_process = is_writer()
    if writer_process:
        workdir.mkdir(parents=True, exist_ok=True)
    built = build(config) if devices is None else build(config, devices)
    runs = built.real_runs
    n_pad = len(built.runs)
    L = config.chunk_length
    n_off, n_on = config.offline_steps // L, config.online_steps // L
    n_total = n_off + n_on
    total = config.offline_steps + config.online_steps
    use_ckpt = config.keep_checkpoints > 0
    ckpt = (
        Checkpointer(workdir, config.keep_checkpoints)
        if use_ckpt or checkpoint_dir(workdir).exists()
        else None
    )
    found = None
    if ckpt is not None:
        template = state_template(config, built.agent, built.env, n_pad, built.state_sharding)

        def fitting(meta):
            stored = meta.get("run_axis", n_pad)
            if stored != n_pad:
                raise ConfigError(
                    f"{ckpt.directory} holds a run axis of {stored} runs (the {len(runs)} runs "
                    f"padded for its devices), but on these {built.mesh.size} devices it is "
                    f"{n_pad}; resume on a device count that pads {len(runs)} runs to {stored} "
                    "(e.g. the same devices), or start afresh in another workdir"
                )
            return template

        found = ckpt.restore_latest(fitting)
    normalizer = built.obs_normalizer.to_dict() if built.obs_normalizer is not None else None
    if found is not None:
        _, states, meta = found
        check_config_change(meta["config"], config, f"{ckpt.directory}", allow_config_change)
        if meta.get("obs_normalizer", normalizer) != normalizer:
            raise CheckpointError(
                f"{ckpt.directory}: the observation statistics of dataset {config.dataset} "
                "differ from those the run started with (the dataset file changed); resuming "
                "would change the inputs of every network. Restore the original dataset or "
                "start in a new workdir."
            )
        done = meta["chunks_done"]
        n_records = meta["metrics_records"]
        if writer_process:
            n_records = truncate_metrics(workdir, meta["metrics_records"])
        if n_records != meta["metrics_records"]:
            raise CheckpointError(
                f"{workdir / METRICS_JSONL} holds {n_records} records but checkpoint {done} "
                f"was written after {meta['metrics_records']}; restore the metrics file"
            )
        divergences = list(meta["divergences"])
        elapsed = float(meta["elapsed_s"])
        if (progress or done < n_total) and writer_process:
            print(f"resuming {workdir} from its checkpoint after {done}/{n_total} chunks")
    else:
        done = None
        n_records = 0
        if writer_process:
            old = len(read_metrics(workdir))
            if old:
                print(f"{workdir} holds {old} metric records but no checkpoint; starting afresh")
            n_records = truncate_metrics(workdir, 0)
        states = init_states(built)
        divergences = []
        elapsed = 0.0
    if writer_process:
        stored = {**_config_dict(config), "runs": [r.to_dict() for r in runs]}
        (workdir / "config.json").write_text(json.dumps(stored, indent=2, sort_keys=True))
        if normalizer is not None:  # for users of the policy outside jaxrl (load_policy)
            (workdir / OBS_NORMALIZER_JSON).write_text(json.dumps(normalizer))

    rand_ret, expert_ret = built.references
    start = done or 0
    bar = tqdm(
        total=total,
        initial=start * L,
        disable=not (progress and writer_process),
        unit="step",
        dynamic_ncols=True,
    )
    last_eval = float("nan")
    t_start = time.time() - elapsed
    last_save = time.monotonic()
    frozen = np.asarray(_fetch(states.frozen))
    # A pure function of the step, so a resumed run evaluates as an uninterrupted one; made
    # on the devices, already split over the run axis (a global array on multi-host jobs).
    eval_keys = jax.jit(
        lambda step: jax.random.split(
            jax.random.fold_in(jax.random.key(10_000 + config.seeds[0]), step), n_pad
        ),
        out_shardings=built.state_sharding,
    )

    def evaluate(step: int, states) -> dict[int, dict[str, float]]:
        nonlocal last_eval
        returns = built.evaluate(states.agent, eval_keys(step))
        returns = np.asarray(_fetch(returns))[: len(runs)]
        if on_eval is not None:
            on_eval(step, states, returns)
        out = {}
        for i in range(len(runs)):
            score = float(normalized_score(returns[i].mean(), rand_ret, expert_ret))
            out[i] = {"eval_return": float(returns[i].mean()), "eval_score": score}
        last_eval = float(np.mean([o["eval_score"] for o in out.values()]))
        return out

    def records(step: int, phase: str, metrics: dict[str, np.ndarray], evals, states):
        grad, envs = (np.asarray(x) for x in _fetch((states.grad_steps, states.env_steps)))
        recs = []
        for i, spec in enumerate(runs):
            r = {
                "run": i,
                "seed": spec.seed,
                **{sweep_lib.SETTINGS_PREFIX + k: v for k, v in spec.settings.items()},
                "phase": phase,
                "step": step,
                "grad_steps": int(grad[i]),
                "env_steps": int(envs[i]),
                "time": round(time.time() - t_start, 3),
            }
            r.update({k: float(v[i]) for k, v in metrics.items()})
            if evals is not None:
                r.update(evals[i])
            if frozen[i]:
                r["diverged"] = True
            recs.append(r)
        return recs

    def save(chunks_done: int, states) -> None:
        nonlocal last_save
        if not use_ckpt:
            return
        meta = {  # every process passes the same meta; orbax writes it from process 0
            "format_version": FORMAT_VERSION,
            "jaxrl_version": jaxrl.__version__,
            "config": _config_dict(config),
            "chunks_done": chunks_done,
            "step": chunks_done * L,
            "phase": "offline" if chunks_done < n_off or not n_on else "online",
            "metrics_records": n_records,
            "elapsed_s": time.time() - t_start,
            "divergences": divergences,
            "obs_normalizer": normalizer,
            "run_axis": n_pad,
        }
        ckpt.save(chunks_done, states, meta)
        last_save = time.monotonic()

    def guard(step: int, phase: str, states) -> list[dict[str, Any]]:
        nonlocal frozen
        now = np.asarray(_fetch(states.frozen))
        new = [i for i in range(len(runs)) if now[i] and not frozen[i]]
        frozen = now
        found = []
        for i in new:
            found.append(
                {
                    "run": i,
                    "seed": runs[i].seed,
                    "settings": runs[i].settings,
                    "step": step,
                    "phase": phase,
                    "hyperparameters": _run_hparams(states, i),
                }
            )
            print(
                f"divergence: run {i} (seed {runs[i].seed}) has non-finite losses or "
                f"parameters after step {step} ({phase}); hyperparameters "
                f"{found[-1]['hyperparameters']}"
                + (
                    "; it is frozen, the others continue"
                    if config.on_divergence == "freeze"
                    else ""
                )
            )
        return found

    try:
        with MetricWriter(workdir) if writer_process else _NoWriter() as writer:
            if done is None and n_off == 0:
                evals = evaluate(0, states)
                recs = records(0, "offline", {}, evals, states)
                writer.write(recs)
                n_records += len(recs)
                if n_on:
                    states = built.switch(states)
                save(0, states)
            for c in range(start, n_total):
                phase = "offline" if c < n_off else "online"
                chunk = built.offline_chunk if c < n_off else built.online_chunk
                states, metrics = chunk(states, built.dataset)
                step = (c + 1) * L
                new_divergences = guard(step, phase, states)
                evals = None
                phase_step = step if c < n_off else step - config.offline_steps
                if phase_step % (config.eval_every or total) == 0 or (c + 1) in (n_off, n_total):
                    evals = evaluate(step, states)
                recs = records(step, phase, _host(metrics), evals, states)
                writer.write(recs)
                n_records += len(recs)
                divergences += new_divergences
                if new_divergences and config.on_divergence == "stop":
                    runs = ", ".join(f"run {d['run']} (seed {d['seed']})" for d in new_divergences)
                    kept = ckpt.steps() if ckpt is not None else []
                    raise DivergenceError(
                        f"{runs} diverged (non-finite losses or parameters) by step {step}: "
                        f"{new_divergences}. The job stopped; "
                        + (
                            f"the last good checkpoint (after {kept[-1]} chunks) is kept"
                            if kept
                            else "there is no checkpoint yet"
                        )
                        + ". Lower the learning rate (resume with allow_config_change) or set "
                        "on_divergence='freeze' to let the other runs finish."
                    )
                bar.set_postfix_str(f"{phase} eval={last_eval:.1f}", refresh=False)
                bar.update(L)
                if c + 1 == n_off and n_on:
                    states = built.switch(states)
                if c + 1 in (n_off, n_total):
                    save(c + 1, states)
                elif (config.checkpoint_every and (c + 1) % config.checkpoint_every == 0) or (
                    config.checkpoint_interval_s
                    and time.monotonic() - last_save >= config.checkpoint_interval_s
                ):
                    save(c + 1, states)
    except BaseException:
        if ckpt is not None:
            ckpt.close(raise_errors=False)  # the previous checkpoints stay as they are
        raise
    else:
        if ckpt is not None:
            ckpt.close()
    finally:
        bar.close()
    if not writer_process:
        return {}
    curves = _curves(read_metrics(workdir), config)
    scores_at_switch = {
        i: [v for s, v in c if s <= config.offline_steps][-1] for i, c in curves.items()
    }
    summary = _summarize(
        config, runs, curves, scores_at_switch, built.references, time.time() - t_start
    )
    summary["divergences"] = divergences
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    _plot(workdir, curves, config, runs)
    return summary


class _NoWriter:
    """The metric writer of processes other than 0: drops every record."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, records) -> None:
        del records


def _curves(records, config: TrainConfig) -> dict[int, list[tuple[int, float]]]:
    """Per run index, the (step, normalized score) of every evaluation in `metrics.jsonl`."""
    curves: dict[int, list[tuple[int, float]]] = {i: [] for i in range(config.num_runs)}
    for r in records:
        if "eval_score" in r:
            curves[r["run"]].append((r["step"], r["eval_score"]))
    return curves


def _summarize(config, runs, curves, at_switch, references, seconds) -> dict[str, Any]:
    offline = np.array([at_switch[i] for i in range(config.num_runs)])
    final = np.array([curves[i][-1][1] for i in range(config.num_runs)])
    per_run = []
    for i, spec in enumerate(runs):
        steps, scores = zip(*curves[i], strict=True)
        o2o = stats.o2o_metrics(np.array(steps), np.array(scores), config.offline_steps)
        per_run.append(
            {
                "run": i,
                "seed": spec.seed,
                "settings": spec.settings,
                "offline_score": float(offline[i]),
                "final_score": float(final[i]),
                "dip": o2o["dip"],
                "relative_dip": o2o["relative_dip"],
                "online_auc": o2o["online_auc"],
            }
        )
    online = config.online_steps > 0
    by_setting = []  # one entry per sweep setting (a single one without a sweep)
    for settings in sweep_lib.settings_of(runs):
        idx = [r.run for r in runs if r.settings == settings]
        by_setting.append(
            {
                "settings": settings,
                "runs": idx,
                "offline": stats.summarize(offline[idx]) if config.offline_steps else None,
                "final": stats.summarize(final[idx]),
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
        # Aggregates (IQM, CIs, ...) of the per-run dip and online AUC (stats.o2o_metrics).
        "dip": stats.summarize([r["dip"] for r in per_run]) if online else None,
        "online_auc": stats.summarize([r["online_auc"] for r in per_run]) if online else None,
        "improved_runs": int(np.sum(final > offline)),
        "settings": by_setting,
    }


def _plot(workdir: Path, curves, config: TrainConfig, runs) -> None:
    from jaxrl import plots

    groups = {}  # one curve (IQM over its seeds) per sweep setting
    for spec in runs:
        label = sweep_lib.settings_label(spec.settings)
        label = f"{config.algo} {label}" if label else config.algo
        c = curves[spec.run]
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


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for the terminal: per-seed offline and final scores, then mean ± std."""
    lines = [
        f"{summary['algo']} on {summary['dataset'] or summary['task']}: normalized score "
        f"(random={summary['reference_returns']['random']:.0f}, "
        f"expert={summary['reference_returns']['expert']:.0f})"
    ]
    for r in summary["runs"]:
        label = sweep_lib.settings_label(r.get("settings", {}))
        lines.append(
            f"  seed {r['seed']}: offline {r['offline_score']:7.1f} → final {r['final_score']:7.1f}"
            + (f"  ({label})" if label else "")
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
