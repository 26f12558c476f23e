"""Tests for jaxrl.report on hand-written run directories, and on one real tiny job."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jaxrl import report as rp
from jaxrl import stats

PNG = b"\x89PNG\r\n\x1a\n"
STEPS = [50, 100, 110, 150, 200]  # offline evaluations at 50, 100; the switch at 100
IQL = [  # one row per run: scores at STEPS
    [10.0, 40.0, 30.0, 50.0, 60.0],
    [10.0, 50.0, 45.0, 55.0, 70.0],
    [20.0, 60.0, 60.0, 70.0, 80.0],
    [0.0, 20.0, 10.0, 30.0, 90.0],
]


def write_workdir(path, algo, curves, task="halfcheetah", settings=None, steps=STEPS, **config):
    """A run directory as jaxrl.run writes it: config.json, metrics.jsonl, summary.json."""
    path = Path(path)
    path.mkdir(parents=True)
    seeds = list(range(len(curves))) if settings is None else [i % 3 for i in range(len(curves))]
    cfg = {"algo": algo, "task": task, "dataset": "", "seeds": seeds}
    cfg.update(dict(offline_steps=100, online_steps=100) | config)
    (path / "config.json").write_text(json.dumps(cfg))
    lines = []
    for k, step in enumerate(steps):
        for run, scores in enumerate(curves):
            lines.append({"run": run, "step": step, "loss": 1.0, "eval_score": scores[k]})
            lines.append({"run": run, "step": step + 5, "loss": 0.5})  # a chunk without eval
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    runs = [
        {"run": i, "seed": seeds[i]} | ({"settings": settings[i]} if settings else {})
        for i in range(len(curves))
    ]
    (path / "summary.json").write_text(json.dumps({"algo": algo, "runs": runs}))
    return path


@pytest.fixture
def two_algos(tmp_path):
    iql = write_workdir(tmp_path / "iql", "iql", IQL)
    cql = write_workdir(tmp_path / "cql", "cql", (np.array(IQL) + 10.0).tolist())
    return iql, cql


def test_table_matches_hand_computation(two_algos, tmp_path):
    iql, cql = two_algos
    result = rp.report([iql, cql], tmp_path / "out", num_resamples=200)
    rows = {row["group"]: row for row in result["rows"]}
    r = rows["iql"]
    assert r["runs"] == 4 and r["tasks"] == 1
    assert r["offline"] == pytest.approx(42.5)  # last scores at step <= 100: 40, 50, 60, 20
    assert r["final"] == pytest.approx(75.0)  # 60, 70, 80, 90
    assert r["iqm"] == pytest.approx(75.0)  # n = 4 cuts one from each end: mean(70, 80)
    assert r["median"] == pytest.approx(75.0)
    assert r["optimality_gap"] == pytest.approx(25.0)  # mean(40, 30, 20, 10)
    assert r["iqm_low"] <= 75.0 <= r["iqm_high"] and r["mean_low"] <= 75.0 <= r["mean_high"]
    # Dip window (100, 110]: 30-40, 45-50, 60-60, 10-20.
    assert r["dip"] == pytest.approx(-6.25)
    assert r["relative_dip"] == pytest.approx((-0.25 - 0.1 + 0.0 - 0.5) / 4)
    # Trapezoids from (100, offline) through 110, 150, 200, over 100 steps: 47, 56, 69.5, 39.5.
    assert r["auc"] == pytest.approx(53.0)
    assert rows["cql"]["iqm"] == pytest.approx(85.0) and rows["cql"]["dip"] == pytest.approx(-6.25)

    md = (tmp_path / "out" / "table.md").read_text()
    assert md == result["markdown"]
    assert "| iql | 4 | 42.5 | 75.0 [" in md and "| 25.0 | -6.2 | 53.0 |" in md
    with open(tmp_path / "out" / "table.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [row["group"] for row in table] == ["iql", "cql"]
    assert float(table[0]["auc"]) == pytest.approx(53.0)

    figures = ("learning_curves.png", "performance_profile.png", "probability_of_improvement.png")
    for name in figures:
        data = result["files"][name].read_bytes()
        assert data[:8] == PNG and len(data) > 5000, name
    assert "sensitivity.png" not in result["files"]  # not a sweep


def test_probability_of_improvement_matrix(two_algos):
    runs = [run for d in two_algos for run in rp.load_runs(d)]
    groups = rp.group_runs(runs, "dir")
    point, low, high = rp.improvement_matrix(groups, num_resamples=200)
    # Finals cql {70, 80, 90, 100} vs iql {60, 70, 80, 90}: wins + ties / 2 = 11.5 of 16 pairs.
    assert point[1, 0] == pytest.approx(11.5 / 16) and point[0, 1] == pytest.approx(4.5 / 16)
    assert np.isnan(point[0, 0]) and low[1, 0] <= point[1, 0] <= high[1, 0]


def test_curve_matrix_and_learning_curve_band(two_algos):
    group = rp.group_runs(rp.load_runs(two_algos[0]))[0]
    grid, curves = rp.curve_matrix(group)
    np.testing.assert_array_equal(grid, STEPS)
    np.testing.assert_array_equal(curves, IQL)
    point, _, _ = stats.pointwise_ci(curves, "iqm", num_resamples=10)
    np.testing.assert_allclose(point, [10.0, 45.0, 37.5, 52.5, 75.0])  # middle two of four


SWEEP_VALUES = (1.0, 3.0, 10.0)
SWEEP_BASE = {1.0: 30.0, 3.0: 60.0, 10.0: 45.0}


@pytest.fixture
def sweep_dir(tmp_path):
    """One program: 3 temperatures x 3 seeds, run index i = value i // 3, seed i % 3."""
    curves, settings = [], []
    for i in range(9):
        value = SWEEP_VALUES[i // 3]
        final = SWEEP_BASE[value] + 10.0 * (i % 3)
        curves.append([0.0, 20.0, 15.0, final - 5.0, final])
        settings.append({"agent.temperature": value})
    return write_workdir(tmp_path / "sweep", "iql", curves, settings=settings)


def test_sweep_groups_by_setting_and_draws_sensitivity(sweep_dir, tmp_path):
    result = rp.report([sweep_dir], tmp_path / "out", num_resamples=200)
    rows = result["rows"]
    assert [r["group"] for r in rows] == [f"agent.temperature={v:g}" for v in SWEEP_VALUES]
    assert [r["runs"] for r in rows] == [3, 3, 3]
    # Three runs: int(0.75) = 0 cut, IQM = mean = base + 10.
    assert [r["iqm"] for r in rows] == pytest.approx([40.0, 70.0, 55.0])
    assert [r["offline"] for r in rows] == pytest.approx([20.0] * 3)
    assert [r["dip"] for r in rows] == pytest.approx([-5.0] * 3)
    lines = rp.sensitivity_lines(result["groups"], rows)
    values, point, low, high = lines["agent.temperature"][""]
    assert values == [1.0, 3.0, 10.0] and list(point) == pytest.approx([40.0, 70.0, 55.0])
    assert np.all(low <= point) and np.all(point <= high)
    for name in ("sensitivity.png", "learning_curves.png", "probability_of_improvement.png"):
        data = result["files"][name].read_bytes()
        assert data[:8] == PNG and len(data) > 5000, name
    # Grouped by directory instead, the sweep is one group of nine runs.
    merged = rp.report([sweep_dir], tmp_path / "dir", group_by="dir", num_resamples=50)
    assert [r["runs"] for r in merged["rows"]] == [9]
    assert "sensitivity.png" not in merged["files"]


def test_sensitivity_lines_with_two_swept_keys():
    def group(alpha, lr, iqm):
        settings = {"agent.alpha": alpha, "agent.lr": lr}
        return rp.Group(label=str(settings), runs=[], algo="cql", settings=settings), {
            "iqm": iqm,
            "iqm_low": iqm - 1,
            "iqm_high": iqm + 1,
        }

    pairs = [group(a, lr, 10 * a + lr) for a in (5.0, 1.0) for lr in (0.1, 0.3)]
    lines = rp.sensitivity_lines([g for g, _ in pairs], [r for _, r in pairs])
    assert sorted(lines) == ["agent.alpha", "agent.lr"]
    assert sorted(lines["agent.alpha"]) == ["agent.lr=0.1", "agent.lr=0.3"]
    values, point, _, _ = lines["agent.alpha"]["agent.lr=0.3"]
    assert values == [1.0, 5.0] and list(point) == pytest.approx([10.3, 50.3])  # sorted by α


def test_multi_task_group_is_stratified(tmp_path):
    a = write_workdir(tmp_path / "a", "iql", IQL, task="hopper")
    b = write_workdir(tmp_path / "b", "iql", (np.array(IQL) - 50).tolist(), task="walker2d")
    groups = rp.group_runs([*rp.load_runs(a), *rp.load_runs(b)], "algo")
    assert [g.label for g in groups] == ["iql"]
    matrix = rp.score_matrix(groups[0])
    np.testing.assert_array_equal(matrix, [[60, 10], [70, 20], [80, 30], [90, 40]])  # sorted
    swapped = rp.group_runs([*rp.load_runs(b), *rp.load_runs(a)], "algo")
    np.testing.assert_array_equal(rp.score_matrix(swapped[0]), matrix)  # same column order
    row = rp.compare(groups, num_resamples=100)[0]
    assert row["tasks"] == 2 and row["runs"] == 8
    assert row["iqm"] == pytest.approx(stats.iqm(matrix))  # mean of 30, 40, 60, 70
    assert row["median"] == pytest.approx(np.median(matrix.mean(axis=0)))
    grid, curves = rp.curve_matrix(groups[0])
    assert curves.shape == (4, 2, 5)

    c = write_workdir(tmp_path / "c", "iql", IQL[:3], task="ant")
    uneven = rp.group_runs([*rp.load_runs(a), *rp.load_runs(c)], "algo")
    with pytest.raises(rp.ReportError, match="same number"):
        rp.compare(uneven)


def test_missing_files_name_the_directory_and_file(two_algos, tmp_path, capsys):
    iql, _ = two_algos
    (iql / "summary.json").unlink()
    with pytest.raises(rp.ReportError, match=r"iql: missing summary.json; the job has not"):
        rp.load_runs(iql)
    (iql / "metrics.jsonl").unlink()
    with pytest.raises(rp.ReportError, match=r"iql: missing metrics.jsonl"):
        rp.load_runs(iql)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(rp.ReportError, match=r"empty: missing config.json"):
        rp.find_workdirs([empty])
    assert rp.main([str(empty), "--out", str(tmp_path / "x")]) == 2
    assert "missing config.json" in capsys.readouterr().err
    with pytest.raises(rp.ReportError, match="no such directory"):
        rp.find_workdirs([tmp_path / "nowhere"])
    no_evals = write_workdir(tmp_path / "noeval", "iql", IQL)
    (no_evals / "metrics.jsonl").write_text('{"run": 0, "step": 5, "loss": 1.0}\n')
    with pytest.raises(rp.ReportError, match="run 0 has no 'eval_score'"):
        rp.load_runs(no_evals)


def test_cli_on_a_folder_of_run_directories(two_algos, tmp_path):
    parent = two_algos[0].parent  # holds iql/ and cql/
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "jaxrl.report", str(parent), "--out", str(out), "--resamples", "50"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr
    assert "| cql | 4 | 52.5 | 85.0 [" in proc.stdout  # folders are read in sorted order
    assert (out / "table.md").read_text() in proc.stdout
    assert (out / "learning_curves.png").stat().st_size > 0
    assert rp.main([str(parent), "--resamples", "20", "--group-by", "algo"]) == 0
    assert "| iql | 4 | 42.5 | 75.0 [" in (parent / "report" / "table.md").read_text()
    assert rp.find_workdirs([parent]) == [parent / "cql", parent / "iql"]  # report/ is skipped


# --------------------------------------------------------------------------- a real job


def test_report_on_a_real_tiny_job(tmp_path):
    from jaxrl.run import run
    from tests.helpers import tiny_config, write_dataset

    # test_training's fixture config: in one pytest session (CI) the persistent compilation
    # cache shares every compiled program between the two modules (checked: the second adds
    # only a trivial squeeze to the cache). Whichever runs first compiles; the other reuses.
    config = tiny_config(
        "iql",
        dataset=write_dataset(tmp_path / "tiny.hdf5"),
        seeds=(0, 1, 2),
        retention="mixed",
        offline_ratio=0.25,
        warmup_steps=8,
        num_envs=2,
    )
    summary = run(config, tmp_path / "job", progress=False)
    for entry in summary["runs"]:
        assert {"offline_score", "final_score", "dip", "relative_dip", "online_auc"} <= set(entry)
    assert "iqm_ci95" in summary["final"] and "iqm_ci95" in summary["online_auc"]

    result = rp.report([tmp_path / "job"], num_resamples=100)
    (row,) = result["rows"]
    assert row["runs"] == 3 and row["group"] == "job"
    finals = [entry["final_score"] for entry in summary["runs"]]
    assert row["final"] == pytest.approx(np.mean(finals))
    assert row["iqm"] == pytest.approx(summary["final"]["iqm"])
    assert row["dip"] == pytest.approx(np.mean([e["dip"] for e in summary["runs"]]))
    assert row["auc"] == pytest.approx(summary["online_auc"]["mean"])
    assert result["files"]["table.md"] == tmp_path / "job" / "report" / "table.md"
    assert result["files"]["learning_curves.png"].stat().st_size > 5000


def test_markdown_table_aligns_columns_and_produced_by_names_the_machine():
    table = rp.markdown_table(["a", "b", "c"], [[1, "x", 2.5], ["y", "", "z"]], align=" rl")
    assert table == "| a | b | c |\n|---|---:|:---|\n| 1 | x | 2.5 |\n| y |  | z |\n"
    assert rp.markdown_table(["a"], []) == "| a |\n|---|\n"
    with pytest.raises(ValueError, match="2 entries for 3 columns"):
        rp.markdown_table(["a", "b", "c"], [], align="rr")
    import jax

    line = rp.produced_by("python x.py --y")
    assert line.startswith("`python x.py --y` on 20") and line.endswith(f"; jax {jax.__version__})")
