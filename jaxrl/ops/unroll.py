"""The unroll setting of the scans inside jaxrl's update steps, for XLA's cost analysis.

XLA's cost analysis counts the body of a loop once, whatever its trip count, so the FLOPs of
an update that scans over its UTD critic steps (`SAC.update_utd`) are undercounted unless the
scan is traced unrolled. The scans that opt in call `scan` below instead of `jax.lax.scan`;
`unrolled()` sets their unroll while a program is traced inside it. Outside it they trace
exactly as `jax.lax.scan` with its default unroll of 1. `jax.lax.scan` itself is not touched.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxrl.ops import unroll
    >>> f = lambda xs: unroll.scan(lambda c, x: (c + x, None), 0.0, xs)[0]
    >>> with unroll.unrolled():
    ...     lowered = jax.jit(f).lower(jnp.ones(4))  # four adds in the HLO, no loop
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import jax

_UNROLL: contextvars.ContextVar[int | bool] = contextvars.ContextVar("jaxrl_unroll", default=1)


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None):
    """`jax.lax.scan(f, init, xs, length)` with the unroll set by `unrolled` (default 1)."""
    return jax.lax.scan(f, init, xs, length=length, unroll=_UNROLL.get())


@contextlib.contextmanager
def unrolled(unroll: int | bool = True) -> Iterator[None]:
    """Traces the scans of `scan` with `unroll` (True: fully) inside the block.

    A trace-time setting: it changes programs traced (lowered) inside the block, not programs
    compiled before it. Thread- and async-safe (a `contextvars.ContextVar`).
    """
    token = _UNROLL.set(unroll)
    try:
        yield
    finally:
        _UNROLL.reset(token)
