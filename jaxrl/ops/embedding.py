"""Sinusoidal embeddings of a scalar coefficient (FamO2O's conditioning on β)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sinusoidal_embedding(x: jax.Array, dim: int = 6, base: float = 1e4) -> jax.Array:
    """Interleaved sin/cos features of a scalar, elementwise over `x`.

    For i = 0 … dim/2 − 1, with ω_i = base^(−2i/dim):
    `emb_{2i} = sin(ω_i · x)` and `emb_{2i+1} = cos(ω_i · x)`.

    Args:
      x: any shape; each element is embedded on its own.
      dim: number of features (even).
      base: n, the longest wavelength's scale (10 000 as in Transformer position encodings).

    Returns:
      `x.shape + (dim,)`.

    Example:
      >>> sinusoidal_embedding(jnp.zeros(()), dim=4)  # [sin 0, cos 0, sin 0, cos 0]
      Array([0., 1., 0., 1.], dtype=float32)

    References: Wang et al., 2023, "Train Once, Get a Family: State-Adaptive Balances for
    Offline-to-Online RL" (FamO2O); `LeapLabTHU/FamO2O: jax_iql/family_utils.py:
    sin_cos_skill_func`.
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"dim={dim} must be a positive even number")
    x = jnp.asarray(x, jnp.float32)
    freqs = base ** (-2.0 * jnp.arange(dim // 2, dtype=jnp.float32) / dim)
    angles = x[..., None] * freqs
    return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(x.shape + (dim,))
