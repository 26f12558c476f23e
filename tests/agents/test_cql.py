"""CQL and Cal-QL (ALGORITHMS.md §2, §4.3): their own losses against numpy, the Lagrange step,
Cal-QL's bound and the switch."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from jaxrl.agents.cql import CQLConfig, losses
from jaxrl.agents.families import sac as family
from jaxrl.agents.families.sac import sample_action
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.specs import EnvSpec
from tests.helpers import TINY
from tests.test_agents import _batch

SPEC = EnvSpec(obs_dim=5, action_dim=2)


def test_cql_switch_changes_only_hyperparameters():
    cfg = agent_config(
        "calql", {**TINY["calql"], "online_cql_alpha": 0.5, "online_calibration": False}
    )
    agent = make_agent("calql", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    assert int(state.switch_step) == -1
    online = agent.to_online(state)
    assert float(online.hparams.cql_alpha) == 0.5
    assert int(online.switch_step) == 0  # Cal-QL's bound is off from here (online_calibration)
    chex.assert_trees_all_equal(online.params, state.params)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)


def test_cql_lagrange_weight_and_its_step_by_hand():
    """Lagrange CQL: the critic pays α'·w·(gap − τ) with α' = exp(1) at init, and log α'
    ascends the gap: Adam's first step moves it by +lr·sign(mean gap − τ)."""
    cfg = agent_config("cql", {**TINY["cql"], "lagrange": True, "target_action_gap": 0.8})
    agent = make_agent("cql", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    new, m = jax.jit(agent.update)(state, _batch(), jax.random.key(1))
    c, w, gap = cfg.num_critics, cfg.cql_alpha, float(m["cql_gap"])
    expected = c * float(m["td_loss"]) + np.e * w * c * (gap - 0.8)
    np.testing.assert_allclose(float(m["critic_loss"]), expected, rtol=1e-5)
    step = float(new.params["cql_alpha"]) - 1.0
    np.testing.assert_allclose(step, cfg.critic_lr * np.sign(gap - 0.8), rtol=1e-3)


def test_calql_bound_raises_policy_values():
    """With a huge MC return every policy-action value is bounded; without calibration none."""
    batch = _batch().replace(mc_return=jnp.full((32,), 1e3))
    cal = make_agent("calql", agent_config("calql", TINY["calql"]), SPEC)
    plain = make_agent("cql", agent_config("cql", TINY["cql"]), SPEC)
    _, m_cal = jax.jit(cal.update)(cal.init(jax.random.key(0)), batch, jax.random.key(1))
    _, m_cql = jax.jit(plain.update)(plain.init(jax.random.key(0)), batch, jax.random.key(1))
    assert float(m_cal["bound_rate"]) == 1.0
    assert float(m_cql["bound_rate"]) == 0.0
    assert float(m_cal["cql_gap"]) > float(m_cql["cql_gap"]) + 100.0


@pytest.fixture(scope="module")
def nets():
    actor = GaussianPolicy(2, (8,))
    critic = QEnsemble(2, (8,))
    b = _batch(6)
    ap = actor.init(jax.random.key(0), b.obs)
    cp = critic.init(jax.random.key(1), b.obs, b.action)
    tp = critic.init(jax.random.key(2), b.obs, b.action)
    return actor, critic, ap, cp, tp, b


def test_max_backup_target_matches_numpy(nets):
    # The max backup is the SAC family's critic_target with max_over = n.
    """y = r + γ(1−d) max_k min_j Q̄_j(s', a'_k), no entropy term (Cal-QL's defaults)."""
    actor, critic, ap, _, tp, b = nets
    cfg = CQLConfig(num_critics=2, cql_n_actions=3)
    key = lambda: jax.random.key(4)  # noqa: E731
    y = family.critic_target(
        tp, critic, ap, actor, b, key(), jnp.float32(0.5), 0.9, max_over=3,
        **family.target_options(cfg, None),
    )  # fmt: skip
    next_obs = np.repeat(np.asarray(b.next_obs)[:, None], 3, axis=1)  # [B, 3, d]
    a_next, _ = sample_action(ap, actor, jnp.asarray(next_obs), key())  # the same draw
    q = np.asarray(critic.apply(tp, jnp.asarray(next_obs), a_next)).min(0)  # [B, 3]
    ref = np.asarray(b.reward) + 0.9 * (1 - np.asarray(b.terminated)) * q.max(1)
    np.testing.assert_allclose(y, ref, rtol=1e-5)


def test_calibration_bound_and_conservative_weights():
    g = jnp.array([1.0, -2.0])
    np.testing.assert_array_equal(losses.calibration_bound(g, jnp.float32(1.0)), [1.0, -2.0])
    np.testing.assert_array_equal(losses.calibration_bound(g, jnp.float32(0.0)), [-np.inf] * 2)
    cfg = CQLConfig(num_critics=4)
    np.testing.assert_array_equal(losses.conservative_weights(None, cfg), np.ones(4))
    cfg = CQLConfig(num_critics=4, cql_subset=True, subset_size=2, subset_replace=False)
    w = np.asarray(losses.conservative_weights(jax.random.key(0), cfg))
    assert w.sum() == 4.0 and sorted(w.tolist()) == [0.0, 0.0, 2.0, 2.0]


def _np_gap(qd, qr, qc, lc, qn, ln, action_dim):
    """CQL(H) with importance sampling, one critic: mean_B logsumexp(cat) − Q(s, a)."""
    cat = np.concatenate([qr - action_dim * np.log(0.5), qn - ln, qc - lc], axis=1)
    return np.mean(logsumexp(cat, axis=1) - qd)


@pytest.mark.parametrize("lagrange", [False, True])
def test_critic_loss_and_lagrange_loss_match_numpy(nets, lagrange):
    actor, critic, ap, cp, _, b = nets
    n = 3
    cfg = CQLConfig(num_critics=2, cql_n_actions=n, lagrange=lagrange)
    ood, lc, ln = losses.conservative_actions(
        ap, actor, b, jax.random.key(5), jax.random.key(6), jax.random.key(7), n
    )
    assert ood.shape == (6, 3 * n, 2) and float(jnp.max(jnp.abs(ood))) <= 1.0
    y = jnp.linspace(-1.0, 1.0, 6)
    w, tau_gap, log_ap = 5.0, 0.8, jnp.float32(1.0)
    weights = jnp.ones(2)
    bound = jnp.full((6,), -jnp.inf)
    loss, (q, td, gap, rate) = losses.critic_loss(
        cp, critic, b, y, ood, lc, ln, bound, weights, w, tau_gap, log_ap, cfg
    )
    qd = np.asarray(critic.apply(cp, b.obs, b.action))
    obs3 = jnp.repeat(b.obs[:, None], 3 * n, axis=1)
    q_ood = np.asarray(critic.apply(cp, obs3, ood))  # [2, B, 3n]
    td_ref = ((qd - np.asarray(y)) ** 2).mean(1)
    gaps = np.array(
        [
            _np_gap(qd[j], q_ood[j, :, :n], q_ood[j, :, n : 2 * n], np.asarray(lc),
                    q_ood[j, :, 2 * n :], np.asarray(ln), 2)
            for j in range(2)
        ]
    )  # fmt: skip
    np.testing.assert_allclose(td, td_ref, rtol=1e-5)
    np.testing.assert_allclose(gap, gaps, rtol=1e-4, atol=1e-5)
    assert float(jnp.max(rate)) == 0.0
    pen = math.e * w * (gaps - tau_gap) if lagrange else w * gaps
    np.testing.assert_allclose(loss, td_ref.sum() + pen.sum(), rtol=1e-4)
    if lagrange:
        la = losses.lagrange_loss(log_ap, gap, weights, w, tau_gap)
        np.testing.assert_allclose(la, -math.e * w * (gaps.mean() - tau_gap), rtol=1e-4)
        np.testing.assert_allclose(losses.lagrange_multiplier(jnp.float32(100.0)), 1e6)
