"""Exact nearest-neighbour search on the device (PRDC's dataset constraint).

A blocked brute force: the key set is scanned in blocks of `block_size` rows, each block
scored against every query with one matmul, and a running (best score, best index) is kept.
It is exact (no index structure, no approximation), jittable and vmappable, and its memory is
O(queries × block_size) whatever the number of keys. Under a `vmap` over runs with shared
(unbatched) keys, the per-block matmul becomes one matmul over all runs' queries.

Example:

    >>> import jax.numpy as jnp
    >>> keys = jnp.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]])
    >>> idx, sq = nearest_neighbor(jnp.array([[0.9, 0.2], [0.1, 2.0]]), keys, block_size=2)
    >>> idx.tolist(), [round(float(x), 2) for x in sq]
    ([1, 2], [0.05, 1.01])
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

#: Rows of the key set scored per scan step (static), by backend. On CPU the per-step score
#: matrix should stay in cache: 1024 rows (1 MiB for 256 queries) was as fast as 4096 for one
#: run and twice as fast for four vmapped runs (docs/algorithms/prdc.md). Accelerators pay a
#: fixed cost per scan step, so they get fewer, larger blocks (not measured here).
CPU_BLOCK_SIZE = 1024
ACCELERATOR_BLOCK_SIZE = 16384


def default_block_size(backend: str | None = None) -> int:
    """`CPU_BLOCK_SIZE` on "cpu", else `ACCELERATOR_BLOCK_SIZE` (default: jax's backend)."""
    backend = backend or jax.default_backend()
    return CPU_BLOCK_SIZE if backend == "cpu" else ACCELERATOR_BLOCK_SIZE


def nearest_neighbor(
    queries: jax.Array,
    keys: jax.Array | Sequence[jax.Array],
    weights: jax.Array | None = None,
    block_size: int = CPU_BLOCK_SIZE,
    precision: jax.lax.Precision = jax.lax.Precision.HIGHEST,
) -> tuple[jax.Array, jax.Array]:
    """Index of, and squared distance to, each query's nearest key (k = 1, exact).

    The distance is the weighted squared Euclidean one, d(x, y) = Σ_j w_j (x_j − y_j)², so a
    diagonal rescaling of features (PRDC's (β·s, a) with w = (β², …, β², 1, …, 1)) needs no
    scaled copy of the keys. It is expanded as ‖x‖²_w − 2 x·w·y + ‖y‖²_w; the ‖x‖²_w term is
    constant per query, so the argmin is taken over ‖y‖²_w − 2 x·w·y and it is added back only
    for the returned distance (fewer float32 cancellations in the comparison).

    Ties (equal scores) go to the smallest key index. When the number of keys N is not a
    multiple of `block_size`, the last block is shifted back to end at N (it re-reads rows of
    the previous block, which cannot change the result), so no padded copy of the keys is made.

    Args:
      queries: [Q, d].
      keys: [N, d], or a sequence of [N, d_i] arrays read as their concatenation along the last
        axis (Σ d_i = d), so a dataset's observations and actions serve without a copy.
      weights: [d] non-negative per-feature weights w (may be traced, e.g. a swept β); None
        means 1.
      block_size: rows per scan step (static); min(block_size, N) is used.
      precision: of the score matmul. HIGHEST keeps float32 on accelerators whose default
        float32 matmul is reduced precision (TF32 or bf16 passes), which would break exactness.

    Returns:
      (index int32 [Q], squared distance [Q], clipped at 0).
    """
    keys = tuple(keys) if isinstance(keys, (tuple, list)) else (keys,)
    for name, x in (("queries", queries),) + tuple(("keys", k) for k in keys):
        if x.ndim != 2:
            raise ValueError(f"{name} must have rank 2; got shape {x.shape}")
    n = keys[0].shape[0]
    d = sum(k.shape[1] for k in keys)
    if any(k.shape[0] != n for k in keys) or queries.shape[1] != d:
        raise ValueError(
            f"queries {queries.shape} and keys {[k.shape for k in keys]} do not match: keys "
            "need one row count and their feature sizes must add up to the queries'"
        )
    if n == 0:
        raise ValueError("the key set is empty")
    if block_size < 1:
        raise ValueError(f"block_size={block_size} must be >= 1")
    dtype = jnp.result_type(queries, *keys)
    w = jnp.ones((d,), dtype) if weights is None else jnp.asarray(weights, dtype)
    queries = queries.astype(dtype)
    block = min(block_size, n)
    num_blocks = -(-n // block)
    qw = queries * w
    cols = jnp.arange(block, dtype=jnp.int32)[None, :]

    def body(carry, i):
        best_score, best_idx = carry
        start = jnp.minimum(i * block, n - block)
        kb = jnp.concatenate(
            [jax.lax.dynamic_slice_in_dim(k, start, block).astype(dtype) for k in keys], axis=-1
        )
        k_sq = jnp.dot(kb * kb, w, precision=precision)  # [block]
        score = k_sq[None, :] - 2.0 * jnp.dot(qw, kb.T, precision=precision)  # [Q, block]
        # min, then the smallest column holding it: two plain reductions, which XLA's CPU
        # backend vectorizes (its variadic argmin reduction was 3-4x slower than both).
        s = jnp.min(score, axis=1)
        j = jnp.min(jnp.where(score == s[:, None], cols, block), axis=1)
        better = s < best_score  # strict: an equal score keeps the earlier (smaller) index
        return (jnp.where(better, s, best_score), jnp.where(better, start + j, best_idx)), None

    init = (
        jnp.full((queries.shape[0],), jnp.inf, dtype),
        jnp.zeros((queries.shape[0],), jnp.int32),
    )
    (score, idx), _ = jax.lax.scan(body, init, jnp.arange(num_blocks, dtype=jnp.int32))
    sq = jnp.maximum(score + jnp.sum(qw * queries, axis=-1), 0.0)
    return idx, sq


def nearest_neighbor_np(queries, keys, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """The same search in float64 numpy, one query at a time (a test reference, O(Q·N·d))."""
    q = np.asarray(queries, np.float64)
    k = np.asarray(keys, np.float64)
    w = np.ones(k.shape[1]) if weights is None else np.asarray(weights, np.float64)
    idx = np.empty(len(q), np.int64)
    sq = np.empty(len(q))
    for i, x in enumerate(q):
        dist = ((k - x) ** 2) @ w
        idx[i] = int(np.argmin(dist))  # first minimum: the smallest index among ties
        sq[i] = dist[idx[i]]
    return idx, sq
