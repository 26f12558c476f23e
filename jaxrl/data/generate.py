"""A D4RL-style benchmark suite generated on Brax with this library's own SAC.

D4RL's locomotion data cannot be used here (other simulator, no downloads), so jaxrl follows its
protocol instead. One SAC run per task, preset and seed (cached) yields six datasets:

- `<task>-random-v0`: the uniform policy;
- `<task>-medium-v0`: the training snapshot whose *stochastic* return is nearest one third of
  the way from the random to the expert reference, among the snapshots that score between 20
  and 60 (`select_medium`);
- `<task>-expert-v0`: the SAC snapshot with the highest stochastic return (`select_expert`;
  a short run can peak and then degrade, as hopper's CPU run does), rolled out with its
  Gaussian's standard deviation scaled by `Preset.expert_noise` (1 for the D4RL preset; the CPU
  preset's expert is still far from converged and its full-entropy actions score well below
  its own deterministic return);
- `<task>-medium-replay-v0`: the SAC replay buffer up to the medium snapshot's step, i.e. every
  transition collected until the policy was medium (random warm-up included);
- `<task>-full-replay-v0`: the whole SAC replay buffer;
- `<task>-medium-expert-v0`: medium followed by expert (episode boundaries kept).

Policies are rolled out with their stochastic actions (the expert's noise scaled as above). The
references recorded with every dataset are the uniform policy's return and the expert
snapshot's deterministic evaluation return (how agents are evaluated), so a normalized score
is 100 · (R − R_random) / (R_expert − R_random).
Everything is a pure function of (task, preset, seed) on a given platform: the same seed gives
byte-identical files. Files, manifests and checksums: `jaxrl.data.suite`.

Example:

    >>> from jaxrl.data import generate
    >>> generate.generate("halfcheetah-medium-v0", preset="cpu")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import warnings
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import training
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.config import TrainConfig
from jaxrl.data import suite
from jaxrl.data.dataset import Dataset, episode_returns, from_arrays
from jaxrl.data.io import save_hdf5
from jaxrl.data.suite import KINDS, is_generatable, parse_name  # noqa: F401 (re-exported)
from jaxrl.envs import Env, make_env
from jaxrl.envs.registry import normalized_score
from jaxrl.hooks import OnEval, ProgressBar
from jaxrl.networks import GaussianPolicy

#: Normalized-score band the medium policy must fall in, and the target inside it.
MEDIUM_BAND = (20.0, 60.0)
MEDIUM_TARGET = 100.0 / 3.0


@dataclasses.dataclass(frozen=True)
class Preset:
    """How much SAC training and data a suite gets.

    Attributes:
      sac_steps: online environment steps of the SAC run that makes the policies.
      num_envs: parallel environments in that run (one update per transition).
      size: transitions per rolled-out dataset (random, medium, expert).
      eval_every: environment steps between policy snapshots (medium candidates).
      warmup_steps: uniform-policy steps before SAC starts learning.
      batch_size: SAC batch size.
      hidden_dims: SAC actor and critic widths.
      eval_episodes: deterministic episodes per snapshot during training (the logged curve).
      select_episodes: stochastic episodes per snapshot when choosing the medium policy.
      reference_episodes: deterministic episodes of the expert for its reference return.
      expert_noise: factor on the expert's Gaussian standard deviation when the expert
        dataset is rolled out (1: the policy as trained; 0: deterministic).
    """

    sac_steps: int
    num_envs: int
    size: int
    eval_every: int
    warmup_steps: int = 5_000
    batch_size: int = 256
    hidden_dims: tuple[int, ...] = (256, 256)
    eval_episodes: int = 1
    select_episodes: int = 5
    reference_episodes: int = 10
    expert_noise: float = 1.0


PRESETS: dict[str, Preset] = {
    # Minutes per task on a 2-core CPU: a weaker expert and 100k-transition datasets.
    "cpu": Preset(
        sac_steps=64_000,
        num_envs=8,
        size=100_000,
        eval_every=1_000,
        warmup_steps=8_000,
        hidden_dims=(128, 128),
        expert_noise=0.5,
    ),
    # D4RL sizes: 1M transitions from a 1M-step SAC run (an accelerator is advised).
    "d4rl": Preset(
        sac_steps=1_000_000, num_envs=8, size=1_000_000, eval_every=10_000, warmup_steps=8_000
    ),
    # Seconds: for tests only.
    "tiny": Preset(
        sac_steps=2_000,
        num_envs=4,
        size=2_000,
        eval_every=500,
        warmup_steps=500,
        batch_size=32,
        hidden_dims=(16, 16),
        select_episodes=2,
        reference_episodes=2,
        expert_noise=0.5,
    ),
}


def select_medium(
    returns, random_return: float, expert_return: float, band=MEDIUM_BAND, target=MEDIUM_TARGET
) -> tuple[int, bool]:
    """Index of the medium snapshot and whether it lies in the band.

    Among the snapshots whose normalized return lies in `band` (inclusive), the one nearest
    `target` (the earliest on a tie); if none does, the one nearest `target` overall.

    Args:
      returns: measured (stochastic-rollout) return of each snapshot, in training order.
      random_return, expert_return: the references of the normalized score.
      band: (low, high) normalized scores a medium policy may have.
      target: the normalized score aimed at (one third of the way: 33.3).

    Returns:
      (index into `returns`, True if that snapshot is inside the band).
    """
    scores = np.asarray(normalized_score(np.asarray(returns, float), random_return, expert_return))
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"need a non-empty list of snapshot returns, got shape {scores.shape}")
    distance = np.abs(scores - target)
    inside = (scores >= band[0]) & (scores <= band[1])
    if inside.any():
        return int(np.argmin(np.where(inside, distance, np.inf))), True
    return int(np.argmin(distance)), False


def select_expert(returns) -> int:
    """Index of the expert snapshot: the highest stochastic return, the latest on a tie."""
    returns = np.asarray(returns, float)
    if returns.ndim != 1 or returns.size == 0:
        raise ValueError(f"need a non-empty list of snapshot returns, got shape {returns.shape}")
    return int(returns.size - 1 - np.argmax(returns[::-1]))


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


def streams_to_arrays(
    obs, action, reward, terminated, truncated, next_obs
) -> dict[str, np.ndarray]:
    """Time-major [T, E, ...] streams → D4RL arrays, one time-ordered stream per env in turn.

    Each stream is cut after its last step: that row becomes a time-out unless it is a true
    terminal, so no episode runs across two streams.
    """
    flat = lambda x: np.swapaxes(np.asarray(x), 0, 1).reshape((-1,) + np.asarray(x).shape[2:])
    terminals = flat(terminated).astype(np.float32)
    timeouts = flat(truncated).astype(np.float32)
    t = np.asarray(reward).shape[0]
    last = np.zeros_like(timeouts).reshape(-1, t)
    last[:, -1] = 1
    timeouts = np.maximum(timeouts, last.reshape(-1) * (1 - terminals))
    return {
        "observations": flat(obs),
        "actions": flat(action),
        "rewards": flat(reward),
        "terminals": terminals,
        "timeouts": timeouts,
        "next_observations": flat(next_obs),
    }


def rollout_to_dataset(outs, name: str, metadata: dict) -> Dataset:
    """[T, E] step outputs → one time-ordered stream per env, concatenated."""
    o = jax.device_get(outs)
    arrays = streams_to_arrays(o.obs, o.action, o.reward, o.terminated, o.truncated, o.next_obs)
    return from_arrays(arrays, source=name, metadata=metadata)


def _finished_return_mean(outs) -> float:
    done = np.asarray(outs.done) > 0
    return float(np.asarray(outs.episode_return)[done].mean())


def _sac_path(out_dir: Path, task: str, seed: int) -> Path:
    return out_dir / f"{task}-sac-seed{seed}.msgpack"


def _sac_agent(task: str, p: Preset, seed: int, env: Env, noise: float = 1.0):
    """`act(actor_params, obs, key, deterministic=False)` of the suite's SAC actor.

    `noise` scales the Gaussian's standard deviation before the tanh squash (1: SAC's own
    sampling; 0: its deterministic action).
    """
    config = _sac_config(task, p, seed)
    sac_config = config.agent_config()
    sac = make_agent("sac", sac_config, env.spec)
    template = sac.init(jax.random.key(0))
    actor = GaussianPolicy(
        env.spec.action_dim, sac_config.actor_hidden_dims, sac_config.actor_layer_norm
    )

    def act(actor_params, obs, key, deterministic=False):
        if noise == 1.0 or deterministic:
            state = template.replace(params={**template.params, "actor": actor_params})
            return sac.act(state, obs, key, deterministic)
        mean, log_std = actor.apply(actor_params, obs)
        eps = jax.random.normal(key, mean.shape, mean.dtype)
        return jnp.tanh(mean + noise * jnp.exp(log_std) * eps)

    return act


def snapshot_returns(
    env: Env, act, stacked_params, episodes: int, key: jax.Array, deterministic: bool
) -> np.ndarray:
    """Mean return of finished episodes of each snapshot (leading axis of `stacked_params`).

    All snapshots run together (vmapped), `episodes` environments each, for one episode
    length; environments that terminate early start new episodes, which are counted too.
    """
    steps = env.spec.episode_length
    n = jax.tree.leaves(stacked_params)[0].shape[0]

    @jax.jit
    def run(params, key):
        policy = lambda prm, obs, k: act(prm, obs, k, deterministic)
        rollout = collect_rollouts(env, policy, episodes, steps)
        outs = jax.vmap(rollout)(params, jax.random.split(key, n))  # [S, T, E]
        done = outs.done > 0
        total = jnp.sum(jnp.where(done, outs.episode_return, 0.0), axis=(1, 2))
        return total / jnp.maximum(jnp.sum(done, axis=(1, 2)), 1)

    return np.asarray(run(stacked_params, key), np.float64)


def train_sac(
    task: str,
    preset: str = suite.ROOT_PRESET,
    seed: int = 0,
    root: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Runs (or loads the cached) SAC run of `task` that every dataset of the suite comes from.

    Keeps a snapshot of the actor every `eval_every` steps and the whole replay buffer, then
    measures every snapshot's stochastic return, picks the expert with `select_expert`,
    measures the references (uniform policy; expert, deterministic) and selects the medium
    snapshot with `select_medium`.

    Returns:
      {"meta": {...}, "expert": actor params, "medium": actor params,
       "buffer": {obs, action, reward, terminated, truncated, next_obs} in insertion order}.
    """
    from flax import serialization

    p = PRESETS[preset]
    out_dir = suite.suite_dir(preset, seed, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = _sac_path(out_dir, task, seed)
    if path.exists():
        record = serialization.msgpack_restore(path.read_bytes())
        if record.get("meta", {}).get("generator_version") == suite.GENERATOR_VERSION:
            return record
    t0 = time.time()
    raw_path = out_dir / f"{task}-sac-seed{seed}.run.msgpack"
    if raw_path.exists():  # training finished before; only the measurements are redone
        raw = serialization.msgpack_restore(raw_path.read_bytes())
    else:
        raw = _run_sac(task, p, seed, progress)
        raw_path.with_suffix(".tmp").write_bytes(serialization.msgpack_serialize(raw))
        raw_path.with_suffix(".tmp").replace(raw_path)
    steps = [int(s) for s in np.asarray(raw["steps"])]
    det_returns = [float(r) for r in np.asarray(raw["det_returns"])]
    stacked, buffer, records = raw["actors"], raw["buffer"], json.loads(raw["records"])
    actors = [jax.tree.map(lambda x, i=i: x[i], stacked) for i in range(len(steps))]
    train_seconds = float(raw["train_seconds"])
    env = make_env(task)
    act = _sac_agent(task, p, seed, env)
    random_return = _random_reference(task, p, seed, records)
    key_ref, key_sel = jax.random.split(jax.random.key(seed + 3))
    stochastic = snapshot_returns(env, act, stacked, p.select_episodes, key_sel, False)
    expert = select_expert(stochastic)
    chosen = jax.tree.map(lambda x: x[expert : expert + 1], stacked)
    expert_return = float(
        snapshot_returns(env, act, chosen, p.reference_episodes, key_ref, deterministic=True)[0]
    )
    medium, in_band = select_medium(stochastic, random_return, expert_return)
    if not in_band:
        warnings.warn(
            f"{task}: no SAC snapshot scores within {MEDIUM_BAND} (stochastic returns "
            f"{np.round(stochastic, 1).tolist()}); the medium policy is the nearest one. Use a "
            "longer run or denser snapshots (Preset.sac_steps, eval_every)",
            stacklevel=2,
        )
    scores = normalized_score(stochastic, random_return, expert_return)
    meta = {
        "task": task,
        "seed": seed,
        "preset": preset,
        "generator": "jaxrl.data.generate (SAC on Brax, D4RL protocol)",
        "generator_version": suite.GENERATOR_VERSION,
        "random_return": random_return,
        "expert_return": expert_return,
        "expert_step": steps[expert],
        "expert_stochastic_return": float(stochastic[expert]),
        "expert_noise": p.expert_noise,
        "medium_step": steps[medium],
        "medium_stochastic_return": float(stochastic[medium]),
        "medium_in_band": in_band,
        "sac_steps": p.sac_steps,
        "sac_num_envs": p.num_envs,
        "sac_hidden_dims": list(p.hidden_dims),
        "built_with": suite.provenance(),  # when the snapshots were measured
        # [step, deterministic eval return, stochastic return, stochastic normalized score]
        "sac_snapshots": [
            [s, round(d, 2), round(float(r), 2), round(float(n), 2)]
            for s, d, r, n in zip(steps, det_returns, stochastic, scores, strict=True)
        ],
    }
    record = {
        "meta": meta,
        "expert": actors[expert],
        "medium": actors[medium],
        "buffer": buffer,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(serialization.msgpack_serialize(record))
    tmp.replace(path)
    timing = {"train_seconds": round(train_seconds, 1), "seconds": round(time.time() - t0, 1)}
    (out_dir / f"{task}-sac-seed{seed}.timing.json").write_text(str(timing))
    return serialization.msgpack_restore(path.read_bytes())


def _run_sac(task: str, p: Preset, seed: int, progress: bool) -> dict[str, Any]:
    """The SAC run itself: actor snapshots, the final replay buffer and the training log."""
    t0 = time.time()
    config = _sac_config(task, p, seed)
    steps, det_returns, actors, buffer = [], [], [], {}

    def on_eval(step, states, returns):
        steps.append(int(step))
        det_returns.append(float(returns[0].mean()))
        actors.append(jax.tree.map(lambda x: np.asarray(x[0]), states.agent.params["actor"]))
        if step == p.sac_steps:
            data = jax.device_get(states.buffer.data)
            size = int(np.asarray(states.buffer.size)[0])
            if size != p.sac_steps:
                raise RuntimeError(f"SAC buffer holds {size} rows, expected {p.sac_steps}")
            for k in ("obs", "action", "reward", "terminated", "truncated", "next_obs"):
                buffer[k] = np.asarray(getattr(data, k)[0][:size])

    programs = training.build(config)
    hooks = [OnEval(on_eval), ProgressBar(disable=not progress)]
    _, history = training.train(programs, training.init_states(programs), hooks=hooks)
    records = history.records
    return {
        "steps": np.asarray(steps),
        "det_returns": np.asarray(det_returns),
        "actors": jax.tree.map(lambda *xs: np.stack(xs), *actors),
        "buffer": buffer,
        "records": json.dumps(records),
        "train_seconds": time.time() - t0,
    }


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

    return TrainConfig(
        algo="sac",
        agent=agent_config(
            "sac", {"actor_hidden_dims": p.hidden_dims, "critic_hidden_dims": p.hidden_dims}
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
        keep_checkpoints=0,
    )


def _random_act(env: Env):
    def act(_, obs, key):
        del obs
        return jax.random.uniform(key, (env.spec.action_dim,), minval=-1.0, maxval=1.0)

    return act


@functools.lru_cache(maxsize=16)
def _rollout_fn(task: str, preset: str, policy: str, num_streams: int, steps: int):
    """The compiled rollout of the uniform policy or a SAC actor (`policy`: "random",
    "medium" or "expert", the latter with `Preset.expert_noise`), reused."""
    env = make_env(task)
    if policy == "random":
        return collect_rollouts(env, _random_act(env), num_streams, steps)
    p = PRESETS[preset]
    act = _sac_agent(task, p, 0, env, p.expert_noise if policy == "expert" else 1.0)
    return collect_rollouts(env, act, num_streams, steps)


def _rollout_arrays(task: str, kind: str, preset: str, seed: int, record) -> dict:
    p = PRESETS[preset]
    length = make_env(task).spec.episode_length
    # Streams of at least 4 episode lengths, so few episodes are cut where a stream ends.
    num_streams = max(1, min(p.size // (4 * length), 100))
    steps = -(-p.size // num_streams)
    key = jax.random.fold_in(jax.random.key(seed + 2), KINDS.index(kind))
    policy = kind
    params = None if kind == "random" else record[kind]
    outs = _rollout_fn(task, preset, policy, num_streams, steps)(params, key)
    o = jax.device_get(outs)
    return streams_to_arrays(o.obs, o.action, o.reward, o.terminated, o.truncated, o.next_obs)


def _replay_arrays(p: Preset, record, rows: int) -> dict:
    b = record["buffer"]
    n = p.num_envs
    if rows % n:
        raise ValueError(f"replay prefix of {rows} rows is not a multiple of {n} environments")
    tm = {
        k: np.asarray(v[:rows]).reshape((rows // n, n) + np.asarray(v).shape[1:])
        for k, v in b.items()
    }
    return streams_to_arrays(
        tm["obs"], tm["action"], tm["reward"], tm["terminated"], tm["truncated"], tm["next_obs"]
    )


def _dataset_arrays(ds: Dataset) -> dict:
    t = ds.transitions
    return {
        "observations": t.obs,
        "actions": t.action,
        "rewards": t.reward,
        "terminals": t.terminated,
        "timeouts": t.truncated,
        "next_observations": t.next_obs,
    }


def ensure(name: str, preset: str = suite.ROOT_PRESET, progress: bool = True) -> Path:
    """The path of suite dataset `name` of `preset`, generated first if not yet cached.

    The explicit step before loading a suite dataset by name (`jaxrl.run.run` and the CLI
    take it; `jaxrl.training.build` only reads).
    """
    if not suite.dataset_path(name, preset).is_file():
        print(
            f"dataset {name} is not cached; generating it (preset {preset!r}) into "
            f"{suite.suite_dir(preset)}"
        )
    return generate(name, preset=preset, progress=progress)  # no-op if cached and up to date


def generate(
    name: str,
    preset: str = suite.ROOT_PRESET,
    seed: int = 0,
    directory: str | Path | None = None,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Writes dataset `name` (e.g. "halfcheetah-medium-v0") into the cache and returns its path.

    Trains SAC first if this task, preset and seed have no cached run. A dataset already in
    the cache that passes its checksum is kept unless `force`.

    Args:
      name: `<task>-<kind>-v0` with kind in `KINDS`.
      preset: a key of `PRESETS`.
      seed: seed of the SAC run and of the rollouts.
      directory: the cache root (default `data_dir()`); see `suite.suite_dir` for the layout.
      progress: show the SAC training progress bar.
      force: rebuild even if cached (the SAC run is still reused).

    Raises:
      DatasetError: the cached file fails its checksum (delete it, or pass `force`).
    """
    task, kind = parse_name(name)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; allowed: {sorted(PRESETS)}")
    p = PRESETS[preset]
    path = suite.dataset_path(name, preset, seed, directory)
    if path.is_file() and not force and not suite.is_stale(path):
        suite.verify(path)  # a modified or corrupt file stops here, with the fix
        return path
    t0 = time.time()
    record = train_sac(task, preset, seed, directory, progress)
    # The SAC run's snapshot curve and provenance stay out of the HDF5 file (reproducible
    # bytes); the provenance goes to the manifest.
    meta = {k: v for k, v in record["meta"].items() if k not in ("sac_snapshots", "built_with")}
    if kind == "medium-expert":
        parts = []
        for sub in ("medium", "expert"):
            sub_name = f"{task}-{sub}-v0"
            generate(sub_name, preset, seed, directory, progress)
            parts.append(_dataset_arrays(suite.load(sub_name, preset, seed, directory)))
        arrays = {k: np.concatenate([parts[0][k], parts[1][k]]) for k in parts[0]}
    elif kind == "full-replay":
        arrays = _replay_arrays(p, record, p.sac_steps)
    elif kind == "medium-replay":
        arrays = _replay_arrays(p, record, int(meta["medium_step"]))
    else:
        arrays = _rollout_arrays(task, kind, preset, seed, record)
    ds = from_arrays(arrays, source=name)
    returns = episode_returns(ds)
    score = float(np.mean(normalized_score(returns, meta["random_return"], meta["expert_return"])))
    meta.update(
        name=name,
        kind=kind,
        data_return_mean=float(np.mean(returns)),
        data_normalized_score=score,
    )
    if kind == "medium" and not MEDIUM_BAND[0] <= score <= MEDIUM_BAND[1]:
        warnings.warn(f"{name}: the data scores {score:.1f}, outside {MEDIUM_BAND}", stacklevel=2)
    ds = dataclasses.replace(ds, metadata=meta)
    save_hdf5(ds, path)
    extra = {"seconds": round(time.time() - t0, 1), "built_with": suite.provenance()}
    if "built_with" in record["meta"]:
        extra["sac_built_with"] = record["meta"]["built_with"]
    suite.write_manifest(path, ds, extra)
    return path
