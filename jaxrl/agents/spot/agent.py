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

from jaxrl.agents import base
from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.families import td3
from jaxrl.agents.spot import losses
from jaxrl.agents.spot.config import SPOTConfig
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble
from jaxrl.ops import cond_with_keys
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


def make_spot(config: SPOTConfig, spec: EnvSpec) -> Agent:
    """Builds SPOT for `spec`. See `SPOTConfig` for the settings."""
    if config.policy_delay < 1 or config.num_samples < 1 or config.vae_steps < 0:
        raise ValueError(
            f"policy_delay={config.policy_delay}, num_samples={config.num_samples} must be >= 1 "
            f"and vae_steps={config.vae_steps} >= 0"
        )
    if not 0.0 <= config.actor_dropout < 1.0:
        raise ValueError(
            f"actor_dropout={config.actor_dropout}: a dropout rate lies in [0, 1) "
            "(thuml/SPOT uses 0.1; 0 turns dropout off)"
        )
    critic = QEnsemble(
        config.num_critics,
        config.critic_hidden_dims,
        output_scale=config.critic_output_scale,
    )
    actor = DeterministicPolicy(
        spec.action_dim,
        config.actor_hidden_dims,
        output_scale=config.actor_output_scale,
        dropout_rate=config.actor_dropout,
    )
    vae = VAE(
        spec.action_dim,
        config.vae_latent_dim or 2 * spec.action_dim,
        config.vae_hidden_dims,
    )
    txs = base.optimizers("actor", "critic", "vae")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = base.init_networks(
            key, spec, actor=(actor, "s"), critic=(critic, "sa"), vae=(vae, "sa")
        )
        return base.initial_state(params, txs, hp, ("actor", "critic"))

    act = td3.td3_act(actor, clip_noise=True)

    def zero_metrics():
        return {k: jnp.zeros((), jnp.float32) for k in _METRICS}

    def vae_update(state: AgentState, batch: Transition, key: jax.Array):
        loss, grads = jax.value_and_grad(
            lambda p: losses.vae_loss(p, vae, batch, key, state.hparams.beta)[0]
        )(state.params["vae"])
        vp, v_opt = base.apply_grads(
            txs["vae"], state.params["vae"], state.opt_states["vae"], grads
        )
        state = state.replace(
            params={**state.params, "vae": vp}, opt_states={**state.opt_states, "vae": v_opt}
        )
        return state, {**zero_metrics(), "vae_loss": loss}

    def td3_update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        if config.actor_dropout > 0.0:
            critic_key, elbo_key, target_drop, actor_drop = jax.random.split(key, 4)
        else:  # the keys of the runs without dropout stay as they were
            (critic_key, elbo_key), target_drop, actor_drop = jax.random.split(key), None, None
        c = td3.critic_update(
            state, txs["critic"], actor, critic, batch, critic_key, dropout_key=target_drop
        )
        lambd = losses.current_lambda(state, config.lambd_cool, state.step)

        def actor_loss(actor_params, elbo_key: jax.Array):
            loss, aux = losses.actor_loss(
                actor_params,
                actor,
                c.params,
                critic,
                state.params["vae"],
                vae,
                batch.obs,
                elbo_key,
                lambd,
                hp.beta,
                config.num_samples,
                config.iwae,
                actor_drop,
            )
            return loss, {"neg_log_beta": jnp.mean(aux["neg_log_beta"])}

        # The reference counts every step (VAE ones too) and updates the actor when the
        # 1-based count is a multiple of policy_delay; skipped steps report zeros.
        a = td3.actor_update(
            state,
            actor_loss,
            txs["actor"],
            c.params,
            config.policy_delay,
            one_based=True,
            operand=elbo_key,
            report_skipped=False,
        )
        metrics = {**zero_metrics(), **a[3], **td3.critic_metrics(c), "lambd": lambd}
        return td3.stepped_state(state, c, a), metrics

    def update(state: AgentState, batch: Transition, key: jax.Array):
        if config.vae_steps == 0:
            new_state, metrics = td3_update(state, batch, key)
        else:
            new_state, metrics = cond_with_keys(
                state.step < config.vae_steps, vae_update, td3_update, state, batch, key
            )
        return new_state.replace(step=state.step + 1), metrics

    def to_online(state: AgentState) -> AgentState:
        reset = ("actor", "critic") if config.reset_optimizers else ()
        state = td3.start_online(state, txs, reset)
        return state.replace(hparams=state.hparams.replace(discount=state.hparams.online_discount))

    return Agent(init=init, act=act, update=update, to_online=to_online)
