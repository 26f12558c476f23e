"""D4RL-style datasets generated on Brax with this library's own SAC.

D4RL's locomotion data cannot be used here (other simulator, no downloads), so jaxrl follows its
protocol instead: train SAC online, keep the final policy as the *expert*, pick the training
snapshot whose return is about one third of the way from random to expert as the *medium*
policy, and roll each policy out with its stochastic actions. One SAC training run yields
`<task>-random-v0`, `<task>-medium-v0` and `<task>-expert-v0`. The trained actors and the
reference returns are cached first, so the other datasets of a task are rollouts only; each
dataset is cached as D4RL-layout HDF5 under `jaxrl.data.data_dir()` with a JSON manifest
(size, references, SHA-256).

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
      eval_every: environment steps between policy snapshots (each one evaluated).
      eval_episodes: deterministic episodes per snapshot evaluation.
    """

    sac_steps: int
    num_envs: int
    size: int
    eval_every: int
    warmup_steps: int = 5_000
    batch_size: int = 256
    hidden_dims: tuple[int, ...] = (256, 256)
    eval_episodes: int = 3


PRESETS: dict[str, Preset] = {
    # Minutes on a 2-core CPU: a weaker expert and 100k-transition datasets.
    "cpu": Preset(
        sac_steps=64_000,
        num_envs=8,
        size=100_000,
        eval_every=2_000,
        warmup_steps=8_000,
        hidden_dims=(128, 128),
    ),
    # D4RL sizes: 1M transitions from a 1M-step SAC run (an accelerator is advised).
    "d4rl": Preset(
        sac_steps=1_000_000, num_envs=8, size=1_000_000, eval_every=20_000, warmup_steps=8_000
    ),
    # Seconds: for tests only.
    "tiny": Preset(
        sac_steps=4_000,
        num_envs=4,
        size=4_000,
        eval_every=1_000,
        warmup_steps=1_000,
        batch_size=64,
        hidden_dims=(32, 32),
    ),
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


def collect_rollouts(env: Env, act_fn, num_envs: int, steps: int):
    """A jitted rollout of `act_fn(params, obs, key)` for `steps` steps of `num_envs` envs."""

    def rollout(params, key):
        reset_key, key = jax.random.split(key)
        es = jax.vmap(env.reset)(jax.random.split(reset_key, num_envs))

        def body(es, k):
            a = jax.vmap(act_fn, in_axes=(None, 0, 0))(
                params, es.obs, jax.random.split(k, num_envs)
            )
            es, out = jax.vmap(env.step)(es, a)
            return es, out

        _, outs = jax.lax.scan(body, es, jax.random.split(key, steps))
        return outs

    return jax.jit(rollout)


def rollout_to_dataset(outs, name: str, metadata: dict) -> Dataset:
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


def _finished_return_mean(outs) -> float:
    done = np.asarray(outs.done) > 0
    return float(np.asarray(outs.episode_return)[done].mean())


def _episode_return_mean(ds: Dataset) -> float:
    from jaxrl.data.dataset import episode_returns

    return float(np.mean(episode_returns(ds)))


def _policies_path(out_dir: Path, task: str, preset: str, seed: int) -> Path:
    return out_dir / f"{task}-sac-{preset}-seed{seed}.policies"


def train_policies(
    task: str,
    preset: str = "cpu",
    seed: int = 0,
    directory: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Trains SAC on `task` and caches its expert and medium actors and reference returns.

    The medium actor is the evaluation snapshot whose return is closest to one third of the
    way from the random return to the final (expert) return. Returns the cached record:
    {"meta": {...}, "expert": actor params, "medium": actor params}.
    """
    from flax import serialization

    from jaxrl.logging import read_metrics
    from jaxrl.run import run

    p = PRESETS[preset]
    out_dir = Path(directory) if directory is not None else data_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = _policies_path(out_dir, task, preset, seed)
    if path.exists():
        return serialization.msgpack_restore(path.read_bytes())
    t0 = time.time()
    config = _sac_config(task, p, seed)
    snapshots: list[tuple[int, float, Any]] = []

    def on_eval(step, states, returns):
        actor = jax.tree.map(lambda x: np.asarray(x[0]), states.agent.params["actor"])
        snapshots.append((step, float(returns[0].mean()), actor))

    with tempfile.TemporaryDirectory() as workdir:
        run(config, workdir, progress=progress, on_eval=on_eval)
        train_log = (Path(workdir) / "metrics.jsonl").read_text()
        records = read_metrics(workdir)
    random_return = _random_reference(task, p, seed, records)
    expert_step, expert_return, expert_params = snapshots[-1]
    target = random_return + (expert_return - random_return) / 3.0
    medium_step, medium_return, medium_params = min(snapshots, key=lambda s: abs(s[1] - target))
    meta = {
        "task": task,
        "seed": seed,
        "preset": preset,
        "generator": "jaxrl.data.generate (SAC on Brax, D4RL protocol)",
        "random_return": random_return,
        "expert_return": expert_return,
        "expert_step": expert_step,
        "medium_step": medium_step,
        "medium_eval_return": medium_return,
        "sac_steps": p.sac_steps,
        "sac_eval_curve": [[s, r] for s, r, _ in snapshots],
        "seconds": round(time.time() - t0, 1),
    }
    record = {"meta": meta, "expert": expert_params, "medium": medium_params}
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(serialization.msgpack_serialize(record))
    tmp.replace(path)
    (out_dir / f"{task}-sac-{preset}-seed{seed}.train.jsonl").write_text(train_log)
    return serialization.msgpack_restore(path.read_bytes())


def _random_reference(task: str, p: Preset, seed: int, records: list[dict]) -> float:
    """Mean return of the uniform policy on `task`.

    When the SAC run's random warm-up spans a whole episode in every environment, the
    episodes it finished are exactly uniform-policy episodes and their mean return is read
    from the training log; otherwise 10 uniform episodes are rolled out.
    """
    env = make_env(task)
    if p.warmup_steps >= p.num_envs * env.spec.episode_length:
        for record in records:
            done = record.get("train_episodes", 0)
            if record["step"] <= p.warmup_steps and done and np.isfinite(record["train_return"]):
                return float(record["train_return"])
    outs = collect_rollouts(env, _random_act(env), 10, env.spec.episode_length)(
        None, jax.random.key(seed + 1)
    )
    return _finished_return_mean(outs)


def _sac_config(task: str, p: Preset, seed: int):
    from jaxrl.agents.registry import agent_config
    from jaxrl.config import TrainConfig

    return TrainConfig(
        algo="sac",
        agent=agent_config(
            "sac", {"hidden_dims": p.hidden_dims, "critic_hidden_dims": p.hidden_dims}
        ),
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
        eval_episodes=p.eval_episodes,
    )


def _random_act(env: Env):
    def act(_, obs, key):
        del obs
        return jax.random.uniform(key, (env.spec.action_dim,), minval=-1.0, maxval=1.0)

    return act


def generate(
    name: str,
    preset: str = "cpu",
    seed: int = 0,
    directory: str | Path | None = None,
    progress: bool = True,
) -> Path:
    """Writes dataset `name` (e.g. "halfcheetah-medium-v0") into the cache and returns its path.

    Trains SAC first if this task, preset and seed have no cached policies. Each dataset is
    `preset.size` transitions rolled out with the policy's stochastic actions in parallel
    environments, one full episode per environment where the size allows.

    Args:
      name: `<task>-<random|medium|expert>-v0`.
      preset: a key of `PRESETS`.
      seed: seed of the SAC run and of the rollouts.
      directory: where to write (default `data_dir()`).
      progress: show the SAC training progress bar.
    """
    task, kind = parse_name(name)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {sorted(PRESETS)}")
    p = PRESETS[preset]
    out_dir = Path(directory) if directory is not None else data_dir()
    t0 = time.time()
    record = train_policies(task, preset, seed, out_dir, progress)
    meta = dict(record["meta"])
    env = make_env(task)
    length = env.spec.episode_length
    num_envs = max(1, min(p.size // length, 200))
    steps = -(-p.size // num_envs)
    key = jax.random.fold_in(jax.random.key(seed + 2), KINDS.index(kind))
    if kind == "random":
        outs = collect_rollouts(env, _random_act(env), num_envs, steps)(None, key)
    else:
        from jaxrl.agents.registry import make_agent

        config = _sac_config(task, p, seed)
        sac = make_agent("sac", config.agent_config(), env.spec)
        template = sac.init(jax.random.key(0))

        def act(actor_params, obs, k):
            state = template.replace(params={**template.params, "actor": actor_params})
            return sac.act(state, obs, k, False)

        outs = collect_rollouts(env, act, num_envs, steps)(record[kind], key)
    ds = rollout_to_dataset(outs, name, {})
    meta.update(name=name, kind=kind, data_return_mean=_episode_return_mean(ds))
    meta.pop("seconds", None)
    ds = dataclasses.replace(ds, metadata=meta)
    path = out_dir / f"{name}.hdf5"
    save_hdf5(ds, path)
    manifest = {
        **meta,
        "file": path.name,
        "size": ds.size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rollout_seconds": round(time.time() - t0, 1),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(manifest, indent=2))
    return path
