"""Hand-computed values and plain-numpy references for `jaxrl.ops`."""

from __future__ import annotations

import itertools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.ops import (
    ENSEMBLE_REDUCTIONS,
    awr_weights,
    cql_gap,
    expectile_loss,
    mc_return_to_go,
    mc_return_to_go_np,
    polyak,
    reduce_ensemble,
    td_target,
    temperature_leaf,
    temperature_loss,
    temperature_value,
)
from jaxrl.ops.td import discounted_sum

# ----------------------------------------------------------------------------- td.py


def test_td_target_hand_values():
    # y = r + γ·mask·V': 1 + 0.99·1·10 = 10.9; at a terminal (mask 0) y = r = 1;
    # -2 + 0.5·1·(-4) = -4.
    y = td_target(
        jnp.array([1.0, 1.0, -2.0]), jnp.array([1.0, 0.0, 1.0]), jnp.array([10.0, 10.0, -4.0]), 0.99
    )
    np.testing.assert_allclose(y[:2], [10.9, 1.0], rtol=1e-6)
    y2 = td_target(jnp.array(-2.0), jnp.array(1.0), jnp.array(-4.0), 0.5)
    np.testing.assert_allclose(y2, -4.0)


def test_td_target_discount_may_be_traced_and_stops_gradient():
    f = jax.jit(lambda g: td_target(jnp.array(1.0), jnp.array(1.0), jnp.array(2.0), g))
    np.testing.assert_allclose(f(jnp.array(0.5)), 2.0)  # 1 + 0.5·2
    np.testing.assert_allclose(f(jnp.array(0.25)), 1.5)  # 1 + 0.25·2
    grad = jax.grad(lambda v: td_target(jnp.array(1.0), jnp.array(1.0), v, 0.9))(3.0)
    assert grad == 0.0


def test_polyak_hand_values_on_a_tree():
    target = {"w": jnp.array([0.0, 2.0]), "b": {"c": jnp.array(10.0)}}
    online = {"w": jnp.array([1.0, 4.0]), "b": {"c": jnp.array(0.0)}}
    out = polyak(target, online, 0.25)
    # 0.75·0 + 0.25·1 = 0.25; 0.75·2 + 0.25·4 = 2.5; 0.75·10 + 0.25·0 = 7.5
    np.testing.assert_allclose(out["w"], [0.25, 2.5])
    np.testing.assert_allclose(out["b"]["c"], 7.5)
    # τ = 1 copies the online parameters, τ = 0 keeps the target.
    np.testing.assert_allclose(polyak(target, online, 1.0)["w"], online["w"])
    np.testing.assert_allclose(polyak(target, online, 0.0)["b"]["c"], 10.0)
    # τ = 0.005 (the usual SAC value): 0.995·2 + 0.005·4 = 2.01
    np.testing.assert_allclose(polyak(target, online, 0.005)["w"][1], 2.01, rtol=1e-6)


def test_discounted_sum_hand_value():
    # 1 + 0.5·2 + 0.25·4 = 3
    np.testing.assert_allclose(discounted_sum(jnp.array([1.0, 2.0, 4.0]), 0.5), 3.0)


# ----------------------------------------------------------------------------- losses.py


def test_expectile_loss_hand_values():
    # τ = 0.7: u = +2 → 0.7·4 = 2.8; u = −2 → 0.3·4 = 1.2; u = 0 → 0; u = 0.5 → 0.7·0.25.
    out = expectile_loss(jnp.array([2.0, -2.0, 0.0, 0.5]), 0.7)
    np.testing.assert_allclose(out, [2.8, 1.2, 0.0, 0.175], rtol=1e-6)


def test_expectile_loss_half_is_half_squared_error_and_traced_tau():
    u = jnp.array([-3.0, 1.5, 2.0])
    np.testing.assert_allclose(expectile_loss(u, 0.5), 0.5 * u**2, rtol=1e-6)
    # τ may be a traced array (a sweepable hyperparameter).
    out = jax.jit(expectile_loss)(u, jnp.array(0.9))
    np.testing.assert_allclose(out, [0.1 * 9.0, 0.9 * 2.25, 0.9 * 4.0], rtol=1e-6)


def test_awr_weights_hand_values_and_clip():
    # β = 3: A = 1 → e³ = 20.0855; A = −1 → e⁻³ = 0.049787; A = 2 → e⁶ ≈ 403 clipped to 100.
    w = awr_weights(jnp.array([1.0, -1.0, 2.0, 0.0]), 3.0)
    np.testing.assert_allclose(w, [math.exp(3.0), math.exp(-3.0), 100.0, 1.0], rtol=1e-5)
    # A custom clip: e³ = 20.09 > 10.
    np.testing.assert_allclose(awr_weights(jnp.array([1.0]), 3.0, max_weight=10.0), [10.0])


def test_awr_weights_stop_gradient():
    g = jax.grad(lambda a: jnp.sum(awr_weights(a, 1.0)))(jnp.array([0.1, -0.3]))
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_temperature_loss_both_forms_hand_values():
    log_alpha = jnp.log(2.0)
    log_probs = jnp.array([-1.0, -3.0])  # Ĥ = −mean(log π) = 2
    target = -3.0
    # "alpha": α·(Ĥ − H_target) = 2·(2 + 3) = 10
    np.testing.assert_allclose(temperature_loss(log_alpha, log_probs, target, "alpha"), 10.0)
    # "log_alpha": −log α · mean(log π + H_target) = −log 2 · (−2 − 3) = 5 log 2
    np.testing.assert_allclose(
        temperature_loss(log_alpha, log_probs, target, "log_alpha"), 5 * math.log(2.0), rtol=1e-6
    )


def test_temperature_loss_gradient_signs_and_stop_gradient():
    log_probs = jnp.array([-1.0, -3.0])  # entropy 2, above target −3: α must go down
    for form in ("alpha", "log_alpha"):
        g_alpha = jax.grad(temperature_loss)(jnp.log(2.0), log_probs, -3.0, form)
        assert g_alpha > 0, form  # gradient descent lowers log α
        g_lp = jax.grad(temperature_loss, argnums=1)(jnp.log(2.0), log_probs, -3.0, form)
        np.testing.assert_array_equal(g_lp, [0.0, 0.0])
    # d/dlogα [α(Ĥ − H)] = α(Ĥ − H) = 10 ; d/dlogα [−logα · m] = −m = 5
    np.testing.assert_allclose(
        jax.grad(temperature_loss)(jnp.log(2.0), log_probs, -3.0, "alpha"), 10.0, rtol=1e-6
    )
    np.testing.assert_allclose(
        jax.grad(temperature_loss)(jnp.log(2.0), log_probs, -3.0, "log_alpha"), 5.0, rtol=1e-6
    )
    # Entropy below target (Ĥ = −2 < H_target = 0): α must go up.
    low = jnp.array([2.0, 2.0])
    assert jax.grad(temperature_loss)(0.0, low, 0.0, "alpha") < 0
    assert jax.grad(temperature_loss)(0.0, low, 0.0, "log_alpha") < 0


def test_softplus_temperature_wsrl_hand_values():
    """WSRL's α = softplus(λ): the leaf inverts it, and the loss and its gradient by hand."""
    for param in ("exp", "softplus"):
        for alpha in (0.05, 1.0, 3.0):
            leaf = temperature_leaf(alpha, param)
            np.testing.assert_allclose(temperature_value(leaf, param), alpha, rtol=1e-6)
    lam = temperature_leaf(2.0, "softplus")  # λ = log(e² − 1)
    np.testing.assert_allclose(lam, math.log(math.expm1(2.0)), rtol=1e-6)
    log_probs = jnp.array([-1.0, -3.0])  # Ĥ = 2, H_target = −3
    np.testing.assert_allclose(
        temperature_loss(lam, log_probs, -3.0, "alpha", "softplus"), 10.0, rtol=1e-6
    )
    # d/dλ softplus(λ)·5 = sigmoid(λ)·5, with sigmoid(λ) = 1 − e^{−α} = 1 − e^{−2}
    np.testing.assert_allclose(
        jax.grad(temperature_loss)(lam, log_probs, -3.0, "alpha", "softplus"),
        5 * (1 - math.exp(-2.0)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        temperature_loss(lam, log_probs, -3.0, "log_alpha", "softplus"),
        5 * math.log(2.0),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="temperature_param"):
        temperature_value(jnp.array(0.0), "relu")


def test_temperature_loss_bad_form():
    with pytest.raises(ValueError, match="form"):
        temperature_loss(jnp.array(0.0), jnp.zeros(2), -1.0, form="exp")


# ----------------------------------------------------------------------------- ensemble.py

# N = 3 members, B = 3 examples. Every pair of distinct members has a distinct min, and no
# pair-min equals a single member's row, so a subset can be identified from its result.
Q3 = jnp.array([[1.0, 5.0, 9.0], [4.0, 2.0, 8.0], [7.0, 6.0, 3.0]])


def test_reduce_ensemble_min_mean_hand_values():
    np.testing.assert_allclose(reduce_ensemble(Q3, "min"), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(reduce_ensemble(Q3, "mean"), [4.0, 13 / 3, 20 / 3], rtol=1e-6)


def test_reduce_ensemble_quantile_hand_values():
    # Linear interpolation at position ρ·(N − 1) of the sorted members.
    # ρ = 0.25 → 0.5: column 0 sorted (1, 4, 7) → 2.5; column 1 (2, 5, 6) → 3.5;
    # column 2 (3, 8, 9) → 5.5.
    np.testing.assert_allclose(reduce_ensemble(Q3, "quantile", quantile=0.25), [2.5, 3.5, 5.5])
    # ρ = 0 is the min, ρ = 0.5 the median, ρ = 1 the max.
    np.testing.assert_allclose(reduce_ensemble(Q3, "quantile", quantile=0.0), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(reduce_ensemble(Q3, "quantile", quantile=0.5), [4.0, 5.0, 8.0])
    np.testing.assert_allclose(reduce_ensemble(Q3, "quantile", quantile=1.0), [7.0, 6.0, 9.0])


def test_reduce_ensemble_lcb_hand_values():
    # Column 0: mean 4, population std sqrt((9 + 0 + 9)/3) = sqrt(6).
    # Column 1: (5, 2, 6): mean 13/3, deviations (2/3, −7/3, 5/3) → var = (4 + 49 + 25)/27 = 78/27.
    q = Q3[:, :2]
    expected_k1 = [4.0 - math.sqrt(6.0), 13 / 3 - math.sqrt(78 / 27)]
    np.testing.assert_allclose(reduce_ensemble(q, "lcb"), expected_k1, rtol=1e-6)
    expected_k2 = [4.0 - 2 * math.sqrt(6.0), 13 / 3 - 2 * math.sqrt(78 / 27)]
    np.testing.assert_allclose(reduce_ensemble(q, "lcb", lcb_k=2.0), expected_k2, rtol=1e-6)
    # k = 0 is the mean.
    np.testing.assert_allclose(reduce_ensemble(q, "lcb", lcb_k=0.0), [4.0, 13 / 3], rtol=1e-6)


def test_reduce_ensemble_keeps_trailing_shape():
    q = jnp.arange(2 * 3 * 4, dtype=jnp.float32).reshape(2, 3, 4)
    for mode in ("min", "mean", "quantile", "lcb"):
        assert reduce_ensemble(q, mode).shape == (3, 4)
    out = reduce_ensemble(q, "subset_min", key=jax.random.key(0), subset_size=2)
    assert out.shape == (3, 4)


def _pair_mins(q, allow_same):
    q = np.asarray(q)
    n = q.shape[0]
    pairs = (
        itertools.product(range(n), repeat=2) if allow_same else itertools.combinations(range(n), 2)
    )
    return {tuple(np.minimum(q[i], q[j]).tolist()): (i, j) for i, j in pairs}


def test_subset_min_without_replacement_full_subset_is_min():
    for seed in range(5):
        out = reduce_ensemble(
            Q3, "subset_min", key=jax.random.key(seed), subset_size=3, replace=False
        )
        np.testing.assert_array_equal(out, np.min(np.asarray(Q3), axis=0))


def test_subset_min_without_replacement_picks_distinct_members():
    allowed = _pair_mins(Q3, allow_same=False)
    seen = set()
    for seed in range(40):
        out = reduce_ensemble(
            Q3, "subset_min", key=jax.random.key(seed), subset_size=2, replace=False
        )
        out = tuple(np.asarray(out).tolist())
        # One subset for the whole batch: the result is the min over one pair of distinct
        # members, so every entry is a member value of its column.
        assert out in allowed, out
        for b, v in enumerate(out):
            assert v in np.asarray(Q3)[:, b]
        seen.add(allowed[out])
    assert seen == {(0, 1), (0, 2), (1, 2)}  # all pairs occur over 40 keys


def test_subset_min_with_replacement_can_repeat_members():
    allowed = _pair_mins(Q3, allow_same=True)
    singles = {tuple(r) for r in np.asarray(Q3).tolist()}
    results = []
    for seed in range(40):
        out = reduce_ensemble(
            Q3, "subset_min", key=jax.random.key(seed), subset_size=2, replace=True
        )
        out = tuple(np.asarray(out).tolist())
        assert out in allowed, out
        results.append(out)
    # P(both draws equal) = 1/3 per key: a single member's row must appear over 40 keys.
    assert any(r in singles for r in results)
    # With replacement, subset_size may exceed the ensemble size: the result is the min over
    # some non-empty set of members.
    q = np.asarray(Q3)
    any_subset = {
        tuple(np.min(q[list(s)], axis=0).tolist())
        for k in (1, 2, 3)
        for s in itertools.combinations(range(3), k)
    }
    for seed in range(5):
        out = reduce_ensemble(
            Q3, "subset_min", key=jax.random.key(seed), subset_size=5, replace=True
        )
        assert tuple(np.asarray(out).tolist()) in any_subset


def test_subset_min_is_deterministic_in_key_and_jittable():
    f = jax.jit(lambda q, k: reduce_ensemble(q, "subset_min", key=k, subset_size=2))
    # Two key objects with the same seed (no key is consumed twice).
    np.testing.assert_array_equal(
        f(Q3, jax.random.key(3)),
        reduce_ensemble(Q3, "subset_min", key=jax.random.key(3), subset_size=2),
    )


def test_reduce_ensemble_errors():
    with pytest.raises(ValueError, match="key"):
        reduce_ensemble(Q3, "subset_min")
    with pytest.raises(ValueError, match="exceeds"):
        reduce_ensemble(Q3, "subset_min", key=jax.random.key(0), subset_size=4, replace=False)
    with pytest.raises(ValueError, match="unknown ensemble reduction"):
        reduce_ensemble(Q3, "max")
    assert set(ENSEMBLE_REDUCTIONS) == {"min", "mean", "subset_min", "quantile", "lcb"}


# ----------------------------------------------------------------------------- cql.py


def _logsumexp_np(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(x - m), axis=axis))


def _cql_gap_np(
    q_data,
    q_rand,
    q_cur,
    logp_cur,
    q_next,
    logp_next,
    action_dim,
    temperature,
    importance_sample,
    bound=None,
    clip=(-np.inf, np.inf),
):
    q_data, q_rand, q_cur, q_next = (
        np.asarray(a, np.float64) for a in (q_data, q_rand, q_cur, q_next)
    )
    logp_cur, logp_next = np.asarray(logp_cur, np.float64), np.asarray(logp_next, np.float64)
    rate = 0.0
    if bound is not None:
        b = np.asarray(bound, np.float64)[:, None]
        rate = 0.5 * (np.mean(q_cur < b) + np.mean(q_next < b))
        q_cur, q_next = np.maximum(q_cur, b), np.maximum(q_next, b)
    if importance_sample:
        log_uniform = action_dim * np.log(0.5)  # density of U[−1, 1]^|A|
        cat = np.concatenate([q_rand - log_uniform, q_next - logp_next, q_cur - logp_cur], 1)
    else:
        cat = np.concatenate([q_rand, q_data[:, None], q_next, q_cur], 1)
    ood = temperature * _logsumexp_np(cat / temperature, 1)
    return np.mean(np.clip(ood - q_data, *clip)), rate


def _cql_inputs(seed=0, b=4, n=3):
    rng = np.random.default_rng(seed)
    return dict(
        q_data=rng.normal(size=b).astype(np.float32),
        q_rand=rng.normal(size=(b, n)).astype(np.float32),
        q_cur=rng.normal(size=(b, n)).astype(np.float32),
        logp_cur=rng.normal(size=(b, n)).astype(np.float32),
        q_next=rng.normal(size=(b, n)).astype(np.float32),
        logp_next=rng.normal(size=(b, n)).astype(np.float32),
    )


def test_cql_gap_hand_value_all_zeros():
    # B = 1, N = 1, all Q and log π zero, |A| = 1, T = 1.
    # IS: logsumexp(0 − log ½, 0 − 0, 0 − 0) = log(2 + 1 + 1) = log 4.
    # no IS: logsumexp(0, 0, 0, 0) = log 4 as well. The gap is that minus Q(s, a) = 0.
    z1, z11 = jnp.zeros(1), jnp.zeros((1, 1))
    for is_ in (True, False):
        gap, rate = cql_gap(z1, z11, z11, z11, z11, z11, 1, importance_sample=is_)
        np.testing.assert_allclose(gap, math.log(4.0), rtol=1e-6)
        assert rate == 0.0
    # |A| = 2 with IS: log(4 + 1 + 1) = log 6; with Q(s, a) = 1 the gap drops by 1.
    gap, _ = cql_gap(jnp.ones(1), z11, z11, z11, z11, z11, 2)
    np.testing.assert_allclose(gap, math.log(6.0) - 1.0, rtol=1e-6)


@pytest.mark.parametrize("importance_sample", [True, False])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_cql_gap_matches_numpy_reference(importance_sample, temperature):
    x = _cql_inputs(seed=1)
    gap, rate = cql_gap(
        **{k: jnp.asarray(v) for k, v in x.items()},
        action_dim=3,
        temperature=temperature,
        importance_sample=importance_sample,
    )
    ref, ref_rate = _cql_gap_np(
        **x, action_dim=3, temperature=temperature, importance_sample=importance_sample
    )
    np.testing.assert_allclose(gap, ref, rtol=1e-5, atol=1e-6)
    assert rate == ref_rate == 0.0


@pytest.mark.parametrize("importance_sample", [True, False])
def test_cql_gap_with_mc_lower_bound(importance_sample):
    x = _cql_inputs(seed=2, b=4, n=3)
    # Bounds chosen to raise some, but not all, policy-action values; −inf raises none.
    bound = np.array([0.0, 10.0, -np.inf, 0.5], np.float32)
    jx = {k: jnp.asarray(v) for k, v in x.items()}
    gap, rate = cql_gap(
        **jx, action_dim=3, importance_sample=importance_sample, mc_lower_bound=jnp.asarray(bound)
    )
    ref, ref_rate = _cql_gap_np(
        **x, action_dim=3, temperature=1.0, importance_sample=importance_sample, bound=bound
    )
    np.testing.assert_allclose(gap, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rate, ref_rate, rtol=1e-6)
    # The example with bound 10 raises all 2·3 of its policy values; the rate counts them.
    assert 0.25 <= ref_rate < 1.0
    # The bound raised the gap, since it only increases the logsumexp terms.
    unbounded, _ = cql_gap(**jx, action_dim=3, importance_sample=importance_sample)
    assert gap > unbounded


def test_cql_gap_bound_rate_hand_value_and_random_actions_unbounded():
    # B = 2, N = 2. Bound = (1, −5).
    # q_cur = [[0, 2], [0, 0]] → below-bound count (1, 0) of 4 → 1/4;
    # q_next = [[0, 0], [−9, 0]] → (2, 1) of 4 → 3/4. rate = ½(1/4 + 3/4) = ½.
    q_cur = jnp.array([[0.0, 2.0], [0.0, 0.0]])
    q_next = jnp.array([[0.0, 0.0], [-9.0, 0.0]])
    q_rand = jnp.full((2, 2), -50.0)  # far below the bound: must stay unbounded
    zeros = jnp.zeros((2, 2))
    bound = jnp.array([1.0, -5.0])
    gap, rate = cql_gap(jnp.zeros(2), q_rand, q_cur, zeros, q_next, zeros, 1, mc_lower_bound=bound)
    np.testing.assert_allclose(rate, 0.5)
    # Example 0 after the bound: cur (1, 2), next (1, 1), rand ≈ −50 + log 2 (negligible):
    # logsumexp ≈ log(e + e² + 2e). Example 1: cur (0, 0), next (−5, 0): log(3 + e⁻⁵).
    e = math.e
    ex0 = math.log(e + e**2 + 2 * e + 2 * math.exp(-50 + math.log(2)))
    ex1 = math.log(3 + math.exp(-5) + 2 * math.exp(-50 + math.log(2)))
    np.testing.assert_allclose(gap, 0.5 * (ex0 + ex1), rtol=1e-6)


def test_cql_gap_clip_and_gradients():
    x = _cql_inputs(seed=3)
    jx = {k: jnp.asarray(v) for k, v in x.items()}
    for lo, hi in [(-1.0, 0.5), (2.0, 3.0), (-10.0, 0.0)]:
        gap, _ = cql_gap(**jx, action_dim=3, clip_min=lo, clip_max=hi)
        ref, _ = _cql_gap_np(
            **x, action_dim=3, temperature=1.0, importance_sample=True, clip=(lo, hi)
        )
        np.testing.assert_allclose(gap, ref, rtol=1e-5, atol=1e-6)
        assert lo <= float(gap) <= hi

    def f(q_data, logp_cur, logp_next):
        return cql_gap(q_data, jx["q_rand"], jx["q_cur"], logp_cur, jx["q_next"], logp_next, 3)[0]

    g_data, g_lc, g_ln = jax.grad(f, argnums=(0, 1, 2))(
        jx["q_data"], jx["logp_cur"], jx["logp_next"]
    )
    # With IS, Q(s, a) only enters as −mean(Q(s, a)): ∂/∂Q(s,a) = −1/B; log π is stopped.
    np.testing.assert_allclose(g_data, np.full(4, -0.25), rtol=1e-6)
    np.testing.assert_array_equal(g_lc, np.zeros((4, 3)))
    np.testing.assert_array_equal(g_ln, np.zeros((4, 3)))


# ----------------------------------------------------------------------------- returns.py


def _returns_loop(reward, end, discount):
    """The plainest possible reference: a backwards loop resetting at every episode end."""
    out, g = [], 0.0
    for r, e in zip(reversed(list(reward)), reversed(list(end)), strict=True):
        g = r + discount * (0.0 if e else g)
        out.append(g)
    return np.array(out[::-1])


def test_mc_return_to_go_hand_example_episode_end_in_the_middle():
    # r = (1, 2, 3, 4, 5), the first episode ends at t = 1, γ = ½:
    # G1 = 2, G0 = 1 + ½·2 = 2; G4 = 5, G3 = 4 + 2.5 = 6.5, G2 = 3 + ½·6.5 = 6.25.
    reward = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    end = np.array([0, 1, 0, 0, 0], np.float32)
    expected = [2.0, 2.0, 6.25, 6.5, 5.0]
    g = mc_return_to_go(jnp.asarray(reward), jnp.asarray(end), jnp.asarray(end), 0.5)
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    np.testing.assert_allclose(mc_return_to_go_np(reward, end, 0.5), expected, rtol=1e-6)
    # A terminal at the last step changes nothing (no bootstrap after the last step anyway).
    end2 = np.array([0, 1, 0, 0, 1], np.float32)
    np.testing.assert_allclose(mc_return_to_go_np(reward, end2, 0.5), expected, rtol=1e-6)


def test_mc_return_to_go_consecutive_ends_and_no_ends():
    # Every step an episode end: G = r.
    r = jnp.array([3.0, -1.0, 2.0])
    np.testing.assert_allclose(mc_return_to_go(r, jnp.ones(3), jnp.ones(3), 0.9), r)
    # No end at all: 3 + 0.9·(−1 + 0.9·2) = 3 + 0.9·0.8 = 3.72; −1 + 1.8 = 0.8; 2.
    np.testing.assert_allclose(
        mc_return_to_go(r, jnp.zeros(3), jnp.zeros(3), 0.9), [3.72, 0.8, 2.0], rtol=1e-6
    )


@pytest.mark.parametrize("length", [1, 2, 7, 64, 129])
def test_mc_return_to_go_matches_numpy_and_loop(length):
    rng = np.random.default_rng(length)
    reward = rng.normal(size=length).astype(np.float32)
    end = (rng.random(length) < 0.15).astype(np.float32)
    g = jax.jit(mc_return_to_go, static_argnums=3)(
        jnp.asarray(reward), jnp.asarray(end), jnp.asarray(end), 0.97
    )
    chex.assert_shape(g, (length,))
    ref_np = mc_return_to_go_np(reward, end, 0.97)
    ref_loop = _returns_loop(reward.astype(np.float64), end, 0.97)
    np.testing.assert_allclose(ref_np, ref_loop, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g, ref_np, rtol=1e-4, atol=1e-4)


def test_mc_return_to_go_np_sparse_reward_rule():
    # γ = 0.9, r_neg = −1. Episode A (t = 0..2) is all −1 → every step gets −1/(1 − 0.9) = −10
    # (not the truncated sum −2.71, −1.9, −1). Episode B (t = 3..4) reaches a 0 reward, so it
    # keeps the ordinary return: G4 = 0, G3 = −1. The trailing unfinished segment (t = 5..6)
    # is also all −1 → −10.
    reward = np.array([-1, -1, -1, -1, 0, -1, -1], np.float32)
    end = np.array([0, 0, 1, 0, 1, 0, 0], np.float32)
    out = mc_return_to_go_np(reward, end, 0.9, sparse_reward=-1.0)
    np.testing.assert_allclose(out, [-10, -10, -10, -1, 0, -10, -10], rtol=1e-6)
    # Without the rule: −1 − 0.9 − 0.81 = −2.71 …
    out = mc_return_to_go_np(reward, end, 0.9)
    np.testing.assert_allclose(out, [-2.71, -1.9, -1, -1, 0, -1.9, -1], rtol=1e-6)
    assert out.dtype == np.float32
    assert mc_return_to_go_np(np.zeros(0), np.zeros(0), 0.9).shape == (0,)


def test_mc_return_to_go_vmaps_over_streams():
    rng = np.random.default_rng(0)
    reward = rng.normal(size=(3, 20)).astype(np.float32)
    end = (rng.random((3, 20)) < 0.2).astype(np.float32)
    g = jax.vmap(mc_return_to_go, in_axes=(0, 0, 0, None))(
        jnp.asarray(reward), jnp.asarray(end), jnp.asarray(end), 0.8
    )
    for i in range(3):
        np.testing.assert_allclose(
            g[i], mc_return_to_go_np(reward[i], end[i], 0.8), rtol=1e-5, atol=1e-5
        )
