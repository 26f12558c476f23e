"""SPOT: a VAE pre-trained on the dataset, then TD3 with a behaviour-density penalty.

One compiled program per phase: the offline update trains the VAE while `step < vae_steps`
and TD3 afterwards (a `lax.cond` on the step counter; under the run-axis `vmap` both
branches execute, so the VAE steps cost as much as a full update). The switch sets the
online discount, starts λ cooling and resets the actor and critic optimizers, as in CORL
`algorithms/finetune/spot.py`.

References: Wu et al., 2022, "Supported Policy Optimization for Offline Reinforcement
Learning"; `thuml/SPOT`; CORL `algorithms/finetune/spot.py` (ALGORITHMS.md §4.5).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, apply_grads, initial_state, optimizers
from jaxrl.agents.families import td3
from jaxrl.agents.spot import losses
from jaxrl.agents.spot.config import SPOTConfig
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

_METRICS = (
    "vae_loss",
    "critic_loss",
    "actor_loss",
    "neg_log_beta",
    "lambd",
    "q_mean",
    "target_mean",
)


def _through_cond(key: jax.Array) -> jax.Array:
    """A key as raw data, to pass into a `lax.cond` whose branches rebuild it.

    Under the run-axis vmap a cond on a per-run predicate becomes a select that runs both
    branches, and JAX's key-reuse checker then counts a typed key consumed in one branch and
    passed through the other as used twice. Raw data is not tracked; the values (and so the
    results) are the same as passing the key itself.
    """
    return jax.random.key_data(key)


def make_spot(config: SPOTConfig, spec: EnvSpec) -> Agent:
    """Builds SPOT for `spec`. See `SPOTConfig` for the settings."""
    if config.policy_delay < 1 or config.num_samples < 1 or config.vae_steps < 0:
        raise ValueError(
            f"policy_delay={config.policy_delay}, num_samples={config.num_samples} must be >= 1 "
            f"and vae_steps={config.vae_steps} >= 0"
        )
    critic = QEnsemble(
        config.num_critics,
        config.critic_hidden_dims,
        output_scale=config.critic_output_scale,
    )
    actor = DeterministicPolicy(
        spec.action_dim, config.hidden_dims, output_scale=config.actor_output_scale
    )
    vae = VAE(
        spec.action_dim,
        config.vae_latent_dim or 2 * spec.action_dim,
        config.vae_hidden_dims,
    )
    txs = optimizers("actor", "critic", "vae")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        k_actor, k_critic, k_vae = jax.random.split(key, 3)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            "vae": vae.init(k_vae, obs, act),
        }
        return initial_state(params, txs, hp, ("actor", "critic"))

    act = td3.td3_act(actor, clip_noise=True)

    def zero_metrics():
        return {k: jnp.zeros((), jnp.float32) for k in _METRICS}

    def vae_update(state: AgentState, batch: Transition, key: jax.Array):
        loss, grads = jax.value_and_grad(
            lambda p: losses.vae_loss(p, vae, batch, key, state.hparams.beta)[0]
        )(state.params["vae"])
        vp, v_opt = apply_grads(txs["vae"], state.params["vae"], state.opt_states["vae"], grads)
        state = state.replace(
            params={**state.params, "vae": vp}, opt_states={**state.opt_states, "vae": v_opt}
        )
        return state, {**zero_metrics(), "vae_loss": loss}

    def td3_update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        critic_key, elbo_key = jax.random.split(key)
        c = td3.critic_update(state, txs["critic"], actor, critic, batch, critic_key)
        lambd = losses.current_lambda(state, config.lambd_cool, state.step)

        def actor_loss(actor_params, elbo_key_data: jax.Array):
            loss, aux = losses.actor_loss(
                actor_params,
                actor,
                c.params,
                critic,
                state.params["vae"],
                vae,
                batch.obs,
                jax.random.wrap_key_data(elbo_key_data),
                lambd,
                hp.beta,
                config.num_samples,
                config.iwae,
            )
            return loss, {"neg_log_beta": jnp.mean(aux["neg_log_beta"])}

        # The reference counts every step (VAE ones too) and updates the actor when the
        # 1-based count is a multiple of policy_delay; skipped steps report zeros.
        ap, a_opt, targets, a_metrics = td3.actor_update(
            state,
            actor_loss,
            txs["actor"],
            c.params,
            config.policy_delay,
            one_based=True,
            operand=_through_cond(elbo_key),
            report_skipped=False,
        )
        state = state.replace(
            params={**state.params, "actor": ap, "critic": c.params},
            target_params=targets,
            opt_states={**state.opt_states, "actor": a_opt, "critic": c.opt_state},
        )
        metrics = {
            **zero_metrics(),
            **a_metrics,
            "critic_loss": c.loss,
            "lambd": lambd,
            "q_mean": jnp.mean(c.q),
            "target_mean": jnp.mean(c.target),
        }
        return state, metrics

    def update(state: AgentState, batch: Transition, key: jax.Array):
        if config.vae_steps == 0:
            new_state, metrics = td3_update(state, batch, key)
        else:
            # The key enters the cond as raw data (see `_through_cond`).
            new_state, metrics = jax.lax.cond(
                state.step < config.vae_steps,
                lambda s, b, k: vae_update(s, b, jax.random.wrap_key_data(k)),
                lambda s, b, k: td3_update(s, b, jax.random.wrap_key_data(k)),
                state,
                batch,
                _through_cond(key),
            )
        return new_state.replace(step=state.step + 1), metrics

    def to_online(state: AgentState) -> AgentState:
        reset = ("actor", "critic") if config.reset_optimizers else ()
        state = td3.start_online(state, txs, reset)
        return state.replace(hparams=state.hparams.replace(discount=state.hparams.online_discount))

    return Agent(init=init, act=act, update=update, to_online=to_online)
