"""Smoothness and uncertainty terms of robust offline-to-online RL (RO2O; ALGORITHMS.md §6, §14).

RO2O's "adversarial" states are the worst of `n` uniform perturbations in an L∞ ball (no
gradient attack): draw `n` offsets shared across the batch, evaluate a loss at each, keep the
maximum per state.

References: Wen et al., 2024, "Towards Robust Offline-to-Online Reinforcement Learning via
Uncertainty and Smoothness" (`BattleWen/RO2O`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def linf_perturbations(key: jax.Array, num: int, dim: int, epsilon: float) -> jax.Array:
    """`num` offsets drawn uniformly from [−ε, ε]^dim, shape [num, dim] (shared by a batch)."""
    return jax.random.uniform(key, (num, dim), minval=-epsilon, maxval=epsilon)


def asymmetric_squared(diff: jax.Array, positive_weight: float = 0.8) -> jax.Array:
    """w·diff² with w = `positive_weight` where diff > 0, else 1 − `positive_weight`.

    RO2O's Q-smoothness penalty: a perturbed state whose Q rises above the clean one is
    penalized more (0.8) than one whose Q falls (0.2).
    """
    weight = jnp.where(diff > 0, positive_weight, 1.0 - positive_weight)
    return weight * diff**2


def gaussian_symmetric_kl(
    mean_p: jax.Array, log_std_p: jax.Array, mean_q: jax.Array, log_std_q: jax.Array
) -> jax.Array:
    """KL(p‖q) + KL(q‖p) of diagonal Gaussians, summed over the last axis.

    For one dimension: ((σp² − σq²)² + (μp − μq)²(σp² + σq²)) / (2σp²σq²).
    """
    var_p, var_q = jnp.exp(2 * log_std_p), jnp.exp(2 * log_std_q)
    sq = (mean_p - mean_q) ** 2
    kl = ((var_p - var_q) ** 2 + sq * (var_p + var_q)) / (2 * var_p * var_q)
    return jnp.sum(kl, axis=-1)


def uncertainty_pseudo_target(q: jax.Array, u: float | jax.Array) -> jax.Array:
    """Q − u·std over the ensemble (axis 0), gradient stopped: RO2O's OOD target per member.

    The std is the unbiased one (divides by N − 1), as torch's default `.std(axis=0)` in the
    reference (`BattleWen/RO2O: ro2o_mujoco.py`).
    """
    return jax.lax.stop_gradient(q - u * jnp.std(q, axis=0, ddof=1, keepdims=True))
