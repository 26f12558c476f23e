"""The results command: each algorithm's recipe under one shared budget, and its table."""

import numpy as np
import pytest

from experiments import results
from jaxrl import claims as claims_lib
from jaxrl import jobs, report


def test_job_config_applies_the_budget_but_keeps_each_recipe():
    preset = results.PRESETS["cpu"]
    wsrl = results.job_config("wsrl", "hopper-medium-v0", preset, "hopper")
    assert (wsrl.offline_steps, wsrl.online_steps) == (5_000, 5_000)
    assert wsrl.agent.actor_hidden_dims == (128, 128) and wsrl.agent.critic_hidden_dims == (
        128,
        128,
    )
    assert (wsrl.retention, wsrl.utd, wsrl.warmup_policy) == ("none", 4, "agent")
    assert wsrl.task == "hopper" and wsrl.seeds == (0, 1, 2, 3)
    rlpd = results.job_config("rlpd", "hopper-medium-v0", preset, "hopper")
    assert rlpd.offline_steps == 0  # RLPD trains from scratch with the data
    assert (rlpd.retention, rlpd.offline_ratio, rlpd.utd) == ("mixed", 0.5, 20)
    assert rlpd.agent.num_critics == 10 and rlpd.agent.actor_hidden_dims == (128, 128)
    assert "default" not in results.available_configs()
    assert {"iql", "cql", "calql", "rlpd", "wsrl"} <= set(results.available_configs())


def _summary(offline, final, dips, aucs, offline_steps=100):
    runs = [
        {"offline_score": o, "final_score": f, "dip": d, "online_auc": a}
        for o, f, d, a in zip(offline, final, dips, aucs, strict=True)
    ]
    return {"runs": runs, "offline_steps": offline_steps, "online_steps": 100, "seconds": 3.0}


def test_table_and_claims_from_summaries():
    summaries = {
        "cql": _summary([50, 60], [40, 80], [-30, -10], [30, 40]),
        "calql": _summary([50, 50], [70, 90], [-2, 0], [60, 70]),
        "rlpd": _summary([0, 0], [90, 100], [np.nan, np.nan], [80, 90], offline_steps=0),
    }
    rows = {r["algo"]: r for r in report.summary_rows(summaries)}
    assert rows["cql"]["offline"] == f"55.0 ± {np.std([50, 60], ddof=1):.1f}"
    assert rows["cql"]["dip"] == -20.0 and rows["calql"]["dip"] == -1.0
    assert rows["rlpd"]["offline"] == "—" and np.isnan(rows["rlpd"]["dip"])
    assert rows["calql"]["final_iqm"] == pytest.approx(80.0)
    table = report.summary_table(list(rows.values()))
    assert "| calql | 2 | 50.0 ± 0.0 | 80.0 ± 14.1 | 80.0 [" in table
    assert table.count("\n") == 2 + 3
    # Online gain: final minus the score at the switch (RLPD from its untrained policy's 0).
    assert rows["cql"]["gain"] == 5.0 and rows["rlpd"]["gain"] == 95.0
    assert "| 35.0 | +5.0 | 100 + 100 |" in table
    claims = " ".join(claims_lib.verdicts(list(rows.values())))
    assert "Cal-QL avoids CQL's dip after the switch: holds (dip CQL -20.0, Cal-QL -1.0)" in claims
    assert "ReBRAC strongest offline: not tested" in claims
    assert "top 3: rlpd (85.0), calql (65.0), cql (35.0)" in claims
    assert "fine-tune fastest (highest online AUC): not tested (no wsrl run)" in claims
    assert "top 3: rlpd (+95.0), calql (+30.0), cql (+5.0)" in claims
    summaries["wsrl"] = _summary([80, 80], [81, 79], [0, 0], [20, 20])
    claims = " ".join(claims_lib.verdicts(report.summary_rows(summaries)))
    assert "(highest online AUC): holds for RLPD only; top 3: rlpd (85.0), calql" in claims
    assert "switch): holds for RLPD only; top 3: rlpd (+95.0), calql (+30.0)" in claims
    # Neither in the top 3 (hopper: RIQL, A2PR, TD3+BC lead by AUC).
    for name in ("riql", "a2pr", "td3bc"):
        summaries[name] = _summary([95, 95], [96, 96], [0, 0], [95, 97])
    claims = " ".join(claims_lib.verdicts(report.summary_rows(summaries)))
    assert "(highest online AUC): does not hold here; top 3: riql (96.0)" in claims
    for name in ("riql", "a2pr", "td3bc"):
        del summaries[name]
    del summaries["wsrl"]
    # Without a CQL dip there is nothing for Cal-QL to avoid.
    summaries["cql"] = _summary([50, 60], [60, 70], [2, 4], [55, 65])
    claims = " ".join(claims_lib.verdicts(report.summary_rows(summaries)))
    assert "Cal-QL avoids CQL's dip after the switch: not visible here (CQL does not dip" in claims
    # A dip under DIP_VISIBLE points is not a dip either (hopper: CQL -0.9, Cal-QL +18.2).
    summaries["cql"] = _summary([20, 24], [40, 38], [-0.5, -1.3], [24, 24])
    claims = " ".join(claims_lib.verdicts(report.summary_rows(summaries)))
    assert "not visible here (CQL does not dip by 5 points or more) (dip CQL -0.9," in claims


def test_report_only_tabulates_finished_jobs_and_runs_nothing(tmp_path):
    """--report-only: finished jobs become rows, missing ones are listed, the notes file is
    inserted, and no job starts (a missing job would need a dataset and minutes of training).
    The report covers every finished job under the preset, whatever --algos/--datasets select,
    so a call that trains one algorithm cannot drop the other rows from docs/RESULTS.md."""
    import json

    runs = tmp_path / "runs" / "cpu"
    for dataset, name in [("halfcheetah-medium-v0", "iql"), ("walker2d-medium-v0", "cql")]:
        (runs / dataset / name).mkdir(parents=True)
        summary = _summary([80, 90], [85, 95], [-1, 0], [80, 90])
        (runs / dataset / name / "summary.json").write_text(json.dumps(summary))
    notes = tmp_path / "notes.md"
    notes.write_text("Hand-written analysis.\n")
    out = tmp_path / "RESULTS.md"
    args = [
        "--preset=cpu",
        "--algos=iql",
        "--datasets=halfcheetah-medium-v0,hopper-medium-v0",
        f"--workdir={tmp_path / 'runs'}",
        f"--out={out}",
        "--report-only",
    ]
    results.main([*args, f"--notes={notes}"])
    text = out.read_text()
    assert "Hand-written analysis." in text
    sections = text.split("\n## ")
    assert "Hand-written analysis." in sections[0]
    assert [s.split("\n")[0] for s in sections[1:]] == [
        "halfcheetah-medium-v0",
        "hopper-medium-v0",
        "walker2d-medium-v0",  # not requested, but it has a finished job
    ]
    cheetah, hopper, walker = sections[1:]
    assert "| iql | 2 | 85.0 ± 7.1 | 90.0 ± 7.1 |" in cheetah
    missing = cheetah.split("Not finished yet under this preset: ")[1].split(".")[0].split(", ")
    assert missing == [n for n in results.available_configs() if n != "iql"]
    assert hopper.startswith("hopper-medium-v0\n\n(no finished job)")
    assert "| cql | 2 | 85.0 ± 7.1 | 90.0 ± 7.1 |" in walker
    assert "top 3: ." not in text  # no claims about an empty table
    # Without --notes, the preset's own analysis; with --notes='', none.
    results.main(args)
    first_line = results.PRESET_NOTES["cpu"].read_text().split("\n")[0]
    assert first_line in out.read_text()
    results.main([*args, "--notes="])
    assert first_line not in out.read_text()
    assert "Hand-written analysis." not in out.read_text()


def test_a_job_locked_by_a_live_process_is_skipped_and_a_dead_ones_lock_taken_over(tmp_path):
    """Two results processes over one job list must not train the same job in one directory:
    the second skips a job whose lock names a live process on this machine, and takes over
    a lock whose process has exited (a killed run)."""
    import json
    import platform
    import subprocess
    import sys

    workdir = tmp_path / "iql"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        workdir.mkdir()
        lock = workdir / jobs.LOCK_NAME
        lock.write_text(json.dumps({"pid": sleeper.pid, "host": platform.node()}))
        assert not jobs.claim_job(workdir)
        # run_job returns None before it would import or train anything.
        assert jobs.run_job(config=None, workdir=workdir, fresh=False) is None
        # --fresh does not empty a directory another live process is training in.
        (workdir / "metrics.jsonl").write_text("{}\n")
        assert jobs.run_job(config=None, workdir=workdir, fresh=True) is None
        assert (workdir / "metrics.jsonl").read_text() == "{}\n"
        assert json.loads(lock.read_text())["pid"] == sleeper.pid  # left alone
    finally:
        sleeper.kill()
        sleeper.wait()
    assert jobs.claim_job(workdir)  # its owner is gone: taken over
    assert json.loads(lock.read_text())["pid"] == __import__("os").getpid()
    assert jobs.claim_job(workdir)  # re-entrant for the owner
    jobs.release_job(workdir)
    assert not lock.exists()
    # A finished job is read, whatever the lock says.
    (workdir / "summary.json").write_text(json.dumps({"runs": []}))
    lock.write_text(json.dumps({"pid": 1, "host": platform.node()}))
    assert jobs.run_job(config=None, workdir=workdir, fresh=False) == {"runs": []}


def test_references_note_names_jobs_run_on_another_generation_of_the_dataset():
    a = {**_summary([1], [2], [0], [1]), "reference_returns": {"random": 53.71, "expert": 1082.8}}
    b = {**_summary([1], [2], [0], [1]), "reference_returns": {"random": 53.7, "expert": 1127.1}}
    one = report.references_note({"iql": a, "cql": a})
    assert one == "Normalization references of every job: random 53.7, expert 1,082.8."
    mixed = report.references_note({"iql": a, "cql": b, "bc": a})
    assert "different generations of the dataset" in mixed
    assert "random 53.7, expert 1,082.8: bc, iql; random 53.7, expert 1,127.1: cql" in mixed
    assert report.references_note({"iql": _summary([1], [2], [0], [1])}) == ""


def test_reference_settings_per_dataset_replace_the_halfcheetah_ones():
    """A2PR, PRDC, ReBRAC and SPOT publish other settings for hopper-medium than for halfcheetah
    (ALGORITHMS.md §9, PRDC's table, ReBRAC's per-dataset β, SPOT's per-dataset λ); the jobs
    take them, and the report says so under the table."""
    preset = results.PRESETS["cpu"]
    a2pr = results.job_config("a2pr", "hopper-medium-v0", preset, "hopper").agent
    assert (a2pr.alpha, a2pr.mask, a2pr.discount) == (2.5, 0.4, 0.995)
    a2pr = results.job_config("a2pr", "halfcheetah-medium-v0", preset, "halfcheetah").agent
    assert (a2pr.alpha, a2pr.mask, a2pr.discount) == (40.0, 1.0, 0.99)
    rebrac = results.job_config("rebrac", "hopper-medium-v0", preset, "hopper").agent
    assert (rebrac.actor_bc_coef, rebrac.critic_bc_coef) == (0.01, 0.01)
    assert results.job_config("prdc", "hopper-medium-v0", preset, "hopper").agent.alpha == 2.5
    assert results.job_config("spot", "hopper-medium-v0", preset, "hopper").agent.lambd == 0.1
    spot = results.job_config("spot", "halfcheetah-medium-v0", preset, "halfcheetah").agent
    assert spot.lambd == 0.05
    assert results.job_config("iql", "hopper-medium-v0", preset, "hopper").agent.beta == 3.0
    note = results.settings_note("hopper-medium-v0", {"iql": {}, "prdc": {}, "a2pr": {}})
    assert note == (
        "The references' settings for this dataset: a2pr alpha=2.5, mask=0.4, "
        "discount=0.995; prdc alpha=2.5."
    )
    assert results.settings_note("halfcheetah-medium-v0", {"a2pr": {}}) == ""


@pytest.mark.parametrize("preset", sorted(results.PRESETS))
def test_schedules_end_at_the_same_fraction_of_the_run_under_every_preset(preset):
    """ReBRAC's β halves, PRDC's and A2PR's decays end, SPOT's λ cools over the online gradient
    steps, and SPOT's VAE trains its config file's share of the offline steps (1/6), whatever
    the preset's length (ALGORITHMS.md "Corrections" 4)."""
    budget = results.PRESETS[preset]
    online = budget.online_steps  # utd 1 in these configs
    for name, field in [
        ("rebrac", "bc_decay_steps"),
        ("prdc", "bc_decay_steps"),
        ("a2pr", "mask_decay_steps"),
        ("spot", "cool_steps"),
    ]:
        config = results.job_config(name, "halfcheetah-medium-v0", budget, "halfcheetah")
        assert config.utd == 1 and config.online_steps == online
        assert getattr(config.agent, field) == online, (name, field)
    spot = results.job_config("spot", "halfcheetah-medium-v0", budget, "halfcheetah")
    assert spot.agent.vae_steps == round(budget.offline_steps * 2_000 / 12_000)
    assert 0 < spot.agent.vae_steps < spot.offline_steps
