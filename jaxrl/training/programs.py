"""The programs of a config: compiled chunks, initial states and their template; no file I/O.

`build(config, dataset)` turns a config and an (already loaded) dataset into `Programs`: the
agent, the environment, the dataset on the devices, and the compiled offline, online,
evaluation and switch programs, each `jit(vmap over the run axis)` with its outputs split over
a one-axis device mesh. `init_states(programs)` makes the stacked initial `TrainState`;
`state_template` its abstract shape (for restoring a checkpoint). Nothing here writes a file;
`load_dataset` only reads one.

Example:

    >>> from jaxrl.training import build, init_states, train
    >>> programs = build(config, dataset)  # doctest: +SKIP
    >>> states, history = train(programs, init_states(programs))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxrl import data as data_lib
from jaxrl import sweep as sweep_lib
from jaxrl.agents.base import hparams_of
from jaxrl.agents.registry import make_agent
from jaxrl.buffers import WeightedDataset
from jaxrl.config import ConfigError, TrainConfig, validate
from jaxrl.data import samplers, suite, trajectories, transforms
from jaxrl.envs import Env, make_env
from jaxrl.training.chunks import (
    data_needs,
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)
from jaxrl.types import Transition, empty_transition

RUN_AXIS = "runs"


def make_mesh(devices=None) -> Mesh:
    """A one-axis mesh ("runs") over `devices` (default: every device of every host)."""
    devices = list(jax.devices() if devices is None else devices)
    return Mesh(np.array(devices), (RUN_AXIS,))


def fetch(tree):
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
class Programs:
    """Everything `build` makes from a config, before any training."""

    config: TrainConfig
    env: Env
    agent: Any
    dataset: Transition | WeightedDataset  # weighted when config.sampler != "uniform"
    dataset_size: int
    references: tuple[float, float]  # (random, expert) returns of normalized scores
    offline_chunk: Callable
    online_chunk: Callable
    evaluate: Callable
    switch: Callable
    eval_keys: Callable  # step -> one evaluation key per run index, split over the runs
    mesh: Mesh
    runs: tuple[sweep_lib.RunSpec, ...]  # every run index, padding (copies of the last) included
    obs_normalizer: data_lib.ObsNormalizer | None = None  # set when config.normalize_obs
    reward_scale: float = 1.0  # rewards' factor offline and online (`reward_scale`)

    @property
    def state_sharding(self) -> NamedSharding:
        return NamedSharding(self.mesh, P(RUN_AXIS))

    @property
    def real_runs(self) -> tuple[sweep_lib.RunSpec, ...]:
        return tuple(r for r in self.runs if not r.padding)

    def policy(self, states, run_index: int = 0) -> Callable[..., jax.Array]:
        """Run `run_index`'s policy from stacked `states` (see `make_policy`)."""
        agent_state = jax.tree.map(lambda x: x[run_index], states.agent)
        return make_policy(self.agent, agent_state, self.obs_normalizer)


def load_dataset(config: TrainConfig, env: Env) -> data_lib.Dataset | None:
    """The configured dataset, read (never generated) and checked against the task.

    A suite name (`<task>-<kind>-v0`) is read from the suite cache of `config.dataset_preset`
    and checksummed; generating a missing one is an explicit step
    (`jaxrl.data.generate.ensure`), which `jaxrl.run.run` and the CLI take.
    """
    if not config.dataset:
        return None
    if suite.is_generatable(config.dataset) and not Path(config.dataset).suffix:
        ds = suite.load(config.dataset, config.dataset_preset, spec=env.spec)
    else:
        ds = data_lib.load(config.dataset, spec=env.spec)
    task = ds.metadata.get("task")
    if task and task != env.task.name:
        raise data_lib.DatasetError(
            f"{config.dataset}: dataset was made for task {task!r} but the config's task is "
            f"{env.task.name!r}; set task={task!r} or pick a {env.task.name} dataset"
        )
    return ds


def reward_scale(config: TrainConfig, ds: data_lib.Dataset, horizon: float = 1000.0) -> float:
    """The factor rewards are multiplied by, offline and online alike (the bias is
    `config.reward_bias`): `config.reward_scale`, times `horizon / (R_max − R_min)` of `ds`'s
    episode returns when `config.reward_normalization == "return_range"` (IQL, XQL).

    Args:
      ds: the offline dataset, after the algorithm's selection (`prepare_dataset`).
      horizon: the task's time limit (`env.spec.episode_length`; the references' 1000).
    """
    if config.reward_normalization == "return_range":
        return config.reward_scale * transforms.return_range_scale(ds, horizon)
    return config.reward_scale


def prepare_dataset(
    config: TrainConfig, ds: data_lib.Dataset, horizon: float = 1000.0
) -> tuple[data_lib.Dataset, data_lib.ObsNormalizer | None]:
    """The dataset as training sees it: the algorithm's selection and transforms, then the
    config's reward normalization, scale and bias (the factor used is the prepared dataset's
    `metadata["reward_scale"]`, see `reward_scale`; `horizon` is the task's time limit) and
    observation normalization (with the normalizer used)."""
    needs = data_needs(config)
    if needs.top_fraction < 1.0:  # %BC: best episodes, ranked by raw rewards
        ds = trajectories.top_trajectories(ds, needs.top_fraction, needs.top_fraction_discount)
    if needs.next_action:
        ds = trajectories.with_next_actions(ds)
    validate(config, dataset_size=ds.size)
    scale = reward_scale(config, ds, horizon)
    ds = data_lib.scale_rewards(ds, scale, config.reward_bias)
    ds = dataclasses.replace(ds, metadata={**ds.metadata, "reward_scale": scale})
    if needs.mc_return_discount is not None:
        ds = data_lib.with_mc_returns(ds, needs.mc_return_discount)
    normalizer = None
    if config.normalize_obs:
        normalizer = data_lib.obs_normalizer(ds, include_next_obs=needs.obs_stats_with_next_obs)
        ds = data_lib.normalize_obs(ds, normalizer)
    return ds, normalizer


def build_agent(config: TrainConfig) -> tuple[Any, Env]:
    """The agent and environment of a config (no dataset, nothing compiled)."""
    env = make_env(config.task, config.episode_length or None)
    return make_agent(config.algo, config.agent_config(), env.spec), env


def build(
    config: TrainConfig,
    dataset: data_lib.Dataset | None = None,
    *,
    devices=None,
    env: Env | None = None,
) -> Programs:
    """Checks the config, prepares the data, builds the agent and the (not yet traced) programs.

    Args:
      config: the run.
      dataset: the loaded offline dataset (`jaxrl.data.load`, or `load_dataset(config, env)`);
        None reads the config's (`load_dataset`), which must then exist already.
      devices: the devices the run axis is split over (default: all, on every host). A run
        axis that does not divide their number is padded with copies of the last run.
      env: the environment, if already built (`build_agent`).

    Raises:
      ConfigError: the config is invalid, or a dataset is given to a config without one.
      DatasetError: the dataset is missing, invalid or made for another task.
    """
    validate(config)
    if env is None:
        agent, env = build_agent(config)
    else:
        agent = make_agent(config.algo, config.agent_config(), env.spec)
    mesh = make_mesh(devices)
    runs = sweep_lib.pad(sweep_lib.expand(config), mesh.size)
    replicated = NamedSharding(mesh, P())
    split = NamedSharding(mesh, P(RUN_AXIS))
    if dataset is None:
        dataset = load_dataset(config, env)
    elif not config.dataset:
        raise ConfigError(
            "a dataset was given but config.dataset is empty; set dataset= to the dataset's "
            "name or path (it is recorded with the run), or pass no dataset"
        )
    normalizer = None
    scale = config.reward_scale
    if dataset is not None:
        ds, normalizer = prepare_dataset(config, dataset, env.spec.episode_length)
        scale = ds.metadata["reward_scale"]
        on_device = _replicate(ds.transitions, replicated)  # one copy per device, every run
        if config.sampler != "uniform":
            # Weights from the rewards as training sees them, as the reference does.
            probs = samplers.sampling_probabilities(
                ds,
                config.sampler,
                temperature=config.sampler_temperature,
                top_fraction=config.sampler_top_fraction,
            )
            cdf = _replicate(samplers.sampling_cdf(probs), replicated)
            on_device = WeightedDataset(on_device, cdf)
        size = ds.size
        meta = ds.metadata
    else:
        on_device = _replicate(
            empty_transition(
                env.spec.obs_dim,
                env.spec.action_dim,
                (1,),
                next_action=data_needs(config).next_action,
            ),
            replicated,
        )
        size = 1
        meta = {}
    references = (
        float(meta.get("random_return", env.task.random_return)),
        float(meta.get("expert_return", env.task.expert_return)),
    )
    mc = data_needs(config).mc_return_discount
    n_pad = len(runs)
    # A pure function of the step, so a resumed run evaluates as an uninterrupted one; made
    # on the devices, already split over the run axis (a global array on multi-host jobs).
    eval_keys = jax.jit(
        lambda step: jax.random.split(
            jax.random.fold_in(jax.random.key(10_000 + config.seeds[0]), step), n_pad
        ),
        out_shardings=split,
    )
    return Programs(
        config=config,
        env=env,
        agent=agent,
        dataset=on_device,
        dataset_size=size,
        references=references,
        offline_chunk=_on_run_axis(make_offline_chunk(config, agent), split, donate=True),
        online_chunk=_on_run_axis(
            make_online_chunk(config, agent, env, size, mc, normalizer, scale), split, True
        ),
        evaluate=_on_run_axis(
            make_evaluator(agent, env, config.eval_episodes, normalizer), split, False
        ),
        switch=_on_run_axis(make_switch(agent, env, config.num_envs), split, donate=True),
        eval_keys=eval_keys,
        mesh=mesh,
        runs=runs,
        obs_normalizer=normalizer,
        reward_scale=scale,
    )


def init_states(programs: Programs):
    """The stacked initial `TrainState` of every run (leading axis = run index, split over the
    mesh), each from its seed with its sweep setting in the dynamic leaves."""
    runs = programs.runs
    seeds = np.array([r.seed for r in runs], np.uint32)
    hparams, ratios = sweep_lib.run_hparams(programs.config, runs)
    init = jax.vmap(
        lambda s, h, r: init_train_state(programs.config, programs.agent, programs.env, s, h, r)
    )
    return jax.jit(init, out_shardings=programs.state_sharding)(seeds, hparams, ratios)


def state_template(
    config: TrainConfig, agent, env: Env, num_runs: int | None = None, sharding=None
):
    """The abstract (shape and dtype only) stacked `TrainState` of a config; nothing runs.

    Args:
      num_runs: the run axis length (default `config.num_runs`; `len(Programs.runs)` when
        padded).
      sharding: attached to every leaf (e.g. `Programs.state_sharding`), so a checkpoint
        restores straight into the run-axis split.
    """
    n = config.num_runs if num_runs is None else num_runs
    seeds = jax.ShapeDtypeStruct((n,), jnp.uint32)
    hparams = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct((n, *x.shape), x.dtype), hparams_of(config.agent_config())
    )
    ratios = jax.ShapeDtypeStruct((n,), jnp.float32)
    init = jax.vmap(lambda s, h, r: init_train_state(config, agent, env, s, h, r))
    tree = jax.eval_shape(init, seeds, hparams, ratios)
    if sharding is None:
        return tree
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)


def make_policy(agent, agent_state, normalizer=None) -> Callable[..., jax.Array]:
    """A jitted `policy(obs, key=None, deterministic=True) -> action` of one agent state.

    `obs` is one raw environment observation or a batch (leading axes are vmapped); `key` is
    needed only when `deterministic` is False. With a `normalizer` (a run with
    `normalize_obs`) the policy normalizes `obs` first; it is `policy.obs_normalizer`.
    """

    def act(state, obs, key, deterministic):
        if normalizer is not None:
            obs = normalizer(obs)
        flat = obs.reshape(-1, obs.shape[-1])
        keys = jax.random.split(key, flat.shape[0])
        actions = jax.vmap(lambda o, k: agent.act(state, o, k, deterministic))(flat, keys)
        return actions.reshape(obs.shape[:-1] + actions.shape[1:])

    act = jax.jit(act, static_argnums=(3,))

    def policy(obs, key: jax.Array | None = None, deterministic: bool = True) -> jax.Array:
        if key is None:
            if not deterministic:
                raise ValueError("a stochastic action (deterministic=False) needs a key")
            key = jax.random.key(0)
        return act(agent_state, jnp.asarray(obs, jnp.float32), key, bool(deterministic))

    policy.obs_normalizer = normalizer
    return policy
