"""AWAC losses, module-level with params first (ALGORITHMS.md §4.2).

The critic's regression is the IQL family's `critic_loss` (Σ_j MSE); AWAC's own terms are its
policy-sampled target and its advantage against a policy sample.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.families import iql as family
from jaxrl.networks import GaussianPolicy, QEnsemble, gaussian_log_prob
from jaxrl.ops import awr_weights, ensemble_td_loss, reduce_ensemble, td_target
from jaxrl.types import Transition


def sample_clipped(mean: jax.Array, log_std: jax.Array, key: jax.Array) -> jax.Array:
    """a = clip(μ + σ·ε, −1, 1): CORL's reparameterized sample, clamped to the action box."""
    noise = jax.random.normal(key, mean.shape, mean.dtype)
    return jnp.clip(mean + jnp.exp(log_std) * noise, -1.0, 1.0)


def critic_loss(
    critic_params,
    critic: QEnsemble,
    target_params,
    actor_params,
    actor: GaussianPolicy,
    batch: Transition,
    key: jax.Array,
    discount: float | jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Σ_j mean_B (Q_j(s,a) − y)², y = r + γ(1−d) min_j Q̄_j(s', a'), a' ~ π(·|s') clipped.

    No entropy term. Returns (loss, aux) with the Q values and the targets.

    References: Nair et al., 2020, "AWAC", eq. (13) for the policy-evaluation target; CORL
    `algorithms/finetune/awac.py` (ALGORITHMS.md §4.2 "Critic").
    """
    mean, log_std = actor.apply(actor_params, batch.next_obs)
    next_action = sample_clipped(mean, log_std, key)
    q_next = reduce_ensemble(critic.apply(target_params, batch.next_obs, next_action), "min")
    y = td_target(batch.reward, batch.mask, q_next, discount)
    loss, q = family.critic_loss(
        critic_params, critic, batch, y, lambda q, t: ensemble_td_loss(q, t, "sum")
    )
    return loss, {"q": q, "target": y}


def actor_loss(
    actor_params,
    actor: GaussianPolicy,
    critic_params,
    critic: QEnsemble,
    batch: Transition,
    key: jax.Array,
    awac_lambda: float | jax.Array,
    max_weight: float = 100.0,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """−mean_B[min(exp(A/λ), max_weight) · log π(a|s)], A = min_j Q_j(s,a) − min_j Q_j(s,ã).

    ã ~ π(·|s) is one clipped sample; the advantage uses the online critics and carries no
    gradient. log π is the unsquashed Gaussian density summed over action dimensions.

    References: Nair et al., 2020, "AWAC", eq. (13); CORL `algorithms/finetune/awac.py`
    (ALGORITHMS.md §4.2 "Actor").
    """
    mean, log_std = actor.apply(actor_params, batch.obs)
    pi_action = jax.lax.stop_gradient(sample_clipped(mean, log_std, key))
    v = reduce_ensemble(critic.apply(critic_params, batch.obs, pi_action), "min")
    q = reduce_ensemble(critic.apply(critic_params, batch.obs, batch.action), "min")
    adv = q - v
    weights = awr_weights(adv, 1.0 / awac_lambda, max_weight)
    log_prob = gaussian_log_prob(mean, log_std, batch.action)
    return -jnp.mean(weights * log_prob), {"adv": adv, "weights": weights, "log_prob": log_prob}
