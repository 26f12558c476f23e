"""Log-densities and samplers for the policy heads, written for one example; callers vmap."""

from __future__ import annotations

import jax
import jax.numpy as jnp

_LOG_2PI = jnp.log(2.0 * jnp.pi)


def gaussian_log_prob(mean: jax.Array, log_std: jax.Array, x: jax.Array) -> jax.Array:
    """log N(x; mean, exp(log_std)^2), summed over the last axis."""
    z = (x - mean) * jnp.exp(-log_std)
    return jnp.sum(-0.5 * z**2 - log_std - 0.5 * _LOG_2PI, axis=-1)


def _tanh_log_det(pre_tanh: jax.Array) -> jax.Array:
    # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), stable for large |u|.
    return jnp.sum(2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh)), axis=-1)


def tanh_gaussian_sample(
    mean: jax.Array, log_std: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Reparameterized sample a = tanh(u), u ~ N(mean, std²), and its log-density."""
    u = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape, mean.dtype)
    log_prob = gaussian_log_prob(mean, log_std, u) - _tanh_log_det(u)
    return jnp.tanh(u), log_prob


def tanh_gaussian_log_prob(
    mean: jax.Array, log_std: jax.Array, action: jax.Array, eps: float = 1e-6
) -> jax.Array:
    """Log-density of a tanh-squashed Gaussian at `action` (clipped inside (-1, 1))."""
    action = jnp.clip(action, -1.0 + eps, 1.0 - eps)
    u = jnp.arctanh(action)
    return gaussian_log_prob(mean, log_std, u) - _tanh_log_det(u)
