"""Policy heads: Gaussian (tanh-squashed or not) and deterministic tanh actors."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.networks.mlp import MLP, output_init

#: How the Gaussian's log-std is produced (ALGORITHMS.md shared building blocks §3):
#: "state" a state-dependent head (RLPD, WSRL, SAC); "param" a state-independent vector
#: (CORL IQL, AWAC); "calql" a state-dependent head scaled by learnable scalars
#: log σ = mult · raw + offset, initialised at (1, −1) (Cal-QL, CORL CQL).
STD_MODES = ("state", "param", "calql")


class GaussianPolicy(nn.Module):
    """Returns (mean, log_std) of a diagonal Gaussian over pre-squash or raw actions.

    Attributes:
      action_dim: size of the action.
      std_mode: one of `STD_MODES`.
      tanh_mean: apply tanh to the mean (CORL IQL's unsquashed policy with a bounded mean).
    """

    action_dim: int
    hidden_dims: Sequence[int] = (256, 256)
    layer_norm: str = "none"
    init_mode: str = "xavier"
    std_mode: str = "state"
    tanh_mean: bool = False
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    output_scale: float | None = None
    last_hidden_scale: float | None = None  # `MLP.last_hidden_scale` (WSRL: 1e-2)

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.std_mode not in STD_MODES:
            raise ValueError(f"std_mode={self.std_mode!r}; allowed: {STD_MODES}")
        x = MLP(
            self.hidden_dims,
            self.layer_norm,
            self.init_mode,
            last_hidden_scale=self.last_hidden_scale,
        )(obs)
        out_init = output_init(self.init_mode, self.output_scale)
        mean = nn.Dense(self.action_dim, kernel_init=out_init)(x)
        if self.tanh_mean:
            mean = jnp.tanh(mean)
        if self.std_mode == "param":
            log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
            log_std = jnp.broadcast_to(log_std, mean.shape)
        else:
            log_std = nn.Dense(self.action_dim, kernel_init=out_init)(x)
            if self.std_mode == "calql":
                mult = self.param("log_std_multiplier", nn.initializers.ones, ())
                offset = self.param("log_std_offset", lambda *_: jnp.array(-1.0, jnp.float32), ())
                log_std = mult * log_std + offset
        return mean, jnp.clip(log_std, self.log_std_min, self.log_std_max)


class DeterministicPolicy(nn.Module):
    """a = tanh(MLP(s)) (TD3+BC, ReBRAC, PRDC); with `dropout_rate`, the hidden layers drop out
    when the call is given a `dropout_key` (thuml/SPOT trains so; acting passes no key)."""

    action_dim: int
    hidden_dims: Sequence[int] = (256, 256)
    layer_norm: str = "none"
    init_mode: str = "xavier"
    output_scale: float | None = None
    dropout_rate: float = 0.0

    @nn.compact
    def __call__(self, obs: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
        x = MLP(self.hidden_dims, self.layer_norm, self.init_mode, dropout_rate=self.dropout_rate)(
            obs, dropout_key
        )
        out = nn.Dense(self.action_dim, kernel_init=output_init(self.init_mode, self.output_scale))(
            x
        )
        return jnp.tanh(out)
