"""Dataset corruption: exact row counts, untouched rows, seeds, noise laws, adversarial attacks."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.data.corruption import (
    RANDOM_REWARD_RANGE,
    adversarial_perturbation,
    corrupt,
    corrupted_indices,
    corrupted_mask,
    num_corrupted,
)

N, OBS_DIM, ACT_DIM = 4000, 5, 3
FIELD = {"obs": "obs", "action": "action", "reward": "reward", "dynamics": "next_obs"}


def _arrays(n=N):
    rng = np.random.default_rng(123)
    obs = (rng.normal(size=(n + 1, OBS_DIM)) * [1.0, 2.0, 0.5, 3.0, 1.0] + 4.0).astype(np.float32)
    return {
        "observations": obs[:-1],
        "next_observations": obs[1:],
        # Inside ±0.5, so action noise up to one std (≈ 0.29) is never clipped.
        "actions": rng.uniform(-0.5, 0.5, (n, ACT_DIM)).astype(np.float32),
        "rewards": rng.normal(1.0, 2.0, n).astype(np.float32),
        "terminals": np.zeros(n, np.float32),
        "timeouts": (np.arange(n) % 50 == 49).astype(np.float32),
    }


@pytest.fixture(scope="module")
def ds():
    return data.from_arrays(_arrays(), metadata={"task": "halfcheetah"})


def _snapshot(ds):
    return {f: np.array(getattr(ds.transitions, f), copy=True) for f in FIELD.values()}


def _assert_only_rows_changed(clean, bad, kind, idx):
    """Rows outside `idx` of the kind's field, and every other field, are bit-identical."""
    for f in set(FIELD.values()):
        a, b = np.asarray(getattr(clean.transitions, f)), np.asarray(getattr(bad.transitions, f))
        if f == FIELD[kind]:
            keep = np.ones(len(a), bool)
            keep[idx] = False
            np.testing.assert_array_equal(a[keep], b[keep])
            assert b.dtype == np.float32
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["obs", "action", "reward", "dynamics"])
def test_random_corruption_rows_counts_and_untouched_rows(ds, kind):
    before = _snapshot(ds)
    bad, idx = corrupt(ds, kind, rate=0.3, scale=1.0, seed=0)
    assert list(idx) == [kind]
    assert len(idx[kind]) == 1200 and len(np.unique(idx[kind])) == 1200
    assert np.all(np.diff(idx[kind]) > 0)
    _assert_only_rows_changed(ds, bad, kind, idx[kind])
    # Every listed row really changed (ties with the clean value have probability 0).
    changed = np.asarray(getattr(bad.transitions, FIELD[kind])) != before[FIELD[kind]]
    assert np.all(changed.reshape(N, -1).any(axis=1)[idx[kind]])
    # The source dataset is untouched.
    for f, a in before.items():
        np.testing.assert_array_equal(getattr(ds.transitions, f), a)
    assert "corruption" not in ds.metadata
    record = bad.metadata["corruption"][-1]
    assert record == {
        "kind": kind,
        "mode": "random",
        "rate": 0.3,
        "scale": 1.0,
        "seed": 0,
        "indices": idx[kind].tolist(),
    }
    assert bad.metadata["task"] == "halfcheetah"


def test_row_count_rounding():
    assert num_corrupted(4000, 0.3) == 1200
    assert num_corrupted(4000, 0.000375) == 2  # 1.5 rounds half up
    assert num_corrupted(4000, 0.000374) == 1
    assert num_corrupted(4000, 0.0) == 0 and num_corrupted(4000, 1.0) == 4000
    assert num_corrupted(10, 0.05) == 1 and num_corrupted(10, 0.04) == 0


@pytest.mark.parametrize("rate,expected", [(0.0, 0), (0.000375, 2), (1.0, N)])
def test_exact_fraction_at_edges(ds, rate, expected):
    bad, idx = corrupt(ds, "reward", rate=rate, scale=1.0, seed=1)
    assert len(idx["reward"]) == expected
    _assert_only_rows_changed(ds, bad, "reward", idx["reward"])


def test_seeds(ds):
    a, ia = corrupt(ds, ["obs", "reward"], rate=0.1, scale=0.5, seed=7)
    b, ib = corrupt(ds, ["obs", "reward"], rate=0.1, scale=0.5, seed=7)
    c, ic = corrupt(ds, ["obs", "reward"], rate=0.1, scale=0.5, seed=8)
    for k in ia:
        np.testing.assert_array_equal(ia[k], ib[k])
        assert not np.array_equal(ia[k], ic[k])
    for f in FIELD.values():
        np.testing.assert_array_equal(getattr(a.transitions, f), getattr(b.transitions, f))
    assert a.metadata == b.metadata
    # Each kind draws its own rows.
    assert not np.array_equal(ia["obs"], ia["reward"])


@pytest.mark.parametrize("kind", ["obs", "dynamics", "action"])
def test_random_noise_is_uniform_in_std_units(ds, kind):
    scale = 0.8
    _, idx = corrupt(ds, kind, rate=0.5, scale=scale, seed=3)
    bad, _ = corrupt(ds, kind, rate=0.5, scale=scale, seed=3)
    clean = np.asarray(getattr(ds.transitions, FIELD[kind]), np.float64)
    std = clean.std(axis=0)
    u = (np.asarray(getattr(bad.transitions, FIELD[kind]), np.float64) - clean)[idx[kind]] / std
    m = u.size  # 2000 rows × dims
    assert u.min() >= -scale - 1e-5 and u.max() <= scale + 1e-5
    # U(−s, s): mean 0, variance s²/3, and a flat histogram.
    assert abs(u.mean()) < 4 * scale / np.sqrt(3 * m)
    np.testing.assert_allclose(u.var(), scale**2 / 3, rtol=0.06)
    hist, _ = np.histogram(u, bins=8, range=(-scale, scale))
    expected = m / 8
    chi2 = np.sum((hist - expected) ** 2 / expected)
    assert chi2 < 30, (chi2, hist)  # 7 degrees of freedom: P(chi2 > 30) < 1e-4
    # Per dimension, the spread follows that dimension's std (obs dims have stds 1, 2, 0.5, …).
    spread = (np.asarray(getattr(bad.transitions, FIELD[kind])) - clean)[idx[kind]].std(axis=0)
    np.testing.assert_allclose(spread, std * scale / np.sqrt(3), rtol=0.12)


def test_random_and_adversarial_rewards(ds):
    scale = 0.5
    bad, idx = corrupt(ds, "reward", rate=0.5, scale=scale, seed=4)
    r = np.asarray(bad.transitions.reward, np.float64)[idx["reward"]]
    bound = scale * RANDOM_REWARD_RANGE
    assert r.min() >= -bound and r.max() <= bound
    assert abs(r.mean()) < 4 * bound / np.sqrt(3 * r.size)
    np.testing.assert_allclose(r.var(), bound**2 / 3, rtol=0.1)
    # Adversarial: r ← −scale · r on the chosen rows, no critic needed.
    adv, aidx = corrupt(ds, "reward", rate=0.5, scale=scale, seed=4, mode="adversarial")
    np.testing.assert_array_equal(aidx["reward"], idx["reward"])
    clean = np.asarray(ds.transitions.reward)
    np.testing.assert_array_equal(
        np.asarray(adv.transitions.reward)[aidx["reward"]],
        (-scale * clean[aidx["reward"]]).astype(np.float32),
    )
    assert adv.metadata["corruption"][0]["mode"] == "adversarial"


def test_actions_stay_in_the_box(ds):
    bad, idx = corrupt(ds, "action", rate=1.0, scale=10.0, seed=0)
    a = np.asarray(bad.transitions.action)
    assert np.abs(a).max() <= 1.0 - 1e-5 + 1e-7
    assert np.mean(np.abs(a) > 0.99) > 0.5  # most were pushed onto the bound


def test_all_kinds_in_sequence_record_and_file_round_trip(ds, tmp_path):
    kinds = ["obs", "action", "reward", "dynamics"]
    bad, idx = corrupt(ds, kinds, rate=0.2, scale=1.0, seed=5)
    assert [r["kind"] for r in bad.metadata["corruption"]] == kinds
    for kind in kinds:
        assert len(idx[kind]) == 800
        keep = np.ones(N, bool)
        keep[idx[kind]] = False
        np.testing.assert_array_equal(
            np.asarray(getattr(bad.transitions, FIELD[kind]))[keep],
            np.asarray(getattr(ds.transitions, FIELD[kind]))[keep],
        )
    # Episode structure is kept, and the record survives a save/load.
    np.testing.assert_array_equal(bad.transitions.truncated, ds.transitions.truncated)
    path = tmp_path / "bad.npz"
    data.save_npz(bad, path)
    back = data.load(path)
    for f in FIELD.values():
        np.testing.assert_array_equal(getattr(back.transitions, f), getattr(bad.transitions, f))
    np.testing.assert_array_equal(back.transitions.truncated, ds.transitions.truncated)
    read = corrupted_indices(back)
    assert sorted(read) == sorted(kinds)
    for kind in kinds:
        np.testing.assert_array_equal(read[kind], idx[kind])
    mask = corrupted_mask(back)
    np.testing.assert_array_equal(
        np.flatnonzero(mask), np.unique(np.concatenate(list(idx.values())))
    )
    # A second call appends its record; the same kind's rows are united.
    again, idx2 = corrupt(back, "obs", rate=0.1, scale=1.0, seed=6)
    assert len(again.metadata["corruption"]) == 5
    np.testing.assert_array_equal(
        corrupted_indices(again)["obs"], np.union1d(idx["obs"], idx2["obs"])
    )


def test_bad_arguments(ds):
    ok = dict(rate=0.1, scale=1.0, seed=0)
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\]"):
        corrupt(ds, "obs", **{**ok, "rate": 1.5})
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\]"):
        corrupt(ds, "obs", **{**ok, "rate": -0.1})
    with pytest.raises(ValueError, match="scale must be a finite number >= 0"):
        corrupt(ds, "obs", **{**ok, "scale": -1.0})
    with pytest.raises(ValueError, match="unknown corruption kind 'observations'.*allowed"):
        corrupt(ds, "observations", **ok)
    with pytest.raises(ValueError, match="unknown corruption mode"):
        corrupt(ds, "obs", mode="worst", **ok)
    with pytest.raises(ValueError, match="repeat a kind"):
        corrupt(ds, ["obs", "obs"], **ok)
    with pytest.raises(ValueError, match="needs q_fn"):
        corrupt(ds, "obs", mode="adversarial", **ok)
    with pytest.raises(ValueError, match="needs policy_fn"):
        corrupt(ds, "dynamics", mode="adversarial", q_fn=lambda s, a: 0.0, **ok)


# ----------------------------------------------------------------------------- adversarial

CENTER = np.array([4.0, 4.0, 4.0, 4.0, 4.0], np.float32)
ACT_TARGET = np.array([0.1, -0.2, 0.0], np.float32)


def quadratic_q(s, a):
    """Highest at s = CENTER, a = ACT_TARGET; an attack must push away from them."""
    return -jnp.sum((s - CENTER) ** 2) - 3.0 * jnp.sum((a - ACT_TARGET) ** 2)


def _q(s, a):
    return -np.sum((s - CENTER) ** 2, -1) - 3.0 * np.sum((a - ACT_TARGET) ** 2, -1)


def test_sign_gradient_steps_match_numpy():
    w = jnp.array([[2.0, -1.0, 0.0], [-0.5, 3.0, 1e-3]])
    p0 = jnp.array([[0.3, 0.9, -0.2], [-0.95, 0.0, 0.5]])
    p = adversarial_perturbation(lambda p: jnp.sum(w * p), p0, scale=1.0, steps=40)
    ref = np.asarray(p0, np.float64)
    for _ in range(40):
        g = np.asarray(w, np.float64)
        ref = np.clip(ref - 0.01 * g / (np.abs(g) + 1e-8), -1.0, 1.0)
    np.testing.assert_allclose(p, ref, atol=1e-5)
    # A zero gradient leaves p where it started.
    assert float(p[0, 2]) == pytest.approx(-0.2)


def test_adversarial_obs_matches_reference_and_lowers_q(ds):
    scale, seed = 0.5, 11
    bad, idx = corrupt(
        ds,
        "obs",
        rate=0.3,
        scale=scale,
        seed=seed,
        mode="adversarial",
        q_fn=quadratic_q,
        attack_batch=512,
    )
    i = idx["obs"]
    _assert_only_rows_changed(ds, bad, "obs", i)
    s = np.asarray(ds.transitions.obs, np.float64)
    std = s.std(axis=0)
    a = np.asarray(ds.transitions.action)[i]
    # A plain-numpy run of the documented algorithm, from the documented random stream.
    rng = np.random.default_rng(seed)
    np.testing.assert_array_equal(np.sort(rng.choice(N, 1200, replace=False)), i)
    p = rng.uniform(-scale, scale, (1200, OBS_DIM)).astype(np.float32).astype(np.float64)
    for _ in range(100):
        g = -2.0 * (s[i] + p * std - CENTER) * std
        p = np.clip(p - 0.01 * scale * g / (np.abs(g) + 1e-8), -scale, scale)
    got = np.asarray(bad.transitions.obs, np.float64)[i]
    np.testing.assert_allclose(got, s[i] + p * std, atol=2e-4)
    # Within budget, and lower Q than the clean data and than random noise of the same size.
    assert np.all(np.abs(got - s[i]) <= scale * std + 1e-4)
    rand, _ = corrupt(ds, "obs", rate=0.3, scale=scale, seed=seed)
    q_clean, q_adv = _q(s[i], a).mean(), _q(got, a).mean()
    q_rand = _q(np.asarray(rand.transitions.obs)[i], a).mean()
    assert q_adv < q_rand < q_clean
    # Batching is a memory choice only.
    same, _ = corrupt(
        ds, "obs", rate=0.3, scale=scale, seed=seed, mode="adversarial", q_fn=quadratic_q
    )
    np.testing.assert_allclose(same.transitions.obs, bad.transitions.obs, atol=1e-6)


def test_adversarial_actions_and_dynamics_lower_q_within_budget(ds):
    scale = 1.0
    bad, idx = corrupt(
        ds,
        ["action", "dynamics"],
        rate=0.25,
        scale=scale,
        seed=2,
        mode="adversarial",
        q_fn=quadratic_q,
        policy_fn=lambda s: jnp.tanh(0.1 * (s[:ACT_DIM] - 4.0)),
    )
    s = np.asarray(ds.transitions.obs)
    for kind in ("action", "dynamics"):
        keep = np.ones(N, bool)
        keep[idx[kind]] = False
        f = FIELD[kind]
        np.testing.assert_array_equal(
            np.asarray(getattr(bad.transitions, f))[keep],
            np.asarray(getattr(ds.transitions, f))[keep],
        )
    np.testing.assert_array_equal(bad.transitions.reward, ds.transitions.reward)
    ia, idn = idx["action"], idx["dynamics"]
    clean_a = np.asarray(ds.transitions.action, np.float64)
    adv_a = np.asarray(bad.transitions.action, np.float64)
    assert np.all(np.abs(adv_a - clean_a)[ia] <= scale * clean_a.std(axis=0) + 1e-5)
    assert _q(s[ia], adv_a[ia]).mean() < _q(s[ia], clean_a[ia]).mean() - 0.5
    # Dynamics: Q at the policy's action in the corrupted next state goes down.
    pi = lambda x: np.tanh(0.1 * (x[:, :ACT_DIM] - 4.0))
    clean_n = np.asarray(ds.transitions.next_obs, np.float64)
    adv_n = np.asarray(bad.transitions.next_obs, np.float64)
    assert np.all(np.abs(adv_n - clean_n)[idn] <= scale * clean_n.std(axis=0) + 1e-4)
    q_before = _q(clean_n[idn], pi(clean_n[idn])).mean()
    assert _q(adv_n[idn], pi(adv_n[idn])).mean() < q_before - 1.0
    np.testing.assert_array_equal(bad.transitions.obs, ds.transitions.obs)
