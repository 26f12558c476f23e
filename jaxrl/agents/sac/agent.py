"""SAC with critic ensembles, random-subset targets, LayerNorm and high update-to-data ratios.

References: Haarnoja et al., 2018 (SAC); Ball et al., 2023 (RLPD, `ikostrikov/rlpd`);
Zhou et al., 2024 (WSRL, `zhouzypaul/wsrl`). ALGORITHMS.md §1 and §3.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, identity_switch, initial_state, optimizers
from jaxrl.agents.families import sac as family
from jaxrl.agents.sac import losses
from jaxrl.agents.sac.config import SACConfig
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import check_temperature_options, polyak, temperature_leaf, temperature_value
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_sac(config: SACConfig, spec: EnvSpec) -> Agent:
    """Builds SAC for `spec`. See `SACConfig` for the RLPD and WSRL settings."""
    if config.actor_update not in ("last", "full"):
        raise ValueError(f"actor_update={config.actor_update!r}; allowed: 'last', 'full'")
    check_temperature_options(config.temperature_param, config.entropy_from)
    param = config.temperature_param
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims, config.critic_layer_norm)
    actor = GaussianPolicy(spec.action_dim, config.actor_hidden_dims, config.actor_layer_norm)
    target_entropy = family.target_entropy(spec.action_dim, config.target_entropy_scale)
    txs = optimizers("actor", "critic", "temperature")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        leaf = temperature_leaf(hp.init_temperature, param)
        params = family.init_params(key, actor, critic, spec, leaf)
        return initial_state(params, txs, hp, ("critic",))

    def critic_step(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        next_key, subset_key = jax.random.split(key)
        alpha = temperature_value(state.params["temperature"], param)
        y = family.critic_target(
            state.target_params["critic"],
            critic,
            state.params["actor"],
            actor,
            batch,
            next_key,
            alpha,
            hp.discount,
            **family.target_options(config, subset_key),
        )
        cp, opt, loss, q = family.grad_step(
            txs["critic"],
            state.params["critic"],
            state.opt_states["critic"],
            losses.critic_loss,
            critic,
            batch,
            y,
        )
        target = polyak(state.target_params["critic"], cp, hp.tau)
        state = state.replace(
            params={**state.params, "critic": cp},
            target_params={"critic": target},
            opt_states={**state.opt_states, "critic": opt},
        )
        return state, {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}

    def actor_step(state: AgentState, batch: Transition, key: jax.Array):
        leaf = state.params["temperature"]
        alpha = temperature_value(leaf, param)
        if config.entropy_from == "next_obs":
            key, entropy_key = jax.random.split(key)
        ap, a_opt, a_loss, a_aux = family.grad_step(
            txs["actor"],
            state.params["actor"],
            state.opt_states["actor"],
            family.actor_loss,
            actor,
            state.params["critic"],
            critic,
            batch.obs,
            key,
            alpha,
            config.actor_reduction,
        )
        logp = a_aux["log_prob"]
        if config.entropy_from == "next_obs":  # fresh a' ~ π(·|s') of the pre-step actor
            t_logp = family.sample_action(
                state.params["actor"], actor, batch.next_obs, entropy_key
            )[1]
        else:
            t_logp = logp
        la, t_opt, t_loss = family.temperature_step(
            txs["temperature"],
            leaf,
            state.opt_states["temperature"],
            t_logp,
            target_entropy,
            "alpha",
            param,
        )
        state = state.replace(
            params={**state.params, "actor": ap, "temperature": la},
            opt_states={**state.opt_states, "actor": a_opt, "temperature": t_opt},
        )
        metrics = {
            "actor_loss": a_loss,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(logp),
        }
        return state, metrics

    def update(state: AgentState, batch: Transition, key: jax.Array):
        critic_key, actor_key = jax.random.split(key)
        state, c_metrics = critic_step(state, batch, critic_key)
        state, a_metrics = actor_step(state, batch, actor_key)
        return state.replace(step=state.step + 1), {**c_metrics, **a_metrics}

    def update_utd(state: AgentState, batches: Transition, key: jax.Array, unroll: int | bool = 1):
        utd = batches.reward.shape[0]
        critic_key, actor_key = jax.random.split(key)

        def body(carry, batch):  # the key rides in the carry (see training.chunks._utd_update)
            s, k = carry
            k, step_key = jax.random.split(k)
            s, m = critic_step(s, batch, step_key)
            return (s, k), m

        # `unroll=True` (jaxrl.bench): XLA's cost analysis then counts every critic step.
        (state, _), c_metrics = jax.lax.scan(body, (state, critic_key), batches, unroll=unroll)
        if config.actor_update == "last":
            actor_batch = jax.tree.map(lambda x: x[-1], batches)
        else:
            actor_batch = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), batches)
        state, a_metrics = actor_step(state, actor_batch, actor_key)
        c_metrics = jax.tree.map(jnp.mean, c_metrics)
        return state.replace(step=state.step + utd), {**c_metrics, **a_metrics}

    return Agent(
        init=init,
        act=family.make_act(actor),
        update=update,
        to_online=identity_switch,
        update_utd=update_utd,
    )
