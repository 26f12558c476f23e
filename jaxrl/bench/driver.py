"""The benchmark's driver: runs the workloads in order of importance, within a deadline, and
merges saved runs.

Example:
    >>> from jaxrl.bench import PRESETS, run_benchmark
    >>> records, info = run_benchmark(PRESETS["tiny"], only=("learner",), peers=False)
    ... # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import functools
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax

from jaxrl.bench.measure import machine_info, matmul_peak
from jaxrl.bench.peers import brax_record, d3rlpy_record, ensure_peers
from jaxrl.bench.presets import CORE_LEARNERS, D3RLPY_ALGOS, PRESETS, WORKLOADS, Preset
from jaxrl.bench.synthetic import synthetic_dataset
from jaxrl.bench.workloads import (
    buffer_records,
    env_record,
    learner_record,
    o2o_compile_record,
    o2o_step_record,
    online_record,
    recount_flops,
)
from jaxrl.envs import make_env


def run_benchmark(
    preset: Preset,
    only: Sequence[str] = WORKLOADS,
    peers: bool = True,
    log: Callable[[str], None] = print,
    preset_name: str = "",
    deadline: float | None = None,
    peer_names: Sequence[str] = ("d3rlpy", "brax"),
    on_record: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
    peer_scripts: Path | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Runs the selected workloads; returns (records, machine info).

    `deadline` (seconds from the start): jobs not yet started by then are recorded as skipped.
    `on_record` is called after each record (the driver saves the JSON as it goes).
    `peer_scripts`: the folder of the peer scripts and their setup.sh (`jaxrl.bench.peers`);
    None: every peer row says it is not available.
    """
    info = machine_info()
    info["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    info["preset"] = preset_name
    info["load_start"] = os.getloadavg()[0]
    t_start = time.perf_counter()
    env = make_env("halfcheetah")
    dataset = synthetic_dataset(preset.dataset_rows, env.spec.obs_dim, env.spec.action_dim)
    info["peak"] = matmul_peak(preset.matmul)
    info["matmul_n"] = preset.matmul
    log(f"[benchmark] matmul peak {info['peak'] / 1e9:.1f} GFLOP/s on {info['device']}")
    records: list[dict[str, Any]] = []

    def add(rec):
        records.append(rec)
        short = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in rec.items()}
        short.pop("call_s_all", None)
        log(f"[benchmark {time.perf_counter() - t_start:6.0f}s] {json.dumps(short, default=str)}")
        if on_record is not None:
            on_record(records, info)

    # Each job makes one record. They run in order of importance, so that a --deadline (a
    # leased GPU) cuts the least important: every learner row at `extra_runs`, the core rows
    # at the other run counts, the peers, the online and offline→online steps, env stepping,
    # the core rows on the other networks, and last the compile-time sweep and the buffer.
    jobs: list[tuple[dict[str, Any], Callable[[], dict[str, Any]]]] = []
    failed: set[tuple[str, str]] = set()

    def learner_job(name, net, runs):
        def job():
            if (name, net) in failed:  # an earlier count of this row failed
                return {**head, "status": "skipped: a smaller run count failed"}
            rec = learner_record(name, net, preset.nets[net], runs, preset, env, dataset, peak)
            if rec["status"] != "ok":
                failed.add((name, net))
            return rec

        head = {"workload": "learner", "algo": name, "net": net, "runs": runs}
        jobs.append((head, job))

    first_net = next(iter(preset.nets))
    peak = info["peak"]
    if "learner" in only:
        for name in preset.learners:
            for runs in preset.extra_runs:
                learner_job(name, first_net, runs)
        # Then the core rows at the other run counts (the other networks come later).
        for name in (n for n in preset.learners if n in CORE_LEARNERS):
            for runs in preset.runs:
                if runs not in preset.extra_runs:
                    learner_job(name, first_net, runs)
    if peers and "peers" in only:
        wanted = [p for p in ("d3rlpy", "brax") if p in peer_names]
        if peer_scripts is None:
            problems = {p: "no peer scripts given (peer_scripts)" for p in wanted}
        else:
            problems = ensure_peers(wanted, peer_scripts / "setup.sh")
        net, dims = first_net, preset.nets[first_net]

        def peer_job(peer: str, head: dict[str, Any], measure: Callable[[], dict[str, Any]]):
            """The peer's measurement, or a row saying why it is not available."""
            if peer not in peer_names:
                why = "not available: not in --peers"
            elif peer in problems:
                why = "not available: " + problems[peer]
            else:
                jobs.append((head, measure))
                return
            jobs.append((head, lambda: {**head, "status": why}))

        for name in (n for n in D3RLPY_ALGOS if n in preset.learners):
            peer_job(
                "d3rlpy",
                {"workload": "peer", "peer": "d3rlpy", "algo": name, "net": net, "runs": 1},
                functools.partial(d3rlpy_record, name, preset, dims, net, peer_scripts),
            )
        if "online" in only:  # brax.training SAC is the online workload's peer
            peer_job(
                "brax",
                {"workload": "peer", "peer": "brax.training", "algo": "sac", "net": net},
                functools.partial(brax_record, preset, peer_scripts),
            )
    if "online" in only:
        jobs.append(
            (
                {"workload": "online", "algo": "sac"},
                functools.partial(online_record, preset, env, dataset),
            )
        )
    if "o2o" in only:
        for recipe in ("rlpd", "wsrl"):
            head = {"workload": "o2o", "algo": recipe}
            jobs.append((head, functools.partial(o2o_step_record, recipe, preset, env, dataset)))
    if "env" in only:
        for n in preset.env_counts:
            jobs.append(
                ({"workload": "env", "num_envs": n}, functools.partial(env_record, n, preset, env))
            )
    if "learner" in only:
        for net in list(preset.nets)[1:]:
            counts = preset.runs if net in preset.sweep_nets else preset.runs[:1]
            for name in (n for n in preset.learners if n in CORE_LEARNERS):
                for runs in counts:
                    learner_job(name, net, runs)
    if "o2o" in only:
        for runs in preset.o2o_runs:
            head = {"workload": "o2o_compile", "algo": "iql", "runs": runs}
            jobs.append(
                (head, functools.partial(o2o_compile_record, "iql", runs, preset, env, dataset))
            )
    if "buffer" in only:
        jobs.append(({"workload": "buffer"}, functools.partial(buffer_records, preset, env)))

    for head, job in jobs:
        if deadline is not None and time.perf_counter() - t_start > deadline:
            add({**head, "status": f"skipped: past the --deadline of {deadline:.0f} s"})
            continue
        out = job()
        for rec in out if isinstance(out, list) else [out]:
            add(rec)
    # The peak again at the end: on a shared machine it moves, and the larger one is used.
    info["peak_start"] = info["peak"]
    info["peak_end"] = matmul_peak(preset.matmul)
    info["peak"] = max(info["peak_start"], info["peak_end"])
    for r in records:
        if "flops_per_s" in r:
            r["peak_fraction"] = r["flops_per_s"] / info["peak"]
    info["load_end"] = os.getloadavg()[0]
    info["seconds"] = time.perf_counter() - t_start
    return records, info


def _record_key(r: dict[str, Any]) -> tuple:
    return (
        r["workload"],
        r.get("peer"),
        r.get("algo"),
        r.get("net"),
        r.get("runs"),
        r.get("num_envs"),
    )


def merge_saved(paths: Sequence[Path]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records and info of saved runs: the first file's, plus each later file's measured rows
    that the earlier ones did not measure (two calls on one leased GPU, say). Learner rows
    without FLOPs (the run's backend counted none) get them counted here."""
    records: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    for path in paths:
        saved = json.loads(path.read_text())
        if not info:
            info, records = saved["info"], saved["records"]
            continue
        where = {_record_key(r): i for i, r in enumerate(records)}
        added = 0
        for r in saved["records"]:
            i = where.get(_record_key(r))
            if r["status"] != "ok" or (i is not None and records[i]["status"] == "ok"):
                continue
            if i is None:
                records.append(r)
            else:
                records[i] = r
            added += 1
        info.setdefault("merged", []).append([saved["info"].get("command", str(path)), added])
    filled = recount_flops(records, PRESETS[info.get("preset", "cpu")], info["peak"])
    if filled:
        info["flops_note"] = (
            f"FLOPs of {filled} learner row(s) were counted when the report was rendered "
            f"(jax {jax.__version__} on {jax.default_backend()}): the run's backend counted none"
        )
    return records, info
