"""The benchmark's workloads: each builds one of jaxrl's compiled programs and measures it.

- learner: `make_offline_chunk` (a `lax.scan` of K updates from a device dataset) for a row of
  `LEARNERS` at one network size and run count, with FLOPs per update from XLA's cost analysis;
- online: SAC on Brax halfcheetah through `make_online_chunk`;
- o2o: one online chunk of the RLPD and WSRL recipes (`jaxrl.recipes`), and the compile time
  of the whole offline→online program;
- env and buffer: `env.step` and `buffer_add`/`buffer_sample` in isolation.

Each returns a record: a flat dict with ``workload``, ``algo``, ``status`` ("ok", or why not)
and the measurements.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl import recipes
from jaxrl.agents.registry import AGENTS, agent_config, make_agent
from jaxrl.bench.measure import aot_compile, lowered_flops, memory_bytes, rss_mb, time_calls
from jaxrl.bench.presets import HEAVY_LEARNERS, HEAVY_O2O, LEARNERS, Preset
from jaxrl.bench.synthetic import learner_env, synthetic_dataset
from jaxrl.buffers import buffer_add, buffer_init, buffer_sample, dataset_sample
from jaxrl.config import TrainConfig
from jaxrl.envs import make_env
from jaxrl.training import (
    init_train_state,
    make_evaluator,
    make_offline_chunk,
    make_online_chunk,
    make_switch,
)
from jaxrl.training.chunks import data_needs, with_dataset
from jaxrl.types import empty_transition


def with_dims(algo: str, dims: tuple[int, ...], overrides: dict[str, Any]):
    """The algorithm's config with every `*hidden_dims` field set to `dims`."""
    cls = AGENTS[algo][0]
    sizes = {f.name: dims for f in dataclasses.fields(cls) if f.name.endswith("hidden_dims")}
    return agent_config(algo, {**sizes, **overrides})


def init_states(config: TrainConfig, agent, env):
    """The `config.num_runs` initial train states, stacked on the run axis."""
    seeds = jnp.arange(config.num_runs, dtype=jnp.uint32)
    return jax.jit(jax.vmap(lambda s: init_train_state(config, agent, env, s)))(seeds)


def update_flops(agent, config: TrainConfig, env, dataset, runs: int, utd: int) -> float:
    """FLOPs of one gradient step of one run, from the unoptimised HLO of a vmapped update.

    XLA's cost analysis counts a loop body once, so the scanned chunk cannot be used; with
    `utd` > 1 the `update_utd` call is traced with its critic scan unrolled
    (its `unroll=True`).
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
        update = functools.partial(agent.update_utd, unroll=True)
        lowered = jax.jit(jax.vmap(update)).lower(template, batches, key_t)
    return lowered_flops(lowered) / (runs * utd)


def learner_setup(name: str, dims: tuple[int, ...], runs: int, preset: Preset, spec):
    """(config, agent, UTD) of learner row `name` at one network size and run count."""
    algo, overrides, utd = LEARNERS[name]
    acfg = with_dims(algo, dims, overrides)
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
            config, agent, utd = learner_setup(r["algo"], dims, 1, preset, spec)
            dataset = synthetic_dataset(
                preset.dataset_rows,
                spec.obs_dim,
                spec.action_dim,
                next_actions=data_needs(config).next_action,
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
    config, agent, utd = learner_setup(name, dims, runs, preset, env.spec)
    steps = config.chunk_length  # calls of `update_utd` per chunk
    if data_needs(config).next_action:
        dataset = synthetic_dataset(
            preset.dataset_rows, env.spec.obs_dim, env.spec.action_dim, next_actions=True
        )
    env = learner_env(env.spec)
    # UTD rows time the update steps alone, without the divergence guard, as they always have.
    chunk = (
        make_offline_chunk(config, agent)
        if utd == 1
        else make_offline_chunk(config, agent, utd=utd, guard=False)
    )
    states = init_states(config, agent, env)
    compiled, compile_s = aot_compile(chunk, states, dataset)
    _, step_s, times = time_calls(lambda s: compiled(s, dataset)[0], states, preset.reps)

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
        "device_bytes": memory_bytes(compiled),
        "rss_mb": rss_mb(),
    }


def online_record(preset: Preset, env, dataset) -> dict[str, Any]:
    """SAC from scratch on halfcheetah: `make_online_chunk` with `online_envs` and UTD."""
    net, dims = next(iter(preset.nets.items()))
    acfg = with_dims("sac", dims, {})
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
    states = init_states(config, agent, env)
    compiled, compile_s = aot_compile(chunk, states, dataset)
    _, call_s, times = time_calls(lambda s: compiled(s, dataset)[0], states, preset.reps)
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
        "device_bytes": memory_bytes(compiled),
    }


def o2o_config(recipe: str, preset: Preset, runs: int) -> TrainConfig:
    """The config of an offline→online row: the RLPD or WSRL recipe (`jaxrl.recipes`), or
    "iql" (the default job's program, experiments/configs/default.py), at the preset's first
    network size, batch 256, no warm-up, `o2o_steps` env steps per chunk."""
    dims = next(iter(preset.nets.values()))
    common = dict(
        seeds=tuple(range(runs)),
        eval_episodes=1,
        episode_length=1000,
        batch_size=256,
        chunk_length=preset.o2o_steps,
        online_steps=preset.o2o_steps * (preset.reps + 2),
    )
    if recipe in ("rlpd", "wsrl"):
        # WSRL's 1024-row online batch is 4 critic minibatches of 256 (UTD 4).
        fields = getattr(recipes, recipe)()
        algo, overrides = fields.pop("algo"), fields.pop("agent")
        fields.update(common, warmup_steps=0)
        return TrainConfig(algo=algo, agent=with_dims(algo, dims, overrides), **fields)
    if recipe == "iql":
        return TrainConfig(
            algo="iql", agent=with_dims("iql", dims, {}), retention="mixed", **common
        )
    raise ValueError(f"unknown recipe {recipe!r}")


def o2o_step_record(recipe: str, preset: Preset, env, dataset) -> dict[str, Any]:
    """One online chunk of the RLPD or WSRL recipe (env steps with UTD updates each)."""
    preset = dataclasses.replace(
        preset, o2o_steps=max(1, preset.o2o_steps // HEAVY_O2O.get(recipe, 1))
    )
    config = o2o_config(recipe, preset, 1)
    agent = make_agent(config.algo, config.agent, env.spec)
    mc = 0.99 if config.algo == "calql" else None
    chunk = make_online_chunk(config, agent, env, int(dataset.reward.shape[0]), mc)
    states = init_states(config, agent, env)
    compiled, compile_s = aot_compile(chunk, states, dataset)
    _, call_s, times = time_calls(lambda s: compiled(s, dataset)[0], states, preset.reps)
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
        "device_bytes": memory_bytes(compiled),
    }


def o2o_compile_record(recipe: str, runs: int, preset: Preset, env, dataset) -> dict[str, Any]:
    """AOT compile time of the whole offline→online program of a recipe at `runs` runs."""
    config = o2o_config(recipe, preset, runs)
    agent = make_agent(config.algo, config.agent, env.spec)
    mc = 0.99 if config.algo == "calql" else None
    states = init_states(config, agent, env)
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
    seconds = {name: aot_compile(fn, *args)[1] for name, (fn, args) in parts.items()}
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
    compiled, compile_s = aot_compile(roll, state)
    _, call_s, times = time_calls(compiled, state, preset.reps)
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
    buf = jax.block_until_ready(adds(buf))  # fill some rows so sampling has data
    for name, fn, state, unit in (
        ("add", adds, buf, n),
        ("sample", samples, (buf, jax.random.key(1), jnp.zeros(())), preset.batch),
    ):
        compiled, compile_s = aot_compile(fn, state)
        # The buffer is not donated here, so a call copies nothing but what it writes.
        _, call_s, times = time_calls(compiled, state, preset.reps)
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
