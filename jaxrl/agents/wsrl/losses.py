"""WSRL's losses: it adds no term of its own, so this module names the ones it composes.

Phase 1 (pre-training) is CQL or Cal-QL (`jaxrl.agents.cql.losses`) with WSRL's ensemble
options: a 2-of-10 target subset drawn with replacement, and the conservative term on its own
random subset (`conservative_weights` with `cql_subset=True`). Its temperature is SAC's
α·(Ĥ − H_target) with α = softplus(λ) and Ĥ from n fresh samples per next state. Phase 3
(online) is plain SAC (`jaxrl.agents.sac.losses`): the squared TD error averaged over all
critics, no entropy backup, the actor on the min over all critics.

References: Zhou et al., 2024, "Efficient Online Reinforcement Learning Fine-Tuning Need Not
Retain Offline Data" (`zhouzypaul/wsrl:wsrl/agents/{cql,sac}.py`); ALGORITHMS.md §1.
"""

from __future__ import annotations

from jaxrl.agents.cql.losses import (
    calibration_bound,
    conservative_actions,
    conservative_weights,
    lagrange_loss,
)
from jaxrl.agents.cql.losses import critic_loss as pretraining_critic_loss
from jaxrl.agents.families.sac import actor_loss, critic_target, temperature_step
from jaxrl.agents.sac.losses import critic_loss as online_critic_loss

__all__ = [
    "actor_loss",
    "calibration_bound",
    "conservative_actions",
    "conservative_weights",
    "critic_target",
    "lagrange_loss",
    "online_critic_loss",
    "pretraining_critic_loss",
    "temperature_step",
]
