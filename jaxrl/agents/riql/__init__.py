"""RIQL: IQL made robust to corrupted data (Yang et al., 2023; ALGORITHMS.md §11).

RIQL is IQL with three changes, all options of `make_iql`: a K-critic ensemble whose
ρ-quantile is V's expectile target, a Huber TD loss with clipped targets, and observation
normalization (set `normalize_obs=True` in the training config), with a deterministic actor.
"""

from jaxrl.agents.riql.config import RIQLConfig, make_riql

__all__ = ["RIQLConfig", "make_riql"]
