"""FamO2O + IQL losses, module-level with params first (ALGORITHMS.md §7).

Only FamO2O's own terms: IQL's expectile value and TD critic are the IQL family's
(`jaxrl.agents.families.iql.value_loss`, `critic_loss`).

Shapes: `obs` [B, |S|], `action` [B, |A|], β [B]. The balance model π_b is a 1-d
tanh-Gaussian whose sample β̃ ∈ (−1, 1) is mapped affinely onto [β_min, β_max].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.networks import GaussianPolicy, QEnsemble, gaussian_log_prob, tanh_gaussian_sample
from jaxrl.ops import awr_weights, reduce_ensemble, sinusoidal_embedding

#: How the AWR weight of example i uses β (see `actor_loss`).
ACTOR_WEIGHTINGS = ("per_sample", "reference")


def unit_to_beta(x: jax.Array, beta_min: float | jax.Array, beta_max: float | jax.Array):
    """The affine map of the balance model's output x ∈ [−1, 1] onto [β_min, β_max]."""
    return beta_min + (x + 1.0) / 2.0 * (beta_max - beta_min)


def conditioned_obs(obs: jax.Array, beta: jax.Array, dim: int, base: float) -> jax.Array:
    """The universal actor's input concat(s, emb(β)); `obs` [..., |S|], `beta` [...]."""
    return jnp.concatenate([obs, sinusoidal_embedding(beta, dim, base)], axis=-1)


def actor_betas(
    balance_params,
    balance: GaussianPolicy,
    obs: jax.Array,
    key: jax.Array,
    online: jax.Array,
    beta_min: float | jax.Array,
    beta_max: float | jax.Array,
) -> jax.Array:
    """β for the universal actor's loss, [B], gradient stopped.

    Offline (`online` 0): β ~ U[β_min, β_max] independently per example. Online (`online` 1):
    β = affine(β̃), β̃ ~ π_b(·|s). Both are computed and one is selected, so the switch is a
    leaf, not a branch of the program.
    """
    uniform_key, balance_key = jax.random.split(key)
    uniform = jax.random.uniform(
        uniform_key, obs.shape[:1], minval=beta_min, maxval=beta_max, dtype=obs.dtype
    )
    mean, log_std = balance.apply(balance_params, obs)
    unit, _ = tanh_gaussian_sample(mean, log_std, balance_key)
    adaptive = unit_to_beta(unit[..., 0], beta_min, beta_max)
    return jax.lax.stop_gradient(jnp.where(online > 0, adaptive, uniform))


def actor_loss(
    actor_params,
    actor: GaussianPolicy,
    obs: jax.Array,
    action: jax.Array,
    beta: jax.Array,
    advantage: jax.Array,
    embedding_dim: int,
    embedding_base: float,
    max_weight: float = 100.0,
    weighting: str = "per_sample",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The universal actor's AWR loss −mean_B[w_i · log π_u(a_i | s_i, emb(β_i))].

    Args:
      actor_params: π_u's parameters.
      actor: π_u, a Gaussian over raw actions with input concat(s, emb(β)).
      obs, action: the batch's s and a.
      beta: [B] balance coefficients, one per example (`actor_betas`).
      advantage: [B] A = min_j Q̄_j(s,a) − V(s), gradient stopped.
      embedding_dim, embedding_base: d and n of `sinusoidal_embedding`.
      max_weight: clip of the weights.
      weighting: "per_sample" (the paper): w_i = min(exp(β_i A_i), max_weight).
        "reference": w_i = mean_k min(exp(β_k A_i), max_weight), what the reference code
        computes because its β has shape [B, 1] and its advantage [B] (a [B, B] product).

    Returns:
      (loss, aux) with the weights and log-densities.

    References: Wang et al., 2023, "Train Once, Get a Family" (FamO2O), the universal model
    on IQL; `LeapLabTHU/FamO2O: jax_iql/family_actor.py: family_update`.
    """
    if weighting == "per_sample":
        weights = awr_weights(advantage, beta, max_weight)
    elif weighting == "reference":
        weights = jnp.mean(awr_weights(advantage[None, :], beta[:, None], max_weight), axis=0)
    else:
        raise ValueError(f"weighting={weighting!r}; allowed: {ACTOR_WEIGHTINGS}")
    x = conditioned_obs(obs, beta, embedding_dim, embedding_base)
    mean, log_std = actor.apply(actor_params, x)
    log_prob = gaussian_log_prob(mean, log_std, action)
    return -jnp.mean(weights * log_prob), {"weights": weights, "log_prob": log_prob}


def frozen_min_q(
    critic_params: Any, critic: QEnsemble
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """(s, a) ↦ min_j Q_j(s, a) [B] with the critics' parameters gradient-stopped."""
    frozen = jax.lax.stop_gradient(critic_params)
    return lambda obs, action: reduce_ensemble(critic.apply(frozen, obs, action), "min")


def balance_loss(
    balance_params,
    balance: GaussianPolicy,
    actor_params,
    actor: GaussianPolicy,
    q_fn: Callable[[jax.Array, jax.Array], jax.Array],
    obs: jax.Array,
    key: jax.Array,
    log_alpha: jax.Array,
    beta_min: float | jax.Array,
    beta_max: float | jax.Array,
    embedding_dim: int,
    embedding_base: float,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The balance model's SAC-like loss mean_B[α_b log π_b(β̃|s) − min_j Q̄_j(s, ã)].

    β̃ ~ π_b(·|s) (reparameterized tanh-Gaussian, 1-d), β = affine(β̃), and
    ã = μ_u(s, emb(β)) + σ_u ε ~ π_u(·|s, emb(β)), unclipped as in the reference. π_u and the
    critics are frozen (their parameters get no gradient here), but the gradient of Q reaches
    π_b through ã's dependence on β. α_b = exp(log_alpha) is a constant of this loss.

    Args:
      balance_params: π_b's parameters (the only ones differentiated).
      balance: π_b, a `GaussianPolicy` with one output.
      actor_params, actor: the universal actor π_u.
      q_fn: `q_fn(s, a) -> [B]`, min_j Q̄_j(s, a) of the frozen target critics (the reference
        uses the target network): `frozen_min_q`.
      obs: [B, |S|].
      key: for β̃ and ã.
      log_alpha: log α_b.
      beta_min, beta_max: the range of β.
      embedding_dim, embedding_base: d and n of `sinusoidal_embedding`.

    Returns:
      (loss, aux) with log π_b(β̃|s) [B], β [B] and the min-Q [B].

    References: Wang et al., 2023, "Train Once, Get a Family" (FamO2O), the balance model;
    `LeapLabTHU/FamO2O: jax_iql/family_actor.py: family_hierarchical_update`.
    """
    beta_key, action_key = jax.random.split(key)
    mean_b, log_std_b = balance.apply(balance_params, obs)
    unit, log_prob = tanh_gaussian_sample(mean_b, log_std_b, beta_key)
    beta = unit_to_beta(unit[..., 0], beta_min, beta_max)
    x = conditioned_obs(obs, beta, embedding_dim, embedding_base)
    mean_u, log_std_u = actor.apply(jax.lax.stop_gradient(actor_params), x)
    noise = jax.random.normal(action_key, mean_u.shape, mean_u.dtype)
    action = mean_u + jnp.exp(log_std_u) * noise
    q = q_fn(obs, action)
    alpha = jax.lax.stop_gradient(jnp.exp(log_alpha))
    loss = jnp.mean(alpha * log_prob - q)
    return loss, {"log_prob": log_prob, "beta": beta, "q": q}
