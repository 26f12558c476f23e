"""The one place that maps an algorithm name to its config class and factory."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from jaxrl.agents.a2pr import A2PRConfig, make_a2pr
from jaxrl.agents.awac import AWACConfig, make_awac
from jaxrl.agents.base import Agent
from jaxrl.agents.bc import BCConfig, make_bc
from jaxrl.agents.cql import CalQLConfig, CQLConfig, make_calql, make_cql
from jaxrl.agents.famo2o import FamO2OConfig, make_famo2o
from jaxrl.agents.fdvl import FDVLConfig, make_fdvl
from jaxrl.agents.iql import IQLConfig, make_iql
from jaxrl.agents.prdc import PRDCConfig, make_prdc
from jaxrl.agents.rebrac import ReBRACConfig, make_rebrac
from jaxrl.agents.riql import RIQLConfig, make_riql
from jaxrl.agents.ro2o import RO2OConfig, make_ro2o
from jaxrl.agents.sac import SACConfig, make_sac
from jaxrl.agents.sacn import EDACConfig, SACNConfig, make_edac, make_sacn
from jaxrl.agents.spot import SPOTConfig, make_spot
from jaxrl.agents.td3bc import TD3BCConfig, make_td3bc
from jaxrl.agents.wsrl import WSRLConfig, make_wsrl
from jaxrl.agents.xql import XQLConfig, make_xql
from jaxrl.specs import EnvSpec

#: name -> (config class, factory)
AGENTS: dict[str, tuple[type, Callable[[Any, EnvSpec], Agent]]] = {
    "iql": (IQLConfig, make_iql),
    "cql": (CQLConfig, make_cql),
    "calql": (CalQLConfig, make_calql),
    "riql": (RIQLConfig, make_riql),
    "ro2o": (RO2OConfig, make_ro2o),
    "sac": (SACConfig, make_sac),
    "wsrl": (WSRLConfig, make_wsrl),
    "awac": (AWACConfig, make_awac),
    "spot": (SPOTConfig, make_spot),
    "sacn": (SACNConfig, make_sacn),
    "edac": (EDACConfig, make_edac),
    "bc": (BCConfig, make_bc),
    "td3bc": (TD3BCConfig, make_td3bc),
    "rebrac": (ReBRACConfig, make_rebrac),
    "famo2o": (FamO2OConfig, make_famo2o),
    "a2pr": (A2PRConfig, make_a2pr),
    "prdc": (PRDCConfig, make_prdc),
    "xql": (XQLConfig, make_xql),
    "fdvl": (FDVLConfig, make_fdvl),
}


#: Field names retired for the one vocabulary (docs/ALGORITHMS.md), old -> new: a config or a
#: saved run that still uses one is refused with the new name.
RENAMED_FIELDS = {
    "policy_lr": "actor_lr",
    "q_lr": "critic_lr",
    "temp_lr": "temperature_lr",
    "alpha_lr": "temperature_lr",
    "policy_hidden_dims": "actor_hidden_dims",
    "q_hidden_dims": "critic_hidden_dims",
    "policy_freq": "policy_delay",
    "hidden_dims": "actor_hidden_dims",  # SAC, SAC-N/EDAC, AWAC, RO2O, SPOT: the actor's widths
}


def _renamed(unknown: list[str], fields: dict) -> str:
    hints = [
        f"{old!r} is now {RENAMED_FIELDS[old]!r}"
        for old in unknown
        if RENAMED_FIELDS.get(old) in fields
    ]
    if not hints:
        return ""
    return f" ({'; '.join(hints)}: rename in the config or in the run's config.json)"


def agent_config(name: str, overrides: dict[str, Any] | None = None):
    """The config dataclass of algorithm `name` with `overrides` applied, checked field by field."""
    if name not in AGENTS:
        raise ValueError(f"unknown algorithm {name!r}; allowed: {sorted(AGENTS)}")
    cls = AGENTS[name][0]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown field(s) {unknown} for algorithm {name!r}{_renamed(unknown, fields)}; "
            f"allowed: {sorted(fields)}. To switch algorithms from the command line, start "
            f"from a config file that sets algo={name!r} (experiments/configs/)"
        )
    for k, v in list(overrides.items()):
        default = fields[k].default
        if isinstance(default, tuple) and isinstance(v, list):
            overrides[k] = tuple(v)
    return cls(**overrides)


def make_agent(name: str, config: Any, spec: EnvSpec) -> Agent:
    """`make_<name>(config, spec)`."""
    if name not in AGENTS:
        raise ValueError(f"unknown algorithm {name!r}; allowed: {sorted(AGENTS)}")
    return AGENTS[name][1](config, spec)
