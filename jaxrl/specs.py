"""Static description of an environment's interface."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Shapes and bounds an agent is built for.

    Attributes:
      obs_dim: size of the flat observation vector.
      action_dim: size of the action vector; actions live in [action_low, action_high].
      action_low: lower action bound (the same for every dimension).
      action_high: upper action bound.
      episode_length: time limit in steps; reaching it truncates, it never terminates.
    """

    obs_dim: int
    action_dim: int
    action_low: float = -1.0
    action_high: float = 1.0
    episode_length: int = 1000
