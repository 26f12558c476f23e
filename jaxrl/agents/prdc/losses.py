"""PRDC losses, at module level with the differentiated parameters first (ALGORITHMS.md §8).

PRDC's own term is the dataset constraint: the actor loss is TD3+BC's with the dataset action
replaced by the action of the nearest dataset point. The critic's target and loss are the TD3
family's (`jaxrl.agents.families.td3`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.ops.neighbors import nearest_neighbor
from jaxrl.types import Transition

__all__ = ["constrained_batch", "dataset_constraint_action", "neighbor_weights"]


def neighbor_weights(obs_dim: int, action_dim: int, beta: jax.Array) -> jax.Array:
    """Per-feature weights w = (β², …, β², 1, …, 1) of the neighbour metric over (s, a).

    Σ_j w_j (x_j − y_j)² is ‖(β·s, a) − (β·s', a')‖², the reference's KD-tree distance.
    """
    beta = jnp.asarray(beta, jnp.float32)
    return jnp.concatenate([jnp.full((obs_dim,), beta**2), jnp.ones((action_dim,), beta.dtype)])


def dataset_constraint_action(
    policy_action: jax.Array,
    obs: jax.Array,
    data_obs: jax.Array,
    data_action: jax.Array,
    beta: jax.Array,
    block_size: int,
) -> tuple[jax.Array, jax.Array]:
    """a_nn: the action part of the dataset point nearest to (β·s, π(s)), gradient stopped.

    Args:
      policy_action: π(s) [B, |A|] (detached here, as the reference queries with numpy).
      obs: s [B, |S|].
      data_obs: the dataset's observations [N, |S|] (shared by every run).
      data_action: the dataset's actions [N, |A|].
      beta: β, the weight of the state in the key.
      block_size: rows per step of the search (`jaxrl.ops.neighbors.nearest_neighbor`).

    Returns:
      (a_nn [B, |A|], squared distance ‖(β·s, π(s)) − (β·s_nn, a_nn)‖² [B]).
    """
    query = jax.lax.stop_gradient(jnp.concatenate([obs, policy_action], axis=-1))
    w = neighbor_weights(obs.shape[-1], policy_action.shape[-1], beta)
    idx, sq = nearest_neighbor(query, (data_obs, data_action), w, block_size)
    return jax.lax.stop_gradient(data_action[idx]), sq


def constrained_batch(batch: Transition, nn_action: jax.Array) -> Transition:
    """The batch whose actions are a_nn (gradient stopped): TD3+BC's actor loss on it,
    `jaxrl.agents.td3bc.losses.actor_loss` with Q_1, the mean MSE and λ = α / sg(mean|Q_1|),
    is PRDC's −λ · mean Q_1(s, π(s)) + c · MSE(π(s), a_nn) (`LAMDA-RL/PRDC:prdc.py`; c = 1
    offline, decaying online: docs/algorithms/prdc.md)."""
    return batch.replace(action=jax.lax.stop_gradient(nn_action))
