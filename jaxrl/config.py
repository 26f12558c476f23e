"""The run configuration: one frozen dataclass tree, checked before anything compiles."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from jaxrl.agents.registry import AGENTS, agent_config
from jaxrl.buffers.mixer import RETENTION_MODES
from jaxrl.data.samplers import SAMPLERS
from jaxrl.data.transforms import REWARD_NORMALIZATIONS
from jaxrl.envs.registry import TASKS
from jaxrl.errors import ConfigError
from jaxrl.sweep import expand, normalize, validate_sweep

DIVERGENCE_MODES = ("stop", "freeze")

# Fields that change neither the compiled programs nor any number a run produces, so a run may
# resume under new values without `allow_config_change`.
RESUME_SAFE_FIELDS = frozenset(
    {"checkpoint_every", "checkpoint_interval_s", "keep_checkpoints", "on_divergence"}
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """An offline→online run, vmapped over `seeds`.

    Static fields (sizes, step counts, modes) shape the compiled program; `offline_ratio` and
    every field of `agent` that is not marked static are dynamic leaves.
    """

    algo: str = "iql"  # algorithm name (see jaxrl.agents.AGENTS)
    agent: Any = None  # the algorithm's config dataclass; None means its defaults
    task: str = "halfcheetah"  # registered Brax task (see jaxrl.envs.TASKS)
    dataset: str = "halfcheetah-medium-v0"  # dataset name in the cache, or a file path; "" for none
    dataset_preset: str = "cpu"  # preset used if the named dataset must be generated first
    seeds: tuple[int, ...] = (0, 1, 2, 3)  # one run per seed, vmapped
    batch_size: int = 256  # transitions per gradient step
    offline_steps: int = 10_000  # gradient steps on the dataset
    online_steps: int = 10_000  # environment steps per run after the switch (all envs together)
    num_envs: int = 1  # parallel environments per run online
    utd: int = 1  # gradient steps per environment step (of all num_envs envs)
    chunk_length: int = (
        1_000  # steps compiled into one chunk (gradient steps offline, env steps online)
    )
    # "interleaved": utd updates after every env step | "after_chunk": the chunk's env steps
    # with the policy fixed, then chunk_length × utd / num_envs updates (Cal-QL: one
    # trajectory, then as many updates; chunk_length = the episode length)
    online_updates: str = "interleaved"
    retention: str = "append"  # offline data online: "append" | "mixed" | "none"
    offline_ratio: float = 0.5  # share of offline rows in a batch when retention == "mixed"
    buffer_capacity: int = 0  # online buffer rows; 0 means online_steps (rounded up to num_envs)
    warmup_steps: int = 0  # online env steps collected before the first update
    warmup_policy: str = "agent"  # "agent" (WSRL: frozen pre-trained policy) | "random" (RLPD)
    sampler: str = "uniform"  # offline draws: "uniform" | "rw" | "aw" | "topk" (trajectory weights)
    sampler_temperature: float = 0.1  # α of the "rw"/"aw" softmax (reference: 0.1)
    sampler_top_fraction: float = 0.1  # share of best-return trajectories "topk" samples from
    reward_scale: float = 1.0  # r ← r · scale + bias, offline and online alike
    reward_bias: float = 0.0
    normalize_obs: bool = False  # (obs − mean) / std with the dataset's statistics, everywhere
    # "return_range": r ← r · T / (R_max − R_min) over the dataset's episode returns, T the
    # task's time limit (IQL's and XQL's locomotion rewards), before reward_scale and bias,
    # offline and online alike | "none"
    reward_normalization: str = "none"
    eval_every: int = 2_000  # steps between evaluations (a multiple of chunk_length)
    eval_episodes: int = 5  # deterministic-policy episodes per evaluation and run
    episode_length: int = 0  # 0 means the task's registered time limit
    checkpoint_every: int = 5  # chunks between checkpoints; 0: only at the switch and the end
    checkpoint_interval_s: float = 600.0  # also checkpoint when this many seconds passed; 0: off
    keep_checkpoints: int = 3  # newest checkpoints kept in workdir/checkpoints; 0: no checkpoints
    on_divergence: str = "stop"  # non-finite run: "stop" the job | "freeze" that run index
    # Hyperparameter sweep in the run axis (jaxrl.sweep): swept key -> values, e.g.
    # {"agent.beta": (1.0, 3.0), "offline_ratio": (0.25, 0.5)}; runs = settings x seeds.
    sweep: Any = ()
    sweep_mode: str = "grid"  # "grid": every combination | "random": sweep_samples draws
    sweep_samples: int = 0  # settings drawn in random mode
    sweep_seed: int = 0  # seed of the random draws (host-side, reproducible)

    def agent_config(self):
        return self.agent if self.agent is not None else agent_config(self.algo)

    @property
    def num_runs(self) -> int:
        """Runs on the run axis: seeds × sweep settings (before any padding to the devices)."""
        return len(expand(self))

    @property
    def capacity(self) -> int:
        cap = self.buffer_capacity or max(self.online_steps, self.num_envs)
        return -(-cap // self.num_envs) * self.num_envs

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["agent"] = dataclasses.asdict(self.agent_config())
        d["sweep"] = _sweep_dict(self.sweep)
        return d


def _sweep_dict(sweep) -> dict[str, Any]:
    try:
        pairs = normalize(sweep)
    except ConfigError:
        return {"invalid": repr(sweep)}
    return {k: list(v) if v[:1] != ("dist",) else dict(v[1:]) for k, v in pairs}


def _allowed(name: str, value: Any, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; allowed values: {sorted(allowed)}")


def validate(config: TrainConfig, dataset_size: int | None = None) -> None:
    """Raises `ConfigError` naming the first impossible setting; nothing has compiled yet."""
    _allowed("algo", config.algo, AGENTS)
    _allowed("task", config.task, TASKS)
    _allowed("retention", config.retention, RETENTION_MODES)
    _allowed("warmup_policy", config.warmup_policy, ("agent", "random"))
    _allowed("online_updates", config.online_updates, ("interleaved", "after_chunk"))
    _allowed("on_divergence", config.on_divergence, DIVERGENCE_MODES)
    _allowed("sampler", config.sampler, SAMPLERS)
    _allowed("reward_normalization", config.reward_normalization, REWARD_NORMALIZATIONS)
    if not config.sampler_temperature > 0:
        raise ConfigError(
            f"sampler_temperature={config.sampler_temperature} must be > 0 (reference: 0.1)"
        )
    if not 0.0 < config.sampler_top_fraction <= 1.0:
        raise ConfigError(
            f"sampler_top_fraction={config.sampler_top_fraction} must lie in (0, 1] "
            "(reference: 0.1, the best 10% of trajectories)"
        )
    if not isinstance(config.agent_config(), AGENTS[config.algo][0]):
        raise ConfigError(
            f"agent config is a {type(config.agent_config()).__name__}, but algo={config.algo!r} "
            f"needs a {AGENTS[config.algo][0].__name__}"
        )
    if not config.seeds:
        raise ConfigError("seeds is empty; give at least one seed, e.g. seeds=(0,)")
    if len(set(config.seeds)) != len(config.seeds):
        raise ConfigError(f"seeds={config.seeds} has duplicates; each run needs its own seed")
    positive = ("batch_size", "num_envs", "utd", "chunk_length", "eval_episodes")
    for name in positive:
        if getattr(config, name) <= 0:
            raise ConfigError(f"{name}={getattr(config, name)} must be a positive integer")
    for name in (
        "offline_steps",
        "online_steps",
        "warmup_steps",
        "buffer_capacity",
        "episode_length",
        "eval_every",
        "checkpoint_every",
        "checkpoint_interval_s",
        "keep_checkpoints",
    ):
        if getattr(config, name) < 0:
            raise ConfigError(f"{name}={getattr(config, name)} must be >= 0")
    if config.offline_steps + config.online_steps == 0:
        raise ConfigError("offline_steps and online_steps are both 0: nothing to train")
    for name in ("offline_steps", "online_steps", "eval_every"):
        if getattr(config, name) % config.chunk_length:
            raise ConfigError(
                f"{name}={getattr(config, name)} must be a multiple of "
                f"chunk_length={config.chunk_length}"
            )
    if config.online_steps % config.num_envs or config.chunk_length % config.num_envs:
        raise ConfigError(
            f"online_steps={config.online_steps} and chunk_length={config.chunk_length} must be "
            f"multiples of num_envs={config.num_envs}"
        )
    if not 0.0 <= config.offline_ratio <= 1.0:
        raise ConfigError(f"offline_ratio={config.offline_ratio} must lie in [0, 1]")
    if config.offline_steps > 0 and not config.dataset:
        raise ConfigError(f"offline_steps={config.offline_steps} needs a dataset; set dataset=")
    if config.sampler != "uniform" and not config.dataset:
        raise ConfigError(
            f"sampler={config.sampler!r} weights a dataset's transitions; set dataset= or "
            "sampler='uniform'"
        )
    if config.normalize_obs and not config.dataset:
        raise ConfigError(
            "normalize_obs=True needs a dataset (its observation statistics); set dataset= or "
            "normalize_obs=False"
        )
    if config.reward_normalization != "none" and not config.dataset:
        raise ConfigError(
            f"reward_normalization={config.reward_normalization!r} needs a dataset (its episode "
            "returns); set dataset= or reward_normalization='none'"
        )
    if config.agent_config().data_needs().dataset_in_update and not config.dataset:
        raise ConfigError(
            f"algo={config.algo!r} constrains its policy to the offline dataset; set dataset="
        )
    if config.online_steps > 0 and config.retention != "none" and not config.dataset:
        raise ConfigError(
            f"retention={config.retention!r} needs a dataset; set dataset= or retention='none'"
        )
    validate_sweep(config)
    if dataset_size is not None and config.batch_size > dataset_size:
        raise ConfigError(
            f"batch_size={config.batch_size} is larger than the dataset ({dataset_size} rows); "
            "use a smaller batch or a larger dataset"
        )


def from_mapping(values: Mapping[str, Any]) -> TrainConfig:
    """Builds a `TrainConfig` from nested plain values (an ml_collections dict or JSON).

    `values["agent"]` holds overrides of the algorithm's config. Unknown keys at either level
    raise `ConfigError` listing the allowed ones.
    """
    values = dict(values)
    values.pop("runs", None)  # config.json lists the expanded runs; they derive from the rest
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; allowed: {sorted(fields)}")
    algo = values.get("algo", TrainConfig.algo)
    _allowed("algo", algo, AGENTS)
    try:
        values["agent"] = agent_config(algo, dict(values.get("agent") or {}))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    if "seeds" in values:
        values["seeds"] = tuple(int(s) for s in values["seeds"])
    if "sweep" in values:
        values["sweep"] = normalize(values["sweep"])
    return TrainConfig(**values)


def config_to_json(config: TrainConfig) -> str:
    return json.dumps(config.to_dict(), indent=2, sort_keys=True, default=str)


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """`(field, old, new)` for every field that differs between two `to_dict()`-style mappings.

    Nested fields are named with dots (``agent.actor_lr``); a field missing on one side counts
    as `None` there. Values are compared after a JSON round trip, so tuples equal lists.
    """
    old = json.loads(json.dumps(old, default=str))
    new = json.loads(json.dumps(new, default=str))
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [(f"{key}.{k}", x, y) for k, x, y in config_diff(a, b)]
        elif a != b:
            out.append((key, a, b))
    return out


def config_dict(config: TrainConfig) -> dict[str, Any]:
    return json.loads(config_to_json(config))


def _with_new_defaults(old: dict[str, Any]) -> dict[str, Any]:
    """`old` with the defaults of fields added to the library since it was written.

    A new field's default reproduces the behaviour from before the field existed, so a run
    directory written by an older version resumes without `allow_config_change`.
    """
    algo = old.get("algo", TrainConfig.algo)
    if algo not in AGENTS:
        return old
    defaults = json.loads(config_to_json(TrainConfig(algo=algo)))
    filled = {**defaults, **old}
    filled["agent"] = {**defaults["agent"], **(old.get("agent") or {})}
    return filled


def check_config_change(
    old: dict[str, Any], config: TrainConfig, where: str, allow: bool = False
) -> list[tuple[str, Any, Any]]:
    """The differing fields between a stored config and `config`; raises unless they are safe.

    Raises:
      ConfigError: a field outside `RESUME_SAFE_FIELDS` differs and `allow` is false.
    """
    old = {k: v for k, v in old.items() if k != "runs"}  # derived from the config
    diff = config_diff(_with_new_defaults(old), config_dict(config))
    unsafe = [d for d in diff if d[0] not in RESUME_SAFE_FIELDS]
    if unsafe and not allow:
        lines = "\n".join(f"  {name}: {a!r} → {b!r}" for name, a, b in unsafe)
        raise ConfigError(
            f"{where} was written by a run with a different config; resuming it would not give "
            f"the numbers of either config. Differing fields (stored → given):\n{lines}\n"
            "Rerun with the stored config to resume, choose another workdir to start afresh, "
            "or pass allow_config_change=True (CLI: --allow_config_change) to resume anyway."
        )
    return diff
