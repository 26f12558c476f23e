"""CQL and Cal-QL's own losses, module-level with params first: the conservative penalty with
Cal-QL's calibration, and the Lagrange step on α'.

The target (one next action, or the max backup over n: `critic_target(max_over=n)`), the
actor loss (min over the critics) and the temperature step are the SAC family's
(`jaxrl.agents.families.sac`); the per-critic logsumexp gap is
`jaxrl.ops.cql_gap`, shared with FamO2O-CQL.

References: Kumar et al., 2020, "Conservative Q-Learning for Offline RL", eq. (4) (CQL(H)) and
§3.3 (Lagrange version); Nakamoto et al., 2023, "Cal-QL", eq. (5.1);
`nakamotoo/Cal-QL:JaxCQL/conservative_sac.py`; ALGORITHMS.md §2 and §4.3; WSRL's conservative
subset, `zhouzypaul/wsrl:wsrl/agents/cql.py`, ALGORITHMS.md §1.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents.cql.config import CQLConfig
from jaxrl.agents.families.sac import sample_action
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import cql_gap, ensemble_td_loss, subset_indices
from jaxrl.types import Transition


def repeat(x: jax.Array, n: int) -> jax.Array:
    """[B, d] → [B, n, d]: n copies of each state, for n sampled actions per state."""
    return jnp.repeat(x[:, None], n, axis=1)


def calibration_bound(mc_return: jax.Array, calibrate: bool | jax.Array) -> jax.Array:
    """Cal-QL's lower bound G(s, a) on the policy actions' Q-values, or −∞ (no bound) when
    `calibrate` is false (CQL, or Cal-QL after a CORL-style switch). ALGORITHMS.md §2."""
    return jnp.where(calibrate > 0, mc_return, -jnp.inf)


def conservative_actions(
    actor_params: Any,
    actor: GaussianPolicy,
    batch: Transition,
    rand_key: jax.Array,
    cur_key: jax.Array,
    next_key: jax.Array,
    n: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The 3n actions of the conservative term per state, all to be evaluated at s.

    a^rand ~ U[−1, 1]^|A|, a^cur ~ π(·|s), a^nxt ~ π(·|s'), each n per state; no gradient.

    Returns:
      (actions [B, 3n, |A|] in the order rand, cur, nxt; log π^cur [B, n]; log π^nxt [B, n]).

    References: ALGORITHMS.md §2 ("Conservative term").
    """
    batch_size, action_dim = batch.action.shape
    rand_a = jax.random.uniform(rand_key, (batch_size, n, action_dim), minval=-1, maxval=1)
    cur_a, cur_logp = sample_action(actor_params, actor, repeat(batch.obs, n), cur_key)
    nxt_a, nxt_logp = sample_action(actor_params, actor, repeat(batch.next_obs, n), next_key)
    cur_a, cur_logp, nxt_a, nxt_logp = jax.lax.stop_gradient((cur_a, cur_logp, nxt_a, nxt_logp))
    return jnp.concatenate([rand_a, cur_a, nxt_a], 1), cur_logp, nxt_logp


def conservative_weights(key: jax.Array | None, config: CQLConfig) -> jax.Array:
    """Each critic's weight in the conservative term, [C], summing to C: all ones, or (WSRL's
    `cql_subset`) C/|S| on a random subset S drawn with `key`, so that the mean over S has
    the scale of the sum over all critics. ALGORITHMS.md §1 phase 1."""
    c, k = config.num_critics, config.subset_size
    if not config.cql_subset:
        return jnp.ones((c,))
    return jnp.zeros((c,)).at[subset_indices(key, c, k, config.subset_replace)].add(c / k)


def lagrange_multiplier(log_cql_alpha: jax.Array) -> jax.Array:
    """α' = clip(exp(log α'), 0, 1e6) (ALGORITHMS.md §2, "Lagrange version")."""
    return jnp.clip(jnp.exp(log_cql_alpha), 0.0, 1e6)


def critic_loss(
    critic_params: Any,
    critic: QEnsemble,
    batch: Transition,
    target: jax.Array,
    ood_actions: jax.Array,
    cur_logp: jax.Array,
    nxt_logp: jax.Array,
    bound: jax.Array,
    cql_weight: jax.Array,
    cql_alpha: jax.Array,
    target_action_gap: jax.Array,
    log_cql_alpha: jax.Array | None,
    config: CQLConfig,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array, jax.Array, jax.Array]]:
    """L_Q = Σ_j [MSE(Q_j(s, a), y) + v_j · L_cql,j], the CQL(H) critic loss.

    L_cql,j = w·gap_j (fixed weight) or α'·w·(gap_j − τ_gap) (Lagrange, α' without gradient),
    gap_j = mean_B clip(T·logsumexp(Q_j(s, a_ood)/T) − Q_j(s, a)) from `jaxrl.ops.cql_gap`,
    with the policy actions' Q bounded below by `bound` (Cal-QL).

    Args:
      target: y from `families.sac.critic_target` (with `max_over` for the max backup), [B].
      ood_actions, cur_logp, nxt_logp: from `conservative_actions`.
      bound: `calibration_bound`, [B].
      cql_weight: v_j from `conservative_weights`, [C].
      cql_alpha: w; target_action_gap: τ_gap; log_cql_alpha: log α' (Lagrange only).
      config: the static options (temperature T, importance sampling, clips, Lagrange).

    Returns:
      (loss, (q [C, B], td [C], gap [C], bound_rate [C])).

    References: Kumar et al., 2020, eq. (4); Nakamoto et al., 2023, eq. (5.1); ALGORITHMS.md
    §2 ("Conservative term", "Calibration", "Total").
    """
    q = critic.apply(critic_params, batch.obs, batch.action)  # [C, B]
    td = ensemble_td_loss(q, target, "none")  # [C]
    n = config.cql_n_actions
    q_ood = critic.apply(critic_params, jnp.concatenate([repeat(batch.obs, n)] * 3, 1), ood_actions)
    q_rand, q_cur, q_nxt = jnp.split(q_ood, 3, axis=2)  # [C, B, n] each
    gap, bound_rate = jax.vmap(
        lambda qd, qr, qc, qn: cql_gap(
            qd,
            qr,
            qc,
            cur_logp,
            qn,
            nxt_logp,
            batch.action.shape[-1],
            config.cql_temp,
            config.importance_sample,
            bound,
            config.clip_diff_min,
            config.clip_diff_max,
        )
    )(q, q_rand, q_cur, q_nxt)
    if config.lagrange:
        a_prime = lagrange_multiplier(jax.lax.stop_gradient(log_cql_alpha))
        cql = a_prime * cql_alpha * (gap - target_action_gap)
    else:
        cql = cql_alpha * gap
    loss = jnp.sum(td) + jnp.sum(cql_weight * cql)
    return loss, (q, td, gap, bound_rate)


def lagrange_loss(
    log_cql_alpha: jax.Array,
    gap: jax.Array,
    cql_weight: jax.Array,
    cql_alpha: jax.Array,
    target_action_gap: jax.Array,
) -> jax.Array:
    """L_α' = −α'·w·(mean_j v_j·gap_j − τ_gap): α' ascends the gap (gap without gradient).

    References: Kumar et al., 2020, eq. (5) (CQL-Lagrange); ALGORITHMS.md §2.
    """
    gap_mean = jnp.mean(cql_weight * jax.lax.stop_gradient(gap))
    return -lagrange_multiplier(log_cql_alpha) * cql_alpha * (gap_mean - target_action_gap)
