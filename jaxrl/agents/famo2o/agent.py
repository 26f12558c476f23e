"""FamO2O on IQL: a β-conditioned universal actor and a balance model that picks β per state.

IQL's expectile value and TD critic are unchanged. The universal actor π_u(a | s, emb(β)) is
trained with AWR at inverse temperature β: offline β ~ U[β_min, β_max] per example, online
β from the balance model π_b(β | s). π_b is trained every step, offline and online, to pick
the β whose action the critics value most, with a SAC entropy bonus (temperature α_b).

References: Wang, Yang, Gao, Lin, Chen, Wu, Jia, Song, Huang, 2023, "Train Once, Get a Family:
State-Adaptive Balances for Offline-to-Online Reinforcement Learning" (NeurIPS, arXiv 2310.17966);
`LeapLabTHU/FamO2O: jax_iql/family_learner.py` (ALGORITHMS.md §7, docs/algorithms/famo2o.md).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents import base
from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.families import iql as family
from jaxrl.agents.famo2o import losses
from jaxrl.agents.famo2o.config import FamO2OConfig
from jaxrl.networks import GaussianPolicy, QEnsemble, ValueNetwork
from jaxrl.ops import ensemble_td_loss, expectile_loss, polyak, reduce_ensemble, temperature_loss
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_famo2o(config: FamO2OConfig, spec: EnvSpec) -> Agent:
    """Builds FamO2O + IQL for `spec`. See `FamO2OConfig` for the settings."""
    if config.actor_weighting not in losses.ACTOR_WEIGHTINGS:
        raise ValueError(
            f"actor_weighting={config.actor_weighting!r}; allowed: {losses.ACTOR_WEIGHTINGS}"
        )
    if config.embedding_dim <= 0 or config.embedding_dim % 2:
        raise ValueError(f"embedding_dim={config.embedding_dim} must be a positive even number")
    critic = QEnsemble(config.num_critics, config.hidden_dims, config.layer_norm)
    value = ValueNetwork(config.hidden_dims, config.layer_norm)
    actor = GaussianPolicy(
        spec.action_dim,
        config.hidden_dims,
        std_mode="param",
        tanh_mean=config.actor_tanh_mean,
        log_std_min=config.actor_log_std_min,
        log_std_max=config.actor_log_std_max,
    )
    balance = GaussianPolicy(
        1,
        config.hidden_dims,
        std_mode="param",
        log_std_min=config.balance_log_std_min,
        log_std_max=config.balance_log_std_max,
    )
    txs = base.optimizers("actor", "balance", "temperature", "critic", "value")
    emb = (config.embedding_dim, config.embedding_base)

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = base.init_networks(
            key,
            spec,
            actor=(actor, (spec.obs_dim + config.embedding_dim,)),
            balance=(balance, "s"),
            critic=(critic, "sa"),
            value=(value, "s"),
        )
        params["temperature"] = jnp.log(hp.init_temperature)
        return base.initial_state(params, txs, hp, ("critic",))

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        hp = state.hparams
        # β is the mode of π_b, tanh(μ_b(s)), when exploring as well (as the reference).
        mean_b, _ = balance.apply(state.params["balance"], obs)
        beta = losses.unit_to_beta(jnp.tanh(mean_b[..., 0]), hp.beta_min, hp.beta_max)
        mean, log_std = actor.apply(state.params["actor"], losses.conditioned_obs(obs, beta, *emb))
        if deterministic:
            return jnp.clip(mean, -1.0, 1.0)
        return jnp.clip(mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape), -1.0, 1.0)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        params, opts = dict(state.params), dict(state.opt_states)
        balance_key, beta_key = jax.random.split(key)
        target_critic = state.target_params["critic"]
        q_target = reduce_ensemble(critic.apply(target_critic, batch.obs, batch.action), "min")

        def step(name, grads):
            params[name], opts[name] = base.apply_grads(txs[name], params[name], opts[name], grads)

        # Order of the reference: V, balance model, α_b, universal actor, Q, target.
        (v_loss, _), grads = jax.value_and_grad(family.value_loss, has_aux=True)(
            params["value"],
            value,
            batch.obs,
            q_target,
            lambda x: expectile_loss(x, hp.expectile),
        )
        step("value", grads)

        # The actor's β is drawn from π_b as it was before its step (the reference passes the
        # old balance model to the actor update).
        beta = losses.actor_betas(
            params["balance"],
            balance,
            batch.obs,
            beta_key,
            base.is_online(state),
            hp.beta_min,
            hp.beta_max,
        )

        log_alpha = params["temperature"]
        (b_loss, b_aux), grads = jax.value_and_grad(losses.balance_loss, has_aux=True)(
            params["balance"],
            balance,
            params["actor"],
            actor,
            losses.frozen_min_q(target_critic, critic),
            batch.obs,
            balance_key,
            log_alpha,
            hp.beta_min,
            hp.beta_max,
            *emb,
        )
        step("balance", grads)

        t_loss, grads = jax.value_and_grad(temperature_loss)(
            log_alpha, b_aux["log_prob"], hp.target_entropy
        )
        step("temperature", grads)

        # IQL with the value after its step, for the advantage and for V(s') (the reference;
        # CORL's IQL, `jaxrl.agents.iql`, uses V before its step).
        v = value.apply(params["value"], batch.obs)
        adv = q_target - v
        (a_loss, a_aux), grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
            params["actor"],
            actor,
            batch.obs,
            batch.action,
            beta,
            adv,
            *emb,
            config.max_weight,
            config.actor_weighting,
        )
        step("actor", grads)

        v_next = value.apply(params["value"], batch.next_obs)
        y = family.value_target(batch, v_next, hp.discount)
        # The reference sums the twins' MSE: Σ_j mean_B (Q_j − y)².
        (q_loss, q), grads = jax.value_and_grad(family.critic_loss, has_aux=True)(
            params["critic"], critic, batch, y, lambda q, t: ensemble_td_loss(q, t, "sum")
        )
        step("critic", grads)
        target = polyak(target_critic, params["critic"], hp.tau)

        metrics = {
            "value_loss": v_loss,
            "critic_loss": q_loss,
            "actor_loss": a_loss,
            "balance_loss": b_loss,
            "temperature_loss": t_loss,
            "alpha": jnp.exp(log_alpha),
            "balance_entropy": -jnp.mean(b_aux["log_prob"]),
            "balance_beta_mean": jnp.mean(b_aux["beta"]),
            "beta_mean": jnp.mean(beta),
            "q_mean": jnp.mean(q),
            "v_mean": jnp.mean(v),
            "adv_mean": jnp.mean(adv),
            "awr_weight_mean": jnp.mean(a_aux["weights"]),
        }
        return state.advanced(params, opts, {"critic": target}), metrics

    def to_online(state: AgentState) -> AgentState:
        # Only `switch_step` changes; offline data stays in the buffer (retention "append").
        return base.mark_switch(state)

    return Agent(init=init, act=act, update=update, to_online=to_online)
