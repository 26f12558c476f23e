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


def scaled_init(mode: str, scale: float) -> Initializer:
    """A hidden layer's initializer at another scale: orthogonal with gain `scale`, or the
    variance scaling of xavier (fan_avg, uniform) / lecun (fan_in, normal) times `scale`
    (WSRL's `kernel_scale_final`: orthogonal(1e-2) on the last hidden layer)."""
    if mode == "orthogonal":
        return orthogonal(scale)
    if mode == "xavier":
        return nn.initializers.variance_scaling(scale, "fan_avg", "uniform")
    if mode == "lecun":
        return nn.initializers.variance_scaling(scale, "fan_in", "truncated_normal")
    raise ValueError(f"unknown init mode {mode!r}; allowed: {INIT_MODES}")


def output_init(mode: str = "xavier", scale: float | None = None) -> Initializer:
    """Kernel initializer for an output layer; `scale` shrinks it (e.g. 1e-2 in Cal-QL, WSRL)."""
    if scale is None:
        return default_init(mode) if mode != "orthogonal" else orthogonal(1.0)
    if mode == "orthogonal":
        return orthogonal(scale)
    return nn.initializers.variance_scaling(scale, "fan_avg", "uniform")


def dropout(x: jax.Array, rate: float, key: jax.Array) -> jax.Array:
    """Inverted dropout: each element kept with probability 1 − rate and scaled by 1/(1 − rate)
    (`torch.nn.Dropout` in training mode)."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


class MLP(nn.Module):
    """A stack of Dense layers with ReLU and optional LayerNorm.

    Attributes:
      hidden_dims: width of each hidden layer.
      layer_norm: one of `LAYER_NORM_MODES`.
      init: one of `INIT_MODES` for hidden kernels.
      activate_final: also apply the activation (and norm) after the last layer.
      dropout_rate: dropout after every hidden Dense, applied only when the call is given a
        `dropout_key` (training); thuml/SPOT's actor: `nn.Sequential(Linear, Dropout(0.1))`.
      last_hidden_scale: None, or the last hidden layer's init at this scale (`scaled_init`;
        WSRL's `kernel_scale_final` 1e-2, LayerNorm after it).
    """

    hidden_dims: Sequence[int]
    layer_norm: str = "none"
    init_mode: str = "xavier"
    activate_final: bool = True
    activation: Callable[[jax.Array], jax.Array] = nn.relu
    dropout_rate: float = 0.0
    last_hidden_scale: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
        if self.layer_norm not in LAYER_NORM_MODES:
            raise ValueError(f"layer_norm={self.layer_norm!r}; allowed: {LAYER_NORM_MODES}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout_rate={self.dropout_rate}; it must lie in [0, 1)")
        for i, width in enumerate(self.hidden_dims):
            last = i + 1 == len(self.hidden_dims)
            if last and self.last_hidden_scale is not None:
                kernel_init = scaled_init(self.init_mode, self.last_hidden_scale)
            else:
                kernel_init = default_init(self.init_mode)
            x = nn.Dense(width, kernel_init=kernel_init)(x)
            if dropout_key is not None and self.dropout_rate > 0.0:
                x = dropout(x, self.dropout_rate, jax.random.fold_in(dropout_key, i))
            if i + 1 < len(self.hidden_dims) or self.activate_final:
                if self.layer_norm == "before_act":
                    x = nn.LayerNorm()(x)
                x = self.activation(x)
                if self.layer_norm == "after_act":
                    x = nn.LayerNorm()(x)
        return x
