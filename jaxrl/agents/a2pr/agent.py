"""A2PR: TD3 whose actor is regularized towards an advantage-chosen action.

Each update, in the reference's order: the twin critics (TD3 target with policy smoothing),
V(s) onto the smaller of the online- and target-critic bootstraps, the VAE on the dataset
actions with a positive advantage, then every `policy_delay` steps the actor (normalized Q_1
term plus a masked MSE to the VAE reconstruction of π(s) or to the dataset action, whichever
has the larger advantage) and the Polyak updates of the actor and critic targets.

The reference is offline only. Online (after `to_online`), the same update continues on the
training layer's batches, so the VAE keeps learning the positive-advantage actions of the
dataset *and* of the online buffer (its learning rate scaled by `online_vae_lr_factor`, 0
freezing it), and the mask decays linearly to `min_mask_coef` of its value over
`mask_decay_steps` gradient steps (ReBRAC's actor schedule, `families.td3.online_decay`).
All of it is leaves of the state, so the switch never recompiles.

References: Liu et al., 2024, "Adaptive Advantage-guided Policy Regularization for Offline
Reinforcement Learning" (ICML); `ltlhuuu/A2PR: A2PR.py` (ALGORITHMS.md §9).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents import base
from jaxrl.agents.a2pr import losses
from jaxrl.agents.a2pr.config import A2PRConfig
from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.families import td3
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble, ValueNetwork
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

_ACTOR_METRICS = ("actor_loss", "q_term", "bc_loss", "actor_q", "vae_target_frac", "mask_mean")


def mask_coefficient(state: AgentState) -> jax.Array:
    """The mask weight in force at `state.step`.

    Offline: `mask`. Online: `mask · max(min_mask_coef, 1 − (step − online_start) /
    mask_decay_steps)` (`td3.online_decay`). A function of the state's counters, so the switch
    changes leaves only.
    """
    hp = state.hparams
    return td3.online_weight(state, hp.mask, hp.mask_decay_steps, hp.min_mask_coef)


def make_a2pr(config: A2PRConfig, spec: EnvSpec) -> Agent:
    """Builds A2PR for `spec`. See `A2PRConfig` for the settings."""
    if config.policy_delay < 1 or config.num_critics < 1:
        raise ValueError(
            f"policy_delay={config.policy_delay} and num_critics={config.num_critics} must be >= 1"
        )
    actor = DeterministicPolicy(spec.action_dim, config.actor_hidden_dims, init_mode=config.init)
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims, init_mode=config.init)
    value = ValueNetwork(config.value_hidden_dims, init_mode=config.init)
    latent_dim = config.vae_latent_dim or 2 * spec.action_dim
    vae = VAE(spec.action_dim, latent_dim, config.vae_hidden_dims)
    txs = base.optimizers("actor", "critic", "value", "vae")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = base.init_networks(
            key,
            spec,
            actor=(actor, "s"),
            critic=(critic, "sa"),
            value=(value, "s"),
            vae=(vae, "sa"),
        )
        return base.initial_state(params, txs, hp, ("actor", "critic"))

    act = td3.td3_act(actor)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        noise_key, vae_key, actor_key = jax.random.split(key, 3)
        params, opts = dict(state.params), dict(state.opt_states)

        def step(name, grads):
            params[name], opts[name] = base.apply_grads(txs[name], params[name], opts[name], grads)

        # Critics: TD3 target at the smoothed target action ã'.
        c = td3.critic_update(state, txs["critic"], actor, critic, batch, noise_key)
        params["critic"], opts["critic"] = c.params, c.opt_state
        y, next_action = c.target, c.next_action

        # V onto min(online-critic bootstrap, y); its pre-update values feed the filters.
        t = losses.value_target(
            td3.clipped_double_q_target(params["critic"], critic, batch, next_action, hp.discount),
            y,
        )
        (v_loss, v), v_grads = jax.value_and_grad(losses.value_loss, has_aux=True)(
            params["value"], value, batch.obs, t
        )
        step("value", v_grads)
        q1_data = critic.apply(params["critic"], batch.obs, batch.action)[0]

        # VAE on the positive-advantage dataset actions.
        weight = losses.advantage_filter(q1_data, v, hp.vae_weight)
        (vae_loss, vae_aux), vae_grads = jax.value_and_grad(losses.vae_loss, has_aux=True)(
            params["vae"], vae, batch, vae_key, weight, hp.vae_kl_weight
        )
        step("vae", vae_grads)

        mask = mask_coefficient(state)
        # The actor's latent noise is drawn here, not inside the cond: under the run-axis vmap
        # the cond becomes a select over both branches, and a key carried into it would count
        # as consumed twice.
        latent_noise = jax.random.normal(actor_key, (batch.obs.shape[0], latent_dim))
        actor_args = (params["critic"], critic, params["vae"], vae, batch, q1_data, v)
        actor_args += (latent_noise, hp.alpha, mask)

        params["actor"], opts["actor"], targets, a_metrics = td3.actor_update(
            state,
            lambda p, _: losses.actor_loss(p, actor, *actor_args),
            txs["actor"],
            params["critic"],
            config.policy_delay,
        )
        metrics = {
            "critic_loss": c.loss,
            "value_loss": v_loss,
            "vae_loss": vae_loss,
            "q_mean": jnp.mean(c.q),
            "v_mean": jnp.mean(v),
            "target_mean": jnp.mean(y),
            "value_target_mean": jnp.mean(t),
            "mask_coef": mask,
            **vae_aux,
            **{k: a_metrics[k] for k in _ACTOR_METRICS},
        }
        return state.advanced(params, opts, targets), metrics

    def to_online(state: AgentState) -> AgentState:
        opts = dict(state.opt_states)
        vae_lr = opts["vae"].hyperparams["learning_rate"] * state.hparams.online_vae_lr_factor
        opts["vae"] = base.set_learning_rate(opts["vae"], vae_lr)
        # Fresh moments and counts if asked; the (possibly swept) learning rates are kept.
        reset = ("actor", "critic", "value") if config.reset_optimizers else ()
        return td3.start_online(state.replace(opt_states=opts), txs, reset)

    return Agent(init=init, act=act, update=update, to_online=to_online)
