"""Trajectory-weighted samplers: probabilities against plain numpy, the device sampler's draws,
config checks, and a weighted run that compiles each phase once."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.buffers import WeightedDataset, dataset_sample, mixed_sample
from jaxrl.buffers.ring import buffer_add, buffer_init
from jaxrl.config import ConfigError, validate
from jaxrl.data.samplers import (
    CDF_TOTAL,
    SAMPLERS,
    advantage_weighted_probs,
    initial_state_values,
    return_weighted_probs,
    sampling_cdf,
    sampling_probabilities,
    top_k_probs,
    top_trajectories,
    trajectories,
)
from jaxrl.run import build, init_states
from jaxrl.types import empty_transition
from tests.helpers import tiny_config, write_dataset

# Four trajectories of lengths 2, 3, 1, 4 with returns 1, 6, -2, 4.
LENGTHS = np.array([2, 3, 1, 4])
REWARDS = np.array([0.5, 0.5, 1.0, 2.0, 3.0, -2.0, 1.0, 1.0, 1.0, 1.0])
RETURNS = np.array([1.0, 6.0, -2.0, 4.0])
# First observations (1-D); the linear fit of RETURNS on them ranks the trajectories differently.
S0 = np.array([0.0, 3.0, 1.0, 5.0])


def tiny_dataset():
    n = LENGTHS.sum()
    starts = np.concatenate([[0], np.cumsum(LENGTHS)[:-1]])
    obs = np.repeat(S0, LENGTHS)[:, None] + 0.01 * np.arange(n)[:, None]
    obs[starts, 0] = S0
    ends = np.cumsum(LENGTHS) - 1
    timeouts = np.zeros(n)
    timeouts[ends] = 1
    terminals = np.zeros(n)
    terminals[ends[1]] = 1  # one trajectory ends in a true terminal
    timeouts[ends[1]] = 0
    return data.from_arrays(
        {
            "observations": obs,
            "next_observations": obs + 1.0,
            "actions": np.zeros((n, 1)),
            "rewards": REWARDS,
            "terminals": terminals,
            "timeouts": timeouts,
        }
    )


def softmax_over_transitions(scores, temperature):
    """The reference's construction: repeat each trajectory's score per transition, softmax."""
    per_row = np.repeat(scores, LENGTHS) / temperature
    e = np.exp(per_row - per_row.max())
    return e / e.sum()


def test_trajectories_and_returns():
    ds = tiny_dataset()
    starts, lengths = trajectories(ds)
    np.testing.assert_array_equal(starts, [0, 2, 5, 6])
    np.testing.assert_array_equal(lengths, LENGTHS)
    np.testing.assert_allclose(data.episode_returns(ds), RETURNS)


@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_return_weighting_matches_numpy(temperature):
    p = return_weighted_probs(tiny_dataset(), temperature)
    g_hat = (RETURNS - RETURNS.min()) / (RETURNS.max() - RETURNS.min())  # 3/8, 1, 0, 3/4
    np.testing.assert_allclose(p, softmax_over_transitions(g_hat, temperature), rtol=1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    if temperature == 1.0:
        # By hand: rows of the best trajectory weigh e^(1 − 3/4) times those of the last one.
        assert p[2] / p[6] == pytest.approx(np.exp(0.25))


def test_advantage_weighting_matches_numpy():
    ds = tiny_dataset()
    slope, intercept = np.polyfit(S0, RETURNS, 1)  # an independent least-squares fit
    v = slope * S0 + intercept
    np.testing.assert_allclose(initial_state_values(ds), v, atol=1e-10)
    adv = RETURNS - v
    adv_hat = (adv - adv.min()) / (adv.max() - adv.min())
    p = advantage_weighted_probs(ds, 0.1)
    np.testing.assert_allclose(p, softmax_over_transitions(adv_hat, 0.1), rtol=1e-10)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    # Advantage, not return, decides: the last trajectory (return 4, but the highest V̂) ranks
    # below the first (return 1), unlike under return weighting.
    assert adv[3] < adv[0] and p[6] < p[0]
    rw = return_weighted_probs(ds, 0.1)
    assert rw[6] > rw[0]


def test_top_k():
    ds = tiny_dataset()
    np.testing.assert_array_equal(top_trajectories(ds, 0.5), [1, 3])
    p = top_k_probs(ds, 0.5)
    expected = np.repeat([0.0, 1.0, 0.0, 1.0], LENGTHS) / 7.0  # 3 + 4 rows kept
    np.testing.assert_allclose(p, expected)
    # 10% of 4 trajectories floors to 0: the best one is kept.
    np.testing.assert_allclose(top_k_probs(ds, 0.1), np.repeat([0, 1.0, 0, 0], LENGTHS) / 3)
    np.testing.assert_allclose(top_k_probs(ds, 1.0), np.full(10, 0.1))
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\]"):
        top_k_probs(ds, 0.0)


def test_degenerate_and_named_samplers():
    ds = tiny_dataset()
    flat = data.from_arrays(
        {
            "observations": np.zeros((4, 1)),
            "next_observations": np.zeros((4, 1)),
            "actions": np.zeros((4, 1)),
            "rewards": np.ones(4),
            "terminals": np.zeros(4),
            "timeouts": [0, 1, 0, 1],
        }
    )
    # Equal returns (the reference would divide by zero): uniform.
    np.testing.assert_allclose(return_weighted_probs(flat), np.full(4, 0.25))
    np.testing.assert_allclose(advantage_weighted_probs(flat), np.full(4, 0.25))
    np.testing.assert_allclose(sampling_probabilities(ds, "uniform"), np.full(10, 0.1))
    np.testing.assert_allclose(
        sampling_probabilities(ds, "rw", temperature=0.3), return_weighted_probs(ds, 0.3)
    )
    np.testing.assert_allclose(
        sampling_probabilities(ds, "topk", top_fraction=0.5), top_k_probs(ds, 0.5)
    )
    with pytest.raises(ValueError, match="unknown sampler 'best'"):
        sampling_probabilities(ds, "best")
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        return_weighted_probs(ds, 0.0)


def test_cdf_table():
    cdf = sampling_cdf([0.25, 0.0, 0.5, 0.25, 0.0])
    assert cdf.dtype == np.uint32
    np.testing.assert_array_equal(cdf, np.array([0.25, 0.25, 0.75, 1.0, 1.0]) * CDF_TOTAL)
    # Unnormalized weights are normalized.
    np.testing.assert_array_equal(sampling_cdf([1.0, 0.0, 2.0, 1.0, 0.0]), cdf)
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        sampling_cdf([0.5, -0.1])
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        sampling_cdf([0.0, 0.0])


def _tagged(n):
    """A device dataset whose row i has reward i (and matching obs), so draws can be counted."""
    t = empty_transition(2, 1, (n,))
    r = jnp.arange(n, dtype=jnp.float32)
    return t.replace(reward=r, obs=jnp.stack([r, -r], 1))


def _chi2(counts, probs):
    expected = probs * counts.sum()
    nz = expected > 0
    return float(np.sum((counts[nz] - expected[nz]) ** 2 / expected[nz])), int(nz.sum()) - 1


@pytest.fixture(scope="module")
def draw():
    return jax.jit(dataset_sample, static_argnums=2)


@pytest.mark.parametrize("sampler", ["rw", "aw", "topk"])
def test_device_draws_follow_the_probabilities(draw, sampler):
    ds = tiny_dataset()
    probs = sampling_probabilities(ds, sampler, temperature=0.5, top_fraction=0.5)
    weighted = WeightedDataset(_tagged(ds.size), jnp.asarray(sampling_cdf(probs)))
    batch = draw(weighted, jax.random.key(0), 100_000)
    rows = np.asarray(batch.reward).astype(int)
    np.testing.assert_array_equal(np.asarray(batch.obs[:, 1]), -rows)  # whole rows
    counts = np.bincount(rows, minlength=ds.size)
    # Rows of probability zero (top-K's discarded trajectories) are never drawn.
    assert counts[probs == 0].sum() == 0
    chi2, dof = _chi2(counts, probs)
    assert chi2 < dof + 6 * np.sqrt(2 * dof) + 10, (chi2, dof, counts)
    # Same key, same draws; another key, other draws.
    np.testing.assert_array_equal(draw(weighted, jax.random.key(0), 100_000).reward, batch.reward)
    assert not np.array_equal(draw(weighted, jax.random.key(1), 100_000).reward, batch.reward)


def test_device_draws_of_a_large_skewed_table(draw):
    # 100k rows, a few with 1000x the weight: the integer table keeps both ends exact.
    n = 100_000
    w = np.ones(n)
    w[::10_000] = 1000.0
    probs = w / w.sum()
    weighted = WeightedDataset(_tagged(n), jnp.asarray(sampling_cdf(probs)))
    rows = np.asarray(draw(weighted, jax.random.key(3), 200_000).reward).astype(int)
    heavy = np.isin(rows, np.arange(0, n, 10_000))
    expected = probs[::10_000].sum()  # ≈ 0.0909
    assert abs(heavy.mean() - expected) < 5 * np.sqrt(expected * (1 - expected) / rows.size)


def test_uniform_sampling_is_unchanged_and_weighted_works_in_the_mixer():
    data_t = _tagged(7)
    key = jax.random.key(5)
    # The uniform path is exactly the plain randint draw it always was.
    idx = jax.random.randint(jax.random.clone(key), (64,), 0, 7)
    np.testing.assert_array_equal(dataset_sample(data_t, key, 64).reward, np.asarray(idx))
    # The mixer passes a weighted dataset through: offline rows come only from row 3.
    weighted = WeightedDataset(data_t, jnp.asarray(sampling_cdf(np.eye(7)[3])))
    buf = buffer_add(
        buffer_init(empty_transition(2, 1), 4), _tagged(4).replace(reward=-jnp.ones(4))
    )
    batch = mixed_sample(weighted, buf, jax.random.key(6), 16, jnp.float32(0.5))
    np.testing.assert_array_equal(batch.reward, [3.0] * 8 + [-1.0] * 8)


def test_config_checks(tmp_path):
    assert set(SAMPLERS) == {"uniform", "rw", "aw", "topk"}
    with pytest.raises(ConfigError, match=r"sampler='best' is not allowed; allowed values"):
        validate(tiny_config(sampler="best", dataset="x.hdf5"))
    with pytest.raises(ConfigError, match="sampler_temperature=0.0 must be > 0"):
        validate(tiny_config(sampler="rw", sampler_temperature=0.0, dataset="x.hdf5"))
    with pytest.raises(ConfigError, match=r"sampler_top_fraction=1.5 must lie in \(0, 1\]"):
        validate(tiny_config(sampler="topk", sampler_top_fraction=1.5, dataset="x.hdf5"))
    with pytest.raises(ConfigError, match="sampler='rw' weights a dataset"):
        validate(tiny_config(sampler="rw", dataset="", offline_steps=0, retention="none"))


def test_weighted_run_compiles_each_phase_once(tmp_path):
    # inverted_pendulum: the cheapest task to compile (4-D observations, 1-D actions).
    path = write_dataset(tmp_path / "tiny.hdf5", obs_dim=4, action_dim=1, task="inverted_pendulum")
    config = tiny_config(
        "iql",
        task="inverted_pendulum",
        dataset=path,
        seeds=(0, 1),
        sampler="rw",
        retention="mixed",
        eval_episodes=1,
    )
    built = build(config)
    assert isinstance(built.dataset, WeightedDataset)
    ds = data.load(path)
    np.testing.assert_array_equal(
        built.dataset.cdf, sampling_cdf(return_weighted_probs(ds, config.sampler_temperature))
    )
    states = init_states(built)
    for _ in range(2):
        states, metrics = built.offline_chunk(states, built.dataset)
    states = built.switch(states)
    for _ in range(2):
        states, metrics = built.online_chunk(states, built.dataset)
    assert built.offline_chunk._cache_size() == 1
    assert built.online_chunk._cache_size() == 1
    assert np.asarray(states.grad_steps).tolist() == [80, 80]
    assert np.all(np.isfinite(np.asarray(metrics["critic_loss"])))
