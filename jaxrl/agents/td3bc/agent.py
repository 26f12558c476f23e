"""TD3+BC: TD3 with a behaviour-cloning term in the actor loss.

The builder here also serves ReBRAC (`jaxrl.agents.rebrac`), which is TD3+BC with a critic
penalty, min-Q actor, summed BC term, deeper LayerNorm critics and an online BC decay.

References: Fujimoto & Gu, 2021, "A Minimalist Approach to Offline Reinforcement Learning"
(`sfujim/TD3_BC:TD3_BC.py`); CORL `algorithms/offline/td3_bc.py` (ALGORITHMS.md §4.7).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, is_online
from jaxrl.agents.families import td3
from jaxrl.agents.td3bc import losses
from jaxrl.agents.td3bc.config import TD3BCConfig
from jaxrl.ops import BC_REDUCTIONS
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def bc_coefficients(state: AgentState) -> tuple[jax.Array, jax.Array]:
    """(β_actor, β_critic) in force at `state.step`.

    Offline: the configured coefficients. Online (after `to_online`), β_actor decays as
    `td3.online_decay(β_actor, step − online_start, bc_decay_steps, min_decay_coef)` and
    β_critic becomes `online_critic_bc_coef`, as in CORL `finetune/rebrac.py`. A function of
    the state's counters, so the switch changes leaves only.
    """
    hp = state.hparams
    online = is_online(state) > 0
    actor = td3.online_weight(state, hp.actor_bc_coef, hp.bc_decay_steps, hp.min_decay_coef)
    if not hasattr(hp, "critic_bc_coef"):  # TD3+BC's hyperparameters: no critic penalty
        return actor, jnp.zeros(())
    return actor, jnp.where(online, hp.online_critic_bc_coef, hp.critic_bc_coef)


def make_td3_family(
    config: TD3BCConfig,
    spec: EnvSpec,
    critic_penalty: Callable[[jax.Array, Transition], jax.Array] | None = None,
) -> Agent:
    """The TD3+BC / ReBRAC agent.

    `critic_penalty(ã', batch) -> [B]` adds ReBRAC's β_critic term to the TD target
    (`jaxrl.agents.rebrac.losses.critic_bc_penalty`) and its leaves; None is TD3+BC.
    """
    if config.bc_reduction not in BC_REDUCTIONS:
        raise ValueError(f"bc_reduction={config.bc_reduction!r}; allowed: {BC_REDUCTIONS}")
    if config.actor_q not in td3.ACTOR_Q_MODES:
        raise ValueError(f"actor_q={config.actor_q!r}; allowed: {td3.ACTOR_Q_MODES}")
    actor, critic, txs, init, act = td3.td3_parts(config, spec)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        actor_bc, critic_bc = bc_coefficients(state)
        c = td3.critic_update(
            state, txs["critic"], actor, critic, batch, key, critic_penalty, critic_bc
        )

        def actor_loss(actor_params, _):
            return losses.actor_loss(
                actor_params,
                c.params,
                actor,
                critic,
                batch,
                hp.alpha,
                actor_bc,
                config.actor_q,
                config.bc_reduction,
                config.normalize_q,
            )

        a = td3.actor_update(
            state,
            actor_loss,
            txs["actor"],
            c.params,
            config.policy_delay,
            one_based=config.one_based_delay,
        )
        metrics = {**td3.critic_metrics(c), "actor_bc_coef": actor_bc, **a[3]}
        if c.penalty is not None:
            metrics["critic_bc_coef"] = critic_bc
            metrics["critic_bc_penalty"] = jnp.mean(c.penalty)
        return td3.stepped_state(state, c, a), metrics

    def to_online(state: AgentState) -> AgentState:
        # CORL's reset_opts: fresh moments and counts; the (possibly swept) learning rates stay.
        return td3.start_online(state, txs, tuple(txs) if config.reset_optimizers else ())

    return Agent(init=init, act=act, update=update, to_online=to_online)


def make_td3bc(config: TD3BCConfig, spec: EnvSpec) -> Agent:
    """Builds TD3+BC for `spec`. See `TD3BCConfig` for the settings."""
    return make_td3_family(config, spec)
