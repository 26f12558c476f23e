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

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams
from jaxrl.agents.prdc import losses
from jaxrl.agents.prdc.config import PRDCConfig
from jaxrl.agents.td3bc.agent import td3_act, td3_networks
from jaxrl.ops import bc_decay, policy_update_due, polyak
from jaxrl.ops.neighbors import default_block_size
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def constraint_coefficient(state: AgentState) -> jax.Array:
    """The weight of MSE(π(s), a_nn) in force at `state.step`.

    Offline: `constraint_coef`. After `to_online`: `constraint_coef ·
    max(min_decay_coef, 1 − (step − online_start) / bc_decay_steps)` (`ops.bc_decay`). A
    function of the state's counters, so the switch changes leaves only.
    """
    hp = state.hparams
    n_online = state.step.astype(jnp.float32) - hp["online_start"]
    decay = bc_decay(n_online, hp["bc_decay_steps"], hp["min_decay_coef"])
    return hp["constraint_coef"] * jnp.where(hp["online"] > 0, decay, 1.0)


def make_prdc(config: PRDCConfig, spec: EnvSpec) -> Agent:
    """Builds PRDC for `spec`. See `PRDCConfig` for the settings.

    The returned agent's own `update` refuses to run: PRDC needs the dataset. Use
    `agent.bind_dataset(dataset).update`, as the training layer does in every chunk.
    """
    if config.policy_delay < 1:
        raise ValueError(f"policy_delay={config.policy_delay} must be >= 1 (1: no delay)")
    if config.k != 1:
        raise ValueError(
            f"k={config.k}: only k = 1 (the nearest neighbour) is implemented; the reference's "
            "k > 1 uses the k-th nearest point alone (KDTree.query(k=[k]))"
        )
    if config.nn_block_size < 0:
        raise ValueError(f"nn_block_size={config.nn_block_size} must be >= 0 (0: by backend)")
    block_size = config.nn_block_size or default_block_size()
    actor, critic = td3_networks(config, spec)
    txs = {"actor": adam(config.actor_lr), "critic": adam(config.critic_lr)}

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {"actor": actor.init(k_actor, obs), "critic": critic.init(k_critic, obs, act)}
        return AgentState(
            params=params,
            target_params=dict(params),
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(
                alpha=config.alpha,
                beta=config.beta,
                constraint_coef=config.constraint_coef,
                min_decay_coef=config.min_decay_coef,
                bc_decay_steps=config.bc_decay_steps,
                policy_noise=config.policy_noise,
                noise_clip=config.noise_clip,
                exploration_noise=config.exploration_noise,
                discount=config.discount,
                tau=config.tau,
                online=0.0,  # set to 1 by to_online
                online_start=0.0,  # the step counter at the switch
            ),
            step=jnp.zeros((), jnp.int32),
        )

    act = td3_act(actor)

    def make_update(data_obs: jax.Array, data_action: jax.Array):
        def update(state: AgentState, batch: Transition, key: jax.Array):
            hp = state.hparams
            coef = constraint_coefficient(state)
            y, _ = losses.td3_target(
                state.target_params["actor"],
                state.target_params["critic"],
                actor,
                critic,
                batch,
                key,
                hp["discount"],
                hp["policy_noise"],
                hp["noise_clip"],
            )
            (c_loss, q), c_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
                state.params["critic"], critic, batch, y
            )
            critic_params, critic_opt = apply_grads(
                txs["critic"], state.params["critic"], state.opt_states["critic"], c_grads
            )
            # The search runs on every update, outside the policy-delay cond: under the run-axis
            # vmap that cond is a select and would run it every step anyway, and the skipped
            # steps report the actor loss with the same neighbours.
            nn_action, nn_sq = losses.dataset_constraint_action(
                actor.apply(state.params["actor"], batch.obs),
                batch.obs,
                data_obs,
                data_action,
                hp["beta"],
                block_size,
            )
            args = (critic_params, actor, critic, batch, nn_action, hp["alpha"], coef)

            def actor_step(_):
                (a_loss, aux), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
                    state.params["actor"], *args
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
                a_loss, aux = losses.actor_loss(state.params["actor"], *args)
                return (
                    state.params["actor"],
                    state.opt_states["actor"],
                    state.target_params,
                    {"actor_loss": a_loss, **aux},
                )

            due = policy_update_due(state.step, config.policy_delay)
            actor_params, actor_opt, targets, a_metrics = jax.lax.cond(due, actor_step, skip, None)
            metrics = {
                "critic_loss": c_loss,
                "q_mean": jnp.mean(q),
                "target_mean": jnp.mean(y),
                "constraint_coef": coef,
                "nn_sq_dist": jnp.mean(nn_sq),
                **a_metrics,
            }
            new_state = state.replace(
                params={"actor": actor_params, "critic": critic_params},
                target_params=targets,
                opt_states={"actor": actor_opt, "critic": critic_opt},
                step=state.step + 1,
            )
            return new_state, metrics

        return update

    def unbound_update(state: AgentState, batch: Transition, key: jax.Array):
        del state, batch, key
        raise ValueError(
            "PRDC's update needs the offline dataset (its neighbour set): call "
            "agent.bind_dataset(dataset).update(state, batch, key); the training layer does "
            "this in every chunk"
        )

    def to_online(state: AgentState) -> AgentState:
        hp = dict(state.hparams)
        hp["online"] = jnp.ones((), jnp.float32)
        hp["online_start"] = state.step.astype(jnp.float32)
        return state.replace(hparams=hp)

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
