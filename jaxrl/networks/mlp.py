"""MLP trunk with a configurable place for LayerNorm and the initializers the references use."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Initializer = Callable[..., jax.Array]

#: Where LayerNorm goes in a hidden layer (ALGORITHMS.md, shared building blocks §1):
#: "none" (CORL, Cal-QL), "before_act" = Dense → LayerNorm → act (WSRL, RLPD),
#: "after_act" = Dense → act → LayerNorm (ReBRAC).
LAYER_NORM_MODES = ("none", "before_act", "after_act")
#: Hidden-layer initializers: "xavier" (RLPD), "orthogonal" (√2 gain; Cal-QL, CORL CQL),
#: "lecun" (flax default).
INIT_MODES = ("xavier", "orthogonal", "lecun")


def _orthonormal_columns(z: jax.Array) -> jax.Array:
    """The Q of `z = QR` with R's diagonal positive, for a tall `z` (rows ≥ columns).

    Classical Gram–Schmidt applied twice per column ("twice is enough": orthonormal to float
    precision), written with plain XLA ops. It gives the matrix that LAPACK's QR followed by the
    sign fix gives (what `jax.random.orthogonal` computes), without the LAPACK custom calls:
    on XLA:CPU, several batched `orgqr` calls running at once deadlock the runtime's thread pool
    on a 2-core machine (seen with jax 0.10.2: CQL's init never returned).
    """
    cols = z.shape[1]

    def body(j, q):
        v = z[:, j]
        for _ in range(2):
            v = v - q @ (q.T @ v)  # columns ≥ j of q are still zero
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, cols, body, jnp.zeros_like(z))


def orthogonal(scale: float = 1.0) -> Initializer:
    """Orthogonal kernel initializer: same distribution and, for a key, the same matrix (to float
    rounding) as `flax.linen.initializers.orthogonal(scale)`, without LAPACK (see
    `_orthonormal_columns`). The last axis holds the columns."""

    def init(key: jax.Array, shape: Sequence[int], dtype=jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal init needs at least a 2-d shape, got {tuple(shape)}")
        rows, cols = math.prod(shape) // shape[-1], shape[-1]
        z = jax.random.normal(key, (max(rows, cols), min(rows, cols)), jnp.float32)
        q = _orthonormal_columns(z)
        if rows < cols:
            q = q.T
        return (scale * q).reshape(shape).astype(dtype)

    return init


def default_init(mode: str = "xavier") -> Initializer:
    """Kernel initializer for hidden layers."""
    if mode == "xavier":
        return nn.initializers.xavier_uniform()
    if mode == "orthogonal":
        return orthogonal(math.sqrt(2.0))
    if mode == "lecun":
        return nn.initializers.lecun_normal()
    raise ValueError(f"unknown init mode {mode!r}; allowed: {INIT_MODES}")


def output_init(mode: str = "xavier", scale: float | None = None) -> Initializer:
    """Kernel initializer for an output layer; `scale` shrinks it (e.g. 1e-2 in Cal-QL, WSRL)."""
    if scale is None:
        return default_init(mode) if mode != "orthogonal" else orthogonal(1.0)
    if mode == "orthogonal":
        return orthogonal(scale)
    return nn.initializers.variance_scaling(scale, "fan_avg", "uniform")


class MLP(nn.Module):
    """A stack of Dense layers with ReLU and optional LayerNorm.

    Attributes:
      hidden_dims: width of each hidden layer.
      layer_norm: one of `LAYER_NORM_MODES`.
      init: one of `INIT_MODES` for hidden kernels.
      activate_final: also apply the activation (and norm) after the last layer.
    """

    hidden_dims: Sequence[int]
    layer_norm: str = "none"
    init_mode: str = "xavier"
    activate_final: bool = True
    activation: Callable[[jax.Array], jax.Array] = nn.relu

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.layer_norm not in LAYER_NORM_MODES:
            raise ValueError(f"layer_norm={self.layer_norm!r}; allowed: {LAYER_NORM_MODES}")
        for i, width in enumerate(self.hidden_dims):
            x = nn.Dense(width, kernel_init=default_init(self.init_mode))(x)
            if i + 1 < len(self.hidden_dims) or self.activate_final:
                if self.layer_norm == "before_act":
                    x = nn.LayerNorm()(x)
                x = self.activation(x)
                if self.layer_norm == "after_act":
                    x = nn.LayerNorm()(x)
        return x
