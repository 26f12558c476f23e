"""RIQL defaults (`YangRui2015/RIQL:RIQL.py`, `RIQL_config.py`; ALGORITHMS.md §11)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import Agent, DataNeeds, dynamic
from jaxrl.agents.iql import IQLConfig, make_iql
from jaxrl.specs import EnvSpec


@dataclasses.dataclass(frozen=True)
class RIQLConfig(IQLConfig):
    """Robust IQL: quantile ensemble target, Huber critic loss, deterministic actor.

    Per-corruption settings from `RIQL_config.py` (σ, ρ): observations (0.1, 0.1–0.25),
    actions (0.5; hopper 0.1), rewards (3.0; hopper 1.0), dynamics (3.0 or 1.0, 0.25–0.5).
    The reference cosine-anneals the actor's learning rate over its offline steps (CORL's
    periodic form): IQL's `actor_lr_schedule="cosine"`, set in experiments/configs/riql.py
    (the library default stays constant, as IQL's).
    """

    num_critics: int = 5
    deterministic_actor: bool = True
    q_reduction: str = "quantile"
    q_quantile: float = dynamic(0.25)
    critic_loss: str = "huber"
    huber_sigma: float = dynamic(1.0)
    target_clip: tuple[float, float] | None = (-100.0, 1000.0)
    # with the training config's normalize_obs, the statistics cover observations and
    # next observations together (RIQL's `normalize_states`), not observations only (CORL).
    normalize_with_next_obs: bool = True

    def data_needs(self) -> DataNeeds:
        """With `normalize_obs`, the statistics cover obs ∪ next_obs when
        `normalize_with_next_obs` (RIQL's `normalize_states`)."""
        return DataNeeds(obs_stats_with_next_obs=self.normalize_with_next_obs)


def make_riql(config: RIQLConfig, spec: EnvSpec) -> Agent:
    """RIQL for `spec`: `make_iql` with RIQL's settings (offline and online alike)."""
    return make_iql(config, spec)
