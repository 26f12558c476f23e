"""Tasks jaxrl knows, with their episode length and the reference returns for normalized scores.

A normalized score is 100 · (R − R_random) / (R_expert − R_random), as in D4RL. Brax tasks have
no published D4RL references. A dataset made by `jaxrl.data.generate` records the references
it was made with (the uniform policy's return and its SAC expert's return), and those take
precedence over the numbers here, which are used only for runs without such a dataset:
- halfcheetah, hopper: measured with `generate(..., preset="cpu", seed=0)` (64k-step SAC,
  2x128, generator version 3): uniform episodes, and the expert snapshot's deterministic
  return over 10 episodes (hopper's expert survives the 1000 steps but barely hops: the CPU
  preset's run is short);
- inverted_pendulum: uniform policy measured over 8 episodes; 200 is the maximum return;
- walker2d, ant: provisional round numbers, not yet measured; generate a dataset of the task
  for real references.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """A registered task.

    Attributes:
      name: jaxrl's name, e.g. "halfcheetah".
      brax_name: the name given to `brax.envs.get_environment`.
      backend: the Brax physics backend.
      episode_length: time limit (truncation, not termination).
      random_return: mean episode return of the uniform random policy.
      expert_return: episode return of the reference expert policy.
    """

    name: str
    brax_name: str
    backend: str = "positional"
    episode_length: int = 1000
    random_return: float = 0.0
    expert_return: float = 1.0


TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in [
        TaskSpec("halfcheetah", "halfcheetah", random_return=-112.4, expert_return=1313.9),
        TaskSpec("hopper", "hopper", random_return=53.7, expert_return=1127.1),
        TaskSpec("walker2d", "walker2d", random_return=0.0, expert_return=2000.0),
        TaskSpec("ant", "ant", random_return=-60.0, expert_return=3000.0),
        TaskSpec(
            "inverted_pendulum",
            "inverted_pendulum",
            episode_length=200,
            random_return=21.0,
            expert_return=200.0,
        ),
    ]
}


def get_task(name: str) -> TaskSpec:
    """The registered task `name`; an unknown name raises with the list of known ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; known tasks: {sorted(TASKS)}")
    return TASKS[name]


def normalized_score(
    episode_return: float | np.ndarray, random_return: float, expert_return: float
) -> float | np.ndarray:
    """100 · (R − R_random) / (R_expert − R_random)."""
    return 100.0 * (episode_return - random_return) / (expert_return - random_return)
