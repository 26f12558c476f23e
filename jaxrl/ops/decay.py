"""Schedules of a coefficient over the online phase."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def linear_cooling(
    value: float | jax.Array,
    t: jax.Array,
    horizon: float | jax.Array,
    floor: float | jax.Array,
) -> jax.Array:
    """value · max(floor, 1 − t / horizon): a linear decay that stops at `floor` · value.

    Args:
      value: the coefficient before cooling (e.g. SPOT's λ).
      t: steps since cooling began (SPOT counts the first online update as t = 1).
      horizon: steps over which the factor would reach 0 (SPOT: the online iterations).
      floor: the smallest factor (SPOT's `lambd_end`).

    References: Wu et al., 2022, "Supported Policy Optimization for Offline RL" (SPOT),
    fine-tuning code `thuml/SPOT: SPOT.py`, CORL `algorithms/finetune/spot.py`.
    """
    t = jnp.asarray(t, jnp.float32)
    return value * jnp.maximum(floor, 1.0 - t / horizon)
