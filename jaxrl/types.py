"""Pytrees shared by every layer: transitions and common aliases."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

PRNGKey = jax.Array
Params = Any
Metrics = dict[str, jax.Array]


@struct.dataclass
class Transition:
    """One environment transition, or a batch of them along leading axes.

    `terminated` marks a true terminal (no bootstrap); `truncated` marks a time limit (the
    episode ends but the value of `next_obs` still bootstraps). `next_obs` is always the true
    next observation, also at the end of an episode. `mc_return` is the discounted Monte-Carlo
    return-to-go of the transition (zeros when not computed). `next_action` is the action taken
    at `next_obs` (ReBRAC's critic penalty); None unless an algorithm asks for it
    (`jaxrl.data.with_next_actions` offline, the online chunk online).
    """

    obs: jax.Array
    action: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    next_obs: jax.Array
    mc_return: jax.Array
    next_action: jax.Array | None = None

    @property
    def size(self) -> int:
        return self.reward.shape[0]

    @property
    def mask(self) -> jax.Array:
        """1 where the next state's value bootstraps, 0 at true terminals."""
        return 1.0 - self.terminated


def empty_transition(
    obs_dim: int, action_dim: int, shape: tuple[int, ...] = (), next_action: bool = False
) -> Transition:
    """A zero-filled `Transition` with leading `shape`, float32 everywhere.

    `next_action` also allocates the optional `next_action` field.
    """
    z = lambda *tail: jnp.zeros(shape + tail, jnp.float32)
    return Transition(
        obs=z(obs_dim),
        action=z(action_dim),
        reward=z(),
        terminated=z(),
        truncated=z(),
        next_obs=z(obs_dim),
        mc_return=z(),
        next_action=z(action_dim) if next_action else None,
    )
