"""Deterministic-actor math of the TD3 family (TD3+BC, ReBRAC; also SPOT, PRDC, A2PR).

Written for one batch: actions are [B, |A|], values [B].

Example:

    >>> import jax.numpy as jnp
    >>> pi, a = jnp.array([[0.5, 0.0]]), jnp.array([[0.0, 1.0]])
    >>> bc_penalty(pi, a, "sum"), bc_penalty(pi, a, "mean")
    (Array([1.25], dtype=float32), Array([0.625], dtype=float32))
    >>> float(bc_decay(jnp.array(250.0), 1000.0, 0.5))
    0.75
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: How the squared action error is reduced over action dimensions: "sum" ‖π(s) − a‖²
#: (ReBRAC, CORL `rebrac.py`), "mean" ‖π(s) − a‖² / |A| (TD3+BC's `F.mse_loss`).
BC_REDUCTIONS = ("sum", "mean")


def smoothed_target_action(
    action: jax.Array,
    key: jax.Array,
    noise_std: float | jax.Array,
    noise_clip: float | jax.Array,
) -> jax.Array:
    """TD3 target policy smoothing: clip(a + clip(ε, −c, c), −1, 1), ε ~ N(0, σ²).

    Args:
      action: target-actor actions π̄(s') in [−1, 1].
      key: PRNG key for ε.
      noise_std: σ (0.2 in TD3, TD3+BC, ReBRAC).
      noise_clip: c (0.5).

    References: Fujimoto et al., 2018, "Addressing Function Approximation Error in
    Actor-Critic Methods", eq. (14).
    """
    noise = jnp.clip(noise_std * jax.random.normal(key, action.shape), -noise_clip, noise_clip)
    return jnp.clip(action + noise, -1.0, 1.0)


def bc_penalty(policy_action: jax.Array, data_action: jax.Array, reduction: str = "sum"):
    """Per-example squared distance between two actions, reduced over the last axis.

    Args:
      policy_action: [..., |A|].
      data_action: [..., |A|].
      reduction: one of `BC_REDUCTIONS`.
    """
    sq = (policy_action - data_action) ** 2
    if reduction == "sum":
        return jnp.sum(sq, axis=-1)
    if reduction == "mean":
        return jnp.mean(sq, axis=-1)
    raise ValueError(f"bc reduction {reduction!r}; allowed: {BC_REDUCTIONS}")


def normalized_q_weight(q: jax.Array, scale: float | jax.Array = 1.0) -> jax.Array:
    """λ = sg(scale / mean|Q|): TD3+BC's Q normalization (scale α = 2.5; ReBRAC scale 1).

    References: Fujimoto & Gu, 2021, "A Minimalist Approach to Offline RL", eq. (3).
    """
    return jax.lax.stop_gradient(scale / jnp.mean(jnp.abs(q)))


def deterministic_bc_actor_loss(
    q: jax.Array,
    bc: jax.Array,
    q_scale: float | jax.Array,
    bc_coef: float | jax.Array,
    normalize_q: bool = True,
) -> jax.Array:
    """mean[ β · bc − λ · Q ] with λ = `normalized_q_weight(Q, q_scale)` (or q_scale).

    TD3+BC: β = 1, q_scale = α, bc = `bc_penalty(..., "mean")`, Q = Q_1.
    ReBRAC: β = β_actor, q_scale = 1, bc = `bc_penalty(..., "sum")`, Q = min_j Q_j.

    Args:
      q: Q(s, π(s)) [B], differentiable in the actor.
      bc: per-example behaviour-cloning penalty [B].
      q_scale: α (TD3+BC) or 1 (ReBRAC).
      bc_coef: β.
      normalize_q: divide by sg(mean|Q|); off gives λ = q_scale.
    """
    lam = normalized_q_weight(q, q_scale) if normalize_q else q_scale
    return jnp.mean(bc_coef * bc - lam * q)


def policy_update_due(step: jax.Array, delay: int) -> jax.Array:
    """True on the steps that update the actor and the targets: step % delay == 0.

    `step` counts gradient steps from 0, so the first step updates the actor, as in CORL's
    JAX ReBRAC; the PyTorch TD3/TD3+BC code first updates it on the second step.
    """
    return (step % delay) == 0


def bc_decay(
    online_steps: jax.Array, decay_steps: float | jax.Array, min_coef: float | jax.Array
) -> jax.Array:
    """max(min_coef, 1 − online_steps / decay_steps): ReBRAC's online BC schedule.

    CORL `finetune/rebrac.py` multiplies β_actor by this after `online_steps` online updates,
    with `decay_steps` = the number of online updates and min_coef = 0.5.
    """
    lin = 1.0 - online_steps / jnp.maximum(decay_steps, 1.0)
    return jnp.maximum(min_coef, lin)
