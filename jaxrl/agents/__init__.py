"""Algorithms: one folder each, each with `make_<algo>(config, spec) -> Agent`."""

from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.registry import AGENTS, make_agent

__all__ = ["AGENTS", "Agent", "AgentState", "make_agent"]
