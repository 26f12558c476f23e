"""Times PRDC's on-device nearest-neighbour search and a whole PRDC update beside TD3+BC.

    python experiments/bench_neighbors.py --points 100000 --blocks 512,1024,4096,16384

Prints median (min) milliseconds per call of jitted functions after compilation, for one run
and for `--runs` vmapped runs sharing the key set (docs/algorithms/prdc.md records results).
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.ops.neighbors import nearest_neighbor
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def _time(fn, *args, reps: int) -> tuple[float, float]:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
    return float(np.median(times)) * 1e3, float(np.min(times)) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--queries", type=int, default=256)
    p.add_argument("--obs_dim", type=int, default=17)
    p.add_argument("--action_dim", type=int, default=6)
    p.add_argument("--blocks", default="512,1024,4096,16384")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--reps", type=int, default=15)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n, q, ds, da = args.points, args.queries, args.obs_dim, args.action_dim
    obs = jnp.asarray(rng.normal(size=(n, ds)), jnp.float32)
    act = jnp.asarray(rng.uniform(-1, 1, (n, da)), jnp.float32)
    w = jnp.concatenate([jnp.full((ds,), 4.0), jnp.ones((da,))])  # β = 2
    q1 = jnp.asarray(rng.normal(size=(q, ds + da)), jnp.float32)
    qr = jnp.asarray(rng.normal(size=(args.runs, q, ds + da)), jnp.float32)
    print(f"backend {jax.default_backend()}, load average {os.getloadavg()}")
    for block in (int(b) for b in args.blocks.split(",")):
        search = lambda x, o, a, w, b=block: nearest_neighbor(x, (o, a), w, block_size=b)
        one = _time(jax.jit(search), q1, obs, act, w, reps=args.reps)
        many = jax.jit(jax.vmap(search, in_axes=(0, None, None, None)))
        runs = _time(many, qr, obs, act, w, reps=args.reps)
        print(
            f"search {q} queries x {n} points, block {block:6d}: 1 run {one[0]:7.1f} "
            f"({one[1]:.1f}) ms; {args.runs} runs {runs[0]:7.1f} ({runs[1]:.1f}) ms"
        )
    spec = EnvSpec(obs_dim=ds, action_dim=da)
    f = lambda x: jnp.asarray(x, jnp.float32)
    zeros = lambda m: f(np.zeros(m))
    data = Transition(obs, act, zeros(n), zeros(n), zeros(n), obs, zeros(n))
    batch = jax.tree.map(lambda x: x[:q], data)
    for name in ("td3bc", "prdc"):
        agent = make_agent(name, agent_config(name, {}), spec)
        if agent.bind_dataset is not None:
            agent = agent.bind_dataset(data)
        state = agent.init(jax.random.key(0))
        update = jax.jit(lambda s, b, k, a=agent: a.update(s, b, jax.random.wrap_key_data(k))[1])
        key = jax.random.key_data(jax.random.key(1))
        med, low = _time(update, state, batch, key, reps=max(3, args.reps // 2))
        print(f"update {name:6s} (2x256, batch {q}, {n} points): {med:7.1f} ({low:.1f}) ms")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
