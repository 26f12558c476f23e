"""Checkpoints: exact resume after SIGKILL, damaged checkpoints, write errors, config changes,
the divergence guard and load_policy.

Every test runs the same tiny job (`checkpoint_job.job_config`: 4 seeds, 2 offline and 2 online
chunks, a checkpoint after every chunk), so the programs compile once per session and the
subprocesses load them from the shared XLA cache. Metric records are compared on every field
except "time" (wall-clock seconds, the one field that legitimately differs between runs).
"""

import dataclasses
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxrl import checkpoint as ckpt_lib
from jaxrl import run as run_lib
from jaxrl.agents.base import set_learning_rate
from jaxrl.checkpoint import Checkpointer, CheckpointError, CorruptCheckpointWarning, load_policy
from jaxrl.config import ConfigError
from jaxrl.logging import read_metrics
from jaxrl.run import DivergenceError, build_agent, run, state_template
from tests.checkpoint_job import job_config
from tests.helpers import write_dataset

ROOT = Path(__file__).resolve().parent.parent
N_CHUNKS = 4


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


@pytest.fixture(scope="module")
def reference(dataset_path, tmp_path_factory):
    """The uninterrupted job."""
    workdir = tmp_path_factory.mktemp("reference")
    run(job_config(dataset_path), workdir, progress=False)
    return workdir


def _metrics(workdir):
    return [{k: v for k, v in r.items() if k != "time"} for r in read_metrics(workdir)]


def _restore(workdir, step=None):
    """(step, stacked states with key data, meta) of the newest valid (or the given) checkpoint."""
    config = job_config("unused")
    agent, env = build_agent(config)
    template = state_template(config, agent, env)
    ckpt = Checkpointer(workdir)
    try:
        if step is None:
            step, states, meta = ckpt.restore_latest(template)
        else:
            meta = ckpt.read_meta(step)
            states = ckpt.restore(step, template, meta)
    finally:
        ckpt.close()
    return step, jax.tree.map(np.asarray, ckpt_lib.to_saveable(states)), meta


def _assert_same_runs(a, b, runs=None):
    """Every leaf equal bit for bit (NaN == NaN), for all or the given run indices."""
    for (path, x), y in zip(
        jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b), strict=True
    ):
        if runs is not None:
            x, y = x[runs], y[runs]
        np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


@pytest.mark.slow  # three subprocesses, each ~40 s of imports, tracing and cached compiles
def test_killed_and_resumed_job_equals_uninterrupted(reference, dataset_path, tmp_path):
    workdir = tmp_path / "job"
    env = {**os.environ, "JAXRL_COMPILE_CACHE": jax.config.jax_compilation_cache_dir}
    for point in ("offline", "switch", "write"):
        proc = subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests/checkpoint_job.py"),
                str(workdir),
                dataset_path,
                point,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == -9, proc.stderr[-3000:]
        steps = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
        if point == "offline":
            # Metrics of chunk 2 written, its checkpoint not; checkpoint 1 may still have been
            # in flight (then the resume starts afresh, discarding those records).
            assert steps in ([], [1]) and len(read_metrics(workdir)) == 2 * 4
        elif point == "switch":
            assert steps == [1, 2]
        else:  # checkpoint 3 was being written: only its temporary directory exists
            assert steps == [1, 2]
            assert any(
                ".orbax-checkpoint-tmp" in p.name for p in (workdir / "checkpoints").iterdir()
            )
    run(job_config(dataset_path), workdir, progress=False)  # the last resume, in process
    assert _metrics(workdir) == _metrics(reference)
    assert len(read_metrics(workdir)) == N_CHUNKS * 4
    step, states, _ = _restore(workdir)
    ref_step, ref_states, _ = _restore(reference)
    assert step == ref_step == N_CHUNKS
    _assert_same_runs(states, ref_states)  # params, optimizer, buffer, env, keys, counters
    assert (np.asarray(states.buffer.size) == 40).all()
    summary = json.loads((workdir / "summary.json").read_text())
    ref_summary = json.loads((reference / "summary.json").read_text())
    assert summary["runs"] == ref_summary["runs"]


def test_damaged_checkpoints_are_skipped_and_resume_is_exact(reference, dataset_path, tmp_path):
    workdir = _copy(reference, tmp_path / "job")
    # Checkpoint 4: a data file truncated (a partial copy); checkpoint 3: its JSON mangled.
    data = max((workdir / "checkpoints/4/state").rglob("*"), key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    (workdir / "checkpoints/3/meta/metadata").write_text('{"format_version": 1, "conf')
    with pytest.warns(CorruptCheckpointWarning) as caught:
        step, _, meta = _restore(workdir)
    assert step == 2 and meta["metrics_records"] == 2 * 4
    assert {str(w.message).split(":")[0] for w in caught if "skipping" in str(w.message)} == {
        "skipping damaged checkpoint 4",
        "skipping damaged checkpoint 3",
    }
    # Both were moved aside (kept for inspection); the run resumes from checkpoint 2 and
    # redoes chunks 3 and 4 exactly.
    assert len(list((workdir / "damaged_checkpoints").iterdir())) == 2
    run(job_config(dataset_path), workdir, progress=False)
    assert _metrics(workdir) == _metrics(reference)
    _assert_same_runs(_restore(workdir)[1], _restore(reference)[1])


def test_flipped_byte_fails_the_checksum(reference, tmp_path):
    workdir = _copy(reference, tmp_path / "job")
    # A flipped bit that still decodes would be read silently without the checksum.
    for step in (3, 4):
        files = [p for p in (workdir / f"checkpoints/{step}/state/d").iterdir()]
        for f in files:
            raw = bytearray(f.read_bytes())
            raw[len(raw) // 2] ^= 0x01
            f.write_bytes(bytes(raw))
    with pytest.warns(CorruptCheckpointWarning):
        assert _restore(workdir)[0] == 2


def test_disk_full_keeps_the_previous_checkpoint(reference, dataset_path, tmp_path, monkeypatch):
    from orbax.checkpoint._src.handlers import json_checkpoint_handler as jh

    save_fn = jh.JsonCheckpointHandler._save_fn

    async def full_disk(self, x, directory):
        if x.get("chunks_done", 0) >= 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory))
        await save_fn(self, x, directory)

    monkeypatch.setattr(jh.JsonCheckpointHandler, "_save_fn", full_disk)
    workdir = tmp_path / "job"
    with pytest.raises(CheckpointError, match="No space left on device") as err:
        run(job_config(dataset_path), workdir, progress=False)
    assert "previous checkpoint (after 1 chunks) is intact" in str(err.value)
    monkeypatch.undo()
    assert Checkpointer(workdir).steps() == [1]
    run(job_config(dataset_path), workdir, progress=False)  # space freed: resumes from 1
    assert _metrics(workdir) == _metrics(reference)


def test_config_changes_foreign_files_and_versions_are_refused(reference, dataset_path, tmp_path):
    workdir = _copy(reference, tmp_path / "job")
    changed = job_config(dataset_path, batch_size=8, agent={"expectile": 0.9})
    with pytest.raises(ConfigError) as err:
        run(changed, workdir, progress=False)
    assert "batch_size: 16 → 8" in str(err.value)
    assert "agent.expectile: 0.7 → 0.9" in str(err.value)
    assert "allow_config_change" in str(err.value)
    # Safe fields may change; the finished run only rewrites its summary.
    safe = job_config(dataset_path, checkpoint_every=2, on_divergence="freeze")
    assert (
        run(safe, workdir, progress=False)["runs"]
        == json.loads((reference / "summary.json").read_text())["runs"]
    )
    # The override resumes anyway (here: nothing left to train).
    run(
        dataclasses.replace(changed, batch_size=16),
        workdir,
        progress=False,
        allow_config_change=True,
    )
    # config.json now holds the config resumed with (expectile 0.9).
    now = dataclasses.replace(changed, batch_size=16)
    # A foreign file in checkpoints/: a clear error, not a fresh start.
    (workdir / "checkpoints" / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointError, match="notes.txt"):
        run(now, workdir, progress=False)
    (workdir / "checkpoints" / "notes.txt").unlink()
    # A checkpoint from an incompatible format version.
    meta_file = workdir / "checkpoints/4/meta/metadata"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "format_version": 99}))
    with pytest.raises(CheckpointError, match="format version 99"):
        run(now, workdir, progress=False)


def _poison_after_switch(monkeypatch, run_index):
    """Sets every learning rate of one run to 1e30 at the switch, so it diverges online."""
    build = run_lib.build

    def poisoned_build(config):
        built = build(config)
        switch = built.switch

        def poisoned_switch(states):
            states = switch(states)
            opt = {
                name: set_learning_rate(s, s.hyperparams["learning_rate"].at[run_index].set(1e30))
                for name, s in states.agent.opt_states.items()
            }
            return states.replace(agent=states.agent.replace(opt_states=opt))

        built.switch = poisoned_switch
        return built

    monkeypatch.setattr(run_lib, "build", poisoned_build)


def test_diverged_run_is_frozen_and_the_others_are_unaffected(
    reference, dataset_path, tmp_path, monkeypatch
):
    _poison_after_switch(monkeypatch, run_index=2)
    workdir = tmp_path / "job"
    summary = run(job_config(dataset_path, on_divergence="freeze"), workdir, progress=False)
    (d,) = summary["divergences"]
    assert (d["run"], d["seed"], d["step"], d["phase"]) == (2, 2, 60, "online")
    assert d["hyperparameters"]["actor.learning_rate"] == pytest.approx(1e30)
    records, ref = _metrics(workdir), _metrics(reference)
    assert [r["step"] for r in records if r.get("diverged")] == [60, 80]
    assert all(r["run"] == 2 for r in records if r.get("diverged"))
    # The other three runs: the same records and the same final state, bit for bit.
    assert [r for r in records if r["run"] != 2] == [r for r in ref if r["run"] != 2]
    _, states, _ = _restore(workdir)
    _assert_same_runs(states, _restore(reference)[1], runs=[0, 1, 3])
    # The frozen run did not change after the chunk in which it diverged (buffer included).
    _, at_divergence, _ = _restore(workdir, step=3)
    _assert_same_runs(states, at_divergence, runs=[2])
    assert np.asarray(states.frozen).tolist() == [False, False, True, False]


def test_divergence_stops_the_job_and_keeps_the_last_good_checkpoint(
    dataset_path, tmp_path, monkeypatch
):
    _poison_after_switch(monkeypatch, run_index=1)
    workdir = tmp_path / "job"
    with pytest.raises(DivergenceError, match=r"run 1 \(seed 1\) diverged") as err:
        run(job_config(dataset_path), workdir, progress=False)
    assert "after 2 chunks" in str(err.value)
    step, states, _ = _restore(workdir)
    assert step == 2 and not np.asarray(states.frozen).any()
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(states.agent.params))


def test_load_policy_gives_one_runs_deterministic_policy(reference):
    config = job_config("unused")
    agent, env = build_agent(config)
    ckpt = Checkpointer(reference)
    states = ckpt.restore_latest(state_template(config, agent, env))[1]
    ckpt.close()
    policy = load_policy(reference, run_index=3)
    obs = np.random.default_rng(0).normal(size=(5, 17)).astype(np.float32)
    actions = np.asarray(policy(obs))
    assert actions.shape == (5, 6) and np.isfinite(actions).all()
    np.testing.assert_allclose(np.asarray(policy(obs[1])), actions[1], rtol=1e-5, atol=1e-6)
    agent_state = jax.tree.map(lambda x: x[3], states.agent)
    expected = agent.act(agent_state, obs[0], jax.random.key(0), True)
    np.testing.assert_allclose(actions[0], np.asarray(expected), rtol=1e-6, atol=1e-6)
    other = np.asarray(load_policy(reference, run_index=0)(obs))
    assert not np.allclose(other, actions)
    stochastic = policy(obs, jax.random.key(1), deterministic=False)
    assert stochastic.shape == (5, 6)
    with pytest.raises(CheckpointError, match="out of range"):
        load_policy(reference, run_index=4)


def test_load_states_is_the_one_restore_path(reference, tmp_path):
    """`load_states` restores what the run saved (the newest or a chosen checkpoint); it is what
    `load_policy` and the adversarial attacker of experiments/robustness.py read through."""
    from experiments import robustness

    loaded = ckpt_lib.load_states(reference)
    step, states, meta = _restore(reference)
    assert loaded.step == step == N_CHUNKS and loaded.meta["checksum"] == meta["checksum"]
    _assert_same_runs(jax.tree.map(np.asarray, ckpt_lib.to_saveable(loaded.states)), states)
    assert loaded.config == job_config(loaded.config.dataset)
    assert loaded.env.spec.obs_dim == 17
    earlier = ckpt_lib.load_states(reference, 2)
    _assert_same_runs(
        jax.tree.map(np.asarray, ckpt_lib.to_saveable(earlier.states)), _restore(reference, 2)[1]
    )
    with pytest.raises(CheckpointError, match="run_index=4 is out of range"):
        ckpt_lib.load_states(reference, run_index=4)
    with pytest.raises(CheckpointError, match="no config.json"):
        ckpt_lib.load_states(tmp_path)
    # The attacker: run 0's deterministic policy (as load_policy gives it) and a critic that
    # jax differentiates.
    q_fn, policy_fn, spec = robustness.clean_critic(reference)
    obs = np.linspace(-1, 1, spec.obs_dim, dtype=np.float32)
    action = policy_fn(obs)
    expected = load_policy(reference, run_index=0)(obs)
    np.testing.assert_allclose(np.asarray(action), np.asarray(expected), rtol=1e-5, atol=1e-6)
    grad = jax.grad(q_fn)(obs, action)
    assert grad.shape == (17,) and np.isfinite(np.asarray(grad)).all()
    with pytest.raises(RuntimeError, match="no config.json.*rerun with --fresh"):
        robustness.clean_critic(tmp_path)
