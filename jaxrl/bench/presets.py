"""The benchmark's sizes (presets), its rows and their names.

A `Preset` fixes every size of one benchmark run: "cpu" (about 15 minutes on 2 cores), "gpu"
(one 10-minute call on a leased GPU, with a deadline) and "tiny" (tests). `LEARNERS` names the
learner rows: the registry algorithm, its config overrides and the UTD of one step.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxrl import recipes

_RLPD = recipes.rlpd()

# Learner rows: name -> (registry algorithm, agent overrides, UTD of one step).
LEARNERS: dict[str, tuple[str, dict[str, Any], int]] = {
    "td3bc": ("td3bc", {}, 1),
    "iql": ("iql", {}, 1),
    "cql": ("cql", {}, 1),
    "calql": ("calql", {}, 1),
    "sac": ("sac", {}, 1),
    "awac": ("awac", {}, 1),
    "rlpd": (_RLPD["algo"], _RLPD["agent"], _RLPD["utd"]),
    # Every other algorithm at its own defaults: one network size, the first and last run count
    # of the preset only (`CORE_LEARNERS` sweep every count and size).
    "bc": ("bc", {}, 1),
    "rebrac": ("rebrac", {}, 1),
    "spot": ("spot", {}, 1),
    "sacn": ("sacn", {}, 1),
    "edac": ("edac", {}, 1),
    "wsrl": ("wsrl", {}, 1),
    "riql": ("riql", {}, 1),
    "ro2o": ("ro2o", {}, 1),
    "famo2o": ("famo2o", {}, 1),
    "prdc": ("prdc", {}, 1),
    "a2pr": ("a2pr", {}, 1),
}
CORE_LEARNERS = ("td3bc", "iql", "cql", "calql", "sac", "awac", "rlpd")
# Rows whose one update costs many times an IQL update (CQL and Cal-QL evaluate both critics on
# 3 × 10 sampled actions per state, ≈16× the FLOPs): their scans are this many times shorter, so
# the CPU preset stays within its time budget. Rates are per update, so rows stay comparable.
# WSRL pre-trains like CQL with 10 critics; RO2O adds perturbed-state ensembles; PRDC searches
# the whole dataset for each state's neighbour; SAC-N/EDAC evaluate 10 critics.
# Measured on the 2-core CPU (2026-11-29): WSRL's 8-run row took 110 s and RO2O's 150 s at 8 and
# 4, so they run one update per call.
HEAVY_LEARNERS = {"cql": 8, "calql": 8, "wsrl": 40, "ro2o": 40, "prdc": 4, "sacn": 2, "edac": 2}
# The same for the offline→online step rows (none at present: the WSRL row used to time a
# Cal-QL learner with batch 4×1024 by mistake, 40 s per 10-env-step call, and was shortened).
HEAVY_O2O: dict[str, int] = {}
# d3rlpy's names of the algorithms it shares with jaxrl.
D3RLPY_ALGOS = {"iql": "IQL", "td3bc": "TD3PlusBC", "cql": "CQL", "awac": "AWAC"}


@dataclasses.dataclass(frozen=True)
class Preset:
    """Sizes of one benchmark run."""

    runs: tuple[int, ...]  # run counts of the vmapped learner sweep
    nets: dict[str, tuple[int, ...]]  # network name -> hidden dims
    sweep_nets: tuple[str, ...]  # networks swept over every run count (others: first count)
    extra_runs: tuple[int, ...]  # run counts of every learner row (first net); core rows: `runs`
    learners: tuple[str, ...]  # rows of LEARNERS
    steps: int  # updates per timed call (K of the scan)
    reps: int  # timed calls after the warm-up call
    batch: int  # batch size of the learner and online workloads
    dataset_rows: int  # rows of the synthetic device dataset
    online_envs: int  # parallel envs of the online SAC workload
    online_utd: int  # UTD of the online SAC workload
    online_steps: int  # env steps per timed online call (all envs)
    o2o_runs: tuple[int, ...]  # run counts of the offline→online compile-time sweep
    o2o_steps: int  # env steps per timed RLPD / WSRL call
    env_counts: tuple[int, ...]  # parallel envs of the env-stepping workload
    env_steps: int  # vectorized env steps per timed call
    peer_steps: int  # d3rlpy updates timed per algorithm
    brax_timesteps: int  # env steps of the brax.training SAC run (three epochs)
    matmul: int  # side of the square f32 matmul that measures the peak


_CPU = Preset(
    runs=(1, 2, 4, 8),
    nets={"2x256": (256, 256), "3x256": (256, 256, 256)},
    sweep_nets=("2x256",),
    extra_runs=(1, 8),
    learners=tuple(LEARNERS),
    steps=40,
    reps=3,
    batch=256,
    dataset_rows=100_000,
    online_envs=16,
    online_utd=1,
    online_steps=16 * 50,
    o2o_runs=(1, 8),
    o2o_steps=10,
    env_counts=(1, 16, 128),
    env_steps=50,
    peer_steps=300,
    brax_timesteps=16 * 50 * 3,
    matmul=2048,
)


PRESETS: dict[str, Preset] = {
    "cpu": _CPU,
    # Sized for one 10-minute call on a leased GPU (with --deadline): every row at 1 and 8 runs,
    # the core rows also at 64 and 256.
    "gpu": dataclasses.replace(
        _CPU,
        runs=(1, 8, 64, 256),
        steps=200,
        dataset_rows=1_000_000,
        online_envs=128,
        online_steps=128 * 200,
        o2o_runs=(1, 64),
        o2o_steps=100,
        env_counts=(1, 128, 2048),
        env_steps=200,
        peer_steps=500,
        brax_timesteps=128 * 200 * 3,
        matmul=8192,
    ),
    # For tests: everything tiny.
    "tiny": Preset(
        runs=(1, 2),
        nets={"2x16": (16, 16)},
        sweep_nets=("2x16",),
        extra_runs=(1, 2),
        learners=("iql",),
        steps=2,
        reps=1,
        batch=8,
        dataset_rows=256,
        online_envs=2,
        online_utd=1,
        online_steps=4,
        o2o_runs=(1,),
        o2o_steps=2,
        env_counts=(1,),
        env_steps=2,
        peer_steps=10,
        brax_timesteps=64,
        matmul=128,
    ),
}
WORKLOADS = ("learner", "online", "o2o", "env", "buffer", "peers")
