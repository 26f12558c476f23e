"""Behaviour-cloning losses, at module level with the parameters first."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.networks import tanh_gaussian_log_prob
from jaxrl.ops import bc_penalty
from jaxrl.types import Transition


def deterministic_bc_loss(
    actor_params: Any, actor: nn.Module, batch: Transition, reduction: str = "mean"
) -> jax.Array:
    """mean_batch bc_penalty(π(s), a): CORL's `F.mse_loss(π(s), a)` with reduction "mean"."""
    return jnp.mean(bc_penalty(actor.apply(actor_params, batch.obs), batch.action, reduction))


def gaussian_bc_loss(actor_params: Any, actor: nn.Module, batch: Transition) -> jax.Array:
    """−mean_batch log π(a|s) under a tanh-squashed Gaussian (`GaussianPolicy` outputs)."""
    mean, log_std = actor.apply(actor_params, batch.obs)
    return -jnp.mean(tanh_gaussian_log_prob(mean, log_std, batch.action))
