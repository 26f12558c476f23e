"""SPOT losses, module-level with params first (ALGORITHMS.md §4.5).

References: Wu et al., 2022, "Supported Policy Optimization for Offline Reinforcement
Learning", eq. (8)–(10); `thuml/SPOT: SPOT.py, vae.py`; CORL `algorithms/finetune/spot.py`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble, vae_iwae_nll, vae_neg_elbo
from jaxrl.ops import td_target
from jaxrl.types import Transition


def vae_loss(
    vae_params, vae: VAE, batch: Transition, key: jax.Array, beta: float | jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """MSE(D(s, z), a) + β · mean KL(q(z|s,a) ‖ N(0, I)) with one latent sample."""
    loss = jnp.mean(vae_neg_elbo(vae_params, vae, batch.obs, batch.action, key, beta, 1))
    return loss, {}


def smoothed_target_action(
    action: jax.Array, key: jax.Array, noise: float | jax.Array, noise_clip: float | jax.Array
) -> jax.Array:
    """TD3's target policy smoothing: clip(a + clip(σ·ε, ±c), ±1)."""
    eps = jnp.clip(
        noise * jax.random.normal(key, action.shape, action.dtype), -noise_clip, noise_clip
    )
    return jnp.clip(action + eps, -1.0, 1.0)


def critic_loss(
    critic_params,
    critic: QEnsemble,
    target_critic_params,
    target_actor_params,
    actor: DeterministicPolicy,
    batch: Transition,
    key: jax.Array,
    discount: float | jax.Array,
    policy_noise: float | jax.Array,
    noise_clip: float | jax.Array,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Σ_j mean_B (Q_j(s,a) − y)², y = r + γ(1−d) min_j Q̄_j(s', clip(π̄(s') + ε))."""
    next_action = smoothed_target_action(
        actor.apply(target_actor_params, batch.next_obs), key, policy_noise, noise_clip
    )
    q_next = jnp.min(critic.apply(target_critic_params, batch.next_obs, next_action), axis=0)
    y = td_target(batch.reward, batch.mask, q_next, discount)
    q = critic.apply(critic_params, batch.obs, batch.action)
    return jnp.sum(jnp.mean((q - y[None]) ** 2, axis=1)), {"q": q, "target": y}


def actor_loss(
    actor_params,
    actor: DeterministicPolicy,
    critic_params,
    critic: QEnsemble,
    vae_params,
    vae: VAE,
    obs: jax.Array,
    key: jax.Array,
    lambd: float | jax.Array,
    beta: float | jax.Array,
    num_samples: int = 1,
    iwae: bool = False,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """−mean Q_1(s, π(s)) / sg(mean |Q_1|) + λ · mean(−log π_β(π(s)|s)).

    −log π_β is the VAE's negative ELBO (or the IWAE estimate) at the actor's action; the
    gradient reaches only the actor's parameters through the action.
    """
    pi = actor.apply(actor_params, obs)
    q1 = critic.apply(critic_params, obs, pi)[0]
    density = vae_iwae_nll if iwae else vae_neg_elbo
    neg_log_beta = density(vae_params, vae, obs, pi, key, beta, num_samples)
    norm = jax.lax.stop_gradient(1.0 / jnp.mean(jnp.abs(q1)))
    loss = -norm * jnp.mean(q1) + lambd * jnp.mean(neg_log_beta)
    return loss, {"neg_log_beta": neg_log_beta, "q1": q1}
