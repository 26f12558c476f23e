"""RO2O: uncertainty and smoothness for robust offline-to-online RL (ALGORITHMS.md §6).

Update order per step, as EDAC and the reference: temperature, then actor (with policy
smoothness), then critics (TD + Q smoothness + OOD penalty), then Polyak.

References: Wen et al., 2024, "Towards Robust Offline-to-Online Reinforcement Learning via
Uncertainty and Smoothness"; `BattleWen/RO2O:algorithms/{offline/ro2o_mujoco.py,
finetune/ro2o_ft_mujoco.py}`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, initial_state, mark_switch, optimizers
from jaxrl.agents.families import sac as family
from jaxrl.agents.ro2o import losses
from jaxrl.agents.ro2o.config import RO2OConfig
from jaxrl.agents.ro2o.losses import ood_weight
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import linf_perturbations, polyak, temperature_leaf, temperature_value
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

__all__ = ["make_ro2o", "ood_weight"]


def make_ro2o(config: RO2OConfig, spec: EnvSpec) -> Agent:
    """Builds RO2O for `spec`."""
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims)
    actor = GaussianPolicy(
        spec.action_dim,
        config.actor_hidden_dims,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
    )
    target_entropy = family.target_entropy(spec.action_dim)
    n = config.num_perturbations
    txs = optimizers("actor", "critic", "temperature")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = family.init_params(key, actor, critic, spec, temperature_leaf(1.0))  # log α = 0
        return initial_state(params, txs, hp, ("critic",))

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp, params = state.hparams, state.params
        (
            k_alpha,
            k_policy_deltas,
            k_actor,
            k_next,
            k_q_deltas,
            k_ood_deltas,
            k_ood_actions,
        ) = jax.random.split(key, 7)
        obs = batch.obs

        # 1. Temperature, on a fresh policy sample.
        logp = family.sample_action(params["actor"], actor, obs, k_alpha)[1]
        log_alpha, t_opt, t_loss = family.temperature_step(
            txs["temperature"],
            params["temperature"],
            state.opt_states["temperature"],
            logp,
            target_entropy,
            "log_alpha",
        )
        alpha = temperature_value(log_alpha)

        # 2. Actor: SAC-N objective + worst-case symmetric KL between π(s) and π(s + δ).
        pol_deltas = linf_perturbations(k_policy_deltas, n, spec.obs_dim, config.perturb_eps_policy)

        def smoothness(actor_params, aux):
            smooth = losses.policy_smoothness(actor_params, actor, obs, aux["dist"], pol_deltas)
            return hp.policy_smooth_coef * smooth, smooth

        actor_params, a_opt, a_loss, a_aux = family.grad_step(
            txs["actor"],
            params["actor"],
            state.opt_states["actor"],
            family.actor_loss,
            actor,
            params["critic"],
            critic,
            obs,
            k_actor,
            alpha,
            "min",
            smoothness,
        )
        sac_loss, pol_smooth, logp = a_aux["sac_loss"], a_aux["extra"], a_aux["log_prob"]

        # 3. Critics, with the updated actor for next actions and OOD actions.
        y = family.critic_target(
            state.target_params["critic"],
            critic,
            actor_params,
            actor,
            batch,
            k_next,
            alpha,
            hp.discount,
        )
        q_deltas = linf_perturbations(k_q_deltas, n, spec.obs_dim, config.perturb_eps_q)
        ood_deltas = linf_perturbations(k_ood_deltas, n, spec.obs_dim, config.perturb_eps_ood)
        ood_obs = losses.perturbed(obs, ood_deltas)  # [n, B, d]
        ood_actions = jax.lax.stop_gradient(
            family.sample_action(actor_params, actor, ood_obs, k_ood_actions)[0]
        )
        u = ood_weight(state.step, hp)
        critic_params, q_opt, q_loss, (q, td, q_smooth, ood) = family.grad_step(
            txs["critic"],
            params["critic"],
            state.opt_states["critic"],
            losses.critic_loss,
            critic,
            batch,
            y,
            q_deltas,
            ood_obs,
            ood_actions,
            u,
            hp.q_smooth_coef,
            hp.ood_coef,
            config.q_smooth_positive_weight,
        )
        target = polyak(state.target_params["critic"], critic_params, hp.tau)
        metrics = {
            "critic_loss": q_loss,
            "td_loss": td,
            "q_smooth_loss": q_smooth,
            "ood_loss": ood,
            "ood_u": u,
            "actor_loss": a_loss,
            "sac_actor_loss": sac_loss,
            "policy_smooth_loss": pol_smooth,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(logp),
            "q_mean": jnp.mean(q),
            "q_std": jnp.mean(jnp.std(q, axis=0)),
        }
        new_state = state.advanced(
            {"actor": actor_params, "critic": critic_params, "temperature": log_alpha},
            {"actor": a_opt, "critic": q_opt, "temperature": t_opt},
            {"critic": target},
        )
        return new_state, metrics

    def to_online(state: AgentState) -> AgentState:
        hp = state.hparams
        hp = hp.replace(
            ood_u_init=hp.online_ood_u,
            ood_u_min=hp.online_ood_u,
            ood_u_decay=jnp.zeros_like(hp.ood_u_decay),
        )
        return mark_switch(state.replace(hparams=hp))

    return Agent(init=init, act=family.make_act(actor), update=update, to_online=to_online)
