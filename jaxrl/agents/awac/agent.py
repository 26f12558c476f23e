"""AWAC: twin critics with a policy-sampled target, advantage-weighted Gaussian actor.

References: Nair, Gupta, Dalal, Levine, 2020, "AWAC: Accelerating Online Reinforcement
Learning with Offline Datasets", eq. (13); CORL `algorithms/finetune/awac.py`
(ALGORITHMS.md §4.2). Offline and online updates are identical; online data is added to the
buffer by the training layer.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents import base
from jaxrl.agents.awac import losses
from jaxrl.agents.awac.config import AWACConfig
from jaxrl.agents.base import Agent, AgentState
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import polyak
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_awac(config: AWACConfig, spec: EnvSpec) -> Agent:
    """Builds AWAC for `spec`. See `AWACConfig` for the settings."""
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims, config.layer_norm)
    actor = GaussianPolicy(
        spec.action_dim,
        config.actor_hidden_dims,
        std_mode="param",
        tanh_mean=False,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
    )
    txs = base.optimizers("actor", "critic")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = base.init_networks(key, spec, actor=(actor, "s"), critic=(critic, "sa"))
        return base.initial_state(params, txs, hp, ("critic",))

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:  # the mean is linear (unbounded): clip it to the action box
            return jnp.clip(mean, -1.0, 1.0)
        return losses.sample_clipped(mean, log_std, key)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        critic_key, actor_key = jax.random.split(key)
        (q_loss, q_aux), q_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
            state.params["critic"],
            critic,
            state.target_params["critic"],
            state.params["actor"],
            actor,
            batch,
            critic_key,
            hp.discount,
        )
        cp, c_opt = base.apply_grads(
            txs["critic"], state.params["critic"], state.opt_states["critic"], q_grads
        )
        # As in the reference, the actor's advantage uses the critics after their step.
        (a_loss, a_aux), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
            state.params["actor"],
            actor,
            cp,
            critic,
            batch,
            actor_key,
            hp.awac_lambda,
            config.max_weight,
        )
        ap, a_opt = base.apply_grads(
            txs["actor"], state.params["actor"], state.opt_states["actor"], a_grads
        )
        target = polyak(state.target_params["critic"], cp, hp.tau)
        metrics = {
            "critic_loss": q_loss,
            "actor_loss": a_loss,
            "q_mean": jnp.mean(q_aux["q"]),
            "target_mean": jnp.mean(q_aux["target"]),
            "adv_mean": jnp.mean(a_aux["adv"]),
            "awr_weight_mean": jnp.mean(a_aux["weights"]),
        }
        new_state = state.advanced(
            {"actor": ap, "critic": cp}, {"actor": a_opt, "critic": c_opt}, {"critic": target}
        )
        return new_state, metrics

    return Agent(init=init, act=act, update=update, to_online=base.identity_switch)
