"""Tests for jaxrl.data: round-trips, D4RL files, episode boundaries, MC returns, bad inputs."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import h5py
import jax
import numpy as np
import pytest

from jaxrl.data import (
    Dataset,
    DatasetError,
    data_dir,
    episode_ends,
    episode_returns,
    from_arrays,
    info,
    load,
    save_hdf5,
    save_npz,
    to_device,
    validate,
    with_mc_returns,
)
from jaxrl.specs import EnvSpec

OBS_DIM, ACT_DIM = 3, 2
SPEC = EnvSpec(obs_dim=OBS_DIM, action_dim=ACT_DIM)


def d4rl_arrays(episode_lengths=(4, 3, 5), seed=0, terminal_last=(False, True, False)):
    """A consistent D4RL-style mapping: episodes laid end to end, true next observations."""
    rng = np.random.default_rng(seed)
    obs, next_obs, term, tout = [], [], [], []
    for length, is_terminal in zip(episode_lengths, terminal_last, strict=True):
        states = rng.normal(size=(length + 1, OBS_DIM))
        obs.append(states[:-1])
        next_obs.append(states[1:])
        term.append(np.r_[np.zeros(length - 1, bool), is_terminal])
        tout.append(np.r_[np.zeros(length - 1, bool), not is_terminal])
    n = sum(episode_lengths)
    return {
        "observations": np.concatenate(obs),
        "actions": rng.uniform(-1, 1, size=(n, ACT_DIM)),
        "rewards": rng.normal(size=n),
        "terminals": np.concatenate(term),
        "timeouts": np.concatenate(tout),
        "next_observations": np.concatenate(next_obs),
    }


def write_h5(path, arrays, attrs=None):
    """Writes a D4RL-layout file with plain h5py (not through jaxrl)."""
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value


def write_raw(path, arrays):
    if str(path).endswith(".npz"):
        np.savez(path, **arrays)
    else:
        write_h5(path, arrays)


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def pattern(*parts) -> str:
    """Regex matching the given literal parts in order."""
    return ".*".join(re.escape(str(p)) for p in parts)


def assert_same(a: Dataset, b: Dataset):
    for field in a.transitions.__dataclass_fields__:
        x, y = getattr(a.transitions, field), getattr(b.transitions, field)
        if x is None and y is None:  # optional fields (next_action) not stored
            continue
        assert x.dtype == y.dtype == np.float32, field
        np.testing.assert_array_equal(x, y, err_msg=field)
    assert a.metadata == b.metadata


METADATA = {
    "name": "tiny-medium-v0",
    "task": "hopper",
    "random_return": -12.345678901234567,
    "expert_return": 1e30,
    "seed": 7,
    "generator": {"policy": "sac", "steps": [1, 2, 3], "noise": None, "ok": True},
    "unicode": "γ → ∞",
}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("JAXRL_DATA", str(path))
    return path


# --- round-trips and readers ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["npz", "hdf5"])
def test_round_trip_preserves_arrays_and_metadata(tmp_path, fmt):
    ds = from_arrays(d4rl_arrays(), metadata=METADATA, spec=SPEC)
    ds = with_mc_returns(ds, 0.99)
    path = tmp_path / f"ds.{fmt}"
    (save_npz if fmt == "npz" else save_hdf5)(ds, path)
    back = load(path, spec=SPEC)
    assert_same(ds, back)
    assert back.metadata["expert_return"] == 1e30
    assert back.metadata["mc_return_discount"] == 0.99
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    # Saving again over an existing file replaces it and stays loadable.
    (save_npz if fmt == "npz" else save_hdf5)(ds, path)
    assert_same(ds, load(path))


def test_hdf5_layout_is_d4rl(tmp_path):
    ds = from_arrays(d4rl_arrays(), metadata=METADATA)
    save_hdf5(ds, tmp_path / "ds.hdf5")
    with h5py.File(tmp_path / "ds.hdf5", "r") as f:
        assert set(f) == {
            "observations",
            "actions",
            "rewards",
            "terminals",
            "timeouts",
            "next_observations",
            "infos",
        }
        assert list(f["infos"]) == ["mc_return"]
        assert f["terminals"].dtype == bool and f["observations"].dtype == np.float32
        assert json.loads(f.attrs["jaxrl_metadata"]) == METADATA


def test_npz_keys(tmp_path):
    save_npz(from_arrays(d4rl_arrays(), metadata=METADATA), tmp_path / "ds.npz")
    with np.load(tmp_path / "ds.npz", allow_pickle=False) as z:
        assert "metadata_json" in z.files and "infos/mc_return" in z.files
        assert json.loads(str(z["metadata_json"][()])) == METADATA


def test_d4rl_file_written_by_h5py_loads(tmp_path):
    raw = d4rl_arrays()
    arrays = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in raw.items()}
    arrays["infos/qpos"] = np.zeros((len(raw["rewards"]), 5))
    arrays["metadata/algorithm"] = np.bytes_(b"SAC")
    path = tmp_path / "hopper-medium-v2.hdf5"
    write_h5(path, arrays)
    before = sha256(path)
    ds = load(path, spec=SPEC)
    assert ds.size == 12 and ds.metadata == {}
    t = ds.transitions
    for leaf in jax.tree.leaves(t):
        assert leaf.dtype == np.float32
    np.testing.assert_array_equal(t.obs, raw["observations"].astype(np.float32))
    np.testing.assert_array_equal(t.next_obs, raw["next_observations"].astype(np.float32))
    np.testing.assert_array_equal(t.reward, raw["rewards"].astype(np.float32))
    np.testing.assert_array_equal(t.terminated, raw["terminals"])
    np.testing.assert_array_equal(t.truncated, raw["timeouts"])
    np.testing.assert_array_equal(t.mc_return, 0.0)
    assert sha256(path) == before


def test_timeouts_are_not_terminals():
    arrays = d4rl_arrays(episode_lengths=(3, 3), terminal_last=(False, True))
    arrays["timeouts"][5] = True  # a row flagged both ways is a terminal
    ds = from_arrays(arrays)
    np.testing.assert_array_equal(ds.transitions.terminated, [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(ds.transitions.truncated, [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(ds.transitions.mask, [1, 1, 1, 1, 1, 0])  # timeouts bootstrap
    np.testing.assert_array_equal(episode_ends(ds), [0, 0, 1, 0, 0, 1])


def test_last_row_ends_an_episode():
    arrays = d4rl_arrays(episode_lengths=(3, 2), terminal_last=(False, False))
    arrays["timeouts"][-1] = False  # data stops mid-episode
    ds = from_arrays(arrays)
    np.testing.assert_array_equal(ds.transitions.truncated, [0, 0, 1, 0, 1])
    assert episode_ends(ds)[-1]


def test_episode_boundaries_recovered_from_next_obs():
    # Episodes of lengths 4 (time limit), 3 (terminal), 5 (cut by the end of the data).
    arrays = d4rl_arrays()
    del arrays["timeouts"]
    ds = from_arrays(arrays)
    expected_trunc = np.zeros(12)
    expected_trunc[[3, 11]] = 1  # the discontinuity after row 3, and the last row
    expected_term = np.zeros(12)
    expected_term[6] = 1  # a terminal is not also a truncation
    np.testing.assert_array_equal(ds.transitions.truncated, expected_trunc)
    np.testing.assert_array_equal(ds.transitions.terminated, expected_term)
    np.testing.assert_array_equal(np.flatnonzero(episode_ends(ds)), [3, 6, 11])
    r = arrays["rewards"].astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(episode_returns(ds), [r[:4].sum(), r[4:7].sum(), r[7:].sum()])
    # The same boundaries as with the explicit timeouts.
    with_timeouts = from_arrays(d4rl_arrays())
    np.testing.assert_array_equal(episode_ends(ds), episode_ends(with_timeouts))


def test_actions_clipped_like_references():
    arrays = d4rl_arrays()
    arrays["actions"][0] = [1.0005, -1.0]
    ds = from_arrays(arrays)
    np.testing.assert_allclose(ds.transitions.action[0], [1 - 1e-5, -1 + 1e-5], rtol=0, atol=1e-7)
    assert np.abs(ds.transitions.action).max() < 1.0


def tiny_two_episodes(rewards, terminals):
    n = len(rewards)
    obs = np.arange(n, dtype=np.float32)[:, None]
    next_obs = obs + 1
    next_obs[2] = 100.0  # episode 1 = rows 0..2, episode 2 = rows 3..4
    return from_arrays(
        {
            "observations": obs,
            "next_observations": next_obs,
            "actions": np.zeros((n, 1)),
            "rewards": np.asarray(rewards, np.float64),
            "terminals": np.asarray(terminals),
        }
    )


def test_with_mc_returns_hand_computed():
    # Episode 1 ends in a terminal, episode 2 is truncated by the end of the data; γ = 0.5.
    ds = tiny_two_episodes([1.0, 2.0, 4.0, 3.0, 2.0], [0, 0, 1, 0, 0])
    out = with_mc_returns(ds, 0.5)
    # G2 = 4, G1 = 2 + 0.5·4 = 4, G0 = 1 + 0.5·4 = 3; G4 = 2, G3 = 3 + 0.5·2 = 4.
    np.testing.assert_array_equal(out.transitions.mc_return, [3.0, 4.0, 4.0, 4.0, 2.0])
    assert out.transitions.mc_return.dtype == np.float32
    np.testing.assert_array_equal(ds.transitions.mc_return, 0.0)  # the input is unchanged
    np.testing.assert_array_equal(episode_returns(ds), [7.0, 5.0])


def test_with_mc_returns_sparse_rule():
    # Episode 1 is all r_neg = -1: G = -1 / (1 - 0.5) = -2 everywhere. Episode 2 reaches a goal.
    ds = tiny_two_episodes([-1.0, -1.0, -1.0, -1.0, 0.0], [0, 0, 0, 0, 1])
    out = with_mc_returns(ds, 0.5, sparse_reward=-1.0)
    np.testing.assert_array_equal(out.transitions.mc_return, [-2.0, -2.0, -2.0, -1.0, 0.0])
    assert out.metadata["mc_return_sparse_reward"] == -1.0
    # Without the rule the all-negative episode gets its finite-horizon sum.
    plain = with_mc_returns(ds, 0.5)
    np.testing.assert_array_equal(plain.transitions.mc_return, [-1.75, -1.5, -1.0, -1.0, 0.0])


def test_to_device():
    ds = from_arrays(d4rl_arrays())
    t = to_device(ds)
    assert isinstance(t.obs, jax.Array)
    np.testing.assert_array_equal(np.asarray(t.reward), ds.transitions.reward)


def test_data_dir_and_load_by_name(cache):
    assert data_dir() == cache and cache.is_dir()
    ds = from_arrays(d4rl_arrays(), metadata={"name": "tiny-v0"})
    save_npz(ds, cache / "tiny-v0.npz")
    assert_same(ds, load("tiny-v0"))
    save_hdf5(ds, cache / "tiny-v0.hdf5")  # .hdf5 takes precedence
    assert_same(ds, load("tiny-v0", spec=SPEC))
    assert_same(ds, load("tiny-v0.hdf5"))


def test_data_dir_default(monkeypatch, tmp_path):
    monkeypatch.delenv("JAXRL_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_dir() == tmp_path / ".cache" / "jaxrl" / "datasets"


def test_info_cli(cache, capsys):
    ds = from_arrays(d4rl_arrays(), metadata={"name": "tiny-v0", "task": "hopper"})
    save_hdf5(ds, cache / "tiny-v0.hdf5")
    assert info.main(["tiny-v0"]) == 0
    out = capsys.readouterr().out
    returns = episode_returns(ds)
    assert "transitions  12" in out
    assert "episodes     3  (1 terminated, 2 truncated or cut)" in out
    assert f"min {returns.min():.1f}" in out and f"max {returns.max():.1f}" in out
    score = np.mean(100 * (returns - 53.7) / (1127.1 - 53.7))  # hopper's registry references
    assert f"normalized   mean {score:.1f}" in out and "registry task 'hopper'" in out
    # The dataset's own references take precedence over the registry.
    meta = {"task": "hopper", "random_return": 0.0, "expert_return": 10.0}
    save_npz(from_arrays(d4rl_arrays(), metadata=meta), cache / "own.npz")
    assert info.main([str(cache / "own.npz")]) == 0
    out = capsys.readouterr().out
    assert f"mean {np.mean(10 * returns):.1f}" in out and "dataset metadata" in out
    # No references, no normalized line; a missing dataset is an error message, not a trace.
    save_npz(from_arrays(d4rl_arrays()), cache / "anon.npz")
    assert info.main(["anon"]) == 0
    assert "normalized" not in capsys.readouterr().out
    assert info.main(["nope-v0"]) == 1
    assert "not in the cache" in capsys.readouterr().err


def test_info_module_runs(cache):
    save_npz(from_arrays(d4rl_arrays()), cache / "tiny-v0.npz")
    env = dict(os.environ, JAXRL_DATA=str(cache), JAX_PLATFORMS="cpu")
    res = subprocess.run(
        [sys.executable, "-m", "jaxrl.data.info", "tiny-v0"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "episodes     3" in res.stdout


# --- bad inputs -------------------------------------------------------------------------------


def _drop(key):
    def edit(a):
        del a[key]

    return edit


def _set(key, index, value):
    def edit(a):
        a[key] = np.array(a[key], dtype=np.result_type(a[key], np.asarray(value)))
        a[key][index] = value

    return edit


def _replace(key, fn):
    def edit(a):
        a[key] = fn(a[key])

    return edit


# (id, edit of the arrays, spec, parts the message must contain in order)
BAD_ARRAYS = [
    ("missing_key", _drop("rewards"), None, ["'rewards'", "missing"]),
    ("mismatched_lengths", _replace("actions", lambda a: a[:9]), None, ["'actions'", "index 9"]),
    ("nan", _set("observations", (3, 1), np.nan), None, ["'observations'", "nan", "index 3"]),
    ("pos_inf", _set("rewards", 5, np.inf), None, ["'rewards'", "inf", "index 5"]),
    ("neg_inf_next", _set("next_observations", (8, 0), -np.inf), None, ["'next_obs", "index 8"]),
    ("float32_overflow", _set("rewards", 2, 1e300), None, ["'rewards'", "index 2"]),
    (
        "empty",
        lambda a: a.update({k: v[:0] for k, v in a.items()}),
        None,
        ["'observations'", "empty dataset (0 rows)"],
    ),
    (
        "obs_size",
        lambda a: None,
        EnvSpec(obs_dim=4, action_dim=ACT_DIM),
        ["'observations'", "observation size 3", "obs_dim 4"],
    ),
    (
        "action_size",
        lambda a: None,
        EnvSpec(obs_dim=OBS_DIM, action_dim=3),
        ["'actions'", "action size 2", "action_dim 3"],
    ),
    (
        "no_next_obs_nor_timeouts",
        lambda a: [a.pop("next_observations"), a.pop("timeouts")],
        None,
        ["'next_observations'", "missing", "'timeouts'"],
    ),
    (
        "integer_actions",
        _replace("actions", lambda a: np.zeros(a.shape, np.int64)),
        SPEC,
        ["'actions'", "integer actions for a continuous task"],
    ),
    ("actions_out_of_box", _set("actions", (4, 1), 1.5), SPEC, ["'actions'", "1.5", "index 4"]),
    ("actions_out_of_default_box", _set("actions", (6, 0), -3.0), None, ["'actions'", "index 6"]),
    ("terminal_not_bool", _set("terminals", 2, 2), None, ["'terminals'", "index 2"]),
    ("timeout_not_bool", _set("timeouts", 7, 0.5), None, ["'timeouts'", "index 7"]),
    ("obs_not_2d", _replace("observations", lambda a: a[:, 0]), None, ["'observations'", "2-D"]),
]


@pytest.mark.parametrize("fmt", ["hdf5", "npz"])
@pytest.mark.parametrize(
    "edit,spec,parts", [b[1:] for b in BAD_ARRAYS], ids=[b[0] for b in BAD_ARRAYS]
)
def test_bad_file_raises_and_is_not_modified(tmp_path, fmt, edit, spec, parts):
    arrays = d4rl_arrays()
    edit(arrays)
    path = tmp_path / f"bad-data.{fmt}"
    write_raw(path, arrays)
    before = sha256(path)
    with pytest.raises(DatasetError, match=pattern(path.name, *parts)):
        load(path, spec=spec)
    assert sha256(path) == before
    # The same check on the arrays directly names the given source.
    with pytest.raises(DatasetError, match=pattern("my-source", *parts)):
        validate(arrays, source="my-source", spec=spec)


def test_errors_say_how_to_fix():
    arrays = d4rl_arrays()
    arrays["observations"][3, 1] = np.nan
    with pytest.raises(DatasetError, match="Fix: "):
        from_arrays(arrays, source="x.hdf5")


def test_truncated_hdf5(tmp_path):
    path = tmp_path / "cut.hdf5"
    save_hdf5(from_arrays(d4rl_arrays(episode_lengths=(300, 300), terminal_last=(0, 0))), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = sha256(path)
    with pytest.raises(DatasetError, match=pattern("cut.hdf5", "truncated")):
        load(path)
    assert sha256(path) == before


def test_non_hdf5_with_hdf5_suffix(tmp_path):
    path = tmp_path / "fake.hdf5"
    path.write_text("observations,actions\n1,2\n")
    before = sha256(path)
    with pytest.raises(DatasetError, match=pattern("fake.hdf5", "not an HDF5 file")):
        load(path)
    assert sha256(path) == before


def test_npz_saved_as_hdf5(tmp_path):
    path = tmp_path / "renamed.hdf5"
    with open(path, "wb") as f:
        np.savez(f, **d4rl_arrays())
    with pytest.raises(DatasetError, match=pattern("renamed.hdf5", "rename it to .npz")):
        load(path)


def test_corrupt_npz(tmp_path):
    path = tmp_path / "cut.npz"
    save_npz(from_arrays(d4rl_arrays()), path)
    path.write_bytes(path.read_bytes()[:100])
    before = sha256(path)
    with pytest.raises(DatasetError, match=pattern("cut.npz", "unreadable npz")):
        load(path)
    assert sha256(path) == before


def test_bad_metadata_attr(tmp_path):
    path = tmp_path / "meta.hdf5"
    write_h5(path, d4rl_arrays(), attrs={"jaxrl_metadata": "{not json"})
    with pytest.raises(DatasetError, match=pattern("meta.hdf5", "'jaxrl_metadata'", "JSON")):
        load(path)


def test_unknown_dataset_name(cache):
    with pytest.raises(
        DatasetError,
        match=pattern(
            "halfcheetah-nope-v0",
            "not in the cache",
            "python experiments/make_datasets.py --datasets=halfcheetah-nope-v0",
        ),
    ):
        load("halfcheetah-nope-v0")


def test_missing_path(tmp_path):
    with pytest.raises(DatasetError, match=pattern("absent.hdf5", "no such file")):
        load(tmp_path / "absent.hdf5")


def test_metadata_must_be_json_able():
    with pytest.raises(DatasetError, match="JSON"):
        from_arrays(d4rl_arrays(), metadata={"bad": object()})
    ds = from_arrays(d4rl_arrays(), metadata={"r": np.float32(1.5), "v": np.arange(2)})
    assert ds.metadata == {"r": 1.5, "v": [0, 1]}
    assert type(ds.metadata["r"]) is float


def test_first_episodes_and_concatenate_keep_episode_boundaries():
    from jaxrl.data import concatenate, first_episodes
    from tests.helpers import random_arrays

    a = from_arrays(random_arrays(120, 3, 2, seed=0, episode=40), metadata={"name": "a"})
    b = from_arrays(random_arrays(90, 3, 2, seed=1, episode=30), metadata={"name": "b"})
    head = first_episodes(b, 2)
    assert head.size == 60 and head.metadata == {"name": "b"}
    np.testing.assert_array_equal(head.transitions.obs, b.transitions.obs[:60])
    assert first_episodes(b, 10).size == 90 and first_episodes(b, 0).size == 0
    both = concatenate([a, head], metadata={"name": "a+b"})
    assert both.size == 180 and both.metadata["name"] == "a+b"
    assert int(episode_ends(both).sum()) == 3 + 2
    np.testing.assert_array_equal(both.transitions.reward[120:], b.transitions.reward[:60])
    np.testing.assert_array_equal(both.transitions.next_obs[:120], a.transitions.next_obs)
