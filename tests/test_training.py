"""The compiled chunks: one compilation per phase, vmapped runs equal single runs, the switch."""

import json

import chex
import jax
import numpy as np
import pytest

from jaxrl.logging import read_metrics
from jaxrl.run import build, init_states, run
from tests.helpers import tiny_config, write_dataset

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")


@pytest.fixture(scope="module")
def built(dataset_path):
    config = tiny_config(
        "iql",
        dataset=dataset_path,
        seeds=SEEDS,
        retention="mixed",
        offline_ratio=0.25,
        warmup_steps=8,
        num_envs=2,
    )
    return build(config)


def _run(i, tree):
    return jax.tree.map(lambda x: np.asarray(x[i]), tree)


def test_offline_chunk_compiles_once_and_vmap_equals_single_runs(built):
    states = init_states(built)
    for _ in range(3):
        states, metrics = built.offline_chunk(states, built.dataset)
    assert built.offline_chunk._cache_size() == 1
    assert np.asarray(states.grad_steps).tolist() == [60, 60, 60]
    assert metrics["critic_loss"].shape == (3,)
    # The same seeds one at a time: identical numbers up to float tolerance.
    for i, seed in enumerate(SEEDS):
        single_cfg = tiny_config(
            "iql",
            dataset=built.config.dataset,
            seeds=(seed,),
            retention="mixed",
            offline_ratio=0.25,
            warmup_steps=8,
            num_envs=2,
        )
        single = init_states(build(single_cfg))
        for _ in range(3):
            single, m1 = built.offline_chunk(single, built.dataset)
        chex.assert_trees_all_close(
            _run(0, single.agent.params), _run(i, states.agent.params), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(m1["critic_loss"][0], metrics["critic_loss"][i], rtol=1e-5)
    # Different seeds really are different runs.
    a, b = _run(0, states.agent.params), _run(1, states.agent.params)
    assert not np.allclose(jax.tree.leaves(a)[-1], jax.tree.leaves(b)[-1])


def test_switch_and_online_chunks_compile_once(built):
    states = init_states(built)
    states, _ = built.offline_chunk(states, built.dataset)
    offline_compiles = built.offline_chunk._cache_size()
    states = built.switch(states)
    assert np.asarray(states.phase).tolist() == [1, 1, 1]
    seen_steps = []
    for _ in range(3):
        states, metrics = built.online_chunk(states, built.dataset)
        seen_steps.append(np.asarray(states.env_steps).tolist())
    assert built.online_chunk._cache_size() == 1
    assert built.offline_chunk._cache_size() == offline_compiles
    assert built.switch._cache_size() == 1
    # 20 env steps per chunk (2 envs × 10 iterations); the buffer holds all of them.
    assert seen_steps == [[20] * 3, [40] * 3, [60] * 3]
    assert np.asarray(states.buffer.size).tolist() == [40] * 3  # capacity = online_steps
    # No update during the 8-step warm-up: 20 − 8 = 12 env steps of the first chunk learned
    # (6 iterations of 2 envs, utd 1 each), then 10 per chunk.
    assert np.asarray(states.grad_steps).tolist() == [20 + 6 + 10 + 10] * 3
    np.testing.assert_allclose(np.asarray(metrics["offline_fraction"]), 0.25)
    # Episodes of 10 steps: 20 env steps per chunk finish 2 episodes per run.
    assert np.asarray(metrics["train_episodes"]).tolist() == [2, 2, 2]
    # The switch changes no shapes: both phases share one TrainState structure.
    chex.assert_trees_all_equal_shapes_and_dtypes(states, init_states(built))


def test_evaluator_is_deterministic(built):
    states = init_states(built)
    keys = jax.random.split(jax.random.key(0), len(SEEDS))
    r1 = np.asarray(built.evaluate(states.agent, keys))
    r2 = np.asarray(built.evaluate(states.agent, jax.random.clone(keys)))
    assert r1.shape == (3, 2)
    np.testing.assert_array_equal(r1, r2)
    assert np.isfinite(r1).all()


def test_run_writes_the_run_directory(built, tmp_path):
    # The fixture's config, so the persistent compilation cache serves every program.
    summary = run(built.config, tmp_path, progress=False)
    records = read_metrics(tmp_path)
    # (40 offline + 40 online) / 20 per chunk = 4 chunks, 3 runs each.
    assert len(records) == 12
    assert [r["run"] for r in records[:3]] == [0, 1, 2]
    assert [r["phase"] for r in records[::3]] == ["offline", "offline", "online", "online"]
    assert [r["step"] for r in records[::3]] == [20, 40, 60, 80]
    assert all("eval_score" in r for r in records)
    assert json.loads((tmp_path / "config.json").read_text())["algo"] == "iql"
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["final"]["mean"] == pytest.approx(summary["final"]["mean"])
    finals = [r["eval_score"] for r in records if r["step"] == 80]
    assert summary["final"]["mean"] == pytest.approx(np.mean(finals), rel=1e-6)
    offline = [r["eval_score"] for r in records if r["step"] == 40]
    assert [r["offline_score"] for r in summary["runs"]] == pytest.approx(offline)
    assert (tmp_path / "plots" / "learning_curve.png").stat().st_size > 1000
