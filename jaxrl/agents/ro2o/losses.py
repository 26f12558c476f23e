"""RO2O's own losses, module-level with params first: policy smoothness, Q smoothness and the
OOD uncertainty penalty on top of the SAC-N learner.

The SAC-N parts (the soft target with the min over all critics, the actor objective, the
temperature step in the "log_alpha" form) are the SAC family's (`jaxrl.agents.families.sac`).
Perturbations are the worst of `n` uniform offsets in an L∞ ball, shared by the batch
(`jaxrl.ops.linf_perturbations`), not a gradient attack.

References: Wen et al., 2024, "Towards Robust Offline-to-Online Reinforcement Learning via
Uncertainty and Smoothness", eqs. (4)–(8); `BattleWen/RO2O:algorithms/offline/ro2o_mujoco.py`;
ALGORITHMS.md §6.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import (
    asymmetric_squared,
    ensemble_td_loss,
    gaussian_symmetric_kl,
    uncertainty_pseudo_target,
)
from jaxrl.types import Transition


def perturbed(obs: jax.Array, deltas: jax.Array) -> jax.Array:
    """ŝ = s + δ for every offset: obs [B, d], deltas [n, d] → [n, B, d]."""
    return obs[None] + deltas[:, None]


def ood_weight(step: jax.Array, hp: Any) -> jax.Array:
    """u at `step`: max(u_init − decay·step, u_min) (ALGORITHMS.md §6, "OOD penalty")."""
    return jnp.maximum(hp.ood_u_init - hp.ood_u_decay * step, hp.ood_u_min)


def policy_smoothness(
    actor_params: Any,
    actor: GaussianPolicy,
    obs: jax.Array,
    dist: tuple[jax.Array, jax.Array],
    deltas: jax.Array,
) -> jax.Array:
    """mean_B max_δ [KL(π(s)‖π(s+δ)) + KL(π(s+δ)‖π(s))] of the pre-tanh Gaussians.

    Args:
      dist: (μ(s), log σ(s)) of the clean states, [B, |A|] each.
      deltas: the policy perturbations, [n, d].

    References: Wen et al., 2024, eq. (6) (L_pol-smooth); ALGORITHMS.md §6.
    """
    mean, log_std = dist
    mean_p, log_std_p = actor.apply(actor_params, perturbed(obs, deltas))
    kl = gaussian_symmetric_kl(mean[None], log_std[None], mean_p, log_std_p)  # [n, B]
    return jnp.mean(jnp.max(kl, axis=0))


def q_smoothness(q: jax.Array, q_pert: jax.Array, positive_weight: float) -> jax.Array:
    """mean_B max_δ mean_i w·(Q_i(s+δ, a) − Q_i(s, a))², w = 0.8 up, 0.2 down.

    Args:
      q: Q_i(s, a), [N, B].
      q_pert: Q_i(s+δ, a), [N, n, B].

    References: Wen et al., 2024, eq. (5) (L_Q-smooth); ALGORITHMS.md §6.
    """
    diff = asymmetric_squared(q_pert - q[:, None], positive_weight)
    return jnp.mean(jnp.max(jnp.mean(diff, axis=0), axis=0))


def ood_penalty(q_ood: jax.Array, u: float | jax.Array) -> jax.Array:
    """mean (Q_i(ŝ, â) − sg[Q_i(ŝ, â) − u·std_i Q_i(ŝ, â)])², the uncertainty penalty.

    References: Wen et al., 2024, eq. (4) (L_OOD); ALGORITHMS.md §6.
    """
    return jnp.mean((q_ood - uncertainty_pseudo_target(q_ood, u)) ** 2)


def critic_loss(
    critic_params: Any,
    critic: QEnsemble,
    batch: Transition,
    target: jax.Array,
    q_deltas: jax.Array,
    ood_obs: jax.Array,
    ood_actions: jax.Array,
    u: jax.Array,
    q_smooth_coef: float | jax.Array,
    ood_coef: float | jax.Array,
    positive_weight: float,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array, jax.Array]]:
    """L_Q = Σ_i mean_B(Q_i − y)² + η₁ L_Q-smooth + β_ood L_OOD.

    Args:
      target: y from `families.sac.critic_target` (the updated actor, min over all target
        critics, the entropy backup), [B].
      q_deltas: the Q-smoothness perturbations, [n, d].
      ood_obs, ood_actions: ŝ = s + δ, [n, B, d], and â ~ π(·|ŝ) without gradient.
      u: the uncertainty weight, `ood_weight`.

    Returns:
      (loss, (q, td, q_smooth, ood)).

    References: Wen et al., 2024, eq. (8); ALGORITHMS.md §6 ("Critic loss").
    """
    q = critic.apply(critic_params, batch.obs, batch.action)  # [N, B]
    td = ensemble_td_loss(q, target, "sum")
    n = q_deltas.shape[0]
    repeat_a = jnp.broadcast_to(batch.action, (n,) + batch.action.shape)
    q_pert = critic.apply(critic_params, perturbed(batch.obs, q_deltas), repeat_a)  # [N, n, B]
    q_smooth = q_smoothness(q, q_pert, positive_weight)
    ood = ood_penalty(critic.apply(critic_params, ood_obs, ood_actions), u)  # [N, n, B] inside
    total = td + q_smooth_coef * q_smooth + ood_coef * ood
    return total, (q, td, q_smooth, ood)
