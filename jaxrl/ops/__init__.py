"""Math shared by many algorithms, written for one example or one batch; callers vmap."""

from jaxrl.ops.bc import BC_REDUCTIONS, bc_penalty
from jaxrl.ops.cql import cql_gap
from jaxrl.ops.embedding import sinusoidal_embedding
from jaxrl.ops.ensemble import (
    ENSEMBLE_REDUCTIONS,
    ensemble_gradient_diversity,
    reduce_ensemble,
    subset_indices,
)
from jaxrl.ops.keys import cond_with_keys
from jaxrl.ops.losses import (
    ENTROPY_FROM,
    TEMPERATURE_PARAMS,
    awr_weights,
    check_temperature_options,
    expectile_loss,
    huber_loss,
    temperature_leaf,
    temperature_loss,
    temperature_value,
)
from jaxrl.ops.neighbors import nearest_neighbor
from jaxrl.ops.returns import mc_return_to_go, mc_return_to_go_np
from jaxrl.ops.robust import (
    asymmetric_squared,
    gaussian_symmetric_kl,
    linf_perturbations,
    uncertainty_pseudo_target,
)
from jaxrl.ops.td import ensemble_td_loss, polyak, td_target

__all__ = [
    "BC_REDUCTIONS",
    "ENSEMBLE_REDUCTIONS",
    "asymmetric_squared",
    "awr_weights",
    "bc_penalty",
    "cql_gap",
    "ensemble_gradient_diversity",
    "expectile_loss",
    "gaussian_symmetric_kl",
    "huber_loss",
    "linf_perturbations",
    "mc_return_to_go",
    "mc_return_to_go_np",
    "nearest_neighbor",
    "ensemble_td_loss",
    "polyak",
    "reduce_ensemble",
    "subset_indices",
    "sinusoidal_embedding",
    "td_target",
    "temperature_loss",
    "temperature_leaf",
    "temperature_value",
    "TEMPERATURE_PARAMS",
    "ENTROPY_FROM",
    "check_temperature_options",
    "cond_with_keys",
    "uncertainty_pseudo_target",
]
