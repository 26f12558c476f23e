"""A functional wrapper over a Brax environment for one episode stream; callers vmap.

Unlike Brax's `AutoResetWrapper`, `step` returns the *true* next observation of the step that
ended an episode (`StepOutput.next_obs`) while the returned state already holds the reset
observation, and it keeps `terminated` (no bootstrap) apart from `truncated` (time limit).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.registry import TaskSpec, get_task
from jaxrl.specs import EnvSpec


@struct.dataclass
class EnvState:
    """State of one episode stream.

    Attributes:
      brax_state: the underlying Brax state.
      obs: the observation the agent acts on (already the reset one after an episode end).
      episode_return: return accumulated in the current episode.
      episode_length: steps taken in the current episode.
      key: PRNG key for the next reset.
    """

    brax_state: Any
    obs: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array
    key: jax.Array


class StepOutput(NamedTuple):
    """What one step produced.

    `next_obs` is the true observation after `action`, also at the end of an episode.
    `done` = terminated or truncated; when set, `episode_return` and `episode_length` are the
    finished episode's totals.
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: jax.Array
    done: jax.Array
    episode_return: jax.Array
    episode_length: jax.Array


class Env(NamedTuple):
    """A task's pure functions. `reset(key) -> EnvState`, `step(state, action) -> (state, out)`."""

    reset: Any
    step: Any
    spec: EnvSpec
    task: TaskSpec


@functools.cache
def _brax_env(brax_name: str, backend: str):
    from brax import envs as brax_envs  # imported lazily: it is slow and prints warnings

    return brax_envs.get_environment(brax_name, backend=backend)


@contextlib.contextmanager
def _local_devices_first():
    """Within it, `jax.devices()` lists this process's devices first.

    MJX's `put_model` (which builds a Brax system) commits the model's arrays to
    `jax.devices()[0]`: process 0's device in a multi-process job. On any other process a
    program closing over them then fails ("Closing over jax.Array that spans non-addressable
    devices"), and they cannot be copied over ("Cross-host transfers are not supported"), so they
    are built on a local device instead.
    """
    if jax.process_count() == 1:
        yield
        return
    original = jax.devices

    def devices(backend=None):
        found = original(backend)
        mine = [d for d in found if d.process_index == jax.process_index()]
        return mine + [d for d in found if d.process_index != jax.process_index()]

    jax.devices = devices
    try:
        yield
    finally:
        jax.devices = original


def make_env(task: str | TaskSpec, episode_length: int | None = None) -> Env:
    """Builds the pure reset/step functions of a registered task.

    Args:
      task: a registered name (see `jaxrl.envs.TASKS`) or a `TaskSpec`.
      episode_length: override of the task's time limit.
    """
    task = get_task(task) if isinstance(task, str) else task
    limit = int(episode_length or task.episode_length)
    with _local_devices_first():
        env = _brax_env(task.brax_name, task.backend)
    spec = EnvSpec(
        obs_dim=int(env.observation_size),
        action_dim=int(env.action_size),
        episode_length=limit,
    )

    def reset(key: jax.Array) -> EnvState:
        key, reset_key = jax.random.split(key)
        bs = env.reset(reset_key)
        zero = jnp.zeros((), jnp.float32)
        return EnvState(bs, bs.obs, zero, jnp.zeros((), jnp.int32), key)

    def step(state: EnvState, action: jax.Array) -> tuple[EnvState, StepOutput]:
        action = jnp.clip(action, spec.action_low, spec.action_high)
        bs = env.step(state.brax_state, action)
        length = state.episode_length + 1
        ret = state.episode_return + bs.reward
        terminated = bs.done.astype(jnp.float32)
        truncated = jnp.where(terminated > 0, 0.0, (length >= limit).astype(jnp.float32))
        done = jnp.maximum(terminated, truncated)
        key, reset_key = jax.random.split(state.key)
        fresh = env.reset(reset_key)
        # Brax sets `done` in the stepped state; the reset state must not inherit it.
        bs = bs.replace(done=jnp.zeros_like(bs.done))
        next_bs = jax.tree.map(lambda r, s: jnp.where(done > 0, r, s), fresh, bs)
        out = StepOutput(
            obs=state.obs,
            action=action,
            reward=bs.reward,
            terminated=terminated,
            truncated=truncated,
            next_obs=bs.obs,
            done=done,
            episode_return=ret,
            episode_length=length,
        )
        new_state = EnvState(
            brax_state=next_bs,
            obs=next_bs.obs,
            episode_return=jnp.where(done > 0, 0.0, ret),
            episode_length=jnp.where(done > 0, 0, length),
            key=key,
        )
        return new_state, out

    return Env(reset, step, spec, task)
