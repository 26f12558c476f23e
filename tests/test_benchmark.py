"""The benchmark harness at a trivial size: record fields, FLOP counts and the Markdown table.

No timing is asserted (timings on a shared CI machine mean nothing); the checks are on the
structure of what the harness measures and writes.
"""

import pytest

from jaxrl import bench
from jaxrl.buffers import dataset_sample
from jaxrl.specs import EnvSpec

TINY = bench.PRESETS["tiny"]


@pytest.fixture(scope="module")
def setup():
    # The learner workload never steps the env: a placeholder with halfcheetah's shapes.
    env = bench.learner_env(EnvSpec(obs_dim=17, action_dim=6))
    dataset = bench.synthetic_dataset(TINY.dataset_rows, env.spec.obs_dim, env.spec.action_dim)
    return env, dataset


@pytest.fixture(scope="module")
def records(setup):
    env, dataset = setup
    peak = 1e9
    out = [
        bench.learner_record("iql", "2x16", (16, 16), r, TINY, env, dataset, peak) for r in (1, 2)
    ]
    return out


def test_learner_record_fields(records):
    one, two = records
    for r in (one, two):
        assert r["status"] == "ok"
        for key in (
            "compile_s",
            "call_s",
            "updates_per_s",
            "updates_per_s_per_run",
            "flops_per_update",
            "flops_per_s",
            "peak_fraction",
            "device_bytes",
        ):
            assert r[key] > 0, key
        assert r["updates_per_s"] == pytest.approx(r["runs"] * r["updates_per_s_per_run"])
        assert r["updates_per_s"] == pytest.approx(r["runs"] * TINY.steps / r["call_s"])
    # FLOPs are per update and run, so they do not depend on the number of runs.
    assert two["flops_per_update"] == pytest.approx(one["flops_per_update"], rel=0.05)


def test_iql_flops_cover_the_matmuls(records):
    # IQL at 2x16, batch 8, obs 17, act 6: the forward matmuls alone of two Q nets (23→16→16→1),
    # V (17→16→16→1) and the actor (17→16→16→12) are 2·8·Σ(in·out) FLOPs; backward doubles it.
    b = TINY.batch
    q = 23 * 16 + 16 * 16 + 16
    v = 17 * 16 + 16 * 16 + 16
    pi = 17 * 16 + 16 * 16 + 16 * 12
    forward = 2 * b * (2 * q + v + pi)
    assert records[0]["flops_per_update"] > 2 * forward


def test_unavailable_algorithm_gives_a_row(setup, monkeypatch):
    monkeypatch.setitem(bench.LEARNERS, "ghost", ("ghost", {}, 1))
    env, _ = setup
    r = bench.learner_record("ghost", "2x16", (16, 16), 1, TINY, env, None, 1e9)
    assert r["status"].startswith("not available")


def test_table_columns_and_ratios(records, tmp_path):
    one, two = records
    peer = {
        "workload": "peer",
        "peer": "d3rlpy",
        "algo": "iql",
        "net": "2x16",
        "runs": 1,
        "status": "ok",
        "updates_per_s": one["updates_per_s"] / 4,
        "settings": "x",
        "versions": {"d3rlpy": "0"},
    }
    ghost = {
        "workload": "learner",
        "algo": "td3bc",
        "net": "2x16",
        "runs": 1,
        "status": "not available: 'td3bc' is not in jaxrl.agents.registry",
    }
    recs = [one, two, ghost, peer]
    lines = bench.learner_table(recs)
    assert lines[0] == "| " + " | ".join(bench.LEARNER_COLUMNS) + " |"
    assert len(lines) == 2 + 3
    # Rows follow the order of `LEARNERS` (td3bc before iql), then network and run count.
    assert "not available" in lines[2]
    cells = [c.strip() for c in lines[3].strip("|").split("|")]
    assert len(cells) == len(bench.LEARNER_COLUMNS)
    assert cells[bench.LEARNER_COLUMNS.index("vs d3rlpy")] == "4.00×"
    assert cells[bench.LEARNER_COLUMNS.index("× 1 run")] == "1.00"
    assert lines[4].startswith("| iql | 2x16 | 2 |")
    info = {
        "date": "d",
        "cpu": "c",
        "cores": 2,
        "device": "cpu",
        "peak": 1e9,
        "versions": {k: "0" for k in ("jax", "jaxlib", "flax", "optax", "brax", "numpy")},
    }
    text = bench.write_report(
        recs, info, "python experiments/benchmark.py --preset tiny", "tiny", tmp_path / "B.md"
    )
    assert "| CPU, 1 run: iql updates/s ≥ 5× d3rlpy | 4.00× | missed by 1.25× (4.00×); " in text
    assert (tmp_path / "B.md").read_text() == text
    assert bench.plot_runs(recs, tmp_path / "runs.png")
    assert (tmp_path / "runs.png").stat().st_size > 0


def test_o2o_recipes_time_the_algorithms_they_name():
    """The online-step rows build the recipes' own learners: RLPD is SAC with UTD 20 on 50/50
    batches; WSRL is the `wsrl` agent (SAC online, no CQL term) drawing 4×256 = 1024 rows per
    env step from its own buffer only (an earlier version timed Cal-QL on 4×1024 rows)."""
    rlpd = bench.o2o_config("rlpd", TINY, 1)
    assert (rlpd.algo, rlpd.utd, rlpd.batch_size, rlpd.retention) == ("sac", 20, 256, "mixed")
    wsrl = bench.o2o_config("wsrl", TINY, 1)
    assert (wsrl.algo, wsrl.utd, wsrl.batch_size, wsrl.retention) == ("wsrl", 4, 256, "none")
    assert wsrl.agent_config().num_critics == 10
    assert wsrl.agent_config().online_actor_update == "full"


def test_deadline_records_the_jobs_it_did_not_start(tmp_path):
    """Past `--deadline` every job still gets its row (status "skipped"), in the order of
    importance, and the driver's callback sees each record as it is made (the JSON is saved
    after every record, so a run killed on a leased GPU keeps what it measured)."""
    seen = []
    records, _ = bench.run_benchmark(
        TINY,
        only=("learner", "online"),
        peers=False,
        log=lambda _: None,
        deadline=0.0,
        on_record=lambda recs, info: seen.append(len(recs)),
    )
    assert seen == list(range(1, len(records) + 1))
    assert all(r["status"].startswith("skipped: past the --deadline") for r in records)
    learner = [(r["algo"], r["runs"]) for r in records if r["workload"] == "learner"]
    # Every learner row at `extra_runs` first; the tiny preset has no further counts.
    assert learner == [(n, k) for n in TINY.learners for k in TINY.extra_runs]
    assert [r["workload"] for r in records][-1] == "online"
    lines = bench.learner_table(records)
    assert len(lines) == 2 + len(learner) and "skipped" in lines[2]


def test_merged_runs_keep_the_first_measurement_and_recount_missing_flops(records, tmp_path):
    """`--from-json a,b`: b adds only the rows a did not measure; a learner row saved without
    FLOPs (the CUDA backend counted none) gets the count this machine makes of the same program,
    which equals the count made during the run."""
    import json

    one, two = records
    info = {"preset": "tiny", "peak": 1e9, "command": "first"}
    blank = {**one, "flops_per_update": 0.0, "flops_per_s": 0.0, "peak_fraction": 0.0}
    skipped = {**{k: two[k] for k in ("workload", "algo", "net", "runs")}, "status": "skipped"}
    (tmp_path / "a.json").write_text(json.dumps({"info": info, "records": [blank, skipped]}))
    again = {**one, "updates_per_s": 1.0}  # measured in both: the first file's row stays
    later = {"info": {**info, "command": "second"}, "records": [again, two]}
    (tmp_path / "b.json").write_text(json.dumps(later))
    merged, minfo = bench.merge_saved([tmp_path / "a.json", tmp_path / "b.json"])
    assert [r["runs"] for r in merged] == [1, 2]
    assert merged[0]["updates_per_s"] == one["updates_per_s"]
    assert merged[1] == two
    assert merged[0]["flops_per_update"] == pytest.approx(one["flops_per_update"], rel=1e-6)
    assert merged[0]["flops_per_s"] == pytest.approx(one["flops_per_update"] * one["updates_per_s"])
    assert minfo["merged"] == [["second", 1]]
    assert "FLOPs of 1 learner row(s)" in minfo["flops_note"]


# ------------------------------------------------------------------------------------------
# The library pieces the benchmark is built from (jaxrl.bench, jaxrl.recipes, ...).


def test_markdown_table():
    from jaxrl.report import markdown_table

    assert markdown_table(["a", "b"], [["1", "2"], ["3", ""]]).splitlines() == [
        "| a | b |",
        "|---|---|",
        "| 1 | 2 |",
        "| 3 |  |",
    ]
    assert markdown_table(["x"], []).splitlines() == ["| x |", "|---|"]


def test_recipes_are_what_the_configs_and_the_benchmark_run():
    """One source for each recipe: the config files and the benchmark's rows read it."""
    from experiments.configs import rlpd, wsrl
    from jaxrl import recipes

    for recipe, module in ((recipes.rlpd(), rlpd), (recipes.wsrl(), wsrl)):
        c = module.get_config()
        assert c.algo == recipe["algo"]
        for k, v in recipe["agent"].items():
            assert c.agent[k] == v, k
        for k, v in recipe.items():
            if k not in ("algo", "agent"):
                assert c[k] == v, k
    assert rlpd.get_config().agent.num_critics == 10
    assert rlpd.get_config().utd == 20 and wsrl.get_config().utd == 4
    assert wsrl.get_config().agent.critic_hidden_dims == (128, 128)  # the config file's size
    assert bench.LEARNERS["rlpd"] == ("sac", recipes.rlpd()["agent"], 20)
    assert recipes.rlpd() is not recipes.rlpd()  # a fresh dict: callers may change theirs


def test_update_utd_unrolled_is_the_same_update():
    """`update_utd(..., unroll=True)`, which the FLOP count traces, computes what the rolled
    scan computes: only the loop structure of the program differs."""
    import jax
    import numpy as np

    from jaxrl.bench.workloads import learner_setup

    config, agent, _ = learner_setup("rlpd", (16, 16), 1, TINY, EnvSpec(obs_dim=17, action_dim=6))
    dataset = bench.synthetic_dataset(TINY.dataset_rows, 17, 6)
    key, init_key, update_key = jax.random.split(jax.random.key(0), 3)
    batches = jax.vmap(lambda k: dataset_sample(dataset, k, TINY.batch))(jax.random.split(key, 3))
    state = agent.init(init_key)
    same_key = jax.random.clone(update_key)  # the same key on purpose: the same update twice
    rolled = jax.jit(agent.update_utd)(state, batches, update_key)
    unrolled = jax.jit(lambda *a: agent.update_utd(*a, unroll=True))(state, batches, same_key)
    for x, y in zip(jax.tree.leaves(rolled), jax.tree.leaves(unrolled), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_utd_flops_grow_with_the_utd():
    """The RLPD row's FLOPs count every critic step of `update_utd` (its scan unrolled):
    per call, 4 steps cost more than 2; counted with the scan rolled they would be equal."""
    from jaxrl.bench.workloads import learner_setup

    env = bench.learner_env(EnvSpec(obs_dim=17, action_dim=6))
    dataset = bench.synthetic_dataset(TINY.dataset_rows, 17, 6)
    config, agent, _ = learner_setup("rlpd", (16, 16), 1, TINY, env.spec)
    total = {}
    for utd in (2, 4):
        total[utd] = utd * bench.update_flops(agent, config, env, dataset, 1, utd)
    critic_steps = total[4] - total[2]  # two critic steps
    assert critic_steps > 0.5 * total[2]


def test_offline_chunk_with_utd_and_without_guard():
    """`make_offline_chunk(utd=k, guard=False)`: each step is one `update_utd` on k batches
    (k gradient steps); the chunk returns states and metrics and has no divergence guard."""
    import jax
    import jax.numpy as jnp

    from jaxrl.bench.workloads import init_states, learner_setup
    from jaxrl.training import make_offline_chunk

    env = bench.learner_env(EnvSpec(obs_dim=17, action_dim=6))
    dataset = bench.synthetic_dataset(TINY.dataset_rows, 17, 6)
    config, agent, utd = learner_setup("rlpd", (16, 16), 2, TINY, env.spec)
    assert utd == 20 and config.chunk_length == 1
    chunk = make_offline_chunk(config, agent, utd=3, guard=False)
    states, metrics = chunk(init_states(config, agent, env), dataset)
    assert states.grad_steps.tolist() == [3, 3] and states.agent.step.tolist() == [3, 3]
    assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(metrics))

    # A non-finite update is not caught without the guard, and is with it (the default).
    def nan_states():
        ts = init_states(config, agent, env)
        nan = jax.tree.map(lambda x: x * jnp.nan, ts.agent.params)
        return ts.replace(agent=ts.agent.replace(params=nan))

    assert not bool(chunk(nan_states(), dataset)[0].frozen.any())
    assert bool(make_offline_chunk(config, agent, utd=3)(nan_states(), dataset)[0].frozen.all())


def test_peer_runner(tmp_path):
    """A peer script runs in its venv's Python and its last JSON line is the record; a venv
    that is not built, a failing script and a run without peer scripts each give a row."""
    import os
    import sys

    from jaxrl.bench import peers

    venv = tmp_path / "venvs" / "fake"
    (venv / "bin").mkdir(parents=True)
    os.symlink(sys.executable, venv / "bin" / "python")
    script = tmp_path / "peer.py"
    script.write_text(
        "import json, sys\nargs = json.loads(sys.argv[1])\nprint('noise')\n"
        "print(json.dumps({'updates_per_s': args['n'] * 2}))\n"
    )
    missing = peers.run_peer("fake", script, {"n": 1}, 60, peers_dir=tmp_path / "venvs")
    assert missing["status"].startswith("not available: peer venv 'fake' missing")
    (venv / ".ready").touch()
    rec = peers.run_peer("fake", script, {"n": 21}, 60, peers_dir=tmp_path / "venvs")
    assert rec == {"status": "ok", "updates_per_s": 42}
    (tmp_path / "bad.py").write_text("raise SystemExit('broken peer')\n")
    bad = peers.run_peer("fake", tmp_path / "bad.py", {}, 60, peers_dir=tmp_path / "venvs")
    assert bad["status"].startswith("failed (rc 1)") and "broken peer" in bad["status"]
    records, _ = bench.run_benchmark(TINY, only=("peers",), log=lambda _: None)
    assert [(r["peer"], r["algo"]) for r in records] == [("d3rlpy", "iql")]
    assert records[0]["status"] == "not available: no peer scripts given (peer_scripts)"
