"""State-value and state-action-value heads; critic ensembles via `nn.vmap`."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.networks.mlp import MLP, output_init


class ValueNetwork(nn.Module):
    """V(s): MLP → Dense(1), returning a scalar per observation."""

    hidden_dims: Sequence[int] = (256, 256)
    layer_norm: str = "none"
    init_mode: str = "xavier"
    output_scale: float | None = None
    last_hidden_scale: float | None = None  # `MLP.last_hidden_scale` (WSRL: 1e-2)

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        x = MLP(
            self.hidden_dims,
            self.layer_norm,
            self.init_mode,
            last_hidden_scale=self.last_hidden_scale,
        )(obs)
        return nn.Dense(1, kernel_init=output_init(self.init_mode, self.output_scale))(x)[..., 0]


class QNetwork(ValueNetwork):
    """Q(s, a): concat(s, a) → MLP → Dense(1), the value head on the pair (same fields)."""

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        return ValueNetwork.__call__(self, jnp.concatenate([obs, action], axis=-1))


class QEnsemble(nn.Module):
    """`num` independent Q networks evaluated at once; the output has a leading axis `num`.

    Built with `nn.vmap` over parameters (ALGORITHMS.md shared building blocks §2), so the
    ensemble is one batched matmul per layer, not a Python loop.
    """

    num: int = 2
    hidden_dims: Sequence[int] = (256, 256)
    layer_norm: str = "none"
    init_mode: str = "xavier"
    output_scale: float | None = None
    last_hidden_scale: float | None = None

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        ensemble = nn.vmap(
            QNetwork,
            variable_axes={"params": 0},
            split_rngs={"params": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num,
        )
        return ensemble(
            self.hidden_dims,
            self.layer_norm,
            self.init_mode,
            self.output_scale,
            self.last_hidden_scale,
        )(obs, action)
