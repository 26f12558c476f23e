"""Synthetic inputs for measuring programs: a random dataset and an env that is never stepped.

Example:
    >>> from jaxrl.bench.synthetic import learner_env, synthetic_dataset
    >>> from jaxrl.specs import EnvSpec
    >>> env = learner_env(EnvSpec(obs_dim=17, action_dim=6))
    >>> ds = synthetic_dataset(2_000, 17, 6)
    >>> ds.reward.shape
    (2000,)
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from jaxrl import data as data_lib
from jaxrl.data import trajectories
from jaxrl.envs import Env, EnvState
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def synthetic_dataset(
    rows: int, obs_dim: int, action_dim: int, seed: int = 0, next_actions: bool = False
) -> Transition:
    """A D4RL-layout random dataset in 1000-step episodes, with MC returns, on device
    (and each row's next action when `next_actions`: ReBRAC's critic penalty reads it).
    Cached: the learner rows and `recount_flops` share one copy per layout, however the
    arguments are passed."""
    return _synthetic_dataset(rows, obs_dim, action_dim, seed, next_actions)


@functools.lru_cache(maxsize=4)
def _synthetic_dataset(rows: int, obs_dim: int, action_dim: int, seed: int, next_actions: bool):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(rows + 1, obs_dim)).astype(np.float32)
    arrays = {
        "observations": obs[:-1],
        "actions": rng.uniform(-1, 1, (rows, action_dim)).astype(np.float32),
        "rewards": rng.normal(size=rows).astype(np.float32),
        "terminals": np.zeros(rows, np.float32),
        "timeouts": (np.arange(rows) % 1000 == 999).astype(np.float32),
        "next_observations": obs[1:],
    }
    ds = data_lib.from_arrays(arrays, source="<benchmark>", metadata={"task": "halfcheetah"})
    ds = data_lib.with_mc_returns(ds, 0.99)
    if next_actions:
        ds = trajectories.with_next_actions(ds)
    return data_lib.to_device(ds)


def learner_env(spec: EnvSpec) -> Env:
    """An `Env` whose reset makes a placeholder state and which cannot step: for programs that
    never step an env (the offline chunk), where building the states through Brax's reset
    would only add its compile time."""

    def reset(key):
        zero = jnp.zeros((), jnp.float32)
        obs = jnp.zeros((spec.obs_dim,), jnp.float32)
        return EnvState(zero, obs, zero, jnp.zeros((), jnp.int32), key)

    return Env(reset=reset, step=None, spec=spec, task=None)
