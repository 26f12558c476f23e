"""PRDC hyperparameters (defaults: `LAMDA-RL/PRDC` halfcheetah settings; ALGORITHMS.md §8).
The online settings are jaxrl's own design (docs/algorithms/prdc.md, "Switch / online").
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, DataNeeds, dynamic


@dataclasses.dataclass(frozen=True)
class PRDCConfig(AgentConfig):
    """TD3 whose actor is pulled towards the action of the nearest dataset point.

    The nearest point to (β·s, π(s)) in {(β·s_i, a_i)} over the whole offline dataset is found
    by an exact search on the device (`jaxrl.ops.neighbors`); the agent reads the dataset
    through `Agent.bind_dataset`, which the training layer calls inside every compiled chunk
    (`data_needs().dataset_in_update`). Fields marked `dynamic` are leaves of the agent state;
    the others are static. The reference normalizes observations with the dataset's mean and
    std (eps 1e-3) before building its KD-tree; the training layer does that when
    `normalize_obs` is set (the experiment config sets it).
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256)  # actor MLP (tanh output)
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # each critic's MLP
    actor_layer_norm: str = "none"  # "none" | "before_act" | "after_act"
    critic_layer_norm: str = "none"  # LayerNorm in the critics
    init: str = "xavier"  # hidden-layer init ("xavier" | "orthogonal" | "lecun")
    num_critics: int = 2  # twin Q
    policy_delay: int = 2  # actor and target updates every `policy_delay` steps
    k: int = 1  # which neighbour constrains the actor; only the nearest (1) is built
    nn_block_size: int = 0  # dataset rows per NN scan step; 0: 1024 CPU, 16384 GPU/TPU
    alpha: float = dynamic(40.0)  # α, the scale of the normalized Q term (hopper/walker2d 2.5)
    beta: float = dynamic(2.0)  # β, the weight of the state in the neighbour key (β·s, a)
    constraint_coef: float = dynamic(1.0)  # weight of MSE(π(s), a_nn) offline (the reference: 1)
    min_decay_coef: float = dynamic(0.5)  # online floor of the constraint weight's linear decay
    # online gradient steps over which it decays to the floor
    bc_decay_steps: int = dynamic(1_000_000)
    policy_noise: float = dynamic(0.2)  # σ of the target policy smoothing noise
    noise_clip: float = dynamic(0.5)  # clip of that noise
    exploration_noise: float = dynamic(0.1)  # σ of the Gaussian exploration noise online (TD3)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the actor and critic targets
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics

    def data_needs(self) -> DataNeeds:
        """The actor's constraint searches the whole offline dataset inside the update."""
        return DataNeeds(dataset_in_update=True)
