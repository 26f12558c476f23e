"""SAC-N and EDAC: SAC with N critics (min over all), EDAC adding the diversity loss.

Update order per step, as in the EDAC code (CORL `algorithms/offline/edac.py`): the
temperature, then the actor (with the new α), then the critics (their target uses the new
actor and α), then the Polyak update. Offline and online updates are identical; online data
is added to the buffer by the training layer.

References: An et al., 2021, "Uncertainty-Based Offline Reinforcement Learning with
Diversified Q-Ensemble", `snu-mllab/EDAC`; CORL `algorithms/offline/{sac_n,edac}.py`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, identity_switch, initial_state, optimizers
from jaxrl.agents.families import sac as family
from jaxrl.agents.sacn import losses
from jaxrl.agents.sacn.config import SACNConfig
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import polyak, temperature_leaf, temperature_value
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_sacn(config: SACNConfig, spec: EnvSpec) -> Agent:
    """Builds SAC-N (or EDAC when `config.diversity`) for `spec`."""
    if config.diversity and config.num_critics < 2:
        raise ValueError(
            f"EDAC's diversity loss needs num_critics >= 2, got {config.num_critics}; "
            "raise num_critics or set diversity=False (SAC-N)"
        )
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims, config.layer_norm)
    actor = GaussianPolicy(
        spec.action_dim,
        config.actor_hidden_dims,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
    )
    target_entropy = family.target_entropy(spec.action_dim, config.target_entropy_scale)
    txs = optimizers("actor", "critic", "temperature")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        leaf = temperature_leaf(hp.init_temperature)  # log α
        params = family.init_params(key, actor, critic, spec, leaf)
        return initial_state(params, txs, hp, ("critic",))

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        params, opts = dict(state.params), dict(state.opt_states)
        alpha_key, actor_key, target_key = jax.random.split(key, 3)

        # 1. Temperature, from a fresh sample of the current actor.
        logp = family.sample_action(params["actor"], actor, batch.obs, alpha_key)[1]
        params["temperature"], opts["temperature"], t_loss = family.temperature_step(
            txs["temperature"],
            params["temperature"],
            opts["temperature"],
            logp,
            target_entropy,
            "log_alpha",
        )
        alpha = temperature_value(params["temperature"])

        # 2. Actor, with the new α: mean_B[α log π(ã|s) − min_i Q_i(s, ã)].
        params["actor"], opts["actor"], a_loss, a_aux = family.grad_step(
            txs["actor"],
            params["actor"],
            opts["actor"],
            family.actor_loss,
            actor,
            params["critic"],
            critic,
            batch.obs,
            actor_key,
            alpha,
        )

        # 3. Critics, their target from the new actor and α.
        y = family.critic_target(
            state.target_params["critic"],
            critic,
            params["actor"],
            actor,
            batch,
            target_key,
            alpha,
            hp.discount,
        )
        params["critic"], opts["critic"], q_loss, q_aux = family.grad_step(
            txs["critic"],
            params["critic"],
            opts["critic"],
            losses.critic_loss,
            critic,
            batch,
            y,
            hp.eta,
            config.diversity,
        )
        target = polyak(state.target_params["critic"], params["critic"], hp.tau)
        metrics = {
            "critic_loss": q_loss,
            "td_loss": q_aux["td_loss"],
            "diversity_loss": q_aux["diversity"],
            "actor_loss": a_loss,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(a_aux["log_prob"]),
            "q_policy_std": jnp.mean(jnp.std(a_aux["q"], axis=0)),
            "q_mean": jnp.mean(q_aux["q"]),
            "target_mean": jnp.mean(y),
        }
        return state.advanced(params, opts, {"critic": target}), metrics

    return Agent(init=init, act=family.make_act(actor), update=update, to_online=identity_switch)


def make_edac(config: SACNConfig, spec: EnvSpec) -> Agent:
    """EDAC: `make_sacn` with the diversity loss switched on."""
    if not config.diversity:
        config = dataclasses.replace(config, diversity=True)
    return make_sacn(config, spec)
