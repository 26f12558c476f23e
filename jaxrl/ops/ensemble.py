"""Reductions over a critic ensemble's leading axis."""

from __future__ import annotations

import jax
import jax.numpy as jnp

#: "min" over all members; "mean"; "subset_min" min over a random subset of `subset_size`
#: members drawn with (WSRL) or without (RLPD) replacement; "quantile" the ρ-quantile (RIQL);
#: "lcb" mean − k·std (RO2O).
ENSEMBLE_REDUCTIONS = ("min", "mean", "subset_min", "quantile", "lcb")


def subset_indices(key: jax.Array, n: int, size: int, replace: bool) -> jax.Array:
    """`size` member indices out of `n`, drawn with replacement (WSRL's `randint`) or without
    (RLPD's `choice`)."""
    if replace:
        return jax.random.randint(key, (size,), 0, n)
    if size > n:
        raise ValueError(f"subset_size={size} exceeds ensemble size {n}")
    return jax.random.choice(key, n, (size,), replace=False)


def reduce_ensemble(
    q: jax.Array,
    mode: str = "min",
    key: jax.Array | None = None,
    subset_size: int = 2,
    replace: bool = False,
    quantile: float = 0.25,
    lcb_k: float = 1.0,
) -> jax.Array:
    """Reduce `q` of shape [N, ...] over its first axis.

    Args:
      q: ensemble values, members on axis 0.
      mode: one of `ENSEMBLE_REDUCTIONS`.
      key: required by "subset_min"; one subset is drawn for the whole batch, as in RLPD and
        WSRL.
      subset_size: M for "subset_min".
      replace: draw the subset with replacement (WSRL `randint`) or without (RLPD `choice`).
      quantile: ρ for "quantile".
      lcb_k: k for "lcb".
    """
    if mode == "min":
        return jnp.min(q, axis=0)
    if mode == "mean":
        return jnp.mean(q, axis=0)
    if mode == "subset_min":
        if key is None:
            raise ValueError("reduce_ensemble(mode='subset_min') needs a PRNG key")
        return jnp.min(q[subset_indices(key, q.shape[0], subset_size, replace)], axis=0)
    if mode == "quantile":
        return jnp.quantile(q, quantile, axis=0)
    if mode == "lcb":
        return jnp.mean(q, axis=0) - lcb_k * jnp.std(q, axis=0)
    raise ValueError(f"unknown ensemble reduction {mode!r}; allowed: {ENSEMBLE_REDUCTIONS}")


def ensemble_gradient_diversity(action_grads: jax.Array, eps: float = 1e-10) -> jax.Array:
    """EDAC's diversity loss over per-critic action-gradients.

    With ĝ_i = ∇_a Q_i(s, a) / (‖∇_a Q_i(s, a)‖ + eps), the loss for one state is
    Σ_{i≠j} ⟨ĝ_i, ĝ_j⟩ / (N − 1), and the result is its mean over the batch: the pairwise
    cosine similarity of the members' action-gradients, summed over ordered pairs and divided
    by N − 1. Minimising it makes the critics' gradients point in different directions.

    Args:
      action_grads: [N, B, |A|], member i's gradient of Q_i with respect to the action of each
        example (N ≥ 2).
      eps: added to each norm, as in the reference code.

    Returns:
      A scalar. Its gradient flows back through `action_grads` (double backpropagation).

    References: An et al., 2021, "Uncertainty-Based Offline RL with Diversified Q-Ensemble"
    (EDAC), eq. (4); `snu-mllab/EDAC: lifelong_rl/trainers/q_learning/sac.py`.
    """
    n = action_grads.shape[0]
    if action_grads.ndim != 3 or n < 2:
        raise ValueError(
            f"action_grads has shape {action_grads.shape}; expected [N >= 2, batch, action_dim]"
        )
    unit = action_grads / (jnp.linalg.norm(action_grads, axis=-1, keepdims=True) + eps)
    # Σ_{i≠j} ⟨ĝ_i, ĝ_j⟩ = ‖Σ_i ĝ_i‖² − Σ_i ‖ĝ_i‖²: O(N) instead of the N×N Gram matrix.
    total = jnp.sum(jnp.sum(unit, axis=0) ** 2, axis=-1)
    diag = jnp.sum(unit**2, axis=(0, 2))
    return jnp.mean(total - diag) / (n - 1)
