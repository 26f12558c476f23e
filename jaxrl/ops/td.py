"""Temporal-difference targets and target-network updates."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def td_target(
    reward: jax.Array, mask: jax.Array, next_value: jax.Array, discount: float | jax.Array
) -> jax.Array:
    """y = r + γ · mask · V(s'), with the gradient stopped.

    Args:
      reward: r_t.
      mask: 1 − terminated_t (time-limit truncation still bootstraps).
      next_value: the bootstrap value at s_{t+1}.
      discount: γ.
    """
    return jax.lax.stop_gradient(reward + discount * mask * next_value)


def polyak(target: optax.Params, online: optax.Params, tau: float | jax.Array) -> optax.Params:
    """θ̄ ← (1 − τ) θ̄ + τ θ."""
    return jax.tree.map(lambda t, o: (1.0 - tau) * t + tau * o, target, online)


def discounted_sum(rewards: jax.Array, discount: float) -> jax.Array:
    """Σ_t γ^t r_t over the last axis."""
    return jnp.sum(rewards * discount ** jnp.arange(rewards.shape[-1]), axis=-1)


def ensemble_td_loss(q: jax.Array, target: jax.Array, reduction: str = "sum") -> jax.Array:
    """The squared TD error of an ensemble of critics, reduced as the reference reduces it.

    Args:
      q: Q_c(s, a) of every critic, shape [C, B].
      target: the TD target y, shape [B] (shared by every critic) or [C, B].
      reduction: "sum": Σ_c mean_b (Q_c − y)² (CORL's SAC-N, EDAC, TD3+BC, AWAC, SPOT);
        "mean": mean over c and b (IQL, SAC/RLPD); "none": mean_b per critic, shape [C] (CQL).
    """
    y = target if target.ndim == q.ndim else target[None]
    if reduction == "sum":
        return jnp.sum(jnp.mean((q - y) ** 2, axis=1))
    if reduction == "mean":
        return jnp.mean((q - y) ** 2)
    if reduction == "none":
        return jnp.mean((q - y) ** 2, axis=1)
    raise ValueError(f"reduction={reduction!r}; allowed: 'sum', 'mean', 'none'")
