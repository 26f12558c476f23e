"""PRNG keys through control flow that the run-axis vmap turns into selects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def cond_with_keys(pred: jax.Array, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """`jax.lax.cond(pred, true_fn, false_fn, *operands)` for operands that hold typed keys.

    Under `vmap` with a per-run predicate, a `cond` becomes a select that runs both
    branches, and JAX's key-reuse checker then counts a key consumed in one branch and passed
    through (or consumed) in the other as used twice. Here every typed key among `operands`
    crosses into the branches as raw key data and is rebuilt inside them, so the checker
    sees each key used once; the values, and so the results, are those of the plain `cond`.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> f = lambda k: jax.random.normal(k)
        >>> key = jax.random.key(0)
        >>> bool(cond_with_keys(jnp.bool_(True), f, lambda k: 0.0, key) == f(key))
        True
    """
    leaves, treedef = jax.tree.flatten(operands)
    impls = [jax.random.key_impl(x) if _is_key(x) else None for x in leaves]
    raw = [
        x if impl is None else jax.random.key_data(x) for x, impl in zip(leaves, impls, strict=True)
    ]

    def rebuilt(fn: Callable) -> Callable:
        def branch(*flat):
            typed = [
                x if impl is None else jax.random.wrap_key_data(x, impl=impl)
                for x, impl in zip(flat, impls, strict=True)
            ]
            return fn(*jax.tree.unflatten(treedef, typed))

        return branch

    return jax.lax.cond(pred, rebuilt(true_fn), rebuilt(false_fn), *raw)
