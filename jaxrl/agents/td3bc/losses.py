"""TD3+BC and ReBRAC losses, at module level with the differentiated parameters first.

`actor` and `critic` are the Linen modules (a `DeterministicPolicy` and a `QEnsemble`); the
math they share with other algorithms lives in `jaxrl.ops.td3`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.ops import bc_penalty, deterministic_bc_actor_loss, smoothed_target_action, td_target
from jaxrl.types import Transition

#: Which critic value the actor maximizes: "first" Q_1 (TD3, TD3+BC), "min" min_j Q_j (ReBRAC).
ACTOR_Q_MODES = ("first", "min")


def td3_target(
    actor_target_params: Any,
    critic_target_params: Any,
    actor: nn.Module,
    critic: nn.Module,
    batch: Transition,
    key: jax.Array,
    discount: jax.Array,
    policy_noise: jax.Array,
    noise_clip: jax.Array,
    critic_bc_coef: jax.Array | float = 0.0,
) -> tuple[jax.Array, jax.Array]:
    """y = r + γ m [min_j Q̄_j(s', ã') − β_c (1 − truncated) ‖ã' − a'_data‖²], gradient stopped.

    ã' = clip(π̄(s') + clip(ε, ±c), ±1) is the smoothed target action. With β_c = 0 this is
    TD3's target; otherwise ReBRAC's, which needs `batch.next_action`. The penalty is dropped
    at time-limit rows, where the data holds no next action.

    Returns:
      (y [B], the batch-mean critic penalty ‖ã' − a'_data‖² (0 when β_c is unused)).
    """
    next_action = smoothed_target_action(
        actor.apply(actor_target_params, batch.next_obs), key, policy_noise, noise_clip
    )
    q_next = jnp.min(critic.apply(critic_target_params, batch.next_obs, next_action), axis=0)
    if isinstance(critic_bc_coef, float) and critic_bc_coef == 0.0:
        penalty = jnp.zeros_like(q_next)
    else:
        if batch.next_action is None:
            raise ValueError(
                "the critic BC penalty needs batch.next_action, the dataset's next actions; "
                "add them with jaxrl.data.trajectories.with_next_actions(dataset) (the "
                "training layer does this for configs with uses_next_action)"
            )
        penalty = bc_penalty(next_action, batch.next_action, "sum") * (1.0 - batch.truncated)
        q_next = q_next - critic_bc_coef * penalty
    return td_target(batch.reward, batch.mask, q_next, discount), jnp.mean(penalty)


def critic_loss(
    critic_params: Any, critic: nn.Module, batch: Transition, target: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Σ_j mean_batch (Q_j(s, a) − y)², as in TD3 (`mse(Q1) + mse(Q2)`) and CORL ReBRAC.

    Returns:
      (loss, Q [num_critics, B]).
    """
    q = critic.apply(critic_params, batch.obs, batch.action)
    return jnp.sum(jnp.mean((q - target[None]) ** 2, axis=1)), q


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
      actor_q: one of `ACTOR_Q_MODES`.
      bc_reduction: "mean" or "sum" over action dimensions (`jaxrl.ops.BC_REDUCTIONS`).
      normalize_q: use λ = α / sg(mean|Q|) rather than λ = α.

    Returns:
      (loss, {"bc_mse": mean bc penalty, "actor_q": mean Q(s, π(s))}).
    """
    pi = actor.apply(actor_params, batch.obs)
    q_all = critic.apply(critic_params, batch.obs, pi)
    if actor_q == "first":
        q = q_all[0]
    elif actor_q == "min":
        q = jnp.min(q_all, axis=0)
    else:
        raise ValueError(f"actor_q={actor_q!r}; allowed: {ACTOR_Q_MODES}")
    bc = bc_penalty(pi, batch.action, bc_reduction)
    loss = deterministic_bc_actor_loss(q, bc, alpha, bc_coef, normalize_q)
    return loss, {"bc_mse": jnp.mean(bc), "actor_q": jnp.mean(q)}
