"""Ring buffer, dataset sampling, the offline/online mixer and MC-return recomputation."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.buffers import (
    RETENTION_MODES,
    buffer_add,
    buffer_init,
    buffer_sample,
    dataset_sample,
    mixed_sample,
    offline_fraction,
    recompute_mc_returns,
)
from jaxrl.ops import mc_return_to_go_np
from jaxrl.types import Transition, empty_transition

OBS_DIM, ACT_DIM = 3, 2


def rows(reward, terminated=None, truncated=None) -> Transition:
    """Rows whose every field is tagged by the reward, so a sampled row can be traced back."""
    r = jnp.asarray(reward, jnp.float32)
    n = r.shape[0]
    z = jnp.zeros(n, jnp.float32)
    return Transition(
        obs=jnp.repeat(r[:, None], OBS_DIM, 1),
        action=jnp.repeat(r[:, None], ACT_DIM, 1) + 0.5,
        reward=r,
        terminated=z if terminated is None else jnp.asarray(terminated, jnp.float32),
        truncated=z if truncated is None else jnp.asarray(truncated, jnp.float32),
        next_obs=jnp.repeat(r[:, None], OBS_DIM, 1) + 1.0,
        mc_return=z,
    )


def assert_rows_consistent(batch: Transition):
    """Every field of a sampled row comes from the same stored row."""
    r = np.asarray(batch.reward)
    np.testing.assert_array_equal(batch.obs, np.repeat(r[:, None], OBS_DIM, 1))
    np.testing.assert_array_equal(batch.action, np.repeat(r[:, None], ACT_DIM, 1) + 0.5)
    np.testing.assert_array_equal(batch.next_obs, np.repeat(r[:, None], OBS_DIM, 1) + 1.0)


def example():
    return empty_transition(OBS_DIM, ACT_DIM)


# ----------------------------------------------------------------------------- ring.py


def test_buffer_init_shapes_and_errors():
    buf = buffer_init(example(), 6)
    assert buf.capacity == 6
    assert buf.data.obs.shape == (6, OBS_DIM)
    assert buf.data.action.shape == (6, ACT_DIM)
    assert buf.data.reward.shape == (6,)
    assert int(buf.size) == 0 and int(buf.insert_pos) == 0
    assert buf.size.dtype == jnp.int32
    with pytest.raises(ValueError, match="capacity"):
        buffer_init(example(), 0)


def test_buffer_add_wraps_around_and_overwrites_oldest():
    buf = buffer_init(example(), 5)
    buf = buffer_add(buf, rows([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(buf.data.reward, [0, 1, 2, 0, 0])
    assert int(buf.insert_pos) == 3 and int(buf.size) == 3
    # Four more rows: positions 3, 4, then 0, 1 (overwriting rewards 0 and 1, the oldest).
    buf = buffer_add(buf, rows([3.0, 4.0, 5.0, 6.0]))
    np.testing.assert_array_equal(buf.data.reward, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.data.obs[:, 0], [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.data.next_obs[:, 0], [6, 7, 3, 4, 5])
    assert int(buf.insert_pos) == 2 and int(buf.size) == 5
    # A whole capacity's worth lands in order starting at insert_pos = 2.
    buf = buffer_add(buf, rows([10.0, 11.0, 12.0, 13.0, 14.0]))
    np.testing.assert_array_equal(buf.data.reward, [13, 14, 10, 11, 12])
    assert int(buf.insert_pos) == 2 and int(buf.size) == 5


def test_buffer_add_one_at_a_time_under_jit_scan():
    buf = buffer_init(example(), 4)

    def body(b, r):
        return buffer_add(b, rows(r[None])), None

    buf, _ = jax.jit(lambda b, rs: jax.lax.scan(body, b, rs))(buf, jnp.arange(1.0, 11.0))
    # Rewards 1..10 into capacity 4: reward k lands at (k − 1) % 4, so 7..10 survive as
    # [9, 10, 7, 8].
    np.testing.assert_array_equal(buf.data.reward, [9, 10, 7, 8])
    assert int(buf.insert_pos) == 10 % 4 and int(buf.size) == 4


def test_buffer_add_too_many_rows_and_dtype_cast():
    buf = buffer_init(example(), 3)
    with pytest.raises(ValueError, match="cannot add 4 rows"):
        buffer_add(buf, rows([1.0, 2.0, 3.0, 4.0]))
    r = rows([1.0, 0.0])
    r = r.replace(terminated=jnp.array([True, False]))  # booleans are cast to the stored dtype
    buf = buffer_add(buf, r)
    assert buf.data.terminated.dtype == jnp.float32
    np.testing.assert_array_equal(buf.data.terminated, [1.0, 0.0, 0.0])


def test_buffer_sample_only_returns_filled_rows():
    buf = buffer_init(example(), 10)
    buf = buffer_add(buf, rows([1.0, 2.0, 3.0]))  # rows 3..9 are zeros, never to be drawn
    batch = buffer_sample(buf, jax.random.key(0), 600)
    assert batch.reward.shape == (600,) and batch.obs.shape == (600, OBS_DIM)
    assert set(np.unique(batch.reward).tolist()) == {1.0, 2.0, 3.0}
    assert_rows_consistent(batch)
    # Roughly uniform: each of the 3 rows about 200 times.
    counts = np.bincount(np.asarray(batch.reward, int))[1:]
    assert np.all(np.abs(counts - 200) < 60), counts


def test_buffer_sample_after_wrap_uses_every_row():
    buf = buffer_init(example(), 4)
    buf = buffer_add(buf, rows([1.0, 2.0, 3.0]))
    buf = buffer_add(buf, rows([4.0, 5.0]))  # full: rows hold 5, 2, 3, 4
    batch = buffer_sample(buf, jax.random.key(1), 400)
    assert set(np.unique(batch.reward).tolist()) == {2.0, 3.0, 4.0, 5.0}


def test_dataset_sample_whole_dataset():
    data = rows(np.arange(1.0, 6.0))
    batch = dataset_sample(data, jax.random.key(0), 500)
    assert set(np.unique(batch.reward).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert_rows_consistent(batch)
    # Same key, same batch; another key, another batch.
    np.testing.assert_array_equal(dataset_sample(data, jax.random.key(0), 500).reward, batch.reward)
    assert not np.array_equal(dataset_sample(data, jax.random.key(1), 500).reward, batch.reward)


# ----------------------------------------------------------------------------- mixer.py

DATASET_REWARD = 7.0  # every dataset row carries this reward; online rows are negative


@pytest.fixture(scope="module")
def dataset():
    return rows(np.full(20, DATASET_REWARD))


@pytest.fixture(scope="module")
def online_buffer():
    return buffer_add(buffer_init(example(), 16), rows(-np.arange(1.0, 11.0)))


@pytest.mark.parametrize(
    "ratio,batch_size,n_off",
    [
        (0.25, 8, 2),
        (0.5, 8, 4),
        (0.0, 8, 0),
        (1.0, 8, 8),
        (0.1, 10, 1),
        (0.75, 4, 3),
        (0.3, 10, 3),
        (2.0, 6, 6),
        (-1.0, 6, 0),
    ],
)
def test_mixed_sample_exact_proportions(dataset, online_buffer, ratio, batch_size, n_off):
    for seed in range(3):
        batch = mixed_sample(
            dataset, online_buffer, jax.random.key(seed), batch_size, jnp.asarray(ratio)
        )
        r = np.asarray(batch.reward)
        assert r.shape == (batch_size,)
        from_dataset = r == DATASET_REWARD
        assert from_dataset.sum() == n_off  # exact, not a Bernoulli draw
        # The dataset rows come first, the rest are filled online rows (rewards −1 … −10).
        np.testing.assert_array_equal(from_dataset, np.arange(batch_size) < n_off)
        assert np.all((r[n_off:] <= -1) & (r[n_off:] >= -10))
        assert_rows_consistent(batch)


def test_mixed_sample_traced_ratio_compiles_once(dataset, online_buffer):
    @jax.jit
    @chex.assert_max_traces(n=1)
    def sample(data, buf, key, ratio):
        return mixed_sample(data, buf, key, 8, ratio)

    for ratio, n_off in [(0.25, 2), (0.5, 4), (0.875, 7), (0.0, 0), (1.0, 8)]:
        batch = sample(dataset, online_buffer, jax.random.key(0), jnp.asarray(ratio, jnp.float32))
        assert int(np.sum(np.asarray(batch.reward) == DATASET_REWARD)) == n_off
    # Also with a changed buffer (same shapes): still no retrace.
    buf = buffer_add(online_buffer, rows([-11.0]))
    sample(dataset, buf, jax.random.key(1), jnp.asarray(0.5, jnp.float32))


def test_mixed_sample_under_vmap_over_ratios(dataset, online_buffer):
    ratios = jnp.array([0.0, 0.25, 0.5, 1.0])
    keys = jax.random.split(jax.random.key(0), 4)
    batch = jax.vmap(lambda k, r: mixed_sample(dataset, online_buffer, k, 8, r))(keys, ratios)
    np.testing.assert_array_equal(
        np.sum(np.asarray(batch.reward) == DATASET_REWARD, 1), [0, 2, 4, 8]
    )


def test_mixed_sample_empty_buffer_takes_everything_from_dataset(dataset):
    empty = buffer_init(example(), 16)
    for ratio in (0.0, 0.5, 1.0):
        batch = jax.jit(mixed_sample, static_argnums=3)(
            dataset, empty, jax.random.key(0), 8, jnp.asarray(ratio)
        )
        np.testing.assert_array_equal(batch.reward, np.full(8, DATASET_REWARD))


def test_mixed_sample_key_reuse_free(dataset, online_buffer):
    with jax.debug_key_reuse(True):
        batch = mixed_sample(dataset, online_buffer, jax.random.key(0), 8, jnp.asarray(0.5))
    assert batch.reward.shape == (8,)


def test_offline_fraction_modes():
    # "append": N_off / (N_off + N_online) = 300 / (300 + 100) = 0.75; with an empty buffer 1.
    np.testing.assert_allclose(
        offline_fraction("append", jnp.asarray(0.5), 300, jnp.asarray(100)), 0.75
    )
    np.testing.assert_allclose(
        offline_fraction("append", jnp.asarray(0.5), 300, jnp.asarray(0)), 1.0
    )
    np.testing.assert_allclose(
        offline_fraction("append", jnp.asarray(0.5), 100, jnp.asarray(300)), 0.25
    )
    # "mixed": the ratio itself, as float32.
    out = offline_fraction("mixed", jnp.asarray(0.3), 300, jnp.asarray(100))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, 0.3, rtol=1e-6)
    # "none": nothing offline.
    np.testing.assert_array_equal(
        offline_fraction("none", jnp.asarray(0.5), 300, jnp.asarray(100)), 0.0
    )
    with pytest.raises(ValueError, match="retention"):
        offline_fraction("prepend", jnp.asarray(0.5), 300, jnp.asarray(100))
    assert set(RETENTION_MODES) == {"append", "mixed", "none"}


def test_offline_fraction_append_is_traced_and_drives_the_mixer(dataset):
    # Dataset of 20 rows, 12 online rows: 20 / 32 = 0.625 → 0.625 · 8 = 5 dataset rows.
    buf = buffer_add(buffer_init(example(), 16), rows(-np.arange(1.0, 13.0)))

    @jax.jit
    def f(buf, key):
        frac = offline_fraction("append", jnp.asarray(0.0), dataset.size, buf.size)
        return frac, mixed_sample(dataset, buf, key, 8, frac)

    frac, batch = f(buf, jax.random.key(0))
    np.testing.assert_allclose(frac, 0.625)
    assert int(np.sum(np.asarray(batch.reward) == DATASET_REWARD)) == 5


# ----------------------------------------------------------------------------- recompute_mc_returns


def _reference_mc(streams_reward, streams_end, discount):
    """Per stream: returns-to-go that never cross an end, −inf after the stream's last end."""
    out = []
    for r, e in zip(streams_reward, streams_end, strict=True):
        g = mc_return_to_go_np(r, e, discount).astype(np.float64)
        ends = np.flatnonzero(e)
        last = ends[-1] if len(ends) else -1
        g[last + 1 :] = -np.inf
        out.append(g)
    return out


def _add_steps(buf, reward, terminated, truncated):
    """Adds `T` steps of `S` parallel streams ([T, S] arrays), one step (S rows) at a time."""
    for t in range(reward.shape[0]):
        buf = buffer_add(buf, rows(reward[t], terminated[t], truncated[t]))
    return buf


def test_recompute_mc_returns_partial_buffer_two_streams():
    # Capacity 12 = 6 steps × 2 streams; 4 steps written (rows 0..7, row i in stream i % 2).
    # Stream 0: rewards 1, 2, 3, 4 with a time-limit end at t = 1 → episode (1, 2) done,
    #   (3, 4) unfinished. γ = 0.5: G = (1 + 0.5·2, 2) = (2, 2), then −inf, −inf.
    # Stream 1: rewards 10, 20, 30, 40 with a terminal at t = 3 (its last step):
    #   G3 = 40, G2 = 30 + 20 = 50, G1 = 20 + 25 = 45, G0 = 10 + 22.5 = 32.5.
    reward = np.array([[1, 10], [2, 20], [3, 30], [4, 40]], np.float32)
    term = np.array([[0, 0], [0, 0], [0, 0], [0, 1]], np.float32)
    trunc = np.array([[0, 0], [1, 0], [0, 0], [0, 0]], np.float32)
    buf = _add_steps(buffer_init(example(), 12), reward, term, trunc)
    assert int(buf.size) == 8 and int(buf.insert_pos) == 8
    out = recompute_mc_returns(buf, num_streams=2, discount=0.5)
    g = np.asarray(out.data.mc_return)
    expected = np.array(
        [
            2,
            32.5,
            2,
            45,
            -np.inf,
            50,
            -np.inf,
            40,  # rows 0..7
            -np.inf,
            -np.inf,
            -np.inf,
            -np.inf,
        ]
    )  # rows 8..11 unfilled
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    ref = _reference_mc(reward.T, np.maximum(term, trunc).T, 0.5)
    np.testing.assert_allclose(g[:8].reshape(4, 2).T, np.stack(ref), rtol=1e-6)
    # Nothing else in the buffer changes.
    np.testing.assert_array_equal(out.data.reward, buf.data.reward)
    assert int(out.insert_pos) == 8 and int(out.size) == 8


def test_recompute_mc_returns_full_buffer_wrapped_around():
    # Capacity 12 = 6 steps × 2 streams, 9 steps written: steps 3..8 survive, the oldest
    # (step 3) at rows 6, 7 since insert_pos = 18 % 12 = 6.
    rng = np.random.default_rng(0)
    steps, keep, discount = 9, 6, 0.9
    reward = rng.normal(size=(steps, 2)).astype(np.float32)
    term = np.zeros((steps, 2), np.float32)
    trunc = np.zeros((steps, 2), np.float32)
    trunc[2, 0] = 1  # before the kept window: must not matter
    term[5, 0] = 1  # stream 0: an end at step 5 and at step 7, step 8 unfinished
    trunc[7, 0] = 1
    term[4, 1] = 1  # stream 1: one end at step 4, steps 5..8 unfinished
    buf = _add_steps(buffer_init(example(), 12), reward, term, trunc)
    assert int(buf.size) == 12 and int(buf.insert_pos) == 6
    out = jax.jit(recompute_mc_returns, static_argnums=(1, 2))(buf, 2, discount)
    g = np.asarray(out.data.mc_return)

    end = np.maximum(term, trunc)
    ref = _reference_mc(reward[-keep:].T, end[-keep:].T, discount)  # time order, oldest first
    for t in range(steps - keep, steps):
        for s in range(2):
            row = (t % keep) * 2 + s
            np.testing.assert_allclose(
                g[row], ref[s][t - (steps - keep)], rtol=1e-5, err_msg=f"step {t} stream {s}"
            )
    # Hand check for stream 1, whose step 3 is the oldest kept row: G3 = r3 + γ r4 (end at 4).
    np.testing.assert_allclose(g[7], reward[3, 1] + discount * reward[4, 1], rtol=1e-5)
    # Unfinished: stream 0 step 8 (row 4), stream 1 steps 5..8 (rows 11, 1, 3, 5).
    assert np.all(np.isneginf(g[[4, 11, 1, 3, 5]]))
    assert np.isfinite(g[[6, 8, 10, 0, 2, 7, 9]]).all()


def test_recompute_mc_returns_one_stream_full_no_ends_is_all_neg_inf():
    buf = buffer_add(buffer_init(example(), 4), rows([1.0, 2.0, 3.0, 4.0]))
    out = recompute_mc_returns(buf, num_streams=1, discount=0.99)
    assert np.all(np.isneginf(np.asarray(out.data.mc_return)))
    with pytest.raises(ValueError, match="multiple"):
        recompute_mc_returns(buf, num_streams=3, discount=0.99)
