"""Scalar losses shared by IQL-family, AWR-family and SAC-family agents."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def expectile_loss(diff: jax.Array, expectile: float | jax.Array) -> jax.Array:
    """|τ − 1(u < 0)| · u², elementwise (IQL's value loss; u = Q − V).

    References: Kostrikov et al., 2021, "Offline RL with Implicit Q-Learning", eq. (5).
    """
    weight = jnp.where(diff < 0, 1.0 - expectile, expectile)
    return weight * diff**2


def awr_weights(
    advantage: jax.Array, beta: float | jax.Array, max_weight: float = 100.0
) -> jax.Array:
    """min(exp(β · A), max_weight), with the gradient stopped (IQL, AWAC with β = 1/λ)."""
    return jax.lax.stop_gradient(jnp.minimum(jnp.exp(beta * advantage), max_weight))


TEMPERATURE_PARAMS = ("exp", "softplus")
ENTROPY_FROM = ("obs", "next_obs")


def check_temperature_options(param: str, entropy_from: str) -> None:
    """Raises a ValueError naming the allowed values of a config's static temperature
    options: `temperature_param` (how α is read from its leaf) and `entropy_from` (where the
    entropy estimate of the temperature loss is sampled)."""
    if param not in TEMPERATURE_PARAMS:
        raise ValueError(f"temperature_param={param!r}; allowed: {list(TEMPERATURE_PARAMS)}")
    if entropy_from not in ENTROPY_FROM:
        raise ValueError(f"entropy_from={entropy_from!r}; allowed: {list(ENTROPY_FROM)}")


def temperature_value(leaf: jax.Array, param: str = "exp") -> jax.Array:
    """α from its learned leaf: exp(leaf) (SAC, RLPD, CQL) or softplus(leaf) (WSRL's
    `GeqLagrangeMultiplier`, `wsrl/networks/lagrange.py`)."""
    if param == "exp":
        return jnp.exp(leaf)
    if param == "softplus":
        return jax.nn.softplus(leaf)
    raise ValueError(f"temperature_param={param!r}; allowed: {list(TEMPERATURE_PARAMS)}")


def temperature_leaf(alpha: float, param: str = "exp") -> jax.Array:
    """The leaf whose `temperature_value` is `alpha` (the inverse, for initialisation)."""
    alpha = jnp.asarray(alpha, jnp.float32)
    if param == "exp":
        return jnp.log(alpha)
    if param == "softplus":
        return jnp.log(jnp.expm1(alpha))
    raise ValueError(f"temperature_param={param!r}; allowed: {list(TEMPERATURE_PARAMS)}")


def temperature_loss(
    leaf: jax.Array,
    log_probs: jax.Array,
    target_entropy: float | jax.Array,
    form: str = "alpha",
    param: str = "exp",
) -> jax.Array:
    """SAC entropy-temperature loss.

    Args:
      leaf: the learned scalar; α = `temperature_value(leaf, param)`.
      log_probs: log π(a|·) of fresh policy samples (gradient stopped here); WSRL takes them
        at the next states, the others at the batch states.
      target_entropy: H_target (e.g. −|A| or −|A|/2).
      form: "alpha" gives α · (Ĥ − H_target) (RLPD, WSRL); "log_alpha" gives
        −log α · mean(log π + H_target) (Cal-QL, CORL). Both push α down when the entropy
        is above target.
      param: "exp" or "softplus", see `temperature_value`.
    """
    log_probs = jax.lax.stop_gradient(log_probs)
    if form == "alpha":
        return temperature_value(leaf, param) * (-jnp.mean(log_probs) - target_entropy)
    if form == "log_alpha":
        log_alpha = leaf if param == "exp" else jnp.log(temperature_value(leaf, param))
        return -log_alpha * jnp.mean(log_probs + target_entropy)
    raise ValueError(f"temperature loss form={form!r}; allowed: 'alpha', 'log_alpha'")


def huber_loss(diff: jax.Array, delta: float | jax.Array) -> jax.Array:
    """½u²/δ where |u| < δ, else |u| − ½δ, elementwise (RIQL's Q loss with δ = 1/σ²).

    Quadratic near zero and linear in the tails, so a few corrupted targets pull the critic
    by a bounded amount; δ → 0 approaches |u|. (This is PyTorch's `smooth_l1_loss` with
    `beta=δ`, the form RIQL uses, not the δ-scaled `huber_loss`.)

    References: Yang et al., 2023, "Towards Robust Offline RL under Diverse Data
    Corruption" (RIQL), eq. (7).
    """
    abs_diff = jnp.abs(diff)
    return jnp.where(abs_diff < delta, 0.5 * diff**2 / delta, abs_diff - 0.5 * delta)
