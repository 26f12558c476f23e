"""The generated benchmark suite: medium selection, replay slices, medium-expert, manifests,
checksums and reproducibility.

The SAC run is replaced by a hand-made cached run record (a real tiny SAC run costs minutes of
compilation on a 2-core CPU), so every dataset below is built by the real `generate` code from
that record: rollouts of the uniform policy and of a SAC actor on inverted_pendulum, and slices
of a replay buffer whose rows encode (time, env) so that the ordering can be checked by hand.
"""

from __future__ import annotations

import json
import re

import jax
import numpy as np
import pytest
from flax import serialization

from jaxrl.agents.registry import make_agent
from jaxrl.data import DatasetError, episode_ends, episode_returns, suite
from jaxrl.data import generate as gen
from jaxrl.envs import make_env

TASK, PRESET = "inverted_pendulum", "tiny"
P = gen.PRESETS[PRESET]
MEDIUM_STEP = 1_000  # of P.sac_steps = 2,000: half the buffer
REFS = {"random_return": 20.0, "expert_return": 200.0}


def fake_buffer(rows: int, num_envs: int) -> dict[str, np.ndarray]:
    """Insertion-ordered rows as `buffer_add` writes them: row r is (time r // E, env r % E)."""
    r = np.arange(rows)
    t, e = r // num_envs, r % num_envs
    obs = np.stack([t, e, np.zeros(rows), np.zeros(rows)], axis=1).astype(np.float32)
    terminated = ((t % 37 == 36) & (e == 1)).astype(np.float32)
    truncated = ((t % 50 == 49) & (terminated == 0)).astype(np.float32)
    return {
        "obs": obs,
        "action": np.zeros((rows, 1), np.float32),
        "reward": t.astype(np.float32),
        "terminated": terminated,
        "truncated": truncated,
        "next_obs": obs + np.array([1, 0, 0, 0], np.float32),
    }


def write_record(root, seed: int = 0) -> None:
    """The cached SAC record `generate.train_sac` would have written."""
    env = make_env(TASK)
    sac = make_agent("sac", gen._sac_config(TASK, P, seed).agent_config(), env.spec)
    k1, k2 = jax.random.split(jax.random.key(seed))
    actor = lambda k: jax.tree.map(np.asarray, sac.init(k).params["actor"])
    meta = {
        "task": TASK,
        "seed": seed,
        "preset": PRESET,
        "generator_version": suite.GENERATOR_VERSION,
        **REFS,
        "expert_step": P.sac_steps,
        "medium_step": MEDIUM_STEP,
        "sac_snapshots": [[0, 1.0, 2.0, 3.0]],
        "built_with": SAC_BUILT_WITH,
    }
    record = {
        "meta": meta,
        "expert": actor(k1),
        "medium": actor(k2),
        "buffer": fake_buffer(P.sac_steps, P.num_envs),
    }
    d = suite.suite_dir(PRESET, seed, root)
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{TASK}-sac-seed{seed}.msgpack").write_bytes(serialization.msgpack_serialize(record))


SAC_BUILT_WITH = {"jaxrl": "0.0.9", "jaxrl_commit": "0123456789ab", "jax": "0.9", "brax": "0.1"}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """Two cache roots holding the whole suite built from the same seed-0 record."""
    out = []
    for i in range(2):
        root = tmp_path_factory.mktemp(f"suite{i}")
        write_record(root)
        for kind in gen.KINDS:
            gen.generate(f"{TASK}-{kind}-v0", PRESET, 0, root, progress=False)
        out.append(root)
    return out


def load(root, kind):
    return suite.load(f"{TASK}-{kind}-v0", PRESET, 0, root)


def streams(ds, num_streams):
    """[streams, T] view of the observations' time and env columns."""
    obs = np.asarray(ds.transitions.obs)
    return obs[:, 0].reshape(num_streams, -1), obs[:, 1].reshape(num_streams, -1)


def test_select_medium_prefers_band_then_target():
    # References 0 and 100, so returns are normalized scores. In the band [20, 60]: 45 and 30;
    # 30 is nearest to 33.3. The 18 is nearer to 33.3 than 45 but outside the band.
    assert gen.select_medium([0, 10, 18, 45, 30, 70, 100], 0.0, 100.0) == (4, True)
    # A curve that jumps over the band: the nearest snapshot, flagged as outside.
    assert gen.select_medium([0, 15, 65, 100], 0.0, 100.0) == (1, False)
    # References matter: with random -100 and expert 200 the return 0 scores 33.3.
    assert gen.select_medium([-100, 0, 50, 200], -100.0, 200.0) == (1, True)
    # Band edges are inclusive, and the earliest of equal candidates wins.
    assert gen.select_medium([20, 60, 20], 0.0, 100.0) == (0, True)
    with pytest.raises(ValueError, match="non-empty"):
        gen.select_medium([], 0.0, 100.0)


def test_select_expert_takes_the_best_stochastic_snapshot():
    # A run that peaks and then degrades (hopper's CPU run): the peak, not the last snapshot.
    assert gen.select_expert([100.0, 900.0, 1000.0, 650.0]) == 2
    # The latest of equal returns (the most trained of equally good policies).
    assert gen.select_expert([5.0, 7.0, 7.0, 1.0]) == 2
    with pytest.raises(ValueError, match="non-empty"):
        gen.select_expert([])


def test_expert_noise_scales_the_gaussian_std():
    env = make_env(TASK)
    sac = make_agent("sac", gen._sac_config(TASK, P, 0).agent_config(), env.spec)
    state = sac.init(jax.random.key(3))
    params = state.params["actor"]
    obs = np.array([0.1, -0.2, 0.3, 0.05], np.float32)
    key = lambda: jax.random.key(7)  # a fresh copy of one key per use (key-reuse checks)
    act = lambda noise, det=False: np.asarray(
        gen._sac_agent(TASK, P, 0, env, noise)(params, obs, key(), det)
    )
    # noise 1 is SAC's own sampling; deterministic ignores the noise.
    np.testing.assert_array_equal(act(1.0), np.asarray(sac.act(state, obs, key(), False)))
    np.testing.assert_array_equal(act(0.5, True), np.asarray(sac.act(state, obs, key(), True)))
    # Otherwise tanh(mean + noise * std * eps), with eps the normal draw of the same key.
    from jaxrl.networks import GaussianPolicy

    mean, log_std = GaussianPolicy(env.spec.action_dim, P.hidden_dims).apply(params, obs)
    eps = np.asarray(jax.random.normal(key(), mean.shape))
    expected = np.tanh(np.asarray(mean) + 0.5 * np.exp(np.asarray(log_std)) * eps)
    np.testing.assert_allclose(act(0.5), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(act(0.0), np.asarray(sac.act(state, obs, key(), True)), atol=1e-6)


def test_names_and_cache_layout(tmp_path):
    assert gen.parse_name("halfcheetah-medium-replay-v0") == ("halfcheetah", "medium-replay")
    assert gen.parse_name("hopper-medium-expert-v0") == ("hopper", "medium-expert")
    assert gen.parse_name("ant-full-replay-v0") == ("ant", "full-replay")
    assert gen.parse_name("walker2d-medium-v0") == ("walker2d", "medium")
    with pytest.raises(ValueError, match="kind in"):
        gen.parse_name("hopper-replay-v0")
    assert suite.dataset_path("a-medium-v0", "cpu", 0, tmp_path) == tmp_path / "a-medium-v0.hdf5"
    assert suite.dataset_path("a-medium-v0", "d4rl", 0, tmp_path).parent == tmp_path / "d4rl"
    assert suite.suite_dir("cpu", 3, tmp_path) == tmp_path / "seed3"


def test_replay_datasets_slice_the_buffer(roots):
    n = P.num_envs
    full, medium = load(roots[0], "full-replay"), load(roots[0], "medium-replay")
    assert full.size == P.sac_steps and medium.size == MEDIUM_STEP
    ft, fe = streams(full, n)
    mt, me = streams(medium, n)
    # One time-ordered stream per environment, and medium-replay's stream e is the first
    # MEDIUM_STEP / E steps of full-replay's stream e: all data collected before that step.
    np.testing.assert_array_equal(fe, np.repeat(np.arange(n)[:, None], P.sac_steps // n, 1))
    np.testing.assert_array_equal(ft, np.tile(np.arange(P.sac_steps // n), (n, 1)))
    np.testing.assert_array_equal(mt, ft[:, : MEDIUM_STEP // n])
    np.testing.assert_array_equal(me, fe[:, : MEDIUM_STEP // n])
    for ds, steps in ((full, P.sac_steps // n), (medium, MEDIUM_STEP // n)):
        t = ds.transitions
        time = np.asarray(t.obs)[:, 0].astype(int)
        env = np.asarray(t.obs)[:, 1].astype(int)
        term = (time % 37 == 36) & (env == 1)
        # Terminals are the buffer's; time-outs are the buffer's plus each stream's last row.
        np.testing.assert_array_equal(np.asarray(t.terminated) > 0, term)
        timeout = ((time % 50 == 49) | (time == steps - 1)) & ~term
        np.testing.assert_array_equal(np.asarray(t.truncated) > 0, timeout)


def test_medium_expert_is_medium_then_expert(roots):
    med, exp, both = (load(roots[0], k) for k in ("medium", "expert", "medium-expert"))
    assert both.size == med.size + exp.size == 2 * P.size
    for field in ("obs", "action", "reward", "terminated", "truncated", "next_obs"):
        np.testing.assert_array_equal(
            getattr(both.transitions, field),
            np.concatenate([getattr(med.transitions, field), getattr(exp.transitions, field)]),
        )
    assert episode_ends(both).sum() == episode_ends(med).sum() + episode_ends(exp).sum()
    # The policies differ, so the halves are different data.
    assert not np.array_equal(med.transitions.action, exp.transitions.action)


def test_manifests_record_references_and_checksum(roots):
    for kind in gen.KINDS:
        path = suite.dataset_path(f"{TASK}-{kind}-v0", PRESET, 0, roots[0])
        m = json.loads(suite.manifest_path(path).read_text())
        assert m["sha256"] == suite.sha256_file(path)
        assert (m["random_return"], m["expert_return"]) == (20.0, 200.0)
        assert (m["preset"], m["seed"], m["kind"]) == (PRESET, 0, kind)
        assert m["generator_version"] == suite.GENERATOR_VERSION
        ds = load(roots[0], kind)
        assert m["size"] == ds.size and m["episodes"] == episode_ends(ds).sum()
        returns = episode_returns(ds)
        score = np.mean(100 * (returns - 20.0) / 180.0)
        np.testing.assert_allclose(m["data_normalized_score"], score, rtol=1e-6)
        assert ds.metadata["expert_return"] == 200.0  # the references travel in the file too
        # What built the file and the SAC run: in the manifest, kept out of the file's bytes.
        assert m["built_with"] == suite.provenance()
        assert m["built_with"]["jax"] == jax.__version__
        assert m["sac_built_with"] == SAC_BUILT_WITH
        assert "built_with" not in ds.metadata and "sac_built_with" not in ds.metadata


def test_info_prints_what_built_a_generated_file(roots, capsys):
    from jaxrl.data import info

    path = suite.dataset_path(f"{TASK}-medium-v0", PRESET, 0, roots[0])
    assert info.main([str(path)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    b = suite.provenance()
    assert line.startswith("built with") and f"jax {jax.__version__}" in line
    if b["jaxrl_commit"]:  # a git checkout: its commit, "-dirty" when tracked files changed
        assert f"@ {b['jaxrl_commit']}" in line
        assert re.fullmatch(r"[0-9a-f]{12}(-dirty)?", b["jaxrl_commit"])


def test_same_seed_gives_identical_files(roots):
    for kind in gen.KINDS:
        a, b = (suite.dataset_path(f"{TASK}-{kind}-v0", PRESET, 0, r) for r in roots)
        assert a.read_bytes() == b.read_bytes(), kind


def test_other_seed_gives_other_rollouts(roots, tmp_path):
    write_record(tmp_path, seed=1)
    path = gen.generate(f"{TASK}-random-v0", PRESET, 1, tmp_path, progress=False)
    assert path.parent == tmp_path / PRESET / "seed1"
    other = suite.load(f"{TASK}-random-v0", PRESET, 1, tmp_path).transitions.action
    assert not np.array_equal(other, load(roots[0], "random").transitions.action)


def test_checksum_mismatch_names_the_fix(roots, tmp_path):
    import shutil

    name = f"{TASK}-medium-v0"
    src = suite.dataset_path(name, PRESET, 0, roots[0])
    d = suite.suite_dir(PRESET, 0, tmp_path)
    d.mkdir(parents=True)
    for p in (src, suite.manifest_path(src)):
        shutil.copy(p, d / p.name)
    assert suite.load(name, PRESET, 0, tmp_path).size == P.size
    with open(d / src.name, "r+b") as f:  # flip one byte somewhere in the data
        f.seek(src.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    pattern = r"checksum mismatch.*delete .*medium-v0.hdf5.*make_datasets.py --datasets=" + name
    with pytest.raises(DatasetError, match=pattern):
        suite.load(name, PRESET, 0, tmp_path)
    with pytest.raises(DatasetError, match="checksum mismatch"):
        gen.generate(name, PRESET, 0, tmp_path, progress=False)  # never silently overwritten
    (d / f"{name}.json").unlink()
    with pytest.raises(DatasetError, match="no manifest"):
        suite.load(name, PRESET, 0, tmp_path)
    with pytest.raises(DatasetError, match="not generated.*make_datasets.py"):
        suite.load(f"{TASK}-expert-v0", PRESET, 0, tmp_path)
