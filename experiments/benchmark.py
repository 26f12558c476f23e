"""Throughput benchmark of jaxrl's compiled programs, with peers measured in the same run.

Workloads (each a list of result records, written to docs/BENCHMARKS.md and a JSON file):
- learner: a `lax.scan` of K updates sampled from a device dataset (`make_offline_chunk`), for
  every algorithm in the registry (TD3+BC and AWAC rows say "not available" until they are
  registered) plus the RLPD critic step (SAC, 10 LayerNorm critics, 2-of-10 target, UTD 20
  through `update_utd`), vmapped over 1, 2, 4, 8 runs (CPU) or 1, 8, 64, 256 (GPU);
- online: SAC on Brax halfcheetah through `make_online_chunk` (env steps/s and updates/s);
- o2o: one offline→online step of the RLPD recipe (UTD 20, 50/50 batches, 10 critics) and of the
  WSRL recipe (UTD 4, batch 1024), and the compile time of the whole offline→online program
  (offline chunk, switch, online chunk, evaluator) against the number of runs;
- env and buffer: `env.step` and `buffer_add`/`buffer_sample` in isolation;
- peers: d3rlpy (PyTorch) IQL, TD3+BC, CQL, AWAC and brax.training SAC, each run from its own
  virtual environment (experiments/peers/setup.sh) by a script that prints one JSON line.

Compile time is the ahead-of-time `lower().compile()` time; steady-state time is the median
of `reps` timed calls after a warm-up call, each ended by `block_until_ready`. FLOPs per update
come from XLA's cost analysis of one vmapped update (the analysis counts a loop body once, so
the scanned chunk is not used for it); the peak is a timed large f32 matmul on the same device.

Usage:
    python experiments/benchmark.py --preset cpu            # about 15 minutes on 2 cores
    python experiments/benchmark.py --preset gpu --deadline 420 --peers d3rlpy   # one GPU lease
    python experiments/benchmark.py --preset cpu --only learner,online --no-peers
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxrl import data as data_lib  # noqa: E402
from jaxrl.agents.registry import AGENTS, agent_config, make_agent  # noqa: E402
from jaxrl.buffers import buffer_add, buffer_init, buffer_sample, dataset_sample  # noqa: E402
from jaxrl.config import TrainConfig  # noqa: E402
from jaxrl.data import trajectories  # noqa: E402
from jaxrl.envs import Env, EnvState, make_env  # noqa: E402
from jaxrl.training import (  # noqa: E402
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)
from jaxrl.training.chunks import uses_next_action, with_dataset  # noqa: E402
from jaxrl.types import empty_transition  # noqa: E402

PEERS_DIR = Path(os.environ.get("PEERS_DIR", Path.home() / ".cache/jaxrl/peers"))
PEER_SCRIPTS = Path(__file__).resolve().parent / "peers"

# The RLPD recipe's agent (experiments/configs/rlpd.py).
RLPD_AGENT = {
    "num_critics": 10,
    "critic_layer_norm": "before_act",
    "target_reduction": "subset_min",
    "subset_size": 2,
    "subset_replace": False,
    "actor_reduction": "mean",
    "target_entropy_scale": 0.5,
    "actor_update": "last",
}
# The WSRL recipe's agent (experiments/configs/wsrl.py): CQL pre-training, SAC online.
WSRL_AGENT = {"cql_n_actions": 4}

# Learner rows: name -> (registry algorithm, agent overrides, UTD of one step).
LEARNERS: dict[str, tuple[str, dict[str, Any], int]] = {
    "td3bc": ("td3bc", {}, 1),
    "iql": ("iql", {}, 1),
    "cql": ("cql", {}, 1),
    "calql": ("calql", {}, 1),
    "sac": ("sac", {}, 1),
    "awac": ("awac", {}, 1),
    "rlpd": ("sac", RLPD_AGENT, 20),
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


PRESETS: dict[str, Preset] = {
    "cpu": Preset(
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
    ),
    # Sized for one 10-minute call on a leased GPU (with --deadline): every row at 1 and 8 runs,
    # the core rows also at 64 and 256.
    "gpu": Preset(
        runs=(1, 8, 64, 256),
        nets={"2x256": (256, 256), "3x256": (256, 256, 256)},
        sweep_nets=("2x256",),
        extra_runs=(1, 8),
        learners=tuple(LEARNERS),
        steps=200,
        reps=3,
        batch=256,
        dataset_rows=1_000_000,
        online_envs=128,
        online_utd=1,
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


# --------------------------------------------------------------------------------------------
# Measurement helpers


def _block(x):
    return jax.block_until_ready(x)


def _flops(compiled) -> float:
    ca = compiled.cost_analysis()
    if isinstance(ca, (list, tuple)):
        ca = ca[0] if ca else {}
    return float((ca or {}).get("flops", 0.0))


def _lowered_flops(lowered) -> float:
    """FLOPs of a lowered program: XLA's analysis of the unoptimised HLO, or, where the backend
    gives none for it (the CUDA backend, seen on an H200 with jax 0.11.2), of the compiled one."""
    flops = _flops(lowered)
    return flops if flops > 0 else _flops(lowered.compile())


def _memory_bytes(compiled) -> int:
    """Device bytes the program holds at once: arguments + outputs + temporaries − aliased."""
    try:
        m = compiled.memory_analysis()
        return int(
            m.argument_size_in_bytes
            + m.output_size_in_bytes
            + m.temp_size_in_bytes
            - m.alias_size_in_bytes
        )
    except Exception:  # noqa: BLE001 - not every backend reports it
        return -1


def _rss_mb() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _aot(fn, *args) -> tuple[Any, float]:
    """(compiled, seconds to trace, lower and compile)."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    return compiled, time.perf_counter() - t0


def _time_calls(call: Callable, state, reps: int) -> tuple[Any, float, list[float]]:
    """One warm-up call, then `reps` timed ones; the state is threaded (it is donated)."""
    state = _block(call(state))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        state = _block(call(state))
        times.append(time.perf_counter() - t0)
    return state, statistics.median(times), times


def matmul_peak(n: int, reps: int = 5) -> float:
    """FLOP/s of a square f32 matmul of side `n` (8 chained products per call)."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32) / np.sqrt(n)

    @jax.jit
    def chain(x):
        return jax.lax.fori_loop(0, 8, lambda _, y: y @ a, x)

    _block(chain(a))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(chain(a))
        times.append(time.perf_counter() - t0)
    return 8 * 2 * n**3 / min(times)


def synthetic_dataset(
    rows: int, obs_dim: int, action_dim: int, seed: int = 0, next_actions: bool = False
):
    """A D4RL-layout random dataset in 1000-step episodes, with MC returns, on device
    (and each row's next action when `next_actions`: ReBRAC's critic penalty reads it).
    Cached: the learner rows and `recount_flops` share one copy per layout, however the
    arguments are passed."""
    return _synthetic_dataset(rows, obs_dim, action_dim, seed, next_actions)


@functools.lru_cache(maxsize=4)
def _synthetic_dataset(rows: int, obs_dim: int, action_dim: int, seed: int, next_actions: bool):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(rows + 1, obs_dim)).astype(np.float32)
    arrays = {
        "observations": obs[:-1],
        "actions": rng.uniform(-1, 1, (rows, action_dim)).astype(np.float32),
        "rewards": rng.normal(size=rows).astype(np.float32),
        "terminals": np.zeros(rows, np.float32),
        "timeouts": (np.arange(rows) % 1000 == 999).astype(np.float32),
        "next_observations": obs[1:],
    }
    ds = data_lib.from_arrays(arrays, source="<benchmark>", metadata={"task": "halfcheetah"})
    ds = data_lib.with_mc_returns(ds, 0.99)
    if next_actions:
        ds = trajectories.with_next_actions(ds)
    return data_lib.to_device(ds)


def _with_dims(algo: str, dims: tuple[int, ...], overrides: dict[str, Any]):
    """The algorithm's config with every `*hidden_dims` field set to `dims`."""
    cls = AGENTS[algo][0]
    sizes = {f.name: dims for f in dataclasses.fields(cls) if f.name.endswith("hidden_dims")}
    return agent_config(algo, {**sizes, **overrides})


def learner_env(spec):
    """An `Env` whose reset makes a placeholder state: the learner workload never steps an env,
    and building the states through Brax's reset would only add its compile time."""

    def reset(key):
        zero = jnp.zeros((), jnp.float32)
        obs = jnp.zeros((spec.obs_dim,), jnp.float32)
        return EnvState(zero, obs, zero, jnp.zeros((), jnp.int32), key)

    return Env(reset=reset, step=None, spec=spec, task=None)


def _init_states(config: TrainConfig, agent, env):
    seeds = jnp.arange(config.num_runs, dtype=jnp.uint32)
    return jax.jit(jax.vmap(lambda s: init_train_state(config, agent, env, s)))(seeds)


# --------------------------------------------------------------------------------------------
# Workloads


def _utd_learner_chunk(config: TrainConfig, agent, utd: int) -> Callable:
    """Like `make_offline_chunk`, but each step is `update_utd` on `utd` dataset batches."""

    def chunk(ts, dataset):
        def step(ts, _):
            key, sample_key, update_key = jax.random.split(ts.key, 3)
            batches = jax.vmap(lambda k: dataset_sample(dataset, k, config.batch_size))(
                jax.random.split(sample_key, utd)
            )
            agent_state, metrics = agent.update_utd(ts.agent, batches, update_key)
            return ts.replace(agent=agent_state, key=key), metrics

        ts, metrics = jax.lax.scan(step, ts, None, length=config.chunk_length)
        return ts, jax.tree.map(lambda x: jnp.mean(x, 0), metrics)

    return jax.jit(jax.vmap(chunk, in_axes=(0, None)), donate_argnums=(0,))


@contextlib.contextmanager
def _unrolled_scans():
    """Traces every `lax.scan` fully unrolled, so XLA's cost analysis sees each iteration."""
    orig = jax.lax.scan
    jax.lax.scan = functools.partial(orig, unroll=True)
    try:
        yield
    finally:
        jax.lax.scan = orig


def update_flops(agent, config: TrainConfig, env, dataset, runs: int, utd: int) -> float:
    """FLOPs of one gradient step of one run, from the unoptimised HLO of a vmapped update.

    XLA's cost analysis counts a loop body once, so the scanned chunk cannot be used; with
    `utd` > 1 the `update_utd` call is traced with its critic scan unrolled.
    """
    key_t = jax.ShapeDtypeStruct((runs,), jax.random.key(0).dtype)
    batch = jax.eval_shape(jax.vmap(lambda k: dataset_sample(dataset, k, config.batch_size)), key_t)
    template = jax.eval_shape(
        jax.vmap(lambda s: init_train_state(config, agent, env, s)),
        jax.ShapeDtypeStruct((runs,), jnp.uint32),
    ).agent
    if utd == 1:
        # The dataset is an argument (PRDC's update reads it through `bind_dataset`).
        def update(states, batch, keys, ds):
            return jax.vmap(with_dataset(agent, ds).update)(states, batch, keys)

        lowered = jax.jit(update).lower(template, batch, key_t, dataset)
    else:
        batches = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct((x.shape[0], utd) + x.shape[1:], x.dtype), batch
        )
        with _unrolled_scans():
            lowered = jax.jit(jax.vmap(agent.update_utd)).lower(template, batches, key_t)
    return _lowered_flops(lowered) / (runs * utd)


def _learner_setup(name: str, dims: tuple[int, ...], runs: int, preset: Preset, spec):
    """(config, agent, UTD) of learner row `name` at one network size and run count."""
    algo, overrides, utd = LEARNERS[name]
    acfg = _with_dims(algo, dims, overrides)
    config = TrainConfig(
        algo=algo,
        agent=acfg,
        seeds=tuple(range(runs)),
        batch_size=preset.batch,
        chunk_length=max(1, preset.steps // utd // HEAVY_LEARNERS.get(name, 1)),
        online_steps=1,
        buffer_capacity=1,
    )
    return config, make_agent(algo, acfg, spec), utd


def recount_flops(records: list[dict[str, Any]], preset: Preset, peak: float) -> int:
    """Fills the FLOPs of learner records that have none (a run whose backend counted none),
    counting them here with the same programs; FLOPs per update and run depend on neither the
    device nor the number of runs. Returns how many records were filled."""
    spec = make_env("halfcheetah").spec
    env = learner_env(spec)
    counted: dict[tuple[str, str], float] = {}
    filled = 0
    for r in records:
        if r["workload"] != "learner" or r["status"] != "ok" or r["flops_per_update"] > 0:
            continue
        key = (r["algo"], r["net"])
        if key not in counted:
            dims = preset.nets[r["net"]]
            config, agent, utd = _learner_setup(r["algo"], dims, 1, preset, spec)
            dataset = synthetic_dataset(
                preset.dataset_rows,
                spec.obs_dim,
                spec.action_dim,
                next_actions=uses_next_action(config),
            )
            counted[key] = update_flops(agent, config, env, dataset, 1, utd)
        r["flops_per_update"] = counted[key]
        r["flops_per_s"] = counted[key] * r["updates_per_s"]
        r["peak_fraction"] = r["flops_per_s"] / peak
        filled += 1
    return filled


def learner_record(
    name: str,
    net: str,
    dims: tuple[int, ...],
    runs: int,
    preset: Preset,
    env,
    dataset,
    peak: float,
) -> dict[str, Any]:
    """Times the learner scan of row `name` at one size and run count."""
    base = {"workload": "learner", "algo": name, "net": net, "runs": runs, "batch": preset.batch}
    if LEARNERS[name][0] not in AGENTS:
        return {
            **base,
            "status": f"not available: {LEARNERS[name][0]!r} is not in jaxrl.agents.registry",
        }
    config, agent, utd = _learner_setup(name, dims, runs, preset, env.spec)
    steps = config.chunk_length  # calls of `update_utd` per chunk
    if uses_next_action(config):
        dataset = synthetic_dataset(
            preset.dataset_rows, env.spec.obs_dim, env.spec.action_dim, next_actions=True
        )
    env = learner_env(env.spec)
    if utd == 1:
        chunk = make_offline_chunk(config, agent)
    else:
        chunk = _utd_learner_chunk(config, agent, utd)
    states = _init_states(config, agent, env)
    compiled, compile_s = _aot(chunk, states, dataset)
    _, step_s, times = _time_calls(lambda s: compiled(s, dataset)[0], states, preset.reps)

    flops = update_flops(agent, config, env, dataset, runs, utd)  # per update and run
    updates = steps * utd
    total = runs * updates / step_s
    return {
        **base,
        "status": "ok",
        "utd": utd,
        "steps_per_call": updates,
        "compile_s": compile_s,
        "call_s": step_s,
        "call_s_all": times,
        "updates_per_s": total,
        "updates_per_s_per_run": total / runs,
        "flops_per_update": flops,
        "flops_per_s": flops * total,
        "peak_fraction": flops * total / peak,
        "device_bytes": _memory_bytes(compiled),
        "rss_mb": _rss_mb(),
    }


def online_record(preset: Preset, env, dataset) -> dict[str, Any]:
    """SAC from scratch on halfcheetah: `make_online_chunk` with `online_envs` and UTD."""
    net, dims = next(iter(preset.nets.items()))
    acfg = _with_dims("sac", dims, {})
    n = preset.online_envs
    config = TrainConfig(
        algo="sac",
        agent=acfg,
        seeds=(0,),
        batch_size=preset.batch,
        num_envs=n,
        utd=preset.online_utd,
        chunk_length=preset.online_steps,
        online_steps=preset.online_steps * (preset.reps + 2),
        retention="none",
        warmup_steps=0,
    )
    agent = make_agent("sac", acfg, env.spec)
    chunk = make_online_chunk(config, agent, env, int(dataset.reward.shape[0]))
    states = _init_states(config, agent, env)
    compiled, compile_s = _aot(chunk, states, dataset)
    _, call_s, times = _time_calls(lambda s: compiled(s, dataset)[0], states, preset.reps)
    vec_steps = preset.online_steps // n
    return {
        "workload": "online",
        "algo": "sac",
        "net": net,
        "runs": 1,
        "num_envs": n,
        "utd": preset.online_utd,
        "batch": preset.batch,
        "status": "ok",
        "compile_s": compile_s,
        "call_s": call_s,
        "call_s_all": times,
        "env_steps_per_s": preset.online_steps / call_s,
        "updates_per_s": vec_steps * preset.online_utd / call_s,
        "device_bytes": _memory_bytes(compiled),
    }


def _o2o_config(recipe: str, preset: Preset, runs: int) -> TrainConfig:
    dims = next(iter(preset.nets.values()))
    common = dict(seeds=tuple(range(runs)), eval_episodes=1, episode_length=1000)
    if recipe == "rlpd":
        return TrainConfig(
            algo="sac",
            agent=_with_dims("sac", dims, RLPD_AGENT),
            batch_size=256,
            utd=20,
            retention="mixed",
            offline_ratio=0.5,
            chunk_length=preset.o2o_steps,
            online_steps=preset.o2o_steps * (preset.reps + 2),
            warmup_steps=0,
            warmup_policy="random",
            **common,
        )
    if recipe == "wsrl":  # WSRL's 1024-row online batch is 4 critic minibatches of 256
        return TrainConfig(
            algo="wsrl",
            agent=_with_dims("wsrl", dims, WSRL_AGENT),
            batch_size=256,
            utd=4,
            retention="none",
            chunk_length=preset.o2o_steps,
            online_steps=preset.o2o_steps * (preset.reps + 2),
            warmup_steps=0,
            **common,
        )
    if recipe == "iql":  # the default job's program (jaxrl's experiments/configs/default.py)
        return TrainConfig(
            algo="iql",
            agent=_with_dims("iql", dims, {}),
            batch_size=256,
            retention="mixed",
            chunk_length=preset.o2o_steps,
            online_steps=preset.o2o_steps * (preset.reps + 2),
            **common,
        )
    raise ValueError(f"unknown recipe {recipe!r}")


def o2o_step_record(recipe: str, preset: Preset, env, dataset) -> dict[str, Any]:
    """One online chunk of the RLPD or WSRL recipe (env steps with UTD updates each)."""
    preset = dataclasses.replace(
        preset, o2o_steps=max(1, preset.o2o_steps // HEAVY_O2O.get(recipe, 1))
    )
    config = _o2o_config(recipe, preset, 1)
    agent = make_agent(config.algo, config.agent, env.spec)
    mc = 0.99 if config.algo == "calql" else None
    chunk = make_online_chunk(config, agent, env, int(dataset.reward.shape[0]), mc)
    states = _init_states(config, agent, env)
    compiled, compile_s = _aot(chunk, states, dataset)
    _, call_s, times = _time_calls(lambda s: compiled(s, dataset)[0], states, preset.reps)
    return {
        "workload": "o2o",
        "algo": recipe,
        "net": next(iter(preset.nets)),
        "runs": 1,
        "utd": config.utd,
        "batch": config.batch_size,
        "status": "ok",
        "compile_s": compile_s,
        "call_s": call_s,
        "call_s_all": times,
        "env_steps_per_s": preset.o2o_steps / call_s,
        "updates_per_s": preset.o2o_steps * config.utd / call_s,
        "device_bytes": _memory_bytes(compiled),
    }


def o2o_compile_record(recipe: str, runs: int, preset: Preset, env, dataset) -> dict[str, Any]:
    """AOT compile time of the whole offline→online program of a recipe at `runs` runs."""
    config = _o2o_config(recipe, preset, runs)
    agent = make_agent(config.algo, config.agent, env.spec)
    mc = 0.99 if config.algo == "calql" else None
    states = _init_states(config, agent, env)
    parts = {
        "offline_chunk": (make_offline_chunk(config, agent), (states, dataset)),
        "switch": (make_switch(agent, env, config.num_envs), (states,)),
        "online_chunk": (
            make_online_chunk(config, agent, env, int(dataset.reward.shape[0]), mc),
            (states, dataset),
        ),
        "evaluate": (
            make_evaluator(agent, env, config.eval_episodes),
            (states.agent, jax.random.split(jax.random.key(0), runs)),
        ),
    }
    seconds = {name: _aot(fn, *args)[1] for name, (fn, args) in parts.items()}
    return {
        "workload": "o2o_compile",
        "algo": recipe,
        "net": next(iter(preset.nets)),
        "runs": runs,
        "status": "ok",
        "compile_s": sum(seconds.values()),
        "compile_parts_s": seconds,
    }


def env_record(n: int, preset: Preset, env) -> dict[str, Any]:
    """`env.step` of `n` envs with random actions, scanned `env_steps` times."""
    spec = env.spec

    @jax.jit
    def roll(state):
        es, key = state

        def body(carry, _):
            es, key = carry
            key, k = jax.random.split(key)
            a = jax.random.uniform(k, (n, spec.action_dim), minval=-1.0, maxval=1.0)
            es, _ = jax.vmap(env.step)(es, a)
            return (es, key), None

        return jax.lax.scan(body, (es, key), None, length=preset.env_steps)[0]

    key, reset_key = jax.random.split(jax.random.key(0))
    state = (jax.jit(jax.vmap(env.reset))(jax.random.split(reset_key, n)), key)
    compiled, compile_s = _aot(roll, state)
    _, call_s, times = _time_calls(compiled, state, preset.reps)
    return {
        "workload": "env",
        "algo": "halfcheetah",
        "runs": 1,
        "num_envs": n,
        "status": "ok",
        "compile_s": compile_s,
        "call_s": call_s,
        "env_steps_per_s": n * preset.env_steps / call_s,
    }


def buffer_records(preset: Preset, env) -> list[dict[str, Any]]:
    """`buffer_add` of `online_envs` rows and `buffer_sample` of a batch, each scanned."""
    spec = env.spec
    example = empty_transition(spec.obs_dim, spec.action_dim)
    capacity = preset.dataset_rows
    n = preset.online_envs
    rows = jax.tree.map(lambda x: jnp.ones((n,) + x.shape, x.dtype), example)
    out = []

    @jax.jit
    def adds(buf):
        return jax.lax.scan(lambda b, _: (buffer_add(b, rows), None), buf, None, preset.env_steps)[
            0
        ]

    @jax.jit
    def samples(state):
        buf, key, acc = state

        def body(carry, _):
            key, acc = carry
            key, k = jax.random.split(key)
            batch = buffer_sample(buf, k, preset.batch)
            return (key, acc + jnp.sum(batch.reward)), None

        (key, acc), _ = jax.lax.scan(body, (key, acc), None, preset.env_steps)
        return buf, key, acc

    buf = buffer_init(example, capacity)
    buf = _block(adds(buf))  # fill some rows so sampling has data
    for name, fn, state, unit in (
        ("add", adds, buf, n),
        ("sample", samples, (buf, jax.random.key(1), jnp.zeros(())), preset.batch),
    ):
        compiled, compile_s = _aot(fn, state)
        # The buffer is not donated here, so a call copies nothing but what it writes.
        _, call_s, times = _time_calls(compiled, state, preset.reps)
        out.append(
            {
                "workload": "buffer",
                "algo": name,
                "runs": 1,
                "status": "ok",
                "rows_per_call": unit,
                "capacity": capacity,
                "compile_s": compile_s,
                "call_s": call_s,
                "calls_per_s": preset.env_steps / call_s,
                "rows_per_s": unit * preset.env_steps / call_s,
            }
        )
    return out


# --------------------------------------------------------------------------------------------
# Peers


def _peer_python(name: str) -> Path | None:
    py = PEERS_DIR / name / "bin" / "python"
    return py if (PEERS_DIR / name / ".ready").exists() and py.exists() else None


def ensure_peers(names: Sequence[str]) -> dict[str, str]:
    """Creates missing peer venvs with setup.sh; returns name -> why it is unavailable."""
    missing = [n for n in names if _peer_python(n) is None]
    problems = {}
    if missing:
        print(f"[benchmark] creating peer environments {missing} (once) ...", flush=True)
        proc = subprocess.run(
            ["bash", str(PEER_SCRIPTS / "setup.sh"), *missing],
            capture_output=True,
            text=True,
            env={**os.environ, "PEERS_DIR": str(PEERS_DIR)},
        )
        for n in missing:
            if _peer_python(n) is None:
                tail = [ln for ln in (proc.stderr or "").splitlines() if "WARNING" not in ln]
                problems[n] = "install failed: " + (" | ".join(tail[-2:]) or "see setup.sh")
    return problems


def run_peer(venv: str, script: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Runs a peer script in its venv; its last stdout line is a JSON record."""
    py = _peer_python(venv)
    if py is None:
        return {"status": f"not available: peer venv {venv!r} missing ({PEERS_DIR})"}
    cmd = [str(py), str(PEER_SCRIPTS / script), json.dumps(args)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env["PYTHONPATH"] = ""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"status": f"failed: timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()][-3:]
        return {"status": f"failed (rc {proc.returncode}): " + " | ".join(err)}
    return {"status": "ok", **json.loads(lines[-1])}


def d3rlpy_record(name: str, preset: Preset, dims: tuple[int, ...], net: str) -> dict[str, Any]:
    args = {
        "algo": D3RLPY_ALGOS[name],
        "hidden": list(dims),
        "batch": preset.batch,
        "steps": preset.peer_steps,
        "rows": min(preset.dataset_rows, 100_000),
        "obs_dim": 17,
        "action_dim": 6,
    }
    rec = run_peer("d3rlpy", "d3rlpy_peer.py", args, timeout=600)
    return {"workload": "peer", "peer": "d3rlpy", "algo": name, "net": net, "runs": 1, **rec}


def brax_record(preset: Preset) -> dict[str, Any]:
    args = {
        "env": "halfcheetah",
        "backend": "positional",
        "num_envs": preset.online_envs,
        "utd": preset.online_utd,
        "batch": preset.batch,
        "hidden": list(next(iter(preset.nets.values()))),
        "num_timesteps": preset.brax_timesteps,
        "max_replay_size": preset.online_steps * (preset.reps + 2),
    }
    rec = run_peer("brax", "brax_sac_peer.py", args, timeout=900)
    net = next(iter(preset.nets))
    return {"workload": "peer", "peer": "brax.training", "algo": "sac", "net": net, **rec}


# --------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("jax", "jaxlib", "flax", "optax", "brax", "numpy"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            versions[mod] = "missing"
    dev = jax.devices()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "device": f"{dev.platform}: {getattr(dev, 'device_kind', dev)}",
        "python": platform.python_version(),
        "versions": versions,
    }


def _fmt(x, digits=3) -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _gflops(x) -> str:
    return "–" if x is None else f"{x / 1e9:.1f}"


def _mib(x) -> str:
    return "–" if x is None or x < 0 else f"{x / 2**20:.0f}"


LEARNER_COLUMNS = [
    "algo",
    "net",
    "runs",
    "compile s",
    "updates/s per run",
    "updates/s total",
    "× 1 run",
    "GFLOP/s",
    "% of peak",
    "device MiB",
    "vs d3rlpy",
]


def learner_table(records: list[dict[str, Any]]) -> list[str]:
    """Markdown rows of the learner sweep, with ratios to one run and to d3rlpy."""
    order = {name: i for i, name in enumerate(LEARNERS)}
    learner = sorted(
        (r for r in records if r["workload"] == "learner"),
        key=lambda r: (order.get(r["algo"], len(order)), r["net"], r["runs"]),
    )
    peers = {
        (r["algo"], r.get("net")): r
        for r in records
        if r["workload"] == "peer" and r.get("peer") == "d3rlpy"
    }
    one = {
        (r["algo"], r["net"]): r["updates_per_s"]
        for r in learner
        if r["runs"] == 1 and r["status"] == "ok"
    }
    lines = ["| " + " | ".join(LEARNER_COLUMNS) + " |", "|" + "---|" * len(LEARNER_COLUMNS)]
    for r in learner:
        if r["status"] != "ok":
            cells = [r["algo"], r["net"], str(r["runs"]), r["status"]] + [""] * (
                len(LEARNER_COLUMNS) - 4
            )
            lines.append("| " + " | ".join(cells) + " |")
            continue
        base = one.get((r["algo"], r["net"]))
        peer = peers.get((r["algo"], r["net"]))
        vs = "–"
        if r["runs"] == 1 and peer is not None:
            if peer.get("status") == "ok":
                vs = f"{r['updates_per_s'] / peer['updates_per_s']:.2f}×"
            else:
                vs = "peer " + peer.get("status", "?")[:40]
        cells = [
            r["algo"] + (f" (UTD {r['utd']})" if r.get("utd", 1) > 1 else ""),
            r["net"],
            str(r["runs"]),
            f"{r['compile_s']:.1f}",
            _fmt(r["updates_per_s_per_run"]),
            _fmt(r["updates_per_s"]),
            f"{r['updates_per_s'] / base:.2f}" if base else "–",
            _gflops(r["flops_per_s"]),
            f"{100 * r['peak_fraction']:.1f}",
            _mib(r["device_bytes"]),
            vs,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _simple_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out


def verdicts(records: list[dict[str, Any]], preset_name: str) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of the performance issue."""
    by = lambda **kw: [  # noqa: E731
        r for r in records if all(r.get(k) == v for k, v in kw.items()) and r["status"] == "ok"
    ]
    out = []
    # The first (swept) network of the learner rows, 2x256 on the cpu and gpu presets.
    nets = [r["net"] for r in records if r["workload"] == "learner" and r["status"] == "ok"]
    net = nets[0] if nets else "2x256"

    def ratio_target(label, mine, theirs, key, goal):
        if not mine or not theirs:
            why = "not measured"
            if theirs == [] and mine:
                why = "peer not available"
            out.append((label, "–", why))
            return
        ratio = mine[0][key] / theirs[0][key]
        verdict = "met" if ratio >= goal else f"missed by {goal / ratio:.2f}× ({ratio:.2f}×)"
        if ratio < goal and "peak_fraction" in mine[0]:
            # The same update costs the same FLOPs in either framework: how close each gets to
            # the matmul peak says whether a larger gap can exist at all.
            mine_frac = mine[0]["peak_fraction"]
            verdict += (
                f"; jaxrl reaches {100 * mine_frac:.0f}% of the matmul peak, the peer "
                f"{100 * mine_frac / ratio:.0f}% (same FLOPs per update)"
            )
            if mine_frac >= 0.5:
                verdict += (
                    f": jaxrl is compute-bound at this size, so a {goal:g}× gap would need the "
                    f"peer below {100 * mine_frac / goal:.0f}% of the peak"
                )
        out.append((label, f"{ratio:.2f}×", verdict))

    if preset_name == "cpu" or preset_name == "tiny":
        for algo in ("iql", "td3bc"):
            ratio_target(
                f"CPU, 1 run: {algo} updates/s ≥ 5× d3rlpy",
                by(workload="learner", algo=algo, net=net, runs=1),
                by(workload="peer", peer="d3rlpy", algo=algo, net=net),
                "updates_per_s",
                5.0,
            )
        ratio_target(
            "CPU: online SAC env steps/s ≥ 1.5× brax.training SAC",
            by(workload="online"),
            by(workload="peer", peer="brax.training"),
            "env_steps_per_s",
            1.5,
        )
        for algo in ("iql", "td3bc", "cql", "calql", "sac", "awac", "rlpd"):
            one = by(workload="learner", algo=algo, net=net, runs=1)
            eight = by(workload="learner", algo=algo, net=net, runs=8)
            if one and eight:
                ratio = eight[0]["updates_per_s"] / one[0]["updates_per_s"]
                v = "met" if ratio >= 1.5 else f"missed by {1.5 / ratio:.2f}× ({ratio:.2f}×)"
                if ratio < 1.5:
                    v += (
                        f"; one run already reaches {100 * one[0]['peak_fraction']:.0f}% of the "
                        f"matmul peak, 8 runs {100 * eight[0]['peak_fraction']:.0f}%: a 1.5× gain "
                        "needs one run below 2/3 of what 8 runs achieve"
                    )
                out.append(
                    (f"CPU, 8 runs vmapped ≥ 1.5× 8 sequential runs: {algo}", f"{ratio:.2f}×", v)
                )
        comp = {r["algo"]: [] for r in by(workload="o2o_compile")}
        for r in by(workload="o2o_compile"):
            comp[r["algo"]].append(r)
        for algo, rs in comp.items():
            rs.sort(key=lambda r: r["runs"])
            worst = max(r["compile_s"] for r in rs)
            v = "met" if worst <= 60 else f"missed by {worst - 60:.0f} s"
            out.append(
                (f"compile of the {algo} offline→online program ≤ 60 s", f"{worst:.1f} s", v)
            )
            if len(rs) > 1:
                spread = max(r["compile_s"] for r in rs) / min(r["compile_s"] for r in rs) - 1
                label = f"{algo} compile flat from {rs[0]['runs']} to {rs[-1]['runs']} runs (≤ 20%)"
                v = "met" if spread <= 0.2 else f"missed: {100 * spread:.0f}% apart"
                out.append((label, f"{100 * spread:.0f}%", v))
    if preset_name == "gpu":
        for algo in ("iql", "sac", "rlpd"):
            one = by(workload="learner", algo=algo, net=net, runs=1)
            many = by(workload="learner", algo=algo, net=net, runs=64)
            if one and many:
                ratio = many[0]["updates_per_s"] / one[0]["updates_per_s"]
                v = "met" if ratio >= 30 else f"missed by {30 / ratio:.2f}× ({ratio:.1f}×)"
                out.append((f"GPU, 64 runs ≥ 30× 1 run: {algo}", f"{ratio:.1f}×", v))
        rl = by(workload="learner", algo="rlpd", net=net)
        if rl:
            best = max(rl, key=lambda r: r["peak_fraction"])
            f = best["peak_fraction"]
            if f <= 0:
                v = "not measured: no FLOPs counted"
            else:
                v = "met" if f >= 0.25 else f"missed by {0.25 / f:.1f}× ({100 * f:.1f}%)"
            out.append(
                (
                    f"GPU: 10-critic step ≥ 25% of matmul peak (best: {best['runs']} runs)",
                    f"{100 * f:.1f}%",
                    v,
                )
            )
    return out


def write_report(
    records: list[dict[str, Any]],
    info: dict[str, Any],
    command: str,
    preset_name: str,
    path: Path,
    notes: str = "",
    figure: str | None = None,
) -> str:
    """Writes the Markdown report and returns its text."""
    v = info["versions"]
    peer_versions = {
        r["peer"]: r.get("versions", {})
        for r in records
        if r["workload"] == "peer" and r.get("status") == "ok"
    }
    lines = [
        "# Benchmarks",
        "",
        "Generated by `experiments/benchmark.py`; do not edit the tables by hand.",
        "",
        f"- date: {info['date']}",
        f"- command: `{command}`",
        f"- machine: {info['cpu']}, {info['cores']} cores; device {info['device']}",
        f"- matmul peak (f32, {info.get('matmul_n', '?')}², the larger of the measurements "
        f"before and after the workloads: {info.get('peak_start', info['peak']) / 1e9:.1f} and "
        f"{info.get('peak_end', info['peak']) / 1e9:.1f}): {info['peak'] / 1e9:.1f} GFLOP/s",
        "- jaxrl environment: "
        + ", ".join(f"{k} {v[k]}" for k in ("jax", "jaxlib", "flax", "optax", "brax", "numpy")),
    ]
    for merged_command, added in info.get("merged", []):
        lines.append(f"- merged with a later run ({added} rows added): `{merged_command}`")
    if "flops_note" in info:
        lines.append(f"- {info['flops_note']}")
    if "load_start" in info:
        load = max(info["load_start"], info.get("load_end", 0.0))
        lines.append(
            f"- 1-minute load average at start / end: {info['load_start']:.1f} / "
            + (f"{info['load_end']:.1f}" if "load_end" in info else "not recorded")
            + (
                f" — **more than {info['cores']} cores' worth: the machine was shared, the "
                "timings and verdicts below are not representative**"
                if load > info["cores"]
                else ""
            )
        )
    for peer, pv in peer_versions.items():
        lines.append(f"- peer {peer}: " + ", ".join(f"{k} {x}" for k, x in pv.items()))
    lines += ["", "## Targets", ""]
    lines += _simple_table(
        ["target", "measured", "verdict"], [list(t) for t in verdicts(records, preset_name)]
    )
    lines += [
        "",
        "## Learner: a scan of K updates from a device dataset",
        "",
        "Updates/s count gradient steps (an RLPD step at UTD 20 counts 20). `× 1 run` is the "
        "total throughput over that of one run: the gain of vmapping N runs over running them "
        "one after another. `% of peak` is achieved FLOP/s over the matmul peak. `vs d3rlpy` "
        "is updates/s of one run over d3rlpy's at the same network and batch.",
        "",
    ]
    lines += learner_table(records)
    if figure:
        lines += ["", f"![throughput against runs]({figure})"]
    on = [r for r in records if r["workload"] in ("online", "o2o") and r["status"] == "ok"]
    brax = [r for r in records if r["workload"] == "peer" and r.get("peer") == "brax.training"]
    if on or brax:
        lines += ["", "## Online and offline→online steps", ""]
        rows = []
        for r in on:
            rows.append(
                [
                    r["workload"] + ": " + r["algo"],
                    f"envs {r.get('num_envs', 1)}, UTD {r['utd']}, batch {r['batch']}",
                    f"{r['compile_s']:.1f}",
                    _fmt(r["env_steps_per_s"]),
                    _fmt(r["updates_per_s"]),
                ]
            )
        for r in brax:
            if r.get("status") == "ok":
                rows.append(
                    [
                        "peer brax.training sac",
                        r.get("settings", ""),
                        _fmt(r.get("compile_s")),
                        _fmt(r["env_steps_per_s"]),
                        _fmt(r["updates_per_s"]),
                    ]
                )
            else:
                rows.append(["peer brax.training sac", r["status"], "", "", ""])
        lines += _simple_table(
            ["workload", "settings", "compile s", "env steps/s", "updates/s"], rows
        )
    comp = [r for r in records if r["workload"] == "o2o_compile" and r["status"] == "ok"]
    if comp:
        lines += ["", "## Compile time of the whole offline→online program", ""]
        rows = [
            [
                r["algo"],
                str(r["runs"]),
                f"{r['compile_s']:.1f}",
                ", ".join(f"{k} {x:.1f}" for k, x in r["compile_parts_s"].items()),
            ]
            for r in comp
        ]
        lines += _simple_table(["recipe", "runs", "compile s", "parts (s)"], rows)
    envs = [r for r in records if r["workload"] in ("env", "buffer") and r["status"] == "ok"]
    if envs:
        lines += ["", "## Environment stepping and buffer in isolation", ""]
        rows = []
        for r in envs:
            if r["workload"] == "env":
                rows.append(
                    [
                        f"env.step halfcheetah ×{r['num_envs']}",
                        _fmt(r["env_steps_per_s"]) + " steps/s",
                    ]
                )
            else:
                rows.append(
                    [
                        f"buffer_{r['algo']} ({r['rows_per_call']} rows, "
                        f"capacity {r['capacity']:,})",
                        _fmt(r["calls_per_s"]) + " calls/s, " + _fmt(r["rows_per_s"]) + " rows/s",
                    ]
                )
        lines += _simple_table(["operation", "throughput"], rows)
    peers = [r for r in records if r["workload"] == "peer"]
    if peers:
        lines += ["", "## Peers", ""]
        rows = []
        for r in peers:
            rows.append(
                [
                    f"{r['peer']} {r['algo']}",
                    r.get("status", "")[:120],
                    r.get("settings", "") if r.get("status") == "ok" else "",
                    _fmt(r.get("updates_per_s")),
                    _fmt(r.get("env_steps_per_s")),
                ]
            )
        lines += _simple_table(["peer", "status", "settings", "updates/s", "env steps/s"], rows)
    if notes:
        lines += ["", "## Notes", "", notes.strip()]
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def plot_runs(records: list[dict[str, Any]], path: Path) -> bool:
    """Total updates/s against the number of runs, one line per learner row and network."""
    rows = [r for r in records if r["workload"] == "learner" and r["status"] == "ok"]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        series.setdefault(f"{r['algo']} {r['net']}", []).append((r["runs"], r["updates_per_s"]))
    series = {k: sorted(v) for k, v in series.items() if len(v) > 1}
    if not series:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for label, pts in series.items():
        x, y = zip(*pts, strict=True)
        ax.plot(x, y, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("runs vmapped in one program")
    ax.set_ylabel("total updates/s")
    ax.set_title("Learner throughput against the number of runs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------------------------
# Driver


def run_benchmark(
    preset: Preset,
    only: Sequence[str] = WORKLOADS,
    peers: bool = True,
    log: Callable[[str], None] = print,
    preset_name: str = "",
    deadline: float | None = None,
    peer_names: Sequence[str] = ("d3rlpy", "brax"),
    on_record: Callable[[list[dict[str, Any]], dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Runs the selected workloads; returns (records, machine info).

    `deadline` (seconds from the start): jobs not yet started by then are recorded as skipped.
    `on_record` is called after each record (the driver saves the JSON as it goes).
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
        problems = ensure_peers([p for p in ("d3rlpy", "brax") if p in peer_names])
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
                functools.partial(d3rlpy_record, name, preset, dims, net),
            )
        if "online" in only:  # brax.training SAC is the online workload's peer
            peer_job(
                "brax",
                {"workload": "peer", "peer": "brax.training", "algo": "sac", "net": net},
                functools.partial(brax_record, preset),
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


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument(
        "--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {WORKLOADS}"
    )
    p.add_argument("--learners", default="", help=f"subset of the learner rows {list(LEARNERS)}")
    p.add_argument("--no-peers", action="store_true", help="skip the peers (no venvs needed)")
    p.add_argument(
        "--peers", default="d3rlpy,brax", help="peers to run (d3rlpy, brax); others get a row"
    )
    p.add_argument(
        "--deadline",
        type=float,
        default=None,
        help="seconds after which jobs not yet started are recorded as skipped (a leased GPU)",
    )
    p.add_argument("--out", default=str(ROOT / "docs/BENCHMARKS.md"), help="Markdown report")
    p.add_argument("--figure", default=str(ROOT / "docs/benchmarks_runs.png"))
    p.add_argument("--json", default="", help="also write the raw records here")
    p.add_argument("--notes", default="", help="a Markdown file appended as the Notes section")
    p.add_argument(
        "--from-json",
        default="",
        help="re-render the report from --json files (comma-separated: later files add the rows "
        "the earlier ones lack); runs nothing but a FLOP count where a run recorded none",
    )
    args = p.parse_args(argv)
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        p.error(f"unknown workload(s) {unknown}; allowed: {list(WORKLOADS)}")
    command = "python experiments/benchmark.py " + " ".join(
        sys.argv[1:] if argv is None else list(argv)
    )
    preset = PRESETS[args.preset]
    if args.learners:
        rows = tuple(x.strip() for x in args.learners.split(",") if x.strip())
        bad = sorted(set(rows) - set(LEARNERS))
        if bad:
            p.error(f"unknown learner row(s) {bad}; allowed: {list(LEARNERS)}")
        preset = dataclasses.replace(preset, learners=rows)
    if args.from_json:
        records, info = merge_saved([Path(f) for f in args.from_json.split(",") if f.strip()])
        command = info.get("command", command)
    else:
        peer_names = [x.strip() for x in args.peers.split(",") if x.strip()]
        bad = sorted(set(peer_names) - {"d3rlpy", "brax"})
        if bad:
            p.error(f"unknown peer(s) {bad}; allowed: ['d3rlpy', 'brax']")

        def save(records, info):  # after every record: a killed run keeps what it measured
            if args.json:
                payload = {"info": {**info, "command": command.strip()}, "records": records}
                Path(args.json).write_text(json.dumps(payload, indent=1, default=str))

        records, info = run_benchmark(
            preset,
            only,
            peers=not args.no_peers,
            preset_name=args.preset,
            deadline=args.deadline,
            peer_names=peer_names,
            on_record=save,
        )
    out = Path(args.out)
    figure = Path(args.figure)
    has_fig = plot_runs(records, figure)
    rel = os.path.relpath(figure, out.parent) if has_fig else None
    notes = Path(args.notes).read_text() if args.notes else ""
    info["command"] = command.strip()
    write_report(records, info, info["command"], info.get("preset", args.preset), out, notes, rel)
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "records": records}, indent=1))
    print(f"[benchmark] wrote {out} in {info.get('seconds', 0):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
