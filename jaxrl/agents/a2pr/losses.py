"""A2PR losses, at module level with the differentiated parameters first (ALGORITHMS.md §9).

The critics' target and loss are the TD3 family's (`jaxrl.agents.families.td3`); the VAE is the
BCQ-style one in `jaxrl.networks.vae`. `actor`, `critic`, `value` and `vae` are the Linen modules (a
`DeterministicPolicy`, a `QEnsemble`, a `ValueNetwork` and a `VAE`).

References: Liu et al., 2024, "Adaptive Advantage-guided Policy Regularization for Offline
Reinforcement Learning" (ICML), §4; `ltlhuuu/A2PR: A2PR.py: A2PR.train` (@f92a2a4), which
these losses follow where the two differ (docs/algorithms/a2pr.md).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.agents.families import td3
from jaxrl.networks import vae_neg_elbo, vae_reconstruct
from jaxrl.ops import bc_penalty
from jaxrl.types import Transition


def value_target(online_target: jax.Array, td3_target: jax.Array) -> jax.Array:
    """t = min(r + γ m min_j Q_j(s', ã'), y): the smaller of the targets built with the online
    critics (after their step) and with the target critics, both at ã' (the reference's
    `torch.min(targ_Q, target_Q)`), both from `td3.clipped_double_q_target`."""
    return jnp.minimum(online_target, td3_target)


def value_loss(
    value_params: Any, value: nn.Module, obs: jax.Array, target: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """mean_batch (V(s) − t)².

    Returns:
      (loss, V(s) [B] before this step's update, which the VAE filter and the actor use, as
      in the reference).
    """
    v = value.apply(value_params, obs)
    return jnp.mean((v - target) ** 2), v


def advantage_filter(q1_data: jax.Array, v: jax.Array, vae_weight: jax.Array) -> jax.Array:
    """w · 1[Q_1(s, a) > V(s)]: the VAE reconstructs only dataset actions with a positive
    advantage. [B], no gradient."""
    return jax.lax.stop_gradient(vae_weight * (q1_data > v).astype(q1_data.dtype))


def vae_loss(
    vae_params: Any,
    vae: nn.Module,
    batch: Transition,
    key: jax.Array,
    recon_weight: jax.Array,
    kl_weight: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """mean_{batch, dims}(w_i (D(s, z) − a)²) + β_KL · mean_{batch, latent} KL(q(z|s,a) ‖ N(0, I)).

    One latent sample z ~ q(z | s, a) per example; `recon_weight` = `advantage_filter(...)`.

    Returns:
      (loss, {"vae_recon_weight": mean w_i}).
    """
    per_example = vae_neg_elbo(
        vae_params, vae, batch.obs, batch.action, key, kl_weight, 1, recon_weight
    )
    return jnp.mean(per_example), {"vae_recon_weight": jnp.mean(recon_weight)}


def actor_loss(
    actor_params: Any,
    actor: nn.Module,
    critic_params: Any,
    critic: nn.Module,
    vae_params: Any,
    vae: nn.Module,
    batch: Transition,
    q1_data: jax.Array,
    v: jax.Array,
    latent_noise: jax.Array,
    alpha: jax.Array,
    mask: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """−(α / sg(mean|Q_1(s, π(s))|)) · mean Q_1(s, π(s)) + mean_batch(M · mean_dims (π(s) − â)²).

    With ã = D(s, z), z ~ q(z | s, π(s)) (the VAE's sampled reconstruction of the actor's
    action), A_π = Q_1(s, ã) − V(s) and A_d = Q_1(s, a) − V(s):
    - the target action is â = ã where A_π ≥ A_d, else the dataset action a;
    - the mask is M = mask · (1[Q_1(s, ã) ≥ V(s)] + 1[Q_1(s, a) > V(s)]) ∈ {0, mask, 2·mask}.
    As in the reference, ã is not detached: the BC gradient also reaches π(s) through the
    (frozen) VAE; the comparisons carry no gradient.

    Args:
      actor_params: differentiated.
      critic_params: the critics after this step's critic update.
      vae_params: the VAE after this step's VAE update.
      q1_data: Q_1(s, a) [B] from those critics.
      v: V(s) [B] (before this step's V update, as in the reference).
      latent_noise: ε ~ N(0, I) [B, latent_dim] of the VAE's latent sample (drawn by the
        caller, outside the policy-delay `lax.cond`).
      alpha: α.
      mask: the mask weight (possibly decayed online).

    Returns:
      (loss, metrics: the two terms, mean Q_1(s, π(s)), the share of VAE targets, mean M).
    """
    pi = actor.apply(actor_params, batch.obs)
    q_pi = critic.apply(critic_params, batch.obs, pi)[0]
    q_term = td3.normalized_q_term(q_pi, alpha)
    recon = vae_reconstruct(vae_params, vae, batch.obs, pi, latent_noise)
    q_recon = jax.lax.stop_gradient(critic.apply(critic_params, batch.obs, recon)[0])
    adv_pi, adv_data = q_recon - v, q1_data - v
    use_recon = adv_pi >= adv_data
    target = jnp.where(use_recon[:, None], recon, batch.action)
    m = mask * ((q_recon >= v).astype(v.dtype) + (q1_data > v).astype(v.dtype))
    bc = jnp.mean(m * bc_penalty(pi, target, "mean"))
    return q_term + bc, {
        "q_term": q_term,
        "bc_loss": bc,
        "actor_q": jnp.mean(q_pi),
        "vae_target_frac": jnp.mean(use_recon.astype(v.dtype)),
        "mask_mean": jnp.mean(m),
    }
