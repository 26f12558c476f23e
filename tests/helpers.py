"""Small builders shared by the tests."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import data
from jaxrl.agents.registry import AGENTS, agent_config
from jaxrl.config import TrainConfig
from jaxrl.types import Transition

# What the tiny configs set besides the widths (every `hidden_dims` and `*_hidden_dims` field
# is 16×16, derived from the config class in `tiny_agent`).
TINY_EXTRA = {
    "riql": {"num_critics": 3},
    "ro2o": {"num_critics": 3, "num_perturbations": 4},
    "cql": {"cql_n_actions": 3},
    "calql": {"cql_n_actions": 3},
    "wsrl": {"cql_n_actions": 3, "num_critics": 4},
    "spot": {
        "vae_steps": 0,  # no VAE phase and an actor step every update: the generic tests
        "policy_delay": 1,  # expect one update to move the actor
    },
    "sacn": {"num_critics": 3},
    "edac": {"num_critics": 3},
    "prdc": {"nn_block_size": 16},
}


def tiny_agent(algo: str) -> dict:
    """The tiny agent fields of `algo`: 16×16 for every network's width, plus `TINY_EXTRA`."""
    fields = dataclasses.fields(AGENTS[algo][0])
    dims = {f.name: (16, 16) for f in fields if f.name.endswith("hidden_dims")}
    return {**dims, **TINY_EXTRA.get(algo, {})}


TINY = {algo: tiny_agent(algo) for algo in AGENTS}


def random_arrays(n: int, obs_dim: int, action_dim: int, seed: int = 0, episode: int = 50):
    """D4RL-layout arrays of random transitions in episodes of `episode` steps."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n + 1, obs_dim)).astype(np.float32)
    return {
        "observations": obs[:-1],
        "actions": rng.uniform(-1, 1, (n, action_dim)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminals": np.zeros(n, np.float32),
        "timeouts": (np.arange(n) % episode == episode - 1).astype(np.float32),
        "next_observations": obs[1:],
    }


def write_dataset(path, n=512, obs_dim=17, action_dim=6, task="halfcheetah", seed=0):
    ds = data.from_arrays(random_arrays(n, obs_dim, action_dim, seed), metadata={"task": task})
    data.save_hdf5(ds, path)
    return str(path)


def tiny_config(algo: str = "iql", agent: dict | None = None, **fields) -> TrainConfig:
    values = dict(
        algo=algo,
        agent=agent_config(algo, {**TINY[algo], **(agent or {})}),
        task="halfcheetah",
        seeds=(0, 1),
        batch_size=16,
        offline_steps=40,
        online_steps=40,
        chunk_length=20,
        eval_every=20,
        eval_episodes=2,
        episode_length=10,
    )
    values.update(fields)
    return TrainConfig(**values)


def make_hparams(**values):
    """An ad hoc hyperparameters dataclass (a `flax.struct` pytree of float32 leaves) for tests
    that build an `AgentState` by hand, like an algorithm's `hparams_class`."""
    from flax import struct

    cls = struct.dataclass(
        type("Hparams", (), {"__annotations__": dict.fromkeys(values, "jax.Array")})
    )
    return cls(**{k: jnp.asarray(v, jnp.float32) for k, v in values.items()})


# --- shared learning-test scaffolding: the biased bandit (tests/agents, test_bandit_learning) ---

LEARN_BATCH = 64


def key_data(seed, n):
    """n raw keys (uint32 data), for a learning loop that passes each step's key this way (one
    compiled scan for every test that shares it)."""
    return np.asarray(jax.random.key_data(jax.random.split(jax.random.key(seed), n)))


def bandit(n, seed):
    """s ~ U[−1, 1]², best action a*(s) = 0.6·s₀ − 0.3·s₁, r = −(a − a*)², every step terminal.

    The behaviour policy is biased: a = a* + 0.3 + N(0, 0.3²), so behaviour cloning scores a
    mean squared error of about 0.09, and an agent must use the rewards to beat that.
    """
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    best = 0.6 * s[:, 0] - 0.3 * s[:, 1]
    a = np.clip(best + 0.3 + 0.3 * rng.normal(size=n), -1, 1).astype(np.float32)
    r = -((a - best) ** 2)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    data = Transition(
        obs=f(s),
        action=f(a[:, None]),
        reward=f(r),
        terminated=f(np.ones(n)),
        truncated=f(np.zeros(n)),
        next_obs=f(s),
        mc_return=f(r),
    )
    return data, best
