"""Math shared by many algorithms, written for one example or one batch; callers vmap."""

from jaxrl.ops.cql import cql_gap
from jaxrl.ops.ensemble import ENSEMBLE_REDUCTIONS, reduce_ensemble
from jaxrl.ops.losses import awr_weights, expectile_loss, huber_loss, temperature_loss
from jaxrl.ops.returns import mc_return_to_go, mc_return_to_go_np
from jaxrl.ops.robust import (
    asymmetric_squared,
    gaussian_symmetric_kl,
    linf_perturbations,
    uncertainty_pseudo_target,
)
from jaxrl.ops.td import polyak, td_target

__all__ = [
    "asymmetric_squared",
    "gaussian_symmetric_kl",
    "linf_perturbations",
    "uncertainty_pseudo_target",
    "ENSEMBLE_REDUCTIONS",
    "awr_weights",
    "cql_gap",
    "expectile_loss",
    "huber_loss",
    "mc_return_to_go",
    "mc_return_to_go_np",
    "polyak",
    "reduce_ensemble",
    "td_target",
    "temperature_loss",
]
