"""Mixing offline data with online experience, with the offline share as a traced array."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.buffers.ring import BufferState, buffer_sample, dataset_sample
from jaxrl.types import Transition

#: How offline data is used online (ALGORITHMS.md shared building blocks §8):
#: "append" the dataset and online data form one pool sampled uniformly (CORL IQL/AWAC/CQL),
#: realised without copying the dataset: the offline share is N_off / (N_off + N_online);
#: "mixed" a fixed share `offline_ratio` of every batch (Cal-QL 0.5, RLPD 0.5, ReBRAC 0.5);
#: "none" no offline data online (WSRL).
RETENTION_MODES = ("append", "mixed", "none")


def offline_fraction(
    mode: str, offline_ratio: jax.Array, dataset_size: int, buffer_size: jax.Array
) -> jax.Array:
    """The share of a batch drawn from the dataset under retention `mode`."""
    if mode == "append":
        return dataset_size / (dataset_size + buffer_size.astype(jnp.float32))
    if mode == "mixed":
        return jnp.asarray(offline_ratio, jnp.float32)
    if mode == "none":
        return jnp.zeros((), jnp.float32)
    raise ValueError(f"unknown retention mode {mode!r}; allowed: {RETENTION_MODES}")


def mixed_sample(
    dataset: Transition,
    buffer: BufferState,
    key: jax.Array,
    batch_size: int,
    offline_ratio: jax.Array,
) -> Transition:
    """A batch whose first round(ratio · batch_size) rows come from the dataset, the rest online.

    The split is exact for every batch (not a Bernoulli draw per row), and `offline_ratio` may
    be traced, so changing it at the switch or sweeping it needs no recompilation. With an
    empty buffer every row comes from the dataset.
    """
    off_key, on_key = jax.random.split(key)
    ratio = jnp.where(buffer.size > 0, jnp.clip(offline_ratio, 0.0, 1.0), 1.0)
    n_off = jnp.round(ratio * batch_size).astype(jnp.int32)
    off = dataset_sample(dataset, off_key, batch_size)
    on = buffer_sample(buffer, on_key, batch_size)
    from_dataset = jnp.arange(batch_size) < n_off
    return jax.tree.map(
        lambda a, b: jnp.where(from_dataset.reshape((-1,) + (1,) * (a.ndim - 1)), a, b), off, on
    )
