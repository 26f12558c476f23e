"""IQL: expectile value, TD critic on V(s'), advantage-weighted actor.

References: Kostrikov, Nair, Levine, 2021, "Offline Reinforcement Learning with Implicit
Q-Learning"; CORL `algorithms/finetune/iql.py` (ALGORITHMS.md §4.1).
"""

from __future__ import annotations

from typing import Any

import jax

from jaxrl.agents.base import Agent, AgentState, identity_switch
from jaxrl.agents.families import iql as family
from jaxrl.agents.iql import losses
from jaxrl.agents.iql.config import IQLConfig
from jaxrl.specs import EnvSpec

CRITIC_LOSSES = ("mse", "mse_sum", "huber")


def make_iql(config: IQLConfig, spec: EnvSpec) -> Agent:
    """Builds IQL for `spec`. See `IQLConfig` for the settings (and RIQL's options)."""
    if config.q_reduction not in ("min", "quantile"):
        raise ValueError(f"q_reduction={config.q_reduction!r}; allowed: 'min', 'quantile'")
    period = family.actor_lr_period(config)
    if config.critic_loss not in CRITIC_LOSSES:
        raise ValueError(f"critic_loss={config.critic_loss!r}; allowed: {CRITIC_LOSSES}")
    if config.update_order not in family.ORDERS:
        raise ValueError(f"update_order={config.update_order!r}; allowed: {family.ORDERS}")
    nets = family.make_networks(
        spec,
        config.hidden_dims,
        config.num_critics,
        critic_layer_norm=config.layer_norm,
        value_layer_norm=config.layer_norm,
        deterministic_actor=config.deterministic_actor,
        log_std_min=config.log_std_min,
    )

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        return family.init_state(
            nets,
            spec,
            key,
            hparams=hp,
        )

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        return family.act(nets, state, obs, key, deterministic)

    if config.critic_loss == "huber":
        # RIQL's Huber with δ = 1/σ²
        critic_term = lambda q, y, hp: losses.huber_critic_term(q, y, 1.0 / hp.huber_sigma**2)  # noqa: E731
    elif config.critic_loss == "mse_sum":
        critic_term = lambda q, y, hp: losses.mse_sum_critic_term(q, y)  # noqa: E731
    else:
        critic_term = lambda q, y, hp: losses.mse_critic_term(q, y)  # noqa: E731
    update = family.make_update(
        nets,
        value_term=lambda x, hp: losses.value_term(x, hp.expectile),
        critic_term=critic_term,
        order=config.update_order,
        q_reduction=config.q_reduction,
        target_clip=config.target_clip,
        max_weight=config.max_weight,
        actor_lr_period=period,
        actor_lr_schedule=config.actor_lr_schedule,
    )
    return Agent(init=init, act=act, update=update, to_online=identity_switch)
