"""PRDC hyperparameters (defaults: `LAMDA-RL/PRDC` halfcheetah settings; ALGORITHMS.md §8).
The online settings are jaxrl's own design (docs/algorithms/prdc.md, "Switch / online").
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import DataNeeds, dynamic
from jaxrl.agents.families.configs import TD3FamilyConfig


@dataclasses.dataclass(frozen=True)
class PRDCConfig(TD3FamilyConfig):
    """TD3 whose actor is pulled towards the action of the nearest dataset point.

    The nearest point to (β·s, π(s)) in {(β·s_i, a_i)} over the whole offline dataset is found
    by an exact search on the device (`jaxrl.ops.neighbors`); the agent reads the dataset
    through `Agent.bind_dataset`, which the training layer calls inside every compiled chunk
    (`data_needs().dataset_in_update`). Fields marked `dynamic` are leaves of the agent state;
    the others are static. The reference normalizes observations with the dataset's mean and
    std (eps 1e-3) before building its KD-tree; the training layer does that when
    `normalize_obs` is set (the experiment config sets it).
    The TD3 family's fields (widths, critics, delay, noise, γ, τ, rates) are inherited from
    `jaxrl.agents.families.configs.TD3FamilyConfig`; only the defaults that differ are here.
    """

    actor_layer_norm: str = "none"  # "none" | "before_act" | "after_act"
    critic_layer_norm: str = "none"  # LayerNorm in the critics
    init: str = "xavier"  # hidden-layer init ("xavier" | "orthogonal" | "lecun")
    k: int = 1  # which neighbour constrains the actor; only the nearest (1) is built
    nn_block_size: int = 0  # dataset rows per NN scan step; 0: 1024 CPU, 16384 GPU/TPU
    alpha: float = dynamic(40.0)  # α, the scale of the normalized Q term (hopper/walker2d 2.5)
    beta: float = dynamic(2.0)  # β, the weight of the state in the neighbour key (β·s, a)
    constraint_coef: float = dynamic(1.0)  # weight of MSE(π(s), a_nn) offline (the reference: 1)
    min_decay_coef: float = dynamic(0.5)  # online floor of the constraint weight's linear decay
    # online gradient steps over which it decays to the floor
    bc_decay_steps: int = dynamic(1_000_000, schedule="online")

    def data_needs(self) -> DataNeeds:
        """The actor's constraint searches the whole offline dataset inside the update."""
        return DataNeeds(dataset_in_update=True)
