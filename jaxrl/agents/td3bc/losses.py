"""TD3+BC's own term, at module level with the differentiated parameters first
(ALGORITHMS.md §4.7): the actor loss with a behaviour-cloning term and a Q term normalized by
sg(mean|Q|). ReBRAC uses it with its modes ("min", "sum"); the critic's target and loss are the
TD3 family's (`jaxrl.agents.families.td3`).

`actor` and `critic` are the Linen modules (a `DeterministicPolicy` and a `QEnsemble`).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.agents.families import td3
from jaxrl.ops import bc_penalty
from jaxrl.types import Transition


def actor_loss(
    actor_params: Any,
    critic_params: Any,
    actor: nn.Module,
    critic: nn.Module,
    batch: Transition,
    alpha: jax.Array,
    bc_coef: jax.Array,
    actor_q: str = "first",
    bc_reduction: str = "mean",
    normalize_q: bool = True,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """mean[β · bc(π(s), a) − λ · Q(s, π(s))], λ = α / sg(mean|Q|) (TD3+BC eq. 3, ReBRAC eq. 2).

    Args:
      actor_params: differentiated.
      critic_params: the critics after this step's critic update (as both references do).
      alpha: α (TD3+BC 2.5, ReBRAC 1).
      bc_coef: β (TD3+BC 1, ReBRAC β_actor, possibly decayed online).
      actor_q: one of `jaxrl.agents.families.td3.ACTOR_Q_MODES` ("first" Q_1, "min" min_j Q_j).
      bc_reduction: "mean" or "sum" over action dimensions (`jaxrl.ops.BC_REDUCTIONS`).
      normalize_q: use λ = α / sg(mean|Q|) rather than λ = α.

    Returns:
      (loss, {"bc_mse": mean bc penalty, "actor_q": mean Q(s, π(s))}).

    References: Fujimoto & Gu, 2021, "A Minimalist Approach to Offline Reinforcement
    Learning", eq. (3); Tarasov et al., 2023 (ReBRAC), eq. (2).
    """
    pi = actor.apply(actor_params, batch.obs)
    q = td3.actor_q(critic.apply(critic_params, batch.obs, pi), actor_q)
    bc = bc_penalty(pi, batch.action, bc_reduction)
    loss = td3.regularized_actor_loss(q, bc, alpha, bc_coef, normalize_q)
    return loss, {"bc_mse": jnp.mean(bc), "actor_q": jnp.mean(q)}
