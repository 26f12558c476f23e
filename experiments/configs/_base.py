"""Helpers shared by the config files."""

import dataclasses

import ml_collections

from experiments.configs import default


def agent_defaults(algo: str) -> ml_collections.ConfigDict:
    """Every field of the algorithm's config, so each can be overridden from the command line."""
    from jaxrl.agents.registry import AGENTS

    return ml_collections.ConfigDict(dataclasses.asdict(AGENTS[algo][0]()))


def with_overrides(algo: str, agent: dict | None = None, **fields):
    c = default.get_config()
    c.algo = algo
    c.agent = agent_defaults(algo)
    for k, v in (agent or {}).items():
        c.agent[k] = v
    for k, v in fields.items():
        c[k] = v
    return c
