"""The benchmark harness at a trivial size: record fields, FLOP counts and the Markdown table.

No timing is asserted (timings on a shared CI machine mean nothing); the checks are on the
structure of what the harness measures and writes.
"""

import pytest

from experiments import benchmark as bench
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
    rlpd = bench._o2o_config("rlpd", TINY, 1)
    assert (rlpd.algo, rlpd.utd, rlpd.batch_size, rlpd.retention) == ("sac", 20, 256, "mixed")
    wsrl = bench._o2o_config("wsrl", TINY, 1)
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
