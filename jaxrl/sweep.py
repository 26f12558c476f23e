"""Sweeps as one program: seeds × hyperparameter settings expanded into the run axis.

`TrainConfig.sweep` names dynamic hyperparameters (agent fields such as ``agent.beta``, and
``offline_ratio``) and the values to try. `expand` turns a config into the list of runs, one
per (setting, seed), setting-major: runs ``0 … S-1`` are the seeds of the first setting, and
so on. Each run starts from its seed, with its setting's values written into the dynamic
leaves of its `TrainState` (agent `hparams`, the injected learning rates, `offline_ratio`)
by a vmapped init over the stacked values (`run_hparams`), so every run of the sweep shares
one compiled program per phase. No traced value ever enters a config.

A setting may only vary values that reach the program as state leaves: an algorithm's
`dynamic` config fields (the fields of its `AgentState.hparams` dataclass, see
`jaxrl.agents.base.dynamic`) and `offline_ratio`. Network sizes, batch size, step counts and
every other (static) field shape or specialise the compiled program; sweeping them is refused
with a message naming the field and saying it needs separate programs (one job per value).

Example:

    >>> from jaxrl.config import TrainConfig
    >>> from jaxrl.sweep import expand
    >>> config = TrainConfig(seeds=(0, 1), sweep={"agent.beta": (1.0, 3.0)})
    >>> [(r.run, r.seed, r.settings["agent.beta"]) for r in expand(config)]
    [(0, 0, 1.0), (1, 1, 1.0), (2, 0, 3.0), (3, 1, 3.0)]
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxrl.agents.base import dynamic_names, hparams_of
from jaxrl.agents.registry import agent_config
from jaxrl.errors import ConfigError

SWEEP_MODES = ("grid", "random")
# TrainConfig fields that are TrainState leaves (with the agent config's `dynamic` fields).
TOP_LEVEL_DYNAMIC = ("offline_ratio",)
# The record key prefix of a swept value in metrics.jsonl: {"settings.agent.beta": 3.0}.
SETTINGS_PREFIX = "settings."


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run index of a sweep.

    Attributes:
      run: the run index (position on the run axis).
      seed: the run's seed.
      settings: swept key → value, e.g. ``{"agent.beta": 3.0}``; empty without a sweep.
      padding: a copy of the last run added so the run axis divides the device count; its
        results are computed but never logged, summarized or counted.
    """

    run: int
    seed: int
    settings: dict[str, float]
    padding: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "seed": self.seed, "settings": dict(self.settings)}


def _error(message: str) -> Exception:
    return ConfigError(message)


def normalize(sweep: Any) -> tuple[tuple[str, Any], ...]:
    """The sweep as `((key, values), …)` in the given order.

    Accepts None or "" (no sweep), a mapping, a JSON string of a mapping (for the command
    line: ``--config.sweep='{"agent.beta": [1, 3, 10]}'``), or a sequence of pairs. Values are
    a list of numbers, or (random mode only) ``{"uniform": [lo, hi]}`` /
    ``{"log_uniform": [lo, hi]}``.

    Raises:
      ConfigError: the sweep is not of one of those forms.
    """
    if sweep is None or (isinstance(sweep, str) and not sweep.strip()):
        return ()
    if isinstance(sweep, str):
        try:
            sweep = json.loads(sweep)
        except json.JSONDecodeError as err:
            raise _error(
                f"sweep={sweep!r} is not valid JSON ({err}); write it as "
                """'{"agent.beta": [1, 3, 10]}'"""
            ) from None
    if isinstance(sweep, Mapping):
        pairs = list(sweep.items())
    else:
        try:
            pairs = [tuple(p) for p in sweep]
        except TypeError:
            pairs = None
        if pairs is None or any(len(p) != 2 for p in pairs):
            raise _error(
                f"sweep={sweep!r} must map each swept key to its values, e.g. "
                """{"agent.beta": [1, 3, 10], "offline_ratio": [0.25, 0.5]}"""
            )
    out = []
    for key, values in pairs:
        if not isinstance(key, str):
            raise _error(f"sweep key {key!r} must be a string such as 'agent.beta'")
        if isinstance(values, Mapping):
            values = tuple((k, tuple(float(x) for x in v)) for k, v in values.items())
            out.append((key, ("dist",) + values))
            continue
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            values = (values,)
        out.append((key, tuple(_number(key, v) for v in values)))
    keys = [k for k, _ in out]
    if len(set(keys)) != len(keys):
        raise _error(f"sweep keys {keys} repeat a key; give each key once with all its values")
    return tuple(out)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise _error(
            f"sweep value {value!r} of {key!r} is not a number; only numeric dynamic "
            "hyperparameters can be swept in one program"
        )
    return float(value)


def _distribution(key: str, values: tuple) -> tuple[str, float, float] | None:
    """`(kind, lo, hi)` for a `{"uniform"|"log_uniform": [lo, hi]}` value spec, else None."""
    if not values or values[0] != "dist":
        return None
    spec = dict(values[1:])
    if len(spec) != 1 or next(iter(spec)) not in ("uniform", "log_uniform"):
        raise _error(
            f"sweep values of {key!r} must be a list of numbers, or in random mode "
            """{"uniform": [lo, hi]} or {"log_uniform": [lo, hi]}"""
        )
    kind, bounds = next(iter(spec.items()))
    if len(bounds) != 2 or not bounds[0] < bounds[1]:
        raise _error(f"sweep {key!r}: {kind} needs [lo, hi] with lo < hi, got {list(bounds)}")
    if kind == "log_uniform" and bounds[0] <= 0:
        raise _error(f"sweep {key!r}: log_uniform needs lo > 0, got {list(bounds)}")
    return kind, bounds[0], bounds[1]


def candidate_keys(config) -> list[str]:
    """Keys a sweep may name: `TOP_LEVEL_DYNAMIC` and the agent's `dynamic` fields, which
    are exactly the fields of its `AgentState.hparams` dataclass."""
    return list(TOP_LEVEL_DYNAMIC) + [f"agent.{n}" for n in dynamic_names(config.agent_config())]


def _static_message(key: str, why: str) -> str:
    return (
        f"sweep key {key!r} {why}, so runs with different values need separate programs: run "
        "one job per value (e.g. --config." + key + "=VALUE) instead of sweeping it. "
    )


def validate_sweep(config) -> None:
    """The cheap checks of a sweep (no tracing): keys, values, mode.

    Raises:
      ConfigError: an unknown or static key, empty values, a bad mode or sample count.
    """
    if config.sweep_mode not in SWEEP_MODES:
        raise _error(f"sweep_mode={config.sweep_mode!r} is not allowed; allowed: {SWEEP_MODES}")
    pairs = normalize(config.sweep)
    if config.sweep_mode == "random" and pairs and config.sweep_samples <= 0:
        raise _error(
            "sweep_mode='random' needs sweep_samples > 0 (how many settings to draw), got "
            f"{config.sweep_samples}"
        )
    if config.sweep_mode == "grid" and config.sweep_samples:
        raise _error(
            f"sweep_samples={config.sweep_samples} only applies to sweep_mode='random'; "
            "set sweep_samples=0 for a grid"
        )
    candidates = candidate_keys(config)
    top = {f.name for f in dataclasses.fields(config)}
    agent = {f.name for f in dataclasses.fields(config.agent_config())}
    for key, values in pairs:
        if key in candidates:
            pass
        elif key == "seeds" or key == "seed":
            raise _error("seeds are not swept with `sweep`; list them in seeds=(0, 1, 2)")
        elif key in top or (key.startswith("agent.") and key[6:] in agent):
            raise _error(
                _static_message(key, "is static (it shapes or specialises the compiled program)")
                + f"Sweepable keys: {candidates}"
            )
        else:
            raise _error(f"unknown sweep key {key!r}; sweepable keys: {candidates}")
        if not values:
            raise _error(f"sweep key {key!r} has no values; give at least one")
        if _distribution(key, values) is not None and config.sweep_mode != "random":
            raise _error(
                f"sweep {key!r} gives a distribution, which only sweep_mode='random' can draw "
                "from; give a list of values for a grid"
            )
    for settings in _settings(config):
        for key, value in settings.items():
            if not math.isfinite(value):
                raise _error(f"sweep value {value} of {key!r} is not finite")
        config_for(config, settings)  # each setting is itself a valid config


def _settings(config) -> list[dict[str, float]]:
    """The hyperparameter settings in run order (one empty setting without a sweep)."""
    pairs = normalize(config.sweep)
    if not pairs:
        return [{}]
    keys = [k for k, _ in pairs]
    if config.sweep_mode == "grid":
        return [
            dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*dict(pairs).values())
        ]
    rng = np.random.default_rng(config.sweep_seed)
    out = []
    for _ in range(config.sweep_samples):
        setting = {}
        for key, values in pairs:
            dist = _distribution(key, values)
            if dist is None:
                setting[key] = float(values[rng.integers(len(values))])
            elif dist[0] == "uniform":
                setting[key] = float(rng.uniform(dist[1], dist[2]))
            else:
                setting[key] = float(np.exp(rng.uniform(np.log(dist[1]), np.log(dist[2]))))
        out.append(setting)
    return out


def expand(config) -> tuple[RunSpec, ...]:
    """Every run of `config`: settings outermost, seeds innermost (run = setting·S + seed_idx).

    A pure function of the config: random settings come from `sweep_seed`, so every host of
    a multi-host job, and every resume, gets the same runs.
    """
    runs = []
    for settings in _settings(config):
        for seed in config.seeds:
            runs.append(RunSpec(len(runs), int(seed), dict(settings)))
    return tuple(runs)


def pad(runs: Sequence[RunSpec], multiple: int) -> tuple[RunSpec, ...]:
    """`runs` followed by copies of the last run (marked `padding`) up to a multiple of
    `multiple` (the device count), so the run axis splits evenly."""
    runs = tuple(runs)
    extra = -len(runs) % multiple
    last = runs[-1]
    return runs + tuple(
        dataclasses.replace(last, run=len(runs) + i, padding=True) for i in range(extra)
    )


def config_for(config, settings: Mapping[str, float]):
    """`config` with one setting's values written in (a concrete config for that setting).

    Raises:
      ConfigError: a value is invalid for its field (checked by the config classes).
    """
    top = {k: v for k, v in settings.items() if not k.startswith("agent.")}
    agent = {k[6:]: v for k, v in settings.items() if k.startswith("agent.")}
    if agent:
        base = dataclasses.asdict(config.agent_config())
        try:
            new_agent = agent_config(config.algo, {**base, **agent})
        except (ValueError, TypeError) as err:
            raise _error(f"sweep setting {dict(settings)}: {err}") from None
        config = dataclasses.replace(config, agent=new_agent)
    if top:
        config = dataclasses.replace(config, **top)
        if not 0.0 <= config.offline_ratio <= 1.0:
            raise _error(f"sweep value offline_ratio={config.offline_ratio} must lie in [0, 1]")
    return config


def run_hparams(config, runs: Sequence[RunSpec]) -> tuple[Any, np.ndarray]:
    """Every run's agent hyperparameters (its config's `hparams_class`, leaves stacked on a
    leading run axis, float32) and `offline_ratio`: the vmapped init's inputs.

    A run's values are its setting's, written into `config` by `config_for` (so they are
    checked like any config value); fields it does not sweep keep the config's values.
    """
    per_run = [config_for(config, r.settings) for r in runs]
    hparams = [hparams_of(c.agent_config()) for c in per_run]
    stacked = jax.tree.map(lambda *x: np.stack([np.asarray(v) for v in x]), *hparams)
    ratios = np.array([c.offline_ratio for c in per_run], np.float32)
    return stacked, ratios


def settings_of(runs: Sequence[RunSpec]) -> list[dict[str, float]]:
    """The distinct settings of `runs`, in run order."""
    out: list[dict[str, float]] = []
    for r in runs:
        if r.settings not in out:
            out.append(r.settings)
    return out


def swept_keys(config) -> list[str]:
    return [k for k, _ in normalize(config.sweep)]


# --------------------------------------------------------------------------- records


def record_settings(record: Mapping[str, Any]) -> dict[str, Any]:
    """The `{key: value}` settings of a metrics.jsonl record (its ``settings.*`` keys)."""
    n = len(SETTINGS_PREFIX)
    return {k[n:]: v for k, v in record.items() if k.startswith(SETTINGS_PREFIX)}


def settings_label(settings: Mapping[str, Any]) -> str:
    """A short label such as ``agent.beta=3, offline_ratio=0.5`` ("" without a sweep)."""
    return ", ".join(f"{k}={v:g}" for k, v in settings.items())
