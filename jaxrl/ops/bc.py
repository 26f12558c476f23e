"""Behaviour-cloning distances between a policy's and the data's actions (BC, TD3+BC, ReBRAC,
PRDC, A2PR). The TD3 family's other shared steps are in `jaxrl.agents.families.td3`.

Written for one batch: actions are [B, |A|].

Example:

    >>> import jax.numpy as jnp
    >>> pi, a = jnp.array([[0.5, 0.0]]), jnp.array([[0.0, 1.0]])
    >>> bc_penalty(pi, a, "sum"), bc_penalty(pi, a, "mean")
    (Array([1.25], dtype=float32), Array([0.625], dtype=float32))
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: How the squared action error is reduced over action dimensions: "sum" ‖π(s) − a‖²
#: (ReBRAC, CORL `rebrac.py`), "mean" ‖π(s) − a‖² / |A| (TD3+BC's `F.mse_loss`).
BC_REDUCTIONS = ("sum", "mean")


def bc_penalty(policy_action: jax.Array, data_action: jax.Array, reduction: str = "sum"):
    """Per-example squared distance between two actions, reduced over the last axis.

    Args:
      policy_action: [..., |A|].
      data_action: [..., |A|].
      reduction: one of `BC_REDUCTIONS`.
    """
    sq = (policy_action - data_action) ** 2
    if reduction == "sum":
        return jnp.sum(sq, axis=-1)
    if reduction == "mean":
        return jnp.mean(sq, axis=-1)
    raise ValueError(f"bc reduction {reduction!r}; allowed: {BC_REDUCTIONS}")
