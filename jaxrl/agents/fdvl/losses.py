"""f-DVL's own terms: the χ² and total-variation value losses of x = Q̄(s,a) − V(s), per
sample, with the mixing weight λ (ALGORITHMS.md §22b)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def chi2_loss(x: jax.Array, lam: float | jax.Array) -> jax.Array:
    """λ · max(x + x²/4, 0) − (1 − λ) · x.

    References: Sikchi, Zheng, Zhang, Niekum, 2024, "Dual RL: Unification and New Methods for
    Reinforcement and Imitation Learning" (ICLR), the χ² conjugate; `hari-sikchi/DVL`
    (ALGORITHMS.md §22b).
    """
    return lam * jnp.maximum(x + x**2 / 4.0, 0.0) - (1.0 - lam) * x


def tv_loss(x: jax.Array, lam: float | jax.Array) -> jax.Array:
    """λ · max(x, 0) − (1 − λ) · x; minimised where P(Q > V) = (1 − λ)/λ, an upper quantile.

    References: Sikchi et al., 2024, "Dual RL", the total-variation conjugate (§22b).
    """
    return lam * jnp.maximum(x, 0.0) - (1.0 - lam) * x


VALUE_LOSSES = {"chi2": chi2_loss, "tv": tv_loss}
