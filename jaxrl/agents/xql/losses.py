"""XQL's own term: Gumbel regression of V on Q̄ (ALGORITHMS.md §22a). x [B] = Q̄(s,a) − V(s)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gumbel_loss(x: jax.Array, beta: float | jax.Array, max_clip: float | jax.Array) -> jax.Array:
    """e^z − z − 1 per sample, z = min(x/β, max_clip). Minimised by V = β log E[e^{Q/β}].

    References: Garg, Hejna, Geist, Ermon, 2023, "Extreme Q-Learning: MaxEnt RL without
    Entropy", eq. (11) (ALGORITHMS.md §22a "Value (Gumbel regression)").
    """
    z = jnp.minimum(x / beta, max_clip)
    return jnp.exp(z) - z - 1.0


def gumbel_rescale_loss(
    x: jax.Array, beta: float | jax.Array, max_clip: float | jax.Array
) -> jax.Array:
    """e^{z−M} − z e^{−M} − e^{−M} = e^{−M}(e^z − z − 1), M = sg(max(max_B z, −1)).

    The batch-max rescaling divides the gradient by e^M, an adaptive learning rate that keeps
    e^z from overflowing; the minimiser is that of `gumbel_loss`. `x` is one whole batch.

    References: XQL eq. (11); `Div99/XQL: offline/critic.py: gumbel_rescale_loss` (§22a).
    """
    z = jnp.minimum(x / beta, max_clip)
    m = jax.lax.stop_gradient(jnp.maximum(jnp.max(z, axis=0), -1.0))
    return jnp.exp(z - m) - z * jnp.exp(-m) - jnp.exp(-m)


VALUE_LOSSES = {"rescale": gumbel_rescale_loss, "plain": gumbel_loss}
