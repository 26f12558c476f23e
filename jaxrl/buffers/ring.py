"""A fixed-capacity ring buffer of `Transition`s kept in device memory.

Pure functions over `BufferState`, as flashbax does: `buffer_add` writes rows at the insert
position (wrapping around), `buffer_sample` draws uniformly among the filled rows.
`dataset_sample` draws from the offline dataset, uniformly or, for a `WeightedDataset`, by
inverse-CDF search of a per-transition table (`jaxrl.data.samplers`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.ops.returns import mc_return_to_go
from jaxrl.types import Transition


@struct.dataclass
class BufferState:
    """Storage [capacity, ...], the next write position and the number of filled rows."""

    data: Transition
    insert_pos: jax.Array
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.data.reward.shape[0]


def buffer_init(example: Transition, capacity: int) -> BufferState:
    """An empty buffer able to hold `capacity` rows shaped like the unbatched `example`."""
    if capacity <= 0:
        raise ValueError(f"buffer capacity must be positive, got {capacity}")
    data = jax.tree.map(lambda x: jnp.zeros((capacity,) + x.shape, x.dtype), example)
    return BufferState(data, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32))


def buffer_add(state: BufferState, rows: Transition) -> BufferState:
    """Writes `rows` (leading axis n ≤ capacity) at the insert position, overwriting the oldest."""
    n = rows.reward.shape[0]
    cap = state.capacity
    if n > cap:
        raise ValueError(f"cannot add {n} rows to a buffer of capacity {cap}")
    idx = (state.insert_pos + jnp.arange(n)) % cap
    data = jax.tree.map(lambda buf, x: buf.at[idx].set(x.astype(buf.dtype)), state.data, rows)
    return BufferState(
        data=data,
        insert_pos=(state.insert_pos + n) % cap,
        size=jnp.minimum(state.size + n, cap),
    )


def buffer_sample(state: BufferState, key: jax.Array, batch_size: int) -> Transition:
    """`batch_size` rows drawn uniformly with replacement among the filled ones."""
    idx = jax.random.randint(key, (batch_size,), 0, jnp.maximum(state.size, 1))
    return jax.tree.map(lambda x: x[idx], state.data)


@struct.dataclass
class WeightedDataset:
    """An offline dataset on the device with a per-transition sampling table.

    Attributes:
      transitions: the dataset, leading axis N.
      cdf: uint32 [N] cumulative counts out of 2^31 (`jaxrl.data.samplers.sampling_cdf`):
        row i is drawn with probability (cdf[i] − cdf[i − 1]) / 2^31. Like the dataset it is
        shared by every run index, never copied per run.
    """

    transitions: Transition
    cdf: jax.Array

    @property
    def size(self) -> int:
        return self.transitions.reward.shape[0]


def dataset_sample(
    dataset: Transition | WeightedDataset, key: jax.Array, batch_size: int
) -> Transition:
    """`batch_size` rows drawn with replacement from a whole dataset.

    A plain `Transition` is sampled uniformly. A `WeightedDataset` is sampled by inverse CDF:
    31 uniform random bits per row, located in the table by binary search (O(log N) per row).
    """
    if isinstance(dataset, WeightedDataset):
        bits = jax.random.bits(key, (batch_size,), jnp.uint32) >> 1
        idx = jnp.searchsorted(dataset.cdf, bits, side="right")
        idx = jnp.minimum(idx, dataset.size - 1)  # cdf[-1] = 2^31 > bits; a guard only
        return jax.tree.map(lambda x: x[idx], dataset.transitions)
    idx = jax.random.randint(key, (batch_size,), 0, dataset.reward.shape[0])
    return jax.tree.map(lambda x: x[idx], dataset)


def recompute_mc_returns(state: BufferState, num_streams: int, discount: float) -> BufferState:
    """Fills `mc_return` of every row whose episode has ended; the others get −inf.

    The buffer is written `num_streams` rows at a time (one per parallel environment), so row
    `i` belongs to stream `i % num_streams`. Each stream's rows are put in time order (oldest
    first), the return-to-go is computed with a parallel scan that never crosses an episode
    end, and rows of unfinished episodes get −inf, which disables Cal-QL's lower bound there
    (WSRL samples only finished episodes for the same reason).
    """
    cap = state.capacity
    if cap % num_streams:
        raise ValueError(f"capacity {cap} is not a multiple of {num_streams} parallel envs")
    steps = cap // num_streams
    # Oldest row first: rotate by the insert position (a multiple of num_streams).
    shift = state.insert_pos // num_streams
    full = state.size >= cap

    def to_time(x):
        x = x.reshape((steps, num_streams) + x.shape[1:])
        return jnp.where(full, jnp.roll(x, -shift, axis=0), x)

    def from_time(x):
        x = jnp.where(full, jnp.roll(x, shift, axis=0), x)
        return x.reshape((cap,) + x.shape[2:])

    d = state.data
    reward, term = to_time(d.reward), to_time(d.terminated)
    end = jnp.maximum(term, to_time(d.truncated))
    filled_steps = jnp.where(full, steps, state.size // num_streams)
    valid = jnp.arange(steps)[:, None] < filled_steps
    end = jnp.where(valid, end, 0.0)
    g = jax.vmap(mc_return_to_go, in_axes=(1, 1, 1, None), out_axes=1)(reward, term, end, discount)
    # A row is finished if an episode end occurs at or after it in its stream.
    finished = jnp.flip(jnp.cumsum(jnp.flip(end, 0), 0), 0) > 0
    g = jnp.where(finished & valid, g, -jnp.inf)
    return state.replace(data=d.replace(mc_return=from_time(g)))
