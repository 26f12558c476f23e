"""Math shared by many algorithms, written for one example or one batch; callers vmap."""

from jaxrl.ops.cql import cql_gap
from jaxrl.ops.decay import linear_cooling
from jaxrl.ops.ensemble import (
    ENSEMBLE_REDUCTIONS,
    ensemble_gradient_diversity,
    reduce_ensemble,
)
from jaxrl.ops.losses import awr_weights, expectile_loss, temperature_loss
from jaxrl.ops.returns import mc_return_to_go, mc_return_to_go_np
from jaxrl.ops.td import polyak, td_target

__all__ = [
    "ENSEMBLE_REDUCTIONS",
    "awr_weights",
    "cql_gap",
    "ensemble_gradient_diversity",
    "expectile_loss",
    "linear_cooling",
    "mc_return_to_go",
    "mc_return_to_go_np",
    "polyak",
    "reduce_ensemble",
    "td_target",
    "temperature_loss",
]
