"""WSRL hyperparameters (`zhouzypaul/wsrl`; ALGORITHMS.md §1)."""

from __future__ import annotations

import dataclasses
import math

from jaxrl.agents.cql.config import CQLConfig


@dataclasses.dataclass(frozen=True)
class WSRLConfig(CQLConfig):
    """Warm-start RL: CQL (or Cal-QL) pre-training of a 10-critic LayerNorm ensemble, then SAC.

    The offline fields are those of `CQLConfig` with WSRL's `--use_redq` ensemble settings
    (10 critics, 2-critic subsets drawn with replacement for the target and, separately, for
    the conservative term (`wsrl/agents/cql.py`), LayerNorm before the
    activation in actor and critics, state-dependent log-std) and WSRL's initialization:
    orthogonal(√2) for every layer, output heads included, except the last hidden layer,
    orthogonal(1e-2) with LayerNorm after it (`wsrl/networks/mlp.py` `kernel_scale_final`,
    `wsrl/common/initialization.py`, `actor_critic_nets.py`). After the
    switch the same parameters, optimizer states and learning rates are trained by plain SAC
    (`wsrl/agents/sac.py`): no conservative term, no entropy in the target, the actor on the
    min over all critics. The training config supplies the rest of WSRL's recipe:
    retention="none", warmup_policy="agent" with 5,000 warm-up steps, utd=4 with batch 256
    (WSRL's 1024-row batch split into 4 critic minibatches; the actor and temperature take
    one step on all 1024 rows, `online_actor_update="full"`).
    """

    num_critics: int = 10
    layer_norm: str = "before_act"
    actor_layer_norm: str = "before_act"
    std_mode: str = "state"
    init: str = "orthogonal"  # orthogonal(√2) hidden layers (WSRL's default `init_fns[None]`)
    output_scale: float = math.sqrt(2.0)  # orthogonal(√2) heads (no `init_final` in WSRL)
    last_hidden_scale: float | None = 1e-2  # `kernel_scale_final`
    target_reduction: str = "subset_min"
    subset_size: int = 2
    subset_replace: bool = True
    cql_subset: bool = True
    # WSRL's temperature in both phases: α = softplus(λ) (`GeqLagrangeMultiplier`, initial
    # value 1), loss α·(Ĥ − H_target) with Ĥ from fresh samples at the next states
    # (`wsrl/agents/sac.py`, inherited by `cql.py`).
    temperature_param: str = "softplus"
    temperature_form: str = "alpha"
    entropy_from: str = "next_obs"
    online_backup_entropy: bool = False  # entropy term in the online SAC target
    online_actor_reduction: str = "min"  # "min" (WSRL) or "mean" over critics online
    online_actor_update: str = "full"  # online actor step on the "full" UTD batch
