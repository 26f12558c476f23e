"""Small builders shared by the tests."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxrl import data
from jaxrl.agents.registry import agent_config
from jaxrl.config import TrainConfig

TINY = {
    "iql": {"hidden_dims": (16, 16)},
    "riql": {"hidden_dims": (16, 16), "num_critics": 3},
    "ro2o": {
        "hidden_dims": (16, 16),
        "critic_hidden_dims": (16, 16),
        "num_critics": 3,
        "num_perturbations": 4,
    },
    "sac": {"hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)},
    "cql": {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16), "cql_n_actions": 3},
    "calql": {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16), "cql_n_actions": 3},
    "wsrl": {
        "actor_hidden_dims": (16, 16),
        "critic_hidden_dims": (16, 16),
        "cql_n_actions": 3,
        "num_critics": 4,
    },
    "awac": {"hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)},
    "spot": {
        "hidden_dims": (16, 16),
        "critic_hidden_dims": (16, 16),
        "vae_hidden_dims": (16, 16),
        "vae_steps": 0,  # no VAE phase and an actor step every update: the generic tests
        "policy_delay": 1,  # expect one update to move the actor
    },
    "sacn": {"hidden_dims": (16, 16), "critic_hidden_dims": (16, 16), "num_critics": 3},
    "edac": {"hidden_dims": (16, 16), "critic_hidden_dims": (16, 16), "num_critics": 3},
    "bc": {"hidden_dims": (16, 16)},
    "td3bc": {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)},
    "rebrac": {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)},
    "famo2o": {"hidden_dims": (16, 16)},
    "a2pr": {
        "actor_hidden_dims": (16, 16),
        "critic_hidden_dims": (16, 16),
        "value_hidden_dims": (16, 16),
        "vae_hidden_dims": (16, 16),
    },
    "prdc": {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16), "nn_block_size": 16},
    "xql": {"hidden_dims": (16, 16)},
    "fdvl": {"hidden_dims": (16, 16)},
}


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
