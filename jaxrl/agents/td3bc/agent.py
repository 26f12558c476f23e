"""TD3+BC: TD3 with a behaviour-cloning term in the actor loss.

The builder here also serves ReBRAC (`jaxrl.agents.rebrac`), which is TD3+BC with a critic
penalty, min-Q actor, summed BC term, deeper LayerNorm critics and an online BC decay.

References: Fujimoto & Gu, 2021, "A Minimalist Approach to Offline Reinforcement Learning"
(`sfujim/TD3_BC:TD3_BC.py`); CORL `algorithms/offline/td3_bc.py` (ALGORITHMS.md §4.7).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import (
    Agent,
    AgentState,
    adam,
    apply_grads,
    as_hparams,
    set_learning_rate,
)
from jaxrl.agents.td3bc import losses
from jaxrl.agents.td3bc.config import TD3BCConfig
from jaxrl.networks import DeterministicPolicy, QEnsemble
from jaxrl.ops import BC_REDUCTIONS, bc_decay, policy_update_due, polyak
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def td3_networks(config, spec: EnvSpec) -> tuple[DeterministicPolicy, QEnsemble]:
    """The deterministic tanh actor and the critic ensemble of a TD3-family config (its
    `actor_*`, `critic_*`, `num_critics` and `init` fields); shared by TD3+BC, ReBRAC, PRDC and
    A2PR."""
    actor = DeterministicPolicy(
        spec.action_dim, config.actor_hidden_dims, config.actor_layer_norm, config.init
    )
    critic = QEnsemble(
        config.num_critics, config.critic_hidden_dims, config.critic_layer_norm, config.init
    )
    return actor, critic


def td3_act(actor: DeterministicPolicy):
    """`act` of a TD3-family agent: the actor's action, plus clipped Gaussian exploration noise
    of scale `hparams["exploration_noise"]` unless deterministic."""

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        a = actor.apply(state.params["actor"], obs)
        if deterministic:
            return a
        sigma = state.hparams["exploration_noise"]
        return jnp.clip(a + sigma * jax.random.normal(key, a.shape), -1.0, 1.0)

    return act


def bc_coefficients(state: AgentState) -> tuple[jax.Array, jax.Array]:
    """(β_actor, β_critic) in force at `state.step`.

    Offline: the configured coefficients. Online (after `to_online`), β_actor is multiplied by
    `bc_decay(step − online_start, bc_decay_steps, min_decay_coef)` and β_critic becomes
    `online_critic_bc_coef`, as in CORL `finetune/rebrac.py`. A function of the state's
    counters, so the switch changes leaves only.
    """
    hp = state.hparams
    online = hp["online"] > 0
    n_online = state.step.astype(jnp.float32) - hp["online_start"]
    decay = jnp.where(online, bc_decay(n_online, hp["bc_decay_steps"], hp["min_decay_coef"]), 1.0)
    critic = hp.get("critic_bc_coef", jnp.zeros(()))
    if "online_critic_bc_coef" in hp:
        critic = jnp.where(online, hp["online_critic_bc_coef"], critic)
    return hp["actor_bc_coef"] * decay, critic


def make_td3_family(config: TD3BCConfig, spec: EnvSpec, critic_penalty: bool) -> Agent:
    """The TD3+BC / ReBRAC agent; `critic_penalty` adds ReBRAC's β_critic term and its leaves."""
    if config.bc_reduction not in BC_REDUCTIONS:
        raise ValueError(f"bc_reduction={config.bc_reduction!r}; allowed: {BC_REDUCTIONS}")
    if config.actor_q not in losses.ACTOR_Q_MODES:
        raise ValueError(f"actor_q={config.actor_q!r}; allowed: {losses.ACTOR_Q_MODES}")
    if config.policy_delay < 1:
        raise ValueError(f"policy_delay={config.policy_delay} must be >= 1 (1: no delay)")
    actor, critic = td3_networks(config, spec)
    txs = {"actor": adam(config.actor_lr), "critic": adam(config.critic_lr)}

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {"actor": actor.init(k_actor, obs), "critic": critic.init(k_critic, obs, act)}
        hparams = dict(
            alpha=config.alpha,
            actor_bc_coef=config.actor_bc_coef,
            min_decay_coef=config.min_decay_coef,
            bc_decay_steps=config.bc_decay_steps,
            policy_noise=config.policy_noise,
            noise_clip=config.noise_clip,
            exploration_noise=config.exploration_noise,
            discount=config.discount,
            tau=config.tau,
            online=0.0,  # set to 1 by to_online
            online_start=0.0,  # the step counter at the switch
        )
        if critic_penalty:
            hparams["critic_bc_coef"] = config.critic_bc_coef
            hparams["online_critic_bc_coef"] = config.online_critic_bc_coef
        return AgentState(
            params=params,
            target_params=dict(params),
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(**hparams),
            step=jnp.zeros((), jnp.int32),
        )

    act = td3_act(actor)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        actor_bc, critic_bc = bc_coefficients(state)
        y, penalty = losses.td3_target(
            state.target_params["actor"],
            state.target_params["critic"],
            actor,
            critic,
            batch,
            key,
            hp["discount"],
            hp["policy_noise"],
            hp["noise_clip"],
            critic_bc if critic_penalty else 0.0,
        )
        (c_loss, q), c_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
            state.params["critic"], critic, batch, y
        )
        critic_params, critic_opt = apply_grads(
            txs["critic"], state.params["critic"], state.opt_states["critic"], c_grads
        )

        def actor_step(_):
            (a_loss, aux), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
                state.params["actor"],
                critic_params,
                actor,
                critic,
                batch,
                hp["alpha"],
                actor_bc,
                config.actor_q,
                config.bc_reduction,
                config.normalize_q,
            )
            actor_params, actor_opt = apply_grads(
                txs["actor"], state.params["actor"], state.opt_states["actor"], a_grads
            )
            targets = {
                "actor": polyak(state.target_params["actor"], actor_params, hp["tau"]),
                "critic": polyak(state.target_params["critic"], critic_params, hp["tau"]),
            }
            return actor_params, actor_opt, targets, {"actor_loss": a_loss, **aux}

        def skip(_):
            # No actor or target step; the loss is still evaluated so every step reports it.
            a_loss, aux = losses.actor_loss(
                state.params["actor"],
                critic_params,
                actor,
                critic,
                batch,
                hp["alpha"],
                actor_bc,
                config.actor_q,
                config.bc_reduction,
                config.normalize_q,
            )
            targets = state.target_params
            return (
                state.params["actor"],
                state.opt_states["actor"],
                targets,
                {"actor_loss": a_loss, **aux},
            )

        due = policy_update_due(state.step, config.policy_delay)
        actor_params, actor_opt, targets, a_metrics = jax.lax.cond(due, actor_step, skip, None)
        metrics = {
            "critic_loss": c_loss,
            "q_mean": jnp.mean(q),
            "target_mean": jnp.mean(y),
            "actor_bc_coef": actor_bc,
            **a_metrics,
        }
        if critic_penalty:
            metrics["critic_bc_coef"] = critic_bc
            metrics["critic_bc_penalty"] = penalty
        new_state = state.replace(
            params={"actor": actor_params, "critic": critic_params},
            target_params=targets,
            opt_states={"actor": actor_opt, "critic": critic_opt},
            step=state.step + 1,
        )
        return new_state, metrics

    def to_online(state: AgentState) -> AgentState:
        hp = dict(state.hparams)
        hp["online"] = jnp.ones((), jnp.float32)
        hp["online_start"] = state.step.astype(jnp.float32)
        state = state.replace(hparams=hp)
        if config.reset_optimizers:
            # Fresh moments and counts; the (possibly swept) learning rates are kept.
            fresh = {
                name: set_learning_rate(
                    tx.init(state.params[name]),
                    state.opt_states[name].hyperparams["learning_rate"],
                )
                for name, tx in txs.items()
            }
            state = state.replace(opt_states=fresh)
        return state

    return Agent(init=init, act=act, update=update, to_online=to_online)


def make_td3bc(config: TD3BCConfig, spec: EnvSpec) -> Agent:
    """Builds TD3+BC for `spec`. See `TD3BCConfig` for the settings."""
    return make_td3_family(config, spec, critic_penalty=False)
