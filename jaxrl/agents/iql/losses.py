"""IQL's own terms, plugged into the IQL family (`jaxrl.agents.families.iql`).

The family holds V's regression, the TD critic on V(s') and the AWR actor; IQL chooses the
expectile as V's per-sample loss and the mean squared (or, for RIQL, Huber) TD error over the
critic ensemble. Shapes: x [B], Q [C, B], y [B].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.ops import ensemble_td_loss, expectile_loss, huber_loss


def value_term(x: jax.Array, expectile: float | jax.Array) -> jax.Array:
    """|τ − 1(x < 0)| · x², x = Q̄(s,a) − V(s), per sample.

    References: Kostrikov et al., 2021, "Offline RL with Implicit Q-Learning", eq. (5)
    (ALGORITHMS.md §4.1 "Value (expectile)").
    """
    return expectile_loss(x, expectile)


def mse_critic_term(q: jax.Array, target: jax.Array) -> jax.Array:
    """mean_{j,B} (Q_j(s,a) − y)², i.e. ½ Σ_{j=1,2} MSE(Q_j, y) for twin critics, y = r + γ m V(s').

    References: IQL eq. (6); CORL `algorithms/finetune/iql.py` (ALGORITHMS.md §4.1 "Q").
    """
    return ensemble_td_loss(q, target, "mean")


def mse_sum_critic_term(q: jax.Array, target: jax.Array) -> jax.Array:
    """Σ_j mean_B (Q_j(s,a) − y)², the sum over the critics (twice `mse_critic_term` for twin
    critics; the gradient direction is the same, Adam's step nearly so).

    References: ikostrikov/implicit_q_learning `critic.py` `update_q`, ((q1 − y)² + (q2 − y)²)
    averaged over the batch.
    """
    return ensemble_td_loss(q, target, "sum")


def huber_critic_term(q: jax.Array, target: jax.Array, delta: float | jax.Array) -> jax.Array:
    """mean_{k,B} H_δ(Q_k(s,a) − y), H_δ PyTorch's `smooth_l1_loss` (δ = 1/σ²).

    References: Yang et al., 2023, "Towards Robust Offline RL under Diverse Data Corruption"
    (RIQL), eq. (7) (ALGORITHMS.md §11).
    """
    return jnp.mean(huber_loss(q - target[None], delta))
