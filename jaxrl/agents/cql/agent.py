"""CQL and Cal-QL on a SAC learner.

References: Kumar et al., 2020, "Conservative Q-Learning for Offline RL"; Nakamoto et al.,
2023, "Cal-QL: Calibrated Offline RL Pre-Training for Efficient Online Fine-Tuning",
`nakamotoo/Cal-QL:JaxCQL/conservative_sac.py` (ALGORITHMS.md §2).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents import base
from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.cql import losses
from jaxrl.agents.cql.config import CalQLConfig, CQLConfig
from jaxrl.agents.families import sac as family
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import check_temperature_options, polyak, temperature_leaf, temperature_value
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_cql(config: CQLConfig, spec: EnvSpec) -> Agent:
    """Builds CQL (or Cal-QL when `config.calibrated`) for `spec`."""
    critic = QEnsemble(
        config.num_critics,
        config.critic_hidden_dims,
        config.layer_norm,
        config.init,
        config.output_scale,
        config.last_hidden_scale,
    )
    actor = GaussianPolicy(
        spec.action_dim,
        config.actor_hidden_dims,
        layer_norm=config.actor_layer_norm,
        init_mode=config.init,
        std_mode=config.std_mode,
        output_scale=config.output_scale,
        last_hidden_scale=config.last_hidden_scale,
    )
    target_entropy = family.target_entropy(spec.action_dim, config.target_entropy_scale)
    n = config.cql_n_actions
    param = config.temperature_param
    check_temperature_options(param, config.entropy_from)
    if config.temperature_form not in ("alpha", "log_alpha"):
        raise ValueError(
            f"temperature_form={config.temperature_form!r}; allowed: 'alpha', 'log_alpha'"
        )
    next_entropy = config.entropy_from == "next_obs"
    txs = base.optimizers("actor", "critic", "temperature")
    if config.lagrange:
        txs["cql_alpha"] = base.adam()

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        # α = 1 at initialisation (the leaf is exactly 0 under exp).
        params = family.init_params(key, actor, critic, spec, temperature_leaf(1.0, param))
        if config.lagrange:
            params["cql_alpha"] = jnp.ones((), jnp.float32)  # log α', initialised to 1.0
        return base.initial_state(params, txs, hp, ("critic",))

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        params = state.params
        # Six keys always; then the conservative subset's and the entropy sample's, when used.
        (k_next, k_target_subset, k_rand, k_cur, k_nxt, k_actor, *k_optional) = jax.random.split(
            key, 6 + int(config.cql_subset) + int(next_entropy)
        )
        k_cql_subset = k_optional[0] if config.cql_subset else None
        k_entropy = k_optional[-1] if next_entropy else None
        alpha = temperature_value(params["temperature"], param)

        # Target: max over n next actions of the (subset-)min target critics, or one action.
        target_args = (state.target_params["critic"], critic, params["actor"], actor, batch)
        y = family.critic_target(
            *target_args,
            k_next,
            alpha,
            hp.discount,
            max_over=n if config.max_target_backup else 0,
            **family.target_options(config, k_target_subset),
        )

        ood_actions, cur_logp, nxt_logp = losses.conservative_actions(
            params["actor"], actor, batch, k_rand, k_cur, k_nxt, n
        )
        # Cal-QL's bound; −inf (no bound) when calibration is off.
        # Cal-QL's bound holds offline, and online unless `online_calibration` is off.
        calibrate = config.calibrated
        if config.calibrated and not config.online_calibration:
            calibrate = state.switch_step < 0
        bound = losses.calibration_bound(batch.mc_return, calibrate)
        log_cql_alpha = params.get("cql_alpha")
        cql_weight = losses.conservative_weights(k_cql_subset, config)

        # Every gradient is taken at the parameters before this update.
        (q_loss, (q, td, gap, bound_rate)), q_grads = jax.value_and_grad(
            losses.critic_loss, has_aux=True
        )(
            params["critic"],
            critic,
            batch,
            y,
            ood_actions,
            cur_logp,
            nxt_logp,
            bound,
            cql_weight,
            hp.cql_alpha,
            hp.target_action_gap,
            log_cql_alpha,
            config,
        )
        (a_loss, a_aux), a_grads = jax.value_and_grad(family.actor_loss, has_aux=True)(
            params["actor"], actor, params["critic"], critic, batch.obs, k_actor, alpha
        )
        logp = a_aux["log_prob"]
        if next_entropy:  # fresh a' ~ π(·|s'), n per state with the max-target backup
            next_obs = (
                losses.repeat(batch.next_obs, n) if config.max_target_backup else batch.next_obs
            )
            t_logp = family.sample_action(params["actor"], actor, next_obs, k_entropy)[1]
        else:
            t_logp = logp
        new_params, new_opt = dict(params), dict(state.opt_states)
        new_params["temperature"], new_opt["temperature"], t_loss = family.temperature_step(
            txs["temperature"],
            params["temperature"],
            state.opt_states["temperature"],
            t_logp,
            target_entropy,
            config.temperature_form,
            param,
        )
        grads = {"critic": q_grads, "actor": a_grads}
        if config.lagrange:
            grads["cql_alpha"] = jax.grad(losses.lagrange_loss)(
                log_cql_alpha, gap, cql_weight, hp.cql_alpha, hp.target_action_gap
            )
        for name, g in grads.items():
            new_params[name], new_opt[name] = base.apply_grads(
                txs[name], params[name], state.opt_states[name], g
            )
        target = polyak(state.target_params["critic"], new_params["critic"], hp.tau)
        metrics = {
            "critic_loss": q_loss,
            "td_loss": jnp.mean(td),
            "cql_gap": jnp.mean(gap),
            "bound_rate": jnp.mean(bound_rate),
            "actor_loss": a_loss,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(logp),
            "q_mean": jnp.mean(q),
            "target_mean": jnp.mean(y),
        }
        return state.advanced(new_params, new_opt, {"critic": target}), metrics

    def to_online(state: AgentState) -> AgentState:
        hp = state.hparams
        if config.online_cql_alpha is not None:
            hp = hp.replace(cql_alpha=jnp.asarray(config.online_cql_alpha, jnp.float32))
        return base.mark_switch(state.replace(hparams=hp))

    return Agent(init=init, act=family.make_act(actor), update=update, to_online=to_online)


def make_calql(config: CQLConfig, spec: EnvSpec) -> Agent:
    """Cal-QL: `make_cql` with the Monte-Carlo lower bound switched on."""
    if not config.calibrated:
        config = CalQLConfig(**dataclasses.asdict(config))
    return make_cql(config, spec)
