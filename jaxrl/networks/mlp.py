"""MLP trunk with a configurable place for LayerNorm and the initializers the references use."""

from __future__ import annotations

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


def default_init(mode: str = "xavier") -> Initializer:
    """Kernel initializer for hidden layers."""
    if mode == "xavier":
        return nn.initializers.xavier_uniform()
    if mode == "orthogonal":
        return nn.initializers.orthogonal(jnp.sqrt(2.0))
    if mode == "lecun":
        return nn.initializers.lecun_normal()
    raise ValueError(f"unknown init mode {mode!r}; allowed: {INIT_MODES}")


def output_init(mode: str = "xavier", scale: float | None = None) -> Initializer:
    """Kernel initializer for an output layer; `scale` shrinks it (e.g. 1e-2 in Cal-QL, WSRL)."""
    if scale is None:
        return default_init(mode) if mode != "orthogonal" else nn.initializers.orthogonal(1.0)
    if mode == "orthogonal":
        return nn.initializers.orthogonal(scale)
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
