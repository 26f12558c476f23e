"""Tests for jaxrl.logging (metric files) and jaxrl.plots (stats: tests/test_stats.py)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from jaxrl import logging as jlog
from jaxrl import plots

# --------------------------------------------------------------------------- logging


def _csv(workdir):
    with open(workdir / jlog.METRICS_CSV, newline="") as f:
        return list(csv.reader(f))


def test_jsonl_and_csv_round_trip_with_nonfinite_and_numpy(tmp_path):
    records = [
        {"run": 0, "step": 10, "loss": 0.25, "q": float("nan"), "tag": "offline"},
        {
            "run": np.int32(1),
            "step": 10,
            "loss": np.float32(0.5),
            "q": float("inf"),
            "tag": "offline",
        },
        {"run": 0, "step": 20, "loss": np.array(1e-30), "q": -math.inf, "tag": "online"},
    ]
    with jlog.MetricWriter(tmp_path) as writer:
        writer.write(records)

    lines = (tmp_path / jlog.METRICS_JSONL).read_text().splitlines()
    assert len(lines) == 3
    raw = [json.loads(line) for line in lines]  # strict JSON: no NaN/Infinity tokens
    assert [r["q"] for r in raw] == ["nan", "inf", "-inf"]

    back = jlog.read_metrics(tmp_path)
    assert back[0]["loss"] == 0.25 and math.isnan(back[0]["q"])
    assert back[1]["run"] == 1 and isinstance(back[1]["run"], int)
    assert back[1]["loss"] == 0.5 and back[1]["q"] == math.inf
    assert back[2]["loss"] == 1e-30 and back[2]["q"] == -math.inf
    assert back[2]["tag"] == "online"

    rows = _csv(tmp_path)
    assert rows[0] == ["run", "step", "loss", "q", "tag"]
    assert rows[1] == ["0", "10", "0.25", "nan", "offline"]
    assert rows[2][3] == "inf" and rows[3][3] == "-inf"
    assert float(rows[3][2]) == 1e-30


def test_rejects_non_scalars(tmp_path):
    with jlog.MetricWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match="scalar"):
            writer.write([{"x": np.zeros(3)}])
        with pytest.raises(TypeError, match="list of records"):
            writer.write({"x": 1.0})
    with pytest.raises(ValueError, match="closed"):
        writer.write([{"x": 1.0}])


def test_new_keys_extend_csv_header(tmp_path):
    with jlog.MetricWriter(tmp_path) as writer:
        writer.write([{"step": 1, "loss": 1.0}, {"step": 1, "loss": 2.0}])
        writer.write([{"step": 2, "loss": 3.0, "eval/score": 50.0}])
        writer.write([{"step": 3, "loss": 4.0}])
        assert writer.keys == ["step", "loss", "eval/score"]
    rows = _csv(tmp_path)
    assert rows == [
        ["step", "loss", "eval/score"],
        ["1", "1.0", ""],
        ["1", "2.0", ""],
        ["2", "3.0", "50.0"],
        ["3", "4.0", ""],
    ]
    assert len(jlog.read_metrics(tmp_path)) == 4


def test_truncated_last_line_is_ignored_and_repaired_on_resume(tmp_path):
    with jlog.MetricWriter(tmp_path) as writer:
        writer.write([{"step": 1, "x": 1.0}, {"step": 2, "x": 2.0}])
    with open(tmp_path / jlog.METRICS_JSONL, "a") as f:
        f.write('{"step": 3, "x": 3.')  # a crash in the middle of a write
    assert [r["step"] for r in jlog.read_metrics(tmp_path)] == [1, 2]

    with jlog.MetricWriter(tmp_path) as writer:  # resuming appends after the good lines
        writer.write([{"step": 3, "x": 3.5}])
    assert [r["x"] for r in jlog.read_metrics(tmp_path)] == [1.0, 2.0, 3.5]
    assert [row[1] for row in _csv(tmp_path)] == ["x", "1.0", "2.0", "3.5"]


def test_complete_but_unterminated_last_line_is_kept(tmp_path):
    (tmp_path / jlog.METRICS_JSONL).write_text('{"a": 1}\n{"a": 2}')
    assert [r["a"] for r in jlog.read_metrics(tmp_path)] == [1, 2]
    with jlog.MetricWriter(tmp_path) as writer:
        writer.write([{"a": 3}])
    assert [r["a"] for r in jlog.read_metrics(tmp_path)] == [1, 2, 3]


def test_malformed_middle_line_raises(tmp_path):
    (tmp_path / jlog.METRICS_JSONL).write_text('{"a": 1}\nnot json\n{"a": 2}\n')
    with pytest.raises(ValueError, match=":2:"):
        jlog.read_metrics(tmp_path)


def test_read_metrics_missing_file_is_empty(tmp_path):
    assert jlog.read_metrics(tmp_path) == []


def test_truncate_metrics(tmp_path):
    with jlog.MetricWriter(tmp_path) as writer:
        writer.write([{"step": i, "x": float(i)} for i in range(3)])
        writer.write([{"step": 3, "x": 3.0, "late": 1.0}])
    assert jlog.truncate_metrics(tmp_path, 2) == 2
    assert [r["step"] for r in jlog.read_metrics(tmp_path)] == [0, 1]
    assert _csv(tmp_path) == [["step", "x"], ["0", "0.0"], ["1", "1.0"]]
    assert not list(tmp_path.glob("*.tmp"))
    assert jlog.truncate_metrics(tmp_path, 10) == 2  # more than present keeps all

    with jlog.MetricWriter(tmp_path) as writer:  # resume after truncation
        writer.write([{"step": 2, "x": 2.5}])
    assert [r["x"] for r in jlog.read_metrics(tmp_path)] == [0.0, 1.0, 2.5]
    with pytest.raises(ValueError):
        jlog.truncate_metrics(tmp_path, -1)


def test_tensorboard_writes_event_files_per_run(tmp_path):
    pytest.importorskip("tensorboardX")
    with jlog.MetricWriter(tmp_path, tensorboard=True) as writer:
        writer.write(
            [
                {"run": 0, "env_steps": 5, "grad_steps": 5, "loss": 1.0, "tag": "a"},
                {"run": 1, "step": 10, "loss": float("nan")},
            ]
        )
    # Read the scalars back from the event files (TFRecord framing around Event protos).
    assert _scalars(tmp_path / "tb" / "run_0") == {("loss", 10, 1.0)}  # step = env + grad steps
    (tag, step, value), *rest = _scalars(tmp_path / "tb" / "run_1")
    assert not rest and (tag, step) == ("loss", 10) and math.isnan(value)


def _scalars(directory) -> set[tuple[str, int, float]]:
    """(tag, step, value) of every scalar summary in `directory`'s event files."""
    import struct

    from tensorboardX.proto import event_pb2

    out = set()
    for path in directory.glob("events.out.tfevents.*"):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            record = data[offset + 12 : offset + 12 + length]  # after the length and its CRC
            offset += 12 + length + 4  # and the record's CRC
            event = event_pb2.Event.FromString(record)
            for v in event.summary.value:
                out.add((v.tag, event.step, v.simple_value))
    return out


def test_tensorboard_step():
    assert jlog._tensorboard_step({"step": 7, "env_steps": 1}, default=0) == 7
    assert jlog._tensorboard_step({"env_steps": 3, "grad_steps": 4}, default=0) == 7
    assert jlog._tensorboard_step({"loss": 1.0}, default=5) == 5


# --------------------------------------------------------------------------- plots


def _curves(offset=0.0, runs=3):
    steps = np.arange(0, 200, 10)
    return {run: (steps, steps / 4 + run + offset) for run in range(runs)}


def test_learning_curve_writes_png(tmp_path):
    path = plots.learning_curve(
        _curves(), tmp_path / "plots" / "curve.png", switch_step=100, title="IQL"
    )
    assert path == tmp_path / "plots" / "curve.png"
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000

    labelled = {"iql": _curves(), "cql": _curves(10.0)}
    other = plots.learning_curve(labelled, tmp_path / "two.png", xlabel="environment steps")
    assert other.stat().st_size > 0


def test_plot_learning_curve_draws_switch_line_mean_and_seeds():
    ax = Figure().add_subplot()
    plots.plot_learning_curve(
        ax, {"iql": _curves(), "cql": _curves(5.0, runs=2)}, switch_step=100, xlabel="env steps"
    )
    switch = [line for line in ax.lines if line.get_label() == plots.SWITCH_LABEL]
    assert len(switch) == 1 and list(switch[0].get_xdata()) == [100, 100]
    assert switch[0].get_linestyle() == "--"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "iql (mean ± std, n=3)" in labels and "cql (mean ± std, n=2)" in labels
    assert plots.SWITCH_LABEL in labels
    assert len(ax.lines) == 3 + 1 + 2 + 1 + 1  # seeds + mean per label, the switch
    mean_line = next(line for line in ax.lines if line.get_label().startswith("iql"))
    np.testing.assert_allclose(mean_line.get_ydata(), np.arange(0, 200, 10) / 4 + 1.0)
    assert ax.get_xlabel() == "env steps"


def test_plot_learning_curve_from_records_and_ragged_steps():
    records = [
        {"run": r, "step": s, "eval/score": float(s + r)} for s in (0, 10, 20) for r in (0, 1)
    ] + [{"run": 0, "step": 25, "loss": 1.0}]
    ax = Figure().add_subplot()
    plots.plot_learning_curve(ax, records, score_key="eval/score")
    mean_line = ax.lines[2]
    np.testing.assert_allclose(mean_line.get_ydata(), [0.5, 10.5, 20.5])
    with pytest.raises(ValueError, match="score_key"):
        plots.plot_learning_curve(ax, records)

    ragged = {
        0: (np.array([0, 10, 20]), np.array([0.0, 10.0, 20.0])),
        1: (np.array([5, 15, 25]), np.array([5.0, 15.0, 25.0])),
    }
    ax = Figure().add_subplot()
    plots.plot_learning_curve(ax, ragged)
    np.testing.assert_allclose(ax.lines[2].get_xdata(), [5, 10, 15, 20])
    np.testing.assert_allclose(ax.lines[2].get_ydata(), [5, 10, 15, 20])
