"""The on-device programs of a run, each written for one run and vmapped over the run axis.

`make_offline_chunk` is a `lax.scan` of sample → update; `make_online_chunk` a `lax.scan` of
act → env step → buffer add → UTD × (mixed sample → update); `make_evaluator` runs vmapped
deterministic episodes. Each returned function is `jit(vmap(...))` with the train state
donated, so one compilation serves every chunk of a phase, and the switch (`make_switch`)
only changes leaves, never shapes, so it triggers no recompilation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import Agent, AgentState, DataNeeds
from jaxrl.buffers import (
    BufferState,
    WeightedDataset,
    buffer_add,
    buffer_init,
    dataset_sample,
    mixed_sample,
    offline_fraction,
    recompute_mc_returns,
)
from jaxrl.config import TrainConfig
from jaxrl.envs import Env, EnvState
from jaxrl.types import Transition, empty_transition

OFFLINE, ONLINE = 0, 1


@struct.dataclass
class TrainState:
    """Everything one run carries between chunks (DESIGN.md, "TrainState").

    Attributes:
      agent: the agent's parameters, optimizer states and dynamic hyperparameters.
      buffer: the online replay buffer.
      env: the `num_envs` environment streams and their current observations.
      key: the run's PRNG key.
      grad_steps: gradient steps taken (offline and online).
      env_steps: online environment steps taken (all envs together).
      phase: 0 offline, 1 online.
      offline_ratio: share of offline rows per online batch ("mixed" retention).
      frozen: set by the divergence guard when a chunk left non-finite losses or parameters;
        from then on every chunk leaves this run's state untouched (on_divergence="freeze").
    """

    agent: AgentState
    buffer: BufferState
    env: EnvState
    key: jax.Array
    grad_steps: jax.Array
    env_steps: jax.Array
    phase: jax.Array
    offline_ratio: jax.Array
    frozen: jax.Array


def data_needs(config: TrainConfig) -> DataNeeds:
    """What the configured algorithm needs from the data (its config's `data_needs`)."""
    return config.agent_config().data_needs()


def with_dataset(agent: Agent, dataset: Transition | WeightedDataset) -> Agent:
    """`agent.bind_dataset(transitions)` for agents that read the dataset, else `agent`.

    Called inside the traced chunk, so the agent closes over the chunk's dataset argument:
    one device copy shared by every run (it is not vmapped), never a compile-time constant.
    """
    if agent.bind_dataset is None:
        return agent
    if isinstance(dataset, WeightedDataset):
        dataset = dataset.transitions
    return agent.bind_dataset(dataset)


def init_train_state(
    config: TrainConfig,
    agent: Agent,
    env: Env,
    seed: jax.Array,
    hparams: Any = None,
    offline_ratio: jax.Array | None = None,
) -> TrainState:
    """The initial state of one run from its integer seed (vmap over seeds for many runs).

    `hparams` (the agent's hyperparameters dataclass) and `offline_ratio` default to the
    config's; a sweep passes each run's (traced under vmap).
    """
    key = jax.random.key(seed)
    key, agent_key, env_key = jax.random.split(key, 3)
    spec = env.spec
    example = empty_transition(
        spec.obs_dim, spec.action_dim, next_action=data_needs(config).next_action
    )
    return TrainState(
        agent=agent.init(agent_key, hparams),
        buffer=buffer_init(example, config.capacity),
        env=jax.vmap(env.reset)(jax.random.split(env_key, config.num_envs)),
        key=key,
        grad_steps=jnp.zeros((), jnp.int32),
        env_steps=jnp.zeros((), jnp.int32),
        phase=jnp.zeros((), jnp.int32),
        offline_ratio=jnp.asarray(
            config.offline_ratio if offline_ratio is None else offline_ratio, jnp.float32
        ),
        frozen=jnp.zeros((), jnp.bool_),
    )


def _mean_metrics(metrics: dict[str, jax.Array]) -> dict[str, jax.Array]:
    return jax.tree.map(lambda x: jnp.mean(x, axis=0), metrics)


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.ones((), jnp.bool_)


def _unwrap_keys(tree):
    is_key = lambda x: jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
    return jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, tree)


def _select(frozen: jax.Array, old, new):
    """`old` where `frozen`, else `new`; `old` holds key data (`_unwrap_keys`), `new` keys."""

    def pick(o, n):
        if jax.dtypes.issubdtype(n.dtype, jax.dtypes.prng_key):
            impl = jax.random.key_impl(n)
            return jax.random.wrap_key_data(jnp.where(frozen, o, jax.random.key_data(n)), impl=impl)
        return jnp.where(frozen, o, n)

    return jax.tree.map(pick, old, new)


def _guarded(chunk: Callable) -> Callable:
    """Wraps a one-run chunk with the divergence guard.

    A frozen run leaves the chunk as it entered (its buffer is protected row by row inside the
    online chunk, so the buffer is not selected here: that would copy it every chunk). A run
    whose parameters or losses (`losses_ok`, computed per step by the chunk) are non-finite
    after the chunk is marked frozen; the host reads that flag at the chunk boundary.
    """

    def guarded(ts: TrainState, dataset: Transition):
        old = _unwrap_keys(ts.replace(buffer=None))  # before the chunk consumes the keys
        new, metrics, losses_ok = chunk(ts, dataset)
        rest = _select(ts.frozen, old, new.replace(buffer=None))
        finite = losses_ok & _all_finite((new.agent.params, new.agent.target_params))
        return rest.replace(buffer=new.buffer, frozen=ts.frozen | ~finite), metrics

    return guarded


def _add_unless_frozen(buffer: BufferState, rows: Transition, frozen: jax.Array) -> BufferState:
    """`buffer_add`, except that a frozen run rewrites the rows it would overwrite."""
    idx = (buffer.insert_pos + jnp.arange(rows.reward.shape[0])) % buffer.capacity
    rows = jax.tree.map(
        lambda old, new: jnp.where(frozen, old[idx], new.astype(old.dtype)), buffer.data, rows
    )
    added = buffer_add(buffer, rows)
    return added.replace(
        insert_pos=jnp.where(frozen, buffer.insert_pos, added.insert_pos),
        size=jnp.where(frozen, buffer.size, added.size),
    )


def _run_axis(fn: Callable, dataset_arg: bool) -> Callable:
    """jit(vmap(fn)) over the run axis; the dataset (if any) is shared, not vmapped."""
    in_axes = (0, None) if dataset_arg else (0,)
    return jax.jit(jax.vmap(fn, in_axes=in_axes), donate_argnums=(0,))


def make_offline_chunk(
    config: TrainConfig, agent: Agent, *, utd: int = 1, guard: bool = True
) -> Callable:
    """`chunk(states[runs], dataset) -> (states, metrics[runs])`: `chunk_length` updates.

    Args:
      utd: dataset batches per step; above 1 each step is one `update_utd` (or a scan of
        `update`) on `utd` batches, as an online step at that UTD is, and counts `utd`
        gradient steps. The default, 1, is one `update` per step.
      guard: wrap the chunk with the divergence guard (see `TrainState.frozen`). False leaves
        it out, for measuring the update steps alone (`jaxrl.bench`).
    """

    def one_step(ts: TrainState, dataset: Transition, learner: Agent):
        key, sample_key, update_key = jax.random.split(ts.key, 3)
        if utd == 1:
            batch = dataset_sample(dataset, sample_key, config.batch_size)
            agent_state, metrics = learner.update(ts.agent, batch, update_key)
        else:
            batches = jax.vmap(lambda k: dataset_sample(dataset, k, config.batch_size))(
                jax.random.split(sample_key, utd)
            )
            agent_state, metrics = _utd_update(learner, ts.agent, batches, update_key)
        return ts.replace(agent=agent_state, key=key, grad_steps=ts.grad_steps + utd), metrics

    def chunk(ts: TrainState, dataset: Transition):
        learner = with_dataset(agent, dataset)
        ts, metrics = jax.lax.scan(
            lambda s, _: one_step(s, dataset, learner), ts, None, length=config.chunk_length
        )
        metrics = _mean_metrics(metrics)  # a non-finite step makes its mean non-finite
        return ts, metrics, _all_finite(metrics)

    if not guard:
        return _run_axis(lambda ts, dataset: chunk(ts, dataset)[:2], dataset_arg=True)
    return _run_axis(_guarded(chunk), dataset_arg=True)


def _utd_update(agent: Agent, state: AgentState, batches: Transition, key: jax.Array):
    if agent.update_utd is not None:
        return agent.update_utd(state, batches, key)

    # The key rides in the carry and is split per step: scanning over a pre-split key array
    # inside the run-axis vmap trips jax's key-reuse checker (a false positive).
    def body(carry, batch):
        s, k = carry
        k, step_key = jax.random.split(k)
        s, m = agent.update(s, batch, step_key)
        return (s, k), m

    (state, _), metrics = jax.lax.scan(body, (state, key), batches)
    return state, _mean_metrics(metrics)


def make_online_chunk(
    config: TrainConfig,
    agent: Agent,
    env: Env,
    dataset_size: int,
    mc_discount: float | None = None,
    obs_normalizer: Callable | None = None,
    reward_scale: float | None = None,
) -> Callable:
    """`chunk(states[runs], dataset) -> (states, metrics[runs])`: `chunk_length` env steps.

    Each step acts in `num_envs` environments (exploration policy, or the warm-up policy),
    appends the transitions with their true final observations to the buffer, and, once
    `warmup_steps` transitions are collected, runs `utd` updates on mixed batches: after each
    env step (`config.online_updates="interleaved"`), or all of them after the chunk's env
    steps, with the policy fixed while it collects ("after_chunk": Cal-QL's loop, one
    trajectory then as many updates, when `chunk_length` is the episode length).

    Args:
      dataset_size: rows in the dataset (for "append" retention).
      mc_discount: when set, Monte-Carlo returns of finished online episodes are recomputed
        at the end of every chunk ("after_chunk": before its updates), Cal-QL's online
        calibration.
      obs_normalizer: applied to observations before the agent acts on them and before they
        enter the buffer (`jaxrl.data.ObsNormalizer`, fixed from the dataset); None: raw.
      reward_scale: the factor of online rewards before `config.reward_bias`, the one the
        dataset's rewards got (`jaxrl.training.reward_scale`); None: `config.reward_scale`.
    """
    norm = obs_normalizer if obs_normalizer is not None else (lambda obs: obs)
    r_scale = config.reward_scale if reward_scale is None else reward_scale
    n_env = config.num_envs
    spec = env.spec
    steps = config.chunk_length // n_env

    def act_and_store(ts: TrainState, act_key: jax.Array, rand_key: jax.Array):
        """One env step of all envs with the exploration (or warm-up) policy, stored."""
        obs = norm(ts.env.obs)
        actions = jax.vmap(agent.act, in_axes=(None, 0, 0, None))(
            ts.agent, obs, jax.random.split(act_key, n_env), False
        )
        in_warmup = ts.env_steps < config.warmup_steps
        if config.warmup_policy == "random":
            random_actions = jax.random.uniform(
                rand_key, actions.shape, minval=spec.action_low, maxval=spec.action_high
            )
            actions = jnp.where(in_warmup, random_actions, actions)
        env_state, out = jax.vmap(env.step)(ts.env, actions)
        rows = Transition(
            obs=norm(out.obs),
            action=out.action,
            reward=out.reward * r_scale + config.reward_bias,
            terminated=out.terminated,
            truncated=out.truncated,
            next_obs=norm(out.next_obs),
            mc_return=jnp.full_like(out.reward, -jnp.inf),
        )
        if data_needs(config).next_action:
            # The policy's exploration action at s' (normalized, as the agent sees every
            # observation), as CORL's ReBRAC fine-tuning stores it.
            rows = rows.replace(
                next_action=jax.vmap(agent.act, in_axes=(None, 0, 0, None))(
                    ts.agent,
                    rows.next_obs,
                    jax.random.split(jax.random.fold_in(act_key, 1), n_env),
                    False,
                )
            )
        buffer = _add_unless_frozen(ts.buffer, rows, ts.frozen)
        episode = {
            "episodes": jnp.sum(out.done),
            "return_sum": jnp.sum(out.episode_return * out.done),
        }
        return env_state, buffer, episode

    def learn_step(ts, buffer, dataset, learner, sample_key, update_key, learn):
        """`utd` updates on mixed batches when `learn`; the agent state is kept otherwise."""
        ratio = offline_fraction(config.retention, ts.offline_ratio, dataset_size, buffer.size)
        batches = jax.vmap(lambda k: mixed_sample(dataset, buffer, k, config.batch_size, ratio))(
            jax.random.split(sample_key, config.utd)
        )
        new_agent, metrics = _utd_update(learner, ts.agent, batches, update_key)
        losses_ok = _all_finite(metrics) | ~learn
        agent_state = jax.tree.map(lambda n, o: jnp.where(learn, n, o), new_agent, ts.agent)
        metrics = {k: jnp.where(learn, v, jnp.nan) for k, v in metrics.items()}
        return agent_state, metrics, losses_ok, ratio

    def one_step(ts: TrainState, dataset: Transition, learner: Agent):
        """online_updates="interleaved": one env step, then `utd` updates."""
        key, act_key, rand_key, sample_key, update_key = jax.random.split(ts.key, 5)
        env_state, buffer, episode = act_and_store(ts, act_key, rand_key)
        env_steps = ts.env_steps + n_env
        learn = env_steps > config.warmup_steps
        agent_state, metrics, losses_ok, ratio = learn_step(
            ts, buffer, dataset, learner, sample_key, update_key, learn
        )
        ts = ts.replace(
            agent=agent_state,
            buffer=buffer,
            env=env_state,
            key=key,
            env_steps=env_steps,
            grad_steps=ts.grad_steps + jnp.where(learn, config.utd, 0),
        )
        return ts, (metrics, {**episode, "offline_fraction": ratio}, losses_ok)

    def collect_step(ts: TrainState):
        """online_updates="after_chunk", first part: one env step with the fixed policy."""
        key, act_key, rand_key = jax.random.split(ts.key, 3)
        env_state, buffer, episode = act_and_store(ts, act_key, rand_key)
        ts = ts.replace(buffer=buffer, env=env_state, key=key, env_steps=ts.env_steps + n_env)
        return ts, episode

    def update_step(ts: TrainState, i: jax.Array, start: jax.Array, dataset, learner):
        """online_updates="after_chunk", second part: the `utd` updates of the chunk's i-th env
        step (made when that step was past the warm-up, as the interleaved loop would)."""
        key, sample_key, update_key = jax.random.split(ts.key, 3)
        learn = start + (i + 1) * n_env > config.warmup_steps
        agent_state, metrics, losses_ok, ratio = learn_step(
            ts, ts.buffer, dataset, learner, sample_key, update_key, learn
        )
        ts = ts.replace(
            agent=agent_state,
            key=key,
            grad_steps=ts.grad_steps + jnp.where(learn, config.utd, 0),
        )
        return ts, (metrics, ratio, losses_ok)

    def mc_returns(ts: TrainState) -> TrainState:
        if mc_discount is None:
            return ts
        return ts.replace(buffer=recompute_mc_returns(ts.buffer, n_env, mc_discount))

    def chunk(ts: TrainState, dataset: Transition):
        learner = with_dataset(agent, dataset)
        if config.online_updates == "after_chunk":
            start = ts.env_steps
            ts, episode = jax.lax.scan(lambda s, _: collect_step(s), ts, None, length=steps)
            ts = mc_returns(ts)  # the collected episodes' returns-to-go, before the updates
            ts, (metrics, ratios, losses_ok) = jax.lax.scan(
                lambda s, i: update_step(s, i, start, dataset, learner), ts, jnp.arange(steps)
            )
            episode = {**episode, "offline_fraction": ratios}
        else:
            ts, (metrics, episode, losses_ok) = jax.lax.scan(
                lambda s, _: one_step(s, dataset, learner), ts, None, length=steps
            )
            ts = mc_returns(ts)
        out = {k: jnp.nanmean(v) for k, v in metrics.items()}
        n_episodes = jnp.sum(episode["episodes"])
        out["train_episodes"] = n_episodes
        out["train_return"] = jnp.where(
            n_episodes > 0, jnp.sum(episode["return_sum"]) / jnp.maximum(n_episodes, 1), jnp.nan
        )
        out["offline_fraction"] = jnp.mean(episode["offline_fraction"])
        return ts, out, jnp.all(losses_ok)

    return _run_axis(_guarded(chunk), dataset_arg=True)


def make_evaluator(
    agent: Agent, env: Env, num_episodes: int, obs_normalizer: Callable | None = None
) -> Callable:
    """`evaluate(agent_states[runs], keys[runs]) -> returns[runs, num_episodes]`.

    Runs `num_episodes` episodes per run in parallel with the deterministic policy, each up to
    the time limit, summing rewards until the first episode end. `obs_normalizer`, if given,
    is applied to every observation before the policy sees it.
    """
    norm = obs_normalizer if obs_normalizer is not None else (lambda obs: obs)
    length = env.spec.episode_length

    def evaluate(agent_state: AgentState, key: jax.Array) -> jax.Array:
        act_key, reset_key = jax.random.split(key)
        env_state = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))

        def body(carry, _):
            es, ret, alive = carry
            actions = jax.vmap(agent.act, in_axes=(None, 0, None, None))(
                agent_state, norm(es.obs), act_key, True
            )
            es, out = jax.vmap(env.step)(es, actions)
            ret = ret + out.reward * alive
            alive = alive * (1.0 - out.done)
            return (es, ret, alive), None

        init = (env_state, jnp.zeros(num_episodes), jnp.ones(num_episodes))
        (_, returns, _), _ = jax.lax.scan(body, init, None, length=length)
        return returns

    return jax.jit(jax.vmap(evaluate))


def make_switch(agent: Agent, env: Env, num_envs: int) -> Callable:
    """`switch(states[runs]) -> states`: the algorithm's `to_online`, phase 1, fresh envs.

    Frozen runs (see `TrainState.frozen`) are left unchanged.
    """

    def switch(ts: TrainState) -> TrainState:
        old = _unwrap_keys(ts)
        key, env_key = jax.random.split(ts.key)
        new = ts.replace(
            agent=agent.to_online(ts.agent),
            env=jax.vmap(env.reset)(jax.random.split(env_key, num_envs)),
            key=key,
            phase=jnp.ones((), jnp.int32),
        )
        # A run frozen by the divergence guard stays as it was.
        return _select(ts.frozen, old, new)

    return jax.jit(jax.vmap(switch), donate_argnums=(0,))
