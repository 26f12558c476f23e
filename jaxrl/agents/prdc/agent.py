"""PRDC: TD3 with a dataset constraint, the action of the nearest (β·s, a) dataset point.

The actor is pulled towards a_nn, the action part of the dataset point nearest to
(β·s, π(s)) in {(β·s_i, a_i)}, instead of the batch's own action (TD3+BC). The reference
queries a scipy KD-tree on the host; here an exact blocked brute-force search runs on the
device inside the compiled update (`jaxrl.ops.neighbors`), against the dataset that the
training layer hands to `bind_dataset` (shared by every run, never copied per run).

Online (jaxrl's design; the reference is offline only): the constraint stays over the offline
dataset and its weight decays linearly to `min_decay_coef` over `bc_decay_steps` online
gradient steps, like ReBRAC's BC schedule (docs/algorithms/prdc.md).

References: Ran et al., 2023, "Policy Regularization with Dataset Constraint for Offline
Reinforcement Learning" (ICML); `LAMDA-RL/PRDC:prdc.py` (ALGORITHMS.md §8).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.families import td3
from jaxrl.agents.prdc import losses
from jaxrl.agents.prdc.config import PRDCConfig
from jaxrl.agents.td3bc import losses as td3bc_losses
from jaxrl.ops.neighbors import default_block_size
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def constraint_coefficient(state: AgentState) -> jax.Array:
    """The weight of MSE(π(s), a_nn) in force at `state.step`.

    Offline: `constraint_coef`. After `to_online`: `constraint_coef ·
    max(min_decay_coef, 1 − (step − online_start) / bc_decay_steps)` (`td3.online_decay`). A
    function of the state's counters, so the switch changes leaves only.
    """
    hp = state.hparams
    return td3.online_weight(state, hp.constraint_coef, hp.bc_decay_steps, hp.min_decay_coef)


def make_prdc(config: PRDCConfig, spec: EnvSpec) -> Agent:
    """Builds PRDC for `spec`. See `PRDCConfig` for the settings.

    The returned agent's own `update` refuses to run: PRDC needs the dataset. Use
    `agent.bind_dataset(dataset).update`, as the training layer does in every chunk.
    """
    if config.k != 1:
        raise ValueError(
            f"k={config.k}: only k = 1 (the nearest neighbour) is implemented; the reference's "
            "k > 1 uses the k-th nearest point alone (KDTree.query(k=[k]))"
        )
    if config.nn_block_size < 0:
        raise ValueError(f"nn_block_size={config.nn_block_size} must be >= 0 (0: by backend)")
    block_size = config.nn_block_size or default_block_size()
    actor, critic, txs, init, act = td3.td3_parts(config, spec)

    def make_update(data_obs: jax.Array, data_action: jax.Array):
        def update(state: AgentState, batch: Transition, key: jax.Array):
            hp = state.hparams
            coef = constraint_coefficient(state)
            c = td3.critic_update(state, txs["critic"], actor, critic, batch, key)
            # The search runs on every update, outside the policy-delay cond: under the run-axis
            # vmap that cond is a select and would run it every step anyway, and the skipped
            # steps report the actor loss with the same neighbours.
            nn_action, nn_sq = losses.dataset_constraint_action(
                actor.apply(state.params["actor"], batch.obs),
                batch.obs,
                data_obs,
                data_action,
                hp.beta,
                block_size,
            )

            constrained = losses.constrained_batch(batch, nn_action)

            def actor_loss(actor_params, _):
                loss, aux = td3bc_losses.actor_loss(
                    actor_params, c.params, actor, critic, constrained, hp.alpha, coef
                )
                return loss, {"constraint_mse": aux["bc_mse"], "actor_q": aux["actor_q"]}

            a = td3.actor_update(state, actor_loss, txs["actor"], c.params, config.policy_delay)
            metrics = {
                **td3.critic_metrics(c),
                "constraint_coef": coef,
                "nn_sq_dist": jnp.mean(nn_sq),
                **a[3],
            }
            return td3.stepped_state(state, c, a), metrics

        return update

    def unbound_update(state: AgentState, batch: Transition, key: jax.Array):
        del state, batch, key
        raise ValueError(
            "PRDC's update needs the offline dataset (its neighbour set): call "
            "agent.bind_dataset(dataset).update(state, batch, key); the training layer does "
            "this in every chunk"
        )

    def to_online(state: AgentState) -> AgentState:
        return td3.start_online(state)

    def bind_dataset(dataset: Transition) -> Agent:
        """The agent whose `update` constrains the actor to `dataset` (obs and actions only)."""
        if dataset.obs.ndim != 2 or dataset.obs.shape[-1] != spec.obs_dim:
            raise ValueError(
                f"dataset observations {dataset.obs.shape} do not match obs_dim={spec.obs_dim}"
            )
        return Agent(
            init=init,
            act=act,
            update=make_update(dataset.obs, dataset.action),
            to_online=to_online,
            bind_dataset=bind_dataset,
        )

    return Agent(
        init=init, act=act, update=unbound_update, to_online=to_online, bind_dataset=bind_dataset
    )
