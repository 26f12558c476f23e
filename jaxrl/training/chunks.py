"""The on-device programs of a run, each written for one run and vmapped over the run axis.

`make_offline_chunk` is a `lax.scan` of sample → update; `make_online_chunk` a `lax.scan` of
act → env step → buffer add → UTD × (mixed sample → update); `make_evaluator` runs vmapped
deterministic episodes. Each returned function is `jit(vmap(...))` with the train state
donated, so one compilation serves every chunk of a phase, and the switch (`make_switch`)
only changes leaves, never shapes, so it triggers no recompilation.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.agents.base import Agent, AgentState
from jaxrl.buffers import (
    BufferState,
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
    """

    agent: AgentState
    buffer: BufferState
    env: EnvState
    key: jax.Array
    grad_steps: jax.Array
    env_steps: jax.Array
    phase: jax.Array
    offline_ratio: jax.Array


def init_train_state(config: TrainConfig, agent: Agent, env: Env, seed: jax.Array) -> TrainState:
    """The initial state of one run from its integer seed (vmap over seeds for many runs)."""
    key = jax.random.key(seed)
    key, agent_key, env_key = jax.random.split(key, 3)
    spec = env.spec
    example = empty_transition(spec.obs_dim, spec.action_dim)
    return TrainState(
        agent=agent.init(agent_key),
        buffer=buffer_init(example, config.capacity),
        env=jax.vmap(env.reset)(jax.random.split(env_key, config.num_envs)),
        key=key,
        grad_steps=jnp.zeros((), jnp.int32),
        env_steps=jnp.zeros((), jnp.int32),
        phase=jnp.zeros((), jnp.int32),
        offline_ratio=jnp.asarray(config.offline_ratio, jnp.float32),
    )


def _mean_metrics(metrics: dict[str, jax.Array]) -> dict[str, jax.Array]:
    return jax.tree.map(lambda x: jnp.mean(x, axis=0), metrics)


def _run_axis(fn: Callable, dataset_arg: bool) -> Callable:
    """jit(vmap(fn)) over the run axis; the dataset (if any) is shared, not vmapped."""
    in_axes = (0, None) if dataset_arg else (0,)
    return jax.jit(jax.vmap(fn, in_axes=in_axes), donate_argnums=(0,))


def make_offline_chunk(config: TrainConfig, agent: Agent) -> Callable:
    """`chunk(states[runs], dataset) -> (states, metrics[runs])`: `chunk_length` updates."""

    def one_step(ts: TrainState, dataset: Transition):
        key, sample_key, update_key = jax.random.split(ts.key, 3)
        batch = dataset_sample(dataset, sample_key, config.batch_size)
        agent_state, metrics = agent.update(ts.agent, batch, update_key)
        return ts.replace(agent=agent_state, key=key, grad_steps=ts.grad_steps + 1), metrics

    def chunk(ts: TrainState, dataset: Transition):
        ts, metrics = jax.lax.scan(
            lambda s, _: one_step(s, dataset), ts, None, length=config.chunk_length
        )
        return ts, _mean_metrics(metrics)

    return _run_axis(chunk, dataset_arg=True)


def _utd_update(agent: Agent, state: AgentState, batches: Transition, key: jax.Array):
    if agent.update_utd is not None:
        return agent.update_utd(state, batches, key)
    utd = batches.reward.shape[0]
    state, metrics = jax.lax.scan(
        lambda s, xs: agent.update(s, *xs), state, (batches, jax.random.split(key, utd))
    )
    return state, _mean_metrics(metrics)


def make_online_chunk(
    config: TrainConfig,
    agent: Agent,
    env: Env,
    dataset_size: int,
    mc_discount: float | None = None,
) -> Callable:
    """`chunk(states[runs], dataset) -> (states, metrics[runs])`: `chunk_length` env steps.

    Each step acts in `num_envs` environments (exploration policy, or the warm-up policy),
    appends the transitions with their true final observations to the buffer, and, once
    `warmup_steps` transitions are collected, runs `utd` updates on mixed batches.

    Args:
      dataset_size: rows in the dataset (for "append" retention).
      mc_discount: when set, Monte-Carlo returns of finished online episodes are recomputed
        at the end of every chunk (Cal-QL's online calibration).
    """
    n_env = config.num_envs
    spec = env.spec
    steps = config.chunk_length // n_env

    def one_step(ts: TrainState, dataset: Transition):
        key, act_key, rand_key, sample_key, update_key = jax.random.split(ts.key, 5)
        obs = ts.env.obs
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
            obs=out.obs,
            action=out.action,
            reward=out.reward * config.reward_scale + config.reward_bias,
            terminated=out.terminated,
            truncated=out.truncated,
            next_obs=out.next_obs,
            mc_return=jnp.full_like(out.reward, -jnp.inf),
        )
        buffer = buffer_add(ts.buffer, rows)
        env_steps = ts.env_steps + n_env

        ratio = offline_fraction(config.retention, ts.offline_ratio, dataset_size, buffer.size)
        batches = jax.vmap(lambda k: mixed_sample(dataset, buffer, k, config.batch_size, ratio))(
            jax.random.split(sample_key, config.utd)
        )
        new_agent, metrics = _utd_update(agent, ts.agent, batches, update_key)
        learn = env_steps > config.warmup_steps
        agent_state = jax.tree.map(lambda n, o: jnp.where(learn, n, o), new_agent, ts.agent)
        metrics = {k: jnp.where(learn, v, jnp.nan) for k, v in metrics.items()}
        ts = ts.replace(
            agent=agent_state,
            buffer=buffer,
            env=env_state,
            key=key,
            env_steps=env_steps,
            grad_steps=ts.grad_steps + jnp.where(learn, config.utd, 0),
        )
        episode = {
            "episodes": jnp.sum(out.done),
            "return_sum": jnp.sum(out.episode_return * out.done),
            "offline_fraction": ratio,
        }
        return ts, (metrics, episode)

    def chunk(ts: TrainState, dataset: Transition):
        ts, (metrics, episode) = jax.lax.scan(
            lambda s, _: one_step(s, dataset), ts, None, length=steps
        )
        if mc_discount is not None:
            ts = ts.replace(buffer=recompute_mc_returns(ts.buffer, n_env, mc_discount))
        out = {k: jnp.nanmean(v) for k, v in metrics.items()}
        n_episodes = jnp.sum(episode["episodes"])
        out["train_episodes"] = n_episodes
        out["train_return"] = jnp.where(
            n_episodes > 0, jnp.sum(episode["return_sum"]) / jnp.maximum(n_episodes, 1), jnp.nan
        )
        out["offline_fraction"] = jnp.mean(episode["offline_fraction"])
        return ts, out

    return _run_axis(chunk, dataset_arg=True)


def make_evaluator(agent: Agent, env: Env, num_episodes: int) -> Callable:
    """`evaluate(agent_states[runs], keys[runs]) -> returns[runs, num_episodes]`.

    Runs `num_episodes` episodes per run in parallel with the deterministic policy, each up to
    the time limit, summing rewards until the first episode end.
    """
    length = env.spec.episode_length

    def evaluate(agent_state: AgentState, key: jax.Array) -> jax.Array:
        act_key, reset_key = jax.random.split(key)
        env_state = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))

        def body(carry, _):
            es, ret, alive = carry
            actions = jax.vmap(agent.act, in_axes=(None, 0, None, None))(
                agent_state, es.obs, act_key, True
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
    """`switch(states[runs]) -> states`: the algorithm's `to_online`, phase 1, fresh envs."""

    def switch(ts: TrainState) -> TrainState:
        key, env_key = jax.random.split(ts.key)
        return ts.replace(
            agent=agent.to_online(ts.agent),
            env=jax.vmap(env.reset)(jax.random.split(env_key, num_envs)),
            key=key,
            phase=jnp.ones((), jnp.int32),
        )

    return jax.jit(jax.vmap(switch), donate_argnums=(0,))
