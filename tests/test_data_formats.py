"""External dataset formats: Minari datasets written by `minari` itself, D4RL files written by
plain h5py (with and without next observations), bad Minari files, and the transforms."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import h5py
import jax
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.buffers import dataset_sample
from jaxrl.checkpoint import OBS_NORMALIZER_JSON, from_saveable, load_policy, to_saveable
from jaxrl.data import DatasetError, transforms
from jaxrl.run import build, init_states, run
from jaxrl.specs import EnvSpec
from jaxrl.training import make_evaluator
from tests.helpers import TINY, random_arrays, tiny_config

OBS_DIM, ACT_DIM = 3, 2
SPEC = EnvSpec(obs_dim=OBS_DIM, action_dim=ACT_DIM)
EPS = data.dataset.ACTION_CLIP_EPS


def sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def pattern(*parts) -> str:
    return ".*".join(re.escape(str(p)) for p in parts)


# --- a few IQL steps on a loaded dataset --------------------------------------------------------


@pytest.fixture(scope="module")
def iql_steps():
    """`train(ds, steps) -> (metrics of every step, params before, params after)`.

    Batches are drawn outside the jitted update, so datasets of any size share one compilation.
    """
    agent = make_agent("iql", agent_config("iql", TINY["iql"]), SPEC)
    update = jax.jit(agent.update)

    def train(ds: data.Dataset, steps: int = 5):
        key, init_key = jax.random.split(jax.random.key(0))
        state = agent.init(init_key)
        before = jax.tree.map(np.asarray, state.params)
        dataset = data.to_device(ds)
        metrics = []
        for step_key in jax.random.split(key, steps):
            sample_key, update_key = jax.random.split(step_key)
            state, m = update(state, dataset_sample(dataset, sample_key, 32), update_key)
            metrics.append(jax.tree.map(float, m))
        assert update._cache_size() == 1
        return metrics, before, jax.tree.map(np.asarray, state.params)

    return train


def assert_trains(train, ds):
    metrics, before, after = train(ds)
    for m in metrics:
        assert all(np.isfinite(v) for v in m.values()), m
    assert {"critic_loss", "value_loss", "actor_loss"} <= set(metrics[0])
    for name in ("critic", "value", "actor"):
        changed = [
            not np.array_equal(a, b)
            for a, b in zip(
                jax.tree.leaves(before[name]), jax.tree.leaves(after[name]), strict=True
            )
        ]
        assert all(changed), name


# --- Minari -------------------------------------------------------------------------------------

# The Minari tests need the test extra (`pip install -e '.[test]'`); the rest of the module runs
# without it.
try:
    import gymnasium as gym
    import minari
except ImportError:
    gym = minari = None


def make_drift():
    """A 3-D point pushed by 2-D actions; episode i terminates after 3 + i % 5 steps (some
    episodes are cut by the 6-step time limit first). Registered as "JaxrlDrift-v0"."""

    class Drift(gym.Env):
        observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)

        def __init__(self):
            self.episode = -1

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.episode += 1
            self.t = 0
            self.x = self.np_random.normal(size=OBS_DIM).astype(np.float32)
            return self.x.copy(), {}

        def step(self, action):
            self.t += 1
            push = np.r_[action, action.sum()].astype(np.float32)
            self.x = (self.x + 0.1 * push).astype(np.float32)
            reward = float(-np.abs(self.x).sum())
            return self.x.copy(), reward, self.t >= 3 + self.episode % 5, False, {}

    return Drift()


@pytest.fixture(scope="module")
def minari_root(tmp_path_factory):
    if minari is None:
        pytest.skip("needs minari: pip install '.[test]'")
    root = tmp_path_factory.mktemp("minari")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINARI_DATASETS_PATH", str(root))
        if "JaxrlDrift-v0" not in gym.registry:
            gym.register("JaxrlDrift-v0", entry_point="tests.test_data_formats:make_drift")
        env = minari.DataCollector(gym.make("JaxrlDrift-v0", max_episode_steps=6))
        env.action_space.seed(0)
        for episode in range(6):
            env.reset(seed=episode)
            done = False
            while not done:
                _, _, term, trunc, _ = env.step(env.action_space.sample())
                done = term or trunc
        env.create_dataset(
            dataset_id="jaxrl/drift-v0",
            algorithm_name="random",
            ref_min_score=-10.0,
            ref_max_score=5.0,
            description="jaxrl test data",
        )
        yield root


@pytest.fixture
def minari_env(minari_root, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(minari_root))
    return minari_root


def minari_reference(dataset_id):
    """The D4RL-style rows of a Minari dataset, from minari's own loader."""
    episodes = list(minari.load_dataset(dataset_id).iterate_episodes())
    cat = lambda f: np.concatenate([f(e) for e in episodes])
    term = cat(lambda e: e.terminations)
    return episodes, {
        "obs": cat(lambda e: e.observations[:-1]),
        "next_obs": cat(lambda e: e.observations[1:]),
        "action": cat(lambda e: e.actions),
        "reward": cat(lambda e: e.rewards),
        "terminated": term,
        "truncated": cat(lambda e: e.truncations) & ~term,
    }


def test_minari_dataset_matches_minari_loader_and_trains(minari_env, iql_steps):
    episodes, ref = minari_reference("jaxrl/drift-v0")
    lengths = [len(e.rewards) for e in episodes]
    # Horizons 3..7 under a 6-step limit: episode 3 terminates at the limit (minari sets both
    # flags: a terminal), episode 4 is truncated.
    assert lengths == [3, 4, 5, 6, 6, 3]
    assert episodes[3].terminations[-1] and episodes[3].truncations[-1]
    # By id (under $MINARI_DATASETS_PATH), by directory and by the HDF5 file: the same data.
    main = minari_env / "jaxrl" / "drift-v0" / "data" / "main_data.hdf5"
    before = sha256(main)
    ds = data.load("jaxrl/drift-v0", spec=SPEC)
    for other in (minari_env / "jaxrl" / "drift-v0", main):
        t = data.load(other).transitions
        np.testing.assert_array_equal(t.obs, ds.transitions.obs)
    assert sha256(main) == before
    t = ds.transitions
    assert ds.size == sum(lengths) == 27
    np.testing.assert_array_equal(t.obs, ref["obs"])
    np.testing.assert_array_equal(t.next_obs, ref["next_obs"])  # the true final observations
    np.testing.assert_array_equal(t.action, np.clip(ref["action"], -1 + EPS, 1 - EPS))
    np.testing.assert_array_equal(t.reward, ref["reward"].astype(np.float32))
    np.testing.assert_array_equal(t.terminated, ref["terminated"])
    np.testing.assert_array_equal(t.truncated, ref["truncated"])
    ends = np.cumsum(lengths) - 1
    np.testing.assert_array_equal(np.flatnonzero(data.episode_ends(ds)), ends)
    np.testing.assert_array_equal(t.terminated[ends], [1, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(t.truncated[ends], [0, 0, 0, 0, 1, 0])
    np.testing.assert_allclose(
        data.episode_returns(ds), [e.rewards.sum() for e in episodes], rtol=1e-6
    )
    assert ds.metadata["name"] == "jaxrl/drift-v0"
    assert ds.metadata["source_format"] == "minari"
    assert ds.metadata["random_return"] == -10.0 and ds.metadata["expert_return"] == 5.0
    assert ds.metadata["env_id"] == "JaxrlDrift-v0"
    assert_trains(iql_steps, ds)


def test_minari_dict_observations_and_own_action_box(minari_env):
    """A Dict observation space and a [-2, 2] action box, written by create_dataset_from_buffers."""
    from minari.data_collector import EpisodeBuffer

    rng = np.random.default_rng(0)
    obs_space = gym.spaces.Dict(
        {
            "observation": gym.spaces.Box(-np.inf, np.inf, (3,), np.float32),
            "goal": gym.spaces.Box(-np.inf, np.inf, (2,), np.float32),
        }
    )
    act_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)
    buffers = []
    for i, steps in enumerate((4, 2)):
        buffers.append(
            EpisodeBuffer(
                id=i,
                observations={
                    "observation": rng.normal(size=(steps + 1, 3)).astype(np.float32),
                    "goal": rng.normal(size=(steps + 1, 2)).astype(np.float32),
                },
                actions=rng.uniform(-2, 2, (steps, 1)).astype(np.float32),
                rewards=list(rng.normal(size=steps)),
                terminations=[False] * (steps - 1) + [i == 1],
                truncations=[False] * (steps - 1) + [i == 0],
            )
        )
    minari.create_dataset_from_buffers(
        "jaxrl/goal-v0", buffers, observation_space=obs_space, action_space=act_space
    )
    episodes = list(minari.load_dataset("jaxrl/goal-v0").iterate_episodes())
    ds = data.load("jaxrl/goal-v0")
    # gymnasium orders a Dict space built from a plain dict by key: goal, then observation.
    flat = [
        np.concatenate([e.observations["goal"], e.observations["observation"]], 1) for e in episodes
    ]
    np.testing.assert_array_equal(ds.transitions.obs, np.concatenate([f[:-1] for f in flat]))
    np.testing.assert_array_equal(ds.transitions.next_obs, np.concatenate([f[1:] for f in flat]))
    for e, f in zip(episodes, flat, strict=True):
        np.testing.assert_array_equal(
            gym.spaces.flatten(obs_space, {k: v[0] for k, v in e.observations.items()}), f[0]
        )
    # Without a spec, actions are checked and clipped against the dataset's own [-2, 2] box.
    actions = np.concatenate([e.actions for e in episodes])
    np.testing.assert_array_equal(
        ds.transitions.action, np.clip(actions, -2 + 2 * EPS, 2 - 2 * EPS)
    )
    np.testing.assert_array_equal(ds.transitions.terminated, [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(ds.transitions.truncated, [0, 0, 0, 1, 0, 0])
    # Chosen keys, in the given order.
    only = data.load_minari("jaxrl/goal-v0", observation_keys=["observation"])
    np.testing.assert_array_equal(
        only.transitions.obs, np.concatenate([e.observations["observation"][:-1] for e in episodes])
    )
    # A jaxrl task's [-1, 1] box rejects the [-2, 2] actions, naming the episode and row.
    spec = EnvSpec(obs_dim=5, action_dim=1)
    i, row = next(
        (i, r)
        for i, e in enumerate(episodes)
        for r in range(len(e.actions))
        if abs(e.actions[r, 0]) > 1 + 1e-3
    )
    with pytest.raises(DatasetError, match=pattern(f"episode_{i}", "'actions'", f"index {row}")):
        data.load("jaxrl/goal-v0", spec=spec)


def copy_minari(minari_root, tmp_path):
    """A copy of the drift dataset's main file to damage."""
    path = tmp_path / "drift" / "data" / "main_data.hdf5"
    path.parent.mkdir(parents=True)
    shutil.copy(minari_root / "jaxrl" / "drift-v0" / "data" / "main_data.hdf5", path)
    shutil.copy(minari_root / "jaxrl" / "drift-v0" / "data" / "metadata.json", path.parent)
    return path


def _h5_edit(fn):
    def edit(path):
        with h5py.File(path, "a") as f:
            fn(f)

    return edit


def _set(key, index, value):
    def fn(f):
        a = f[key][()]
        a = a.astype(np.result_type(a, np.asarray(value)))
        a[index] = value
        del f[key]
        f.create_dataset(key, data=a)

    return _h5_edit(fn)


def _resize(key, rows):
    def fn(f):
        a = f[key][()][:rows]
        del f[key]
        f.create_dataset(key, data=a)

    return _h5_edit(fn)


def _delete(key):
    return _h5_edit(lambda f: f.__delitem__(key))


def _cut(fraction):
    def edit(path):
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * fraction)])

    return edit


def _text(path):
    path.write_text("observations,actions\n0.1,0.2\n")


def _empty(path):
    with h5py.File(path, "w") as f:
        f.attrs["total_episodes"] = 0


# (id, edit of the copied file, spec, parts the message must contain in order); the message
# always starts with the file's path.
BAD_MINARI = [
    ("missing_key", _delete("episode_2/rewards"), None, ["'episode_2/rewards'", "missing"]),
    (
        "nan",
        _set("episode_1/observations", (2, 1), np.nan),
        None,
        ["'episode_1/observations'", "nan", "index 2"],
    ),
    (
        "nan_final_obs",
        _set("episode_0/observations", (3, 0), np.nan),
        None,
        ["'episode_0/observations'", "index 3"],
    ),
    (
        "pos_inf",
        _set("episode_3/rewards", 4, np.inf),
        None,
        ["'episode_3/rewards'", "inf", "index 4"],
    ),
    (
        "mismatched_lengths",
        _resize("episode_2/actions", 3),
        None,
        ["'episode_2/actions'", "3 rows", "index 3"],
    ),
    (
        "obs_not_t_plus_1",
        _resize("episode_4/observations", 6),
        None,
        ["'episode_4/observations'", "expected 7", "index 6"],
    ),
    (
        "out_of_box",
        _set("episode_1/actions", (2, 1), 1.5),
        None,
        ["episode_1", "'actions'", "1.5", "index 2"],
    ),
    (
        "wrong_obs_size",
        lambda p: None,
        EnvSpec(obs_dim=4, action_dim=ACT_DIM),
        ["episode_0", "'observations'", "size 3", "obs_dim 4"],
    ),
    ("empty", _empty, None, ["'episode_0'", "no episode groups"]),
    ("truncated", _cut(0.6), None, ["truncated"]),
    ("text", _text, None, ["not an HDF5 file"]),
]


@pytest.mark.parametrize(
    "edit,spec,parts", [b[1:] for b in BAD_MINARI], ids=[b[0] for b in BAD_MINARI]
)
def test_bad_minari_file(minari_root, tmp_path, edit, spec, parts):
    path = copy_minari(minari_root, tmp_path)
    edit(path)
    before = sha256(path)
    for source in (path, path.parent.parent):  # the file, and the dataset directory
        with pytest.raises(DatasetError, match=pattern(path, *parts)):
            data.load(source, spec=spec)
    assert sha256(path) == before


def test_integer_minari_actions_are_rejected(minari_root, tmp_path):
    path = copy_minari(minari_root, tmp_path)

    def fn(f):
        a = f["episode_0/actions"][()]
        del f["episode_0/actions"]
        f.create_dataset("episode_0/actions", data=np.zeros(a.shape, np.int64))

    _h5_edit(fn)(path)
    with pytest.raises(DatasetError, match=pattern(path, "episode_0", "integer actions")):
        data.load(path)


def test_minari_id_not_found(minari_env):
    with pytest.raises(DatasetError, match=pattern("jaxrl/absent-v0", "no such file", "Minari")):
        data.load("jaxrl/absent-v0")
    with pytest.raises(DatasetError, match=pattern("absent-v0", "not in the cache", "Minari")):
        data.load("absent-v0")


def test_minari_arrow_format_is_named(tmp_path):
    directory = tmp_path / "arrow-v0" / "data"
    directory.mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps({"data_format": "arrow"}))
    with pytest.raises(DatasetError, match=pattern("main_data.hdf5", "'arrow'", "hdf5")):
        data.load(tmp_path / "arrow-v0")


# --- D4RL files written by plain h5py ---------------------------------------------------------


def raw_d4rl(lengths=(5, 4, 6, 3), ends=("timeout", "terminal", "timeout", "cut"), seed=0):
    """The arrays of a raw D4RL `get_dataset()` file: one row per step, no next observations.

    A "timeout" episode ends with timeouts=1 on its last row, a "terminal" one with
    terminals=1, and "cut" is stopped by the end of the data.
    """
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    term, tout = np.zeros(n, bool), np.zeros(n, bool)
    for last, kind in zip(np.cumsum(lengths) - 1, ends, strict=True):
        term[last] = kind == "terminal"
        tout[last] = kind == "timeout"
    return {
        "observations": rng.normal(size=(n, OBS_DIM)),
        "actions": rng.uniform(-1, 1, (n, ACT_DIM)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "terminals": term,
        "timeouts": tout,
    }


def qlearning_reference(arrays):
    """D4RL's `qlearning_dataset(terminate_on_end=False)` rule, one row at a time."""
    rows = []
    for i in range(len(arrays["rewards"]) - 1):
        if arrays["timeouts"][i]:
            continue  # the next observation is the next episode's first: drop the row
        rows.append(i)
    rows = np.array(rows)
    obs = arrays["observations"].astype(np.float32)
    return rows, obs[rows], obs[rows + 1]


def write_d4rl(path, arrays):
    """A D4RL-layout file written with h5py only, with the extra keys D4RL files carry."""
    n = len(arrays["rewards"])
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        f.create_dataset("infos/qpos", data=np.zeros((n, 4)))
        f.create_dataset("infos/action_log_probs", data=np.zeros(n))
        f.create_dataset("metadata/algorithm", data=np.bytes_(b"SAC"))
        f.attrs["env"] = "hopper-medium-v2"


def test_d4rl_file_without_next_observations(tmp_path, iql_steps):
    arrays = raw_d4rl()
    path = tmp_path / "hopper-medium-v2.hdf5"
    write_d4rl(path, arrays)
    before = sha256(path)
    ds = data.load(path, spec=SPEC)
    assert sha256(path) == before
    rows, obs, next_obs = qlearning_reference(arrays)
    # Rows 4 and 14 (timeouts) and 17 (the last) are dropped.
    np.testing.assert_array_equal(rows, [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16])
    t = ds.transitions
    assert ds.size == 15 and ds.metadata["dropped_rows"] == 3
    assert ds.metadata["rebuilt_next_observations"] is True
    np.testing.assert_array_equal(t.obs, obs)
    np.testing.assert_array_equal(t.next_obs, next_obs)
    np.testing.assert_array_equal(t.action, np.clip(arrays["actions"][rows], -1 + EPS, 1 - EPS))
    np.testing.assert_array_equal(t.reward, arrays["rewards"][rows])
    # Episode 1 (timeout) now ends at row 3, whose next observation is row 4's: it bootstraps.
    # Episode 2 ends at its terminal (original row 8); episode 3 (timeout) at row 13; the cut
    # episode at row 16, the last kept row.
    kept_end = {3: "truncated", 8: "terminated", 13: "truncated", 16: "truncated"}
    for field in ("terminated", "truncated"):
        expected = [kept_end.get(r) == field for r in rows]
        np.testing.assert_array_equal(getattr(t, field), expected, err_msg=field)
    np.testing.assert_array_equal(t.mask, 1 - t.terminated)  # timeouts are not terminals
    # Within an episode, next_obs[t] is obs[t + 1]; never across a boundary that bootstraps.
    ends = data.episode_ends(ds)
    np.testing.assert_array_equal(t.next_obs[:-1][~ends[:-1]], t.obs[1:][~ends[:-1]])
    assert_trains(iql_steps, ds)


def test_d4rl_file_with_next_observations(tmp_path):
    arrays = raw_d4rl()
    n = len(arrays["rewards"])
    arrays["next_observations"] = np.random.default_rng(1).normal(size=(n, OBS_DIM))
    path = tmp_path / "with-next.hdf5"
    write_d4rl(path, arrays)
    ds = data.load(path)
    t = ds.transitions
    assert ds.size == n and "dropped_rows" not in ds.metadata  # every row kept as it is
    np.testing.assert_array_equal(t.next_obs, arrays["next_observations"].astype(np.float32))
    np.testing.assert_array_equal(t.terminated, arrays["terminals"])
    # A timeout is a truncation; the cut last episode ends with the data.
    expected = arrays["timeouts"].copy()
    expected[-1] = True
    np.testing.assert_array_equal(t.truncated, expected)


def test_d4rl_without_next_observations_or_timeouts(tmp_path):
    arrays = raw_d4rl()
    del arrays["timeouts"]
    path = tmp_path / "no-timeouts.hdf5"
    write_d4rl(path, arrays)
    before = sha256(path)
    with pytest.raises(DatasetError, match=pattern(path, "'next_observations'", "'timeouts'")):
        data.load(path)
    assert sha256(path) == before


def test_d4rl_nothing_left_after_dropping(tmp_path):
    arrays = raw_d4rl(lengths=(1, 1), ends=("timeout", "cut"))
    with pytest.raises(DatasetError, match=pattern("'next_observations'", "none of the 2 rows")):
        data.from_arrays(arrays, source="tiny.hdf5")


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.95])
def test_truncated_d4rl_file(tmp_path, fraction):
    path = tmp_path / "cut-d4rl.hdf5"
    write_d4rl(path, raw_d4rl(lengths=(200, 200), ends=("timeout", "timeout")))
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])
    before = sha256(path)
    with pytest.raises(DatasetError, match=pattern(path, "truncated or corrupt")):
        data.load(path)
    assert sha256(path) == before


# --- transforms ---------------------------------------------------------------------------------


def tiny_dataset():
    # Two episodes: rows 0-2 (terminal at 2), rows 3-4 (cut by the end of the data).
    obs = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 1.0], [6.0, 1.0], [8.0, 1.0]], np.float32)
    next_obs = obs + np.array([2.0, 0.0], np.float32)
    next_obs[2] = [100.0, 1.0]
    return data.from_arrays(
        {
            "observations": obs,
            "next_observations": next_obs,
            "actions": np.array([[0.1], [0.2], [0.3], [0.4], [0.5]]),
            "rewards": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
            "terminals": np.array([0, 0, 1, 0, 0]),
        }
    )


def test_obs_normalizer_numbers():
    ds = tiny_dataset()
    norm = data.obs_normalizer(ds)
    # Column 0: mean 4, population std sqrt(8); column 1 is constant: std 0 + eps.
    np.testing.assert_allclose(norm.mean, [4.0, 1.0])
    np.testing.assert_allclose(norm.std, [np.sqrt(8.0) + 1e-3, 1e-3], rtol=1e-6)
    assert norm.mean.dtype == norm.std.dtype == np.float32
    out = data.normalize_obs(ds, norm)
    np.testing.assert_array_equal(out.transitions.obs, (ds.transitions.obs - norm.mean) / norm.std)
    np.testing.assert_array_equal(
        out.transitions.next_obs, (ds.transitions.next_obs - norm.mean) / norm.std
    )
    np.testing.assert_array_equal(out.transitions.obs[:, 1], 0.0)
    assert out.metadata["obs_normalized"] is True
    np.testing.assert_array_equal(ds.transitions.obs[:, 0], [0, 2, 4, 6, 8])  # input unchanged
    # RIQL's statistics over observations and next observations together.
    both = data.obs_normalizer(ds, include_next_obs=True, eps=0.0)
    stacked = np.concatenate([ds.transitions.obs, ds.transitions.next_obs]).astype(np.float64)
    np.testing.assert_allclose(both.mean, stacked.mean(0), rtol=1e-6)
    np.testing.assert_allclose(both.std, stacked.std(0), rtol=1e-6)
    # The JSON round trip is exact, and the normalizer works on jax arrays under jit.
    back = transforms.ObsNormalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_array_equal(back.mean, norm.mean)
    np.testing.assert_array_equal(back.std, norm.std)
    jitted = jax.jit(lambda o: norm(o))(ds.transitions.obs)
    np.testing.assert_allclose(np.asarray(jitted), out.transitions.obs, rtol=1e-6)


def test_reward_scale_and_action_clip():
    ds = tiny_dataset()
    out = data.scale_rewards(ds, scale=10.0, bias=-5.0)
    np.testing.assert_array_equal(out.transitions.reward, [5.0, 15.0, 25.0, 35.0, 45.0])
    np.testing.assert_array_equal(ds.transitions.reward, [1, 2, 3, 4, 5])
    clipped = data.clip_actions(ds, low=-0.25, high=0.25, eps=0.1)  # ±(0.25 − 0.025)
    np.testing.assert_allclose(clipped.transitions.action[:, 0], [0.1, 0.2, 0.225, 0.225, 0.225])
    exact = data.clip_actions(ds, low=-0.25, high=0.25, eps=0.0)
    np.testing.assert_allclose(exact.transitions.action[:, 0], [0.1, 0.2, 0.25, 0.25, 0.25])


def test_next_actions_within_episodes():
    ds = tiny_dataset()
    a = ds.transitions.action[:, 0]
    copy = data.next_actions(ds)
    # Rows 0, 1 and 3 take the following action; episode ends (rows 2 and 4) copy their own.
    np.testing.assert_array_equal(copy[:, 0], [a[1], a[2], a[2], a[4], a[4]])
    zero = data.next_actions(ds, at_end="zero")
    np.testing.assert_array_equal(zero[:, 0], [a[1], a[2], 0.0, a[4], 0.0])
    assert copy.shape == ds.transitions.action.shape and copy.dtype == np.float32
    with pytest.raises(ValueError, match="at_end"):
        data.next_actions(ds, at_end="last")


# --- normalize_obs in the training loop ---------------------------------------------------------


@pytest.fixture(scope="module")
def shifted_dataset(tmp_path_factory):
    """A halfcheetah-sized dataset whose observations have mean ≈ 5 and std ≈ 3 per dimension,
    so that normalized and raw observations differ."""
    arrays = random_arrays(256, 17, 6)
    for key in ("observations", "next_observations"):
        arrays[key] = arrays[key] * 3.0 + 5.0
    path = tmp_path_factory.mktemp("norm") / "shifted.hdf5"
    data.save_hdf5(data.from_arrays(arrays, metadata={"task": "halfcheetah"}), path)
    return str(path)


@pytest.fixture(scope="module")
def normalized_built(shifted_dataset):
    return build(tiny_config("iql", dataset=shifted_dataset, normalize_obs=True, num_envs=2))


def test_normalize_obs_offline_online_and_evaluation(normalized_built, shifted_dataset):
    built = normalized_built
    raw = data.load(shifted_dataset)
    norm = built.obs_normalizer
    expected = data.obs_normalizer(raw)
    np.testing.assert_array_equal(norm.mean, expected.mean)
    np.testing.assert_array_equal(norm.std, expected.std)
    np.testing.assert_allclose(np.asarray(built.dataset.obs), norm(raw.transitions.obs), rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(built.dataset.next_obs), norm(raw.transitions.next_obs), rtol=1e-6
    )

    states = init_states(built)
    for _ in range(2):
        states, _ = built.offline_chunk(states, built.dataset)
    states = built.switch(states)
    # Run 0's envs, copied before the chunk donates them (through key data: indexing a key
    # array would count as a use for the key-reuse checker).
    first = lambda tree: jax.tree.map(lambda x: x[0], tree)
    env0 = from_saveable(first(to_saveable(states.env)), jax.eval_shape(first, states.env))
    states, _ = built.online_chunk(states, built.dataset)
    states, metrics = built.online_chunk(states, built.dataset)
    assert np.isfinite(np.asarray(metrics["critic_loss"])).all()
    for fn in (built.offline_chunk, built.online_chunk, built.switch):
        assert fn._cache_size() == 1

    # Replay run 0's recorded actions in its envs: the buffer holds the normalized raw
    # observations, both before and after each step.
    n_env, steps = built.config.num_envs, 2 * built.config.chunk_length // built.config.num_envs
    rows = jax.tree.map(lambda x: np.asarray(x[0, : steps * n_env]), states.buffer.data)
    step_rows = lambda x: x.reshape((steps, n_env) + x.shape[1:])

    @jax.jit
    def replay(env_state, actions):
        def body(es, a):
            es, out = jax.vmap(built.env.step)(es, a)
            return es, (out.obs, out.next_obs)

        return jax.lax.scan(body, env_state, actions)[1]

    raw_obs, raw_next = (np.asarray(x) for x in replay(env0, step_rows(rows.action)))
    np.testing.assert_allclose(step_rows(rows.obs), norm(raw_obs), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(step_rows(rows.next_obs), norm(raw_next), rtol=1e-5, atol=1e-6)
    assert np.abs(step_rows(rows.obs) - raw_obs).mean() > 1.0  # normalization did something

    # Evaluation acts on normalized observations: the same returns as a policy that
    # normalizes inside `act`, evaluated without a normalizer.
    agent = built.agent
    wrapped = agent._replace(act=lambda s, o, k, d: agent.act(s, norm(o), k, d))
    plain = make_evaluator(wrapped, built.env, built.config.eval_episodes)
    keys = jax.random.split(jax.random.key(3), built.config.num_runs)
    returns = np.asarray(built.evaluate(states.agent, keys))
    np.testing.assert_allclose(returns, np.asarray(plain(states.agent, jax.random.clone(keys))))
    built.evaluate(states.agent, jax.random.clone(keys))
    assert built.evaluate._cache_size() == 1


def test_riql_normalizes_with_observations_and_next_observations(shifted_dataset):
    """RIQL's statistics cover obs and next_obs together; IQL's (CORL's) obs only."""
    raw = data.load(shifted_dataset)
    built = build(tiny_config("riql", dataset=shifted_dataset, normalize_obs=True))
    both = np.concatenate([raw.transitions.obs, raw.transitions.next_obs]).astype(np.float64)
    np.testing.assert_allclose(built.obs_normalizer.mean, both.mean(0), rtol=1e-6)
    np.testing.assert_allclose(
        built.obs_normalizer.std, both.std(0) + transforms.OBS_NORM_EPS, rtol=1e-6
    )
    obs_only = data.obs_normalizer(raw)
    assert np.abs(built.obs_normalizer.mean - obs_only.mean).max() > 1e-3


def test_normalize_obs_is_saved_and_applied_by_load_policy(normalized_built, tmp_path):
    built = normalized_built
    final = {}

    def on_eval(step, states, returns):
        final["agent"] = jax.tree.map(lambda x: x[0], states.agent)

    run(built.config, tmp_path, progress=False, on_eval=on_eval)
    norm = built.obs_normalizer
    stored = json.loads((tmp_path / OBS_NORMALIZER_JSON).read_text())
    assert stored == norm.to_dict()
    policy = load_policy(tmp_path, run_index=0)
    np.testing.assert_array_equal(policy.obs_normalizer.mean, norm.mean)
    np.testing.assert_array_equal(policy.obs_normalizer.std, norm.std)
    raw_obs = np.random.default_rng(0).normal(5.0, 3.0, size=(4, 17)).astype(np.float32)
    expected = jax.vmap(lambda o: built.agent.act(final["agent"], o, jax.random.key(0), True))(
        norm(raw_obs)
    )
    np.testing.assert_allclose(np.asarray(policy(raw_obs)), np.asarray(expected), atol=1e-6)
    # The checkpoint carries the statistics too: the policy does not need the JSON file.
    (tmp_path / OBS_NORMALIZER_JSON).unlink()
    again = load_policy(tmp_path, run_index=0)
    np.testing.assert_allclose(np.asarray(again(raw_obs)), np.asarray(expected), atol=1e-6)
