"""The conservative (CQL) regularizer with Cal-QL's Monte-Carlo lower bound."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cql_gap(
    q_data: jax.Array,
    q_rand: jax.Array,
    q_cur: jax.Array,
    logp_cur: jax.Array,
    q_next: jax.Array,
    logp_next: jax.Array,
    action_dim: int,
    temperature: float = 1.0,
    importance_sample: bool = True,
    mc_lower_bound: jax.Array | None = None,
    clip_min: float = -jnp.inf,
    clip_max: float = jnp.inf,
) -> tuple[jax.Array, jax.Array]:
    """Per-critic CQL gap `clip(T·logsumexp(Q_ood/T) − Q(s,a))`, averaged over the batch.

    All Q arrays are for one critic. Shapes: `q_data` [B]; `q_rand`, `q_cur`, `q_next`,
    `logp_cur`, `logp_next` [B, N] (N sampled actions per state, all evaluated at s).

    Args:
      q_data: Q(s, a) on the dataset action.
      q_rand: Q(s, a_rand), a_rand ~ U[−1, 1]^|A|.
      q_cur: Q(s, a_cur), a_cur ~ π(·|s), with log-density `logp_cur`.
      q_next: Q(s, a_next), a_next ~ π(·|s'), with log-density `logp_next`.
      action_dim: |A|, for the uniform density log(0.5^|A|).
      temperature: CQL temperature T.
      importance_sample: subtract the sampling log-densities (CQL(H) with IS); when off, the
        data action's Q joins the logsumexp, as in the reference code.
      mc_lower_bound: Cal-QL's G(s, a) of shape [B]; when given, Q(s, a_cur) and
        Q(s, a_next) are replaced by max(Q, G). Random actions are never bounded.
      clip_min, clip_max: clip of the per-example gap.

    Returns:
      (gap, bound_rate): the batch-mean gap, and the fraction of policy-action values that
      the Monte-Carlo bound raised (0 without a bound).

    References: Kumar et al., 2020 (CQL), eq. (4); Nakamoto et al., 2023 (Cal-QL), eq. (5.1).
    """
    if mc_lower_bound is not None:
        bound = mc_lower_bound[:, None]
        bound_rate = 0.5 * (jnp.mean(q_cur < bound) + jnp.mean(q_next < bound))
        q_cur = jnp.maximum(q_cur, bound)
        q_next = jnp.maximum(q_next, bound)
    else:
        bound_rate = jnp.zeros(())
    if importance_sample:
        random_density = action_dim * jnp.log(0.5)
        cat = jnp.concatenate(
            [
                q_rand - random_density,
                q_next - jax.lax.stop_gradient(logp_next),
                q_cur - jax.lax.stop_gradient(logp_cur),
            ],
            axis=1,
        )
    else:
        cat = jnp.concatenate([q_rand, q_data[:, None], q_next, q_cur], axis=1)
    ood = temperature * jax.nn.logsumexp(cat / temperature, axis=1)
    gap = jnp.clip(ood - q_data, clip_min, clip_max)
    return jnp.mean(gap), bound_rate
