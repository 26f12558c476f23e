"""Brax environments with true final observations, split termination flags and a task registry."""

from jaxrl.envs.registry import TASKS, TaskSpec, get_task, normalized_score
from jaxrl.envs.wrapper import Env, EnvState, StepOutput, make_env

__all__ = [
    "TASKS",
    "Env",
    "EnvState",
    "StepOutput",
    "TaskSpec",
    "get_task",
    "make_env",
    "normalized_score",
]
