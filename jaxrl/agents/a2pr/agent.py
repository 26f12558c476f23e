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
`mask_decay_steps` gradient steps (ReBRAC's actor schedule, `ops.bc_decay`). All of it is
leaves of the state, so the switch never recompiles.

References: Liu et al., 2024, "Adaptive Advantage-guided Policy Regularization for Offline
Reinforcement Learning" (ICML); `ltlhuuu/A2PR: A2PR.py` (ALGORITHMS.md §9).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.a2pr import losses
from jaxrl.agents.a2pr.config import A2PRConfig
from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams, set_learning_rate
from jaxrl.agents.td3bc.agent import td3_act
from jaxrl.agents.td3bc.losses import critic_loss
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble, ValueNetwork
from jaxrl.ops import bc_decay, policy_update_due, polyak, smoothed_target_action
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

_ACTOR_METRICS = ("actor_loss", "q_term", "bc_loss", "actor_q", "vae_target_frac", "mask_mean")


def mask_coefficient(state: AgentState) -> jax.Array:
    """The mask weight in force at `state.step`.

    Offline: `mask`. Online: `mask · max(min_mask_coef, 1 − (step − online_start) /
    mask_decay_steps)`. A function of the state's counters, so the switch changes leaves only.
    """
    hp = state.hparams
    n_online = state.step.astype(jnp.float32) - hp["online_start"]
    decay = bc_decay(n_online, hp["mask_decay_steps"], hp["min_mask_coef"])
    return hp["mask"] * jnp.where(hp["online"] > 0, decay, 1.0)


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
    txs = {
        "actor": adam(config.actor_lr),
        "critic": adam(config.critic_lr),
        "value": adam(config.value_lr),
        "vae": adam(config.vae_lr),
    }

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic, k_value, k_vae = jax.random.split(key, 4)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            "value": value.init(k_value, obs),
            "vae": vae.init(k_vae, obs, act),
        }
        return AgentState(
            params=params,
            target_params={"actor": params["actor"], "critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(
                alpha=config.alpha,
                mask=config.mask,
                vae_weight=config.vae_weight,
                vae_kl_weight=config.vae_kl_weight,
                policy_noise=config.policy_noise,
                noise_clip=config.noise_clip,
                exploration_noise=config.exploration_noise,
                discount=config.discount,
                tau=config.tau,
                min_mask_coef=config.min_mask_coef,
                mask_decay_steps=config.mask_decay_steps,
                online_vae_lr_factor=config.online_vae_lr_factor,
                online=0.0,  # set to 1 by to_online
                online_start=0.0,  # the step counter at the switch
            ),
            step=jnp.zeros((), jnp.int32),
        )

    act = td3_act(actor)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        noise_key, vae_key, actor_key = jax.random.split(key, 3)
        params, opts = dict(state.params), dict(state.opt_states)

        def step(name, grads):
            params[name], opts[name] = apply_grads(txs[name], params[name], opts[name], grads)

        # Critics: TD3 target at the smoothed target action ã'.
        next_action = smoothed_target_action(
            actor.apply(state.target_params["actor"], batch.next_obs),
            noise_key,
            hp["policy_noise"],
            hp["noise_clip"],
        )
        y = losses.bootstrap_target(
            state.target_params["critic"], critic, batch, next_action, hp["discount"]
        )
        (c_loss, q), c_grads = jax.value_and_grad(critic_loss, has_aux=True)(
            params["critic"], critic, batch, y
        )
        step("critic", c_grads)

        # V onto min(online-critic bootstrap, y); its pre-update values feed the filters.
        t = losses.value_target(
            losses.bootstrap_target(params["critic"], critic, batch, next_action, hp["discount"]),
            y,
        )
        (v_loss, v), v_grads = jax.value_and_grad(losses.value_loss, has_aux=True)(
            params["value"], value, batch.obs, t
        )
        step("value", v_grads)
        q1_data = critic.apply(params["critic"], batch.obs, batch.action)[0]

        # VAE on the positive-advantage dataset actions.
        weight = losses.advantage_filter(q1_data, v, hp["vae_weight"])
        (vae_loss, vae_aux), vae_grads = jax.value_and_grad(losses.vae_loss, has_aux=True)(
            params["vae"], vae, batch, vae_key, weight, hp["vae_kl_weight"]
        )
        step("vae", vae_grads)

        mask = mask_coefficient(state)
        # The actor's latent noise is drawn here, not inside the cond: under the run-axis vmap
        # the cond becomes a select over both branches, and a key carried into it would count
        # as consumed twice.
        latent_noise = jax.random.normal(actor_key, (batch.obs.shape[0], latent_dim))
        actor_args = (params["critic"], critic, params["vae"], vae, batch, q1_data, v)
        actor_args += (latent_noise, hp["alpha"], mask)

        def actor_step(_):
            (a_loss, aux), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
                params["actor"], actor, *actor_args
            )
            actor_params, actor_opt = apply_grads(
                txs["actor"], params["actor"], opts["actor"], a_grads
            )
            targets = {
                "actor": polyak(state.target_params["actor"], actor_params, hp["tau"]),
                "critic": polyak(state.target_params["critic"], params["critic"], hp["tau"]),
            }
            return actor_params, actor_opt, targets, {"actor_loss": a_loss, **aux}

        def skip(_):
            # No actor or target step; the loss is still evaluated so every step reports it.
            a_loss, aux = losses.actor_loss(params["actor"], actor, *actor_args)
            metrics = {"actor_loss": a_loss, **aux}
            return params["actor"], opts["actor"], state.target_params, metrics

        due = policy_update_due(state.step, config.policy_delay)
        params["actor"], opts["actor"], targets, a_metrics = jax.lax.cond(
            due, actor_step, skip, None
        )
        metrics = {
            "critic_loss": c_loss,
            "value_loss": v_loss,
            "vae_loss": vae_loss,
            "q_mean": jnp.mean(q),
            "v_mean": jnp.mean(v),
            "target_mean": jnp.mean(y),
            "value_target_mean": jnp.mean(t),
            "mask_coef": mask,
            **vae_aux,
            **{k: a_metrics[k] for k in _ACTOR_METRICS},
        }
        new_state = state.replace(
            params=params, target_params=targets, opt_states=opts, step=state.step + 1
        )
        return new_state, metrics

    def to_online(state: AgentState) -> AgentState:
        hp = dict(state.hparams)
        hp["online"] = jnp.ones((), jnp.float32)
        hp["online_start"] = state.step.astype(jnp.float32)
        opts = dict(state.opt_states)
        vae_lr = opts["vae"].hyperparams["learning_rate"] * hp["online_vae_lr_factor"]
        opts["vae"] = set_learning_rate(opts["vae"], vae_lr)
        if config.reset_optimizers:
            # Fresh moments and counts; the (possibly swept) learning rates are kept.
            for name in ("actor", "critic", "value"):
                lr = opts[name].hyperparams["learning_rate"]
                opts[name] = set_learning_rate(txs[name].init(state.params[name]), lr)
        return state.replace(hparams=hp, opt_states=opts)

    return Agent(init=init, act=act, update=update, to_online=to_online)
