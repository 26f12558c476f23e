"""SPOT's own terms, module-level with params first (ALGORITHMS.md §4.5): the VAE's loss, its
density estimate −log π_β(π(s)|s) and the λ-weighted actor loss. The critic's target and loss
are the TD3 family's (`jaxrl.agents.families.td3`).

References: Wu et al., 2022, "Supported Policy Optimization for Offline Reinforcement
Learning", eq. (8)–(10); `thuml/SPOT: SPOT.py, vae.py`; CORL `algorithms/finetune/spot.py`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import AgentState, is_online
from jaxrl.agents.families import td3
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble, vae_iwae_nll, vae_neg_elbo
from jaxrl.types import Transition


def vae_loss(
    vae_params, vae: VAE, batch: Transition, key: jax.Array, beta: float | jax.Array
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """MSE(D(s, z), a) + β · mean KL(q(z|s,a) ‖ N(0, I)) with one latent sample: the VAE's
    negative ELBO (Wu et al., 2022, eq. (8)–(10); ALGORITHMS.md §4.5)."""
    loss = jnp.mean(vae_neg_elbo(vae_params, vae, batch.obs, batch.action, key, beta, 1))
    return loss, {}


def current_lambda(state: AgentState, cool: bool, step: jax.Array) -> jax.Array:
    """λ_t, the weight of the density penalty at `step`: λ offline; online with cooling (`cool`),
    λ·max(λ_end, 1 − t/T) with t = 1 at the first online update (the reference increments its
    online counter before using it; `td3.online_decay`).

    References: ALGORITHMS.md §4.5; CORL `algorithms/finetune/spot.py`.
    """
    hp = state.hparams
    return td3.online_decay(
        hp.lambd,
        td3.steps_since_switch(step, state.switch_step.astype(jnp.float32), first=1.0),
        hp.cool_steps,
        hp.lambd_end,
        is_online(state) * float(cool) > 0,
    )


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
    dropout_key: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """−mean Q_1(s, π(s)) / sg(mean |Q_1|) + λ · mean(−log π_β(π(s)|s)).

    −log π_β is the VAE's negative ELBO (or the IWAE estimate) at the actor's action; the
    gradient reaches only the actor's parameters through the action. With `dropout_key`, π(s)
    is the training-mode actor's (thuml/SPOT's dropout).
    """
    pi = actor.apply(actor_params, obs, dropout_key)
    q1 = critic.apply(critic_params, obs, pi)[0]
    density = vae_iwae_nll if iwae else vae_neg_elbo
    neg_log_beta = density(vae_params, vae, obs, pi, key, beta, num_samples)
    loss = td3.normalized_q_term(q1) + lambd * jnp.mean(neg_log_beta)
    return loss, {"neg_log_beta": neg_log_beta, "q1": q1}
