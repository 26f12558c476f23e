"""Helpers shared by the config files."""

import dataclasses

import ml_collections

from experiments.configs import default


def agent_defaults(algo: str) -> ml_collections.ConfigDict:
    """Every field of the algorithm's config, so each can be overridden from the command line."""
    from jaxrl.agents.registry import AGENTS

    return ml_collections.ConfigDict(dataclasses.asdict(AGENTS[algo][0]()))


#: The default job's data processing is IQL's; another config starts from none and sets its
#: reference's own (iql.py, td3bc.py, ...).
NO_DATA_PROCESSING = {"normalize_obs": False, "reward_normalization": "none"}


def with_overrides(algo: str, agent: dict | None = None, **fields):
    """The default job's fields with `algo`'s agent config, `agent` fields and `fields`
    replaced; observations and rewards stay raw unless `fields` sets `normalize_obs` or
    `reward_normalization`."""
    c = default.get_config()
    c.update(NO_DATA_PROCESSING)
    c.algo = algo
    c.agent = agent_defaults(algo)
    for k, v in (agent or {}).items():
        c.agent[k] = v
    for k, v in fields.items():
        c[k] = v
    return c
