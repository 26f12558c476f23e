"""D4RL-style datasets generated on Brax with this library's own SAC.

D4RL's locomotion data cannot be used here (other simulator, no downloads), so jaxrl follows its
protocol instead: train SAC online, keep the final policy as the *expert*, pick the training
snapshot whose return is about one third of the way from random to expert as the *medium*
policy, and roll each policy out with its stochastic actions. One SAC training run yields
`<task>-random-v0`, `<task>-medium-v0` and `<task>-expert-v0`; each is cached as D4RL-layout
HDF5 under `jaxrl.data.data_dir()` with a JSON manifest (sizes, references, SHA-256).

Example:

    >>> from jaxrl.data import generate
    >>> generate.generate("halfcheetah-medium-v0", preset="cpu")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.data.dataset import Dataset, from_arrays
from jaxrl.data.io import data_dir, save_hdf5
from jaxrl.envs import TASKS, Env, make_env

KINDS = ("random", "medium", "expert")
_NAME = re.compile(r"^(?P<task>[a-z0-9_]+)-(?P<kind>random|medium|expert)-v0$")


@dataclasses.dataclass(frozen=True)
class Preset:
    """How much SAC training and data a suite gets.

    Attributes:
      sac_steps: online environment steps of the SAC run that makes the policies.
      num_envs: parallel environments in that run (one update per transition).
      size: transitions per dataset.
      eval_every: environment steps between policy snapshots.
    """

    sac_steps: int
    num_envs: int
    size: int
    eval_every: int
    warmup_steps: int = 5_000
    batch_size: int = 256


PRESETS: dict[str, Preset] = {
    # Minutes on a 2-core CPU: a weaker expert and 100k-transition datasets.
    "cpu": Preset(sac_steps=64_000, num_envs=8, size=100_000, eval_every=4_000),
    # D4RL sizes: 1M transitions from a 1M-step SAC run (an accelerator is advised).
    "d4rl": Preset(sac_steps=1_000_000, num_envs=8, size=1_000_000, eval_every=20_000),
    # Seconds: for tests only.
    "tiny": Preset(sac_steps=4_000, num_envs=4, size=4_000, eval_every=1_000, warmup_steps=1_000,
                   batch_size=64),
}


def parse_name(name: str) -> tuple[str, str]:
    """`"halfcheetah-medium-v0" -> ("halfcheetah", "medium")`; raises on other names."""
    m = _NAME.match(name)
    if not m or m["task"] not in TASKS:
        raise ValueError(
            f"cannot generate {name!r}: names look like <task>-<kind>-v0 with task in "
            f"{sorted(TASKS)} and kind in {KINDS}"
        )
    return m["task"], m["kind"]


def is_generatable(name: str) -> bool:
    try:
        parse_name(str(name))
    except ValueError:
        return False
    return True


def _collect(env: Env, act_fn, num_envs: int, steps: int):
    """A jitted rollout of `act_fn(params, obs, key)` for `steps` steps of `num_envs` envs."""

    def rollout(params, key):
        reset_key, key = jax.random.split(key)
        es = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

        def body(es, k):
            a = jax.vmap(act_fn, in_axes=(None, 0, 0))(params, es.obs, jax.random.split(k, num_envs))
            es, out = jax.vmap(env.step)(es, a)
            return es, out

        _, outs = jax.lax.scan(body, es, jax.random.split(key, steps))
        return outs

    return jax.jit(rollout)


def _to_dataset(outs, name: str, metadata: dict) -> Dataset:
    """[T, E] step outputs → one time-ordered stream per env, concatenated."""
    o = jax.device_get(outs)
    flat = lambda x: np.swapaxes(np.asarray(x), 0, 1).reshape((-1,) + np.asarray(x).shape[2:])
    terminals = flat(o.terminated)
    timeouts = flat(o.truncated)
    t = np.asarray(o.reward).shape[0]
    # Each env's stream is cut where the rollout stops: that is a time-out, not a terminal.
    last = np.zeros_like(timeouts).reshape(-1, t)
    last[:, -1] = 1
    timeouts = np.maximum(timeouts, last.reshape(-1) * (1 - terminals))
    arrays = {
        "observations": flat(o.obs),
        "actions": flat(o.action),
        "rewards": flat(o.reward),
        "terminals": terminals,
        "timeouts": timeouts,
        "next_observations": flat(o.next_obs),
    }
    return from_arrays(arrays, source=name, metadata=metadata)


def _episode_return_mean(ds: Dataset) -> float:
    from jaxrl.data.dataset import episode_returns

    return float(np.mean(episode_returns(ds)))


def generate(
    name: str,
    preset: str = "cpu",
    seed: int = 0,
    directory: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Trains SAC on the task of `name` and writes its random, medium and expert datasets.

    Args:
      name: any of the three names, e.g. "halfcheetah-medium-v0"; all three are written.
      preset: a key of `PRESETS`.
      seed: seed of the SAC run and of the rollouts.
      directory: where to write (default `data_dir()`).
      progress: show progress bars.

    Returns:
      {kind: path} of the written HDF5 files.
    """
    from jaxrl.config import TrainConfig
    from jaxrl.run import run

    task, _ = parse_name(name)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {sorted(PRESETS)}")
    p = PRESETS[preset]
    out_dir = Path(directory) if directory is not None else data_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    config = TrainConfig(
        algo="sac",
        task=task,
        dataset="",
        seeds=(seed,),
        batch_size=p.batch_size,
        offline_steps=0,
        online_steps=p.sac_steps,
        num_envs=p.num_envs,
        utd=p.num_envs,
        chunk_length=p.eval_every,
        retention="none",
        warmup_steps=p.warmup_steps,
        warmup_policy="random",
        eval_every=p.eval_every,
        eval_episodes=5,
    )
    snapshots: list[tuple[int, float, Any]] = []

    def on_eval(step, states, returns):
        actor = jax.tree.map(lambda x: np.asarray(x[0]), states.agent.params["actor"])
        snapshots.append((step, float(returns[0].mean()), actor))

    with tempfile.TemporaryDirectory() as workdir:
        run(config, workdir, progress=progress, on_eval=on_eval)
        train_log = (Path(workdir) / "metrics.jsonl").read_text()

    from jaxrl.agents.registry import make_agent

    env = make_env(task)
    sac = make_agent("sac", config.agent_config(), env.spec)
    state = sac.init(jax.random.key(0))
    steps_per_env = p.size // p.num_envs

    def policy_act(actor_params, obs, key):
        return sac.act(state.replace(params={**state.params, "actor": actor_params}), obs, key, False)

    def random_act(_, obs, key):
        return jax.random.uniform(key, (env.spec.action_dim,), minval=-1.0, maxval=1.0)

    key = jax.random.key(seed + 1)
    random_key, medium_key, expert_key = jax.random.split(key, 3)
    random_ds = _to_dataset(
        _collect(env, random_act, p.num_envs, steps_per_env)(None, random_key), name, {}
    )
    random_return = _episode_return_mean(random_ds)
    expert_step, expert_return, expert_params = snapshots[-1]
    target = random_return + (expert_return - random_return) / 3.0
    medium_step, medium_eval, medium_params = min(snapshots, key=lambda s: abs(s[1] - target))
    collect = _collect(env, policy_act, p.num_envs, steps_per_env)
    written = {}
    common = {
        "task": task,
        "seed": seed,
        "preset": preset,
        "generator": "jaxrl.data.generate (SAC on Brax, D4RL protocol)",
        "random_return": random_return,
        "expert_return": expert_return,
        "sac_steps": p.sac_steps,
        "sac_eval_curve": [(s, r) for s, r, _ in snapshots],
    }
    for kind, ds in (
        ("random", random_ds),
        ("medium", _to_dataset(collect(medium_params, medium_key), name, {})),
        ("expert", _to_dataset(collect(expert_params, expert_key), name, {})),
    ):
        ds_name = f"{task}-{kind}-v0"
        extra = {"medium": {"policy_step": medium_step, "policy_eval_return": medium_eval},
                 "expert": {"policy_step": expert_step, "policy_eval_return": expert_return},
                 "random": {}}[kind]
        meta = {**common, **extra, "name": ds_name, "kind": kind,
                "data_return_mean": _episode_return_mean(ds)}
        ds = dataclasses.replace(ds, metadata=meta)
        path = out_dir / f"{ds_name}.hdf5"
        save_hdf5(ds, path)
        manifest = {**meta, "file": path.name, "size": ds.size,
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "seconds": round(time.time() - t0, 1)}
        (out_dir / f"{ds_name}.json").write_text(json.dumps(manifest, indent=2))
        written[kind] = path
    (out_dir / f"{task}-sac-{preset}-train.jsonl").write_text(train_log)
    return written
