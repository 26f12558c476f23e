"""SAC-N / EDAC losses, module-level with params first.

References: An et al., 2021, "Uncertainty-Based Offline Reinforcement Learning with
Diversified Q-Ensemble" (SAC-N eq. (2), EDAC eq. (4)); CORL `algorithms/offline/edac.py`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.networks.values import QNetwork
from jaxrl.ops import ensemble_gradient_diversity, td_target
from jaxrl.types import Transition


def member_q_values(critic_params, critic: QEnsemble, obs: jax.Array, actions: jax.Array):
    """Q_i(s, a_i) with a separate action input per member: actions [N, B, |A|] → [N, B].

    The ensemble's parameters are stacked on axis 0 (`nn.vmap`), so vmapping one member's
    network over them evaluates each member on its own action copy; the gradient with respect
    to `actions` is then every member's own ∇_a Q_i in one backward pass.
    """
    (inner,) = critic_params["params"].values()
    net = QNetwork(critic.hidden_dims, critic.layer_norm, critic.init_mode, critic.output_scale)
    return jax.vmap(lambda p, a: net.apply({"params": p}, obs, a))(inner, actions)


def critic_target(
    target_params,
    critic: QEnsemble,
    actor_params,
    actor: GaussianPolicy,
    batch: Transition,
    key: jax.Array,
    alpha: jax.Array,
    discount: float | jax.Array,
) -> jax.Array:
    """y = r + γ(1−d)(min_i Q̄_i(s', a') − α log π(a'|s')), a' ~ π(·|s'); no gradient."""
    mean, log_std = actor.apply(actor_params, batch.next_obs)
    next_action, next_logp = tanh_gaussian_sample(mean, log_std, key)
    q_next = jnp.min(critic.apply(target_params, batch.next_obs, next_action), axis=0)
    return td_target(batch.reward, batch.mask, q_next - alpha * next_logp, discount)


def critic_loss(
    critic_params,
    critic: QEnsemble,
    batch: Transition,
    target: jax.Array,
    eta: float | jax.Array,
    diversity: bool,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Σ_i mean_B (Q_i(s,a) − y)² [+ η · diversity of ∇_a Q_i(s,a)] (EDAC eq. (4))."""
    n = critic.num
    if diversity:
        actions = jnp.broadcast_to(batch.action, (n,) + batch.action.shape)
        grad_fn = jax.grad(
            lambda a: (jnp.sum(q := member_q_values(critic_params, critic, batch.obs, a)), q),
            has_aux=True,
        )
        action_grads, q = grad_fn(actions)
        div = ensemble_gradient_diversity(action_grads)
    else:
        q = critic.apply(critic_params, batch.obs, batch.action)
        div = jnp.zeros(())
    td = jnp.sum(jnp.mean((q - target[None]) ** 2, axis=1))
    return td + eta * div, {"q": q, "td_loss": td, "diversity": div}


def actor_loss(
    actor_params,
    actor: GaussianPolicy,
    critic_params,
    critic: QEnsemble,
    obs: jax.Array,
    key: jax.Array,
    alpha: jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """mean_B[α log π(ã|s) − min_i Q_i(s, ã)], ã ~ π(·|s) reparameterized."""
    mean, log_std = actor.apply(actor_params, obs)
    action, logp = tanh_gaussian_sample(mean, log_std, key)
    q = critic.apply(critic_params, obs, action)
    loss = jnp.mean(alpha * logp - jnp.min(q, axis=0))
    return loss, {"log_prob": logp, "q_std": jnp.mean(jnp.std(q, axis=0))}
