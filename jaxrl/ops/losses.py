"""Scalar losses shared by IQL-family, AWR-family and SAC-family agents."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def expectile_loss(diff: jax.Array, expectile: float | jax.Array) -> jax.Array:
    """|τ − 1(u < 0)| · u², elementwise (IQL's value loss; u = Q − V).

    References: Kostrikov et al., 2021, "Offline RL with Implicit Q-Learning", eq. (5).
    """
    weight = jnp.where(diff < 0, 1.0 - expectile, expectile)
    return weight * diff**2


def awr_weights(
    advantage: jax.Array, beta: float | jax.Array, max_weight: float = 100.0
) -> jax.Array:
    """min(exp(β · A), max_weight), with the gradient stopped (IQL, AWAC with β = 1/λ)."""
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(beta * advantage), max_weight))


def temperature_loss(
    log_alpha: jax.Array,
    log_probs: jax.Array,
    target_entropy: float | jax.Array,
    form: str = "alpha",
) -> jax.Array:
    """SAC entropy-temperature loss.

    Args:
      log_alpha: the learned scalar, α = exp(log_alpha).
      log_probs: log π(ã|s) of fresh policy samples (gradient stopped here).
      target_entropy: H_target (e.g. −|A| or −|A|/2).
      form: "alpha" gives α · (Ĥ − H_target) (RLPD, WSRL); "log_alpha" gives
        −log α · mean(log π + H_target) (Cal-QL, CORL). Both push α down when the entropy
        is above target.
    """
    log_probs = jax.lax.stop_gradient(log_probs)
    if form == "alpha":
        return jnp.exp(log_alpha) * (-jnp.mean(log_probs) - target_entropy)
    if form == "log_alpha":
        return -log_alpha * jnp.mean(log_probs + target_entropy)
    raise ValueError(f"temperature loss form={form!r}; allowed: 'alpha', 'log_alpha'")


def huber_loss(diff: jax.Array, delta: float | jax.Array) -> jax.Array:
    """½u²/δ where |u| < δ, else |u| − ½δ, elementwise (RIQL's Q loss with δ = 1/σ²).

    Quadratic near zero and linear in the tails, so a few corrupted targets pull the critic
    by a bounded amount; δ → 0 approaches |u|. (This is PyTorch's `smooth_l1_loss` with
    `beta=δ`, the form RIQL uses, not the δ-scaled `huber_loss`.)

    References: Yang et al., 2023, "Towards Robust Offline RL under Diverse Data
    Corruption" (RIQL), eq. (7).
    """
    abs_diff = jnp.abs(diff)
    return jnp.where(abs_diff < delta, 0.5 * diff**2 / delta, abs_diff - 0.5 * delta)
