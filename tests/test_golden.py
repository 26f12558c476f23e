"""Numbers do not move: tiny jobs reproduce tests/golden/outputs.json bit for bit.

The goldens were recorded with `jaxrl.run.run` before the host layer became a library
(`python -m tests.golden`). Here the same jobs run through the in-memory loop
(`jaxrl.training.train`, touching no file) and through `run`, and both must give the
recorded final states, every metric record and the summary: each leaf's SHA-256, or, where
another processor's XLA code moved the last bits, its float64 moments to `golden.RTOL`
(tests/golden.py says why and how to check a refactor bit for bit on one machine).

CI runs the jobs that cover every path of the host layer (normalized observations, a weighted
sampler and a reward scale; random warm-up, mixed retention and UTD 2; MC returns; next
actions; %BC's episode filter; an ensemble recipe). Every registered algorithm:
`JAXRL_GOLDEN=all python -m pytest tests/test_golden.py` (about 12 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np
import pytest

from jaxrl import data
from jaxrl.training import History, Progress, build, init_states, make_plan, train
from tests import golden

GOLDENS = json.loads(golden.GOLDEN.read_text())
CORE = ("iql+normalize+sampler", "sac+warmup+mixed", "calql", "rebrac", "bc+top_fraction")
JOBS = sorted(GOLDENS) if os.environ.get("JAXRL_GOLDEN") == "all" else CORE


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory):
    return golden.write_data(tmp_path_factory.mktemp("golden"))


@pytest.fixture(scope="module")
def configs(dataset_path):
    return golden.jobs(dataset_path)


class _Writes:
    """Records every file opened for writing and every directory made, while `active`.

    An audit hook (they cannot be removed, so it is installed once and switched): Python's
    `open`/`os.open` with a writing mode or flags, and the `os` calls that create, move or
    delete. XLA's compilation cache (set up by conftest.py) is JAX's, not jaxrl's: exempt.
    """

    active = False
    seen: list = []
    installed = False

    @classmethod
    def hook(cls, event, args):
        if not cls.active:
            return
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            )
            if not writing:
                return
        elif event not in ("os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir"):
            return
        path = str(args[0])
        cache = str(jax.config.jax_compilation_cache_dir or "\0")
        if not (path.startswith(cache) or path.startswith("/dev/")):
            cls.seen.append((event, path))

    def __enter__(self):
        if not _Writes.installed:
            sys.addaudithook(_Writes.hook)
            _Writes.installed = True
        _Writes.seen, _Writes.active = [], True
        return self

    def __exit__(self, *exc):
        _Writes.active = False


def _check(name, states, records, summary):
    want = GOLDENS[name]
    got_states, got_moments = golden.fingerprint(states), golden.moments(states)
    assert set(got_states) == set(want["states"]), "the TrainState's leaves changed"
    moved = sorted(
        k
        for k in want["states"]
        if got_states[k] != want["states"][k]
        and not (k in want["moments"] and golden.moments_close(got_moments[k], want["moments"][k]))
    )
    assert not moved, f"{name}: leaves differ from the golden run: {moved[:5]}"
    got_records = json.loads(json.dumps(golden.clean_records(records)))
    assert len(got_records) == len(want["records"])
    for i, (got, expected) in enumerate(zip(got_records, want["records"], strict=True)):
        assert golden.values_close(got, expected), f"{name}: record {i}: {got} != {expected}"
    got = json.loads(json.dumps(golden.clean_summary(summary)))
    expected = golden.clean_summary(want["summary"])
    assert golden.values_close(got, expected), f"{name}: summary {got} != {expected}"


@pytest.mark.parametrize("name", JOBS)
def test_train_in_memory_reproduces_the_golden_run_and_touches_no_file(name, configs):
    config = configs[name]
    programs = build(config)  # reads the dataset file: reading is allowed
    with _Writes():
        states, history = train(programs, init_states(programs))
        states = jax.device_get(states)
    assert _Writes.seen == [], f"train wrote to the file system: {_Writes.seen[:5]}"
    _check(name, states, history.records, history.summary())


@pytest.mark.parametrize("name", JOBS)
def test_run_reproduces_the_golden_run(name, configs, tmp_path):
    _check(name, **_run_outputs(configs[name], tmp_path))


def _run_outputs(config, workdir):
    from jaxrl.logging import read_metrics
    from jaxrl.run import run

    final = {}
    summary = run(config, workdir, progress=False, on_eval=lambda s, st, r: final.update(st=st))
    states = jax.device_get(final["st"])
    return {"states": states, "records": read_metrics(workdir), "summary": summary}


def test_train_continues_from_states_it_was_given(configs, dataset_path):
    """Stop after two plan items, hold the states, continue: the uninterrupted numbers."""
    name = "sac+warmup+mixed"
    ds = data.load(dataset_path)
    programs = build(configs[name], ds)
    plan = make_plan(programs.config)
    states, first = train(programs, init_states(programs), plan=plan[:2])
    assert [r["step"] for r in first.records[::2]] == [10, 20]
    start = Progress(chunks_done=plan[1].index, records=len(first.records))
    states, rest = train(programs, states, plan=plan, start=start)
    records = first.records + rest.records
    _check(name, jax.device_get(states), records, History(programs, records).summary())


def test_the_tolerant_comparison_takes_float_noise_and_nothing_more():
    """Last-bit noise passes; a 1e-3 change of one element, or of one metric, does not."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 64)).astype(np.float32)
    want = golden.leaf_moments(x)
    assert golden.moments_close(golden.leaf_moments(x * (1 + 1e-7)), want)
    bumped = x.copy()
    bumped[1, 7] += 1e-3 * np.abs(x).sum()
    assert not golden.moments_close(golden.leaf_moments(bumped), want)
    swapped = x.copy()
    swapped[0, [3, 4]] = swapped[0, [4, 3]]  # same sums: the sine weights see the order
    assert not golden.moments_close(golden.leaf_moments(swapped), want)
    unfinished = x.copy()
    unfinished[0, 5] = -np.inf
    assert golden.moments_close(golden.leaf_moments(unfinished), golden.leaf_moments(unfinished))
    assert not golden.moments_close(golden.leaf_moments(unfinished), want)
    moved_inf = x.copy()
    moved_inf[0, 6] = -np.inf
    assert not golden.moments_close(golden.leaf_moments(moved_inf), golden.leaf_moments(unfinished))
    record = {"step": 10, "loss": 0.25, "algo": "iql", "returns": [1.0, float("nan")]}
    assert golden.values_close(dict(record, loss=0.25 * (1 + 1e-7)), record)
    assert not golden.values_close(dict(record, loss=0.2503), record)
    assert not golden.values_close(dict(record, step=11), record)
    assert not golden.values_close(dict(record, returns=[1.0, 0.0]), record)
    assert not golden.values_close({k: v for k, v in record.items() if k != "loss"}, record)
