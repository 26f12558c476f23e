"""AWAC hyperparameters (CORL `algorithms/finetune/awac.py`; ALGORITHMS.md §4.2)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class AWACConfig:
    """Advantage-Weighted Actor-Critic.

    Static fields shape the program; the others become dynamic leaves of the agent state.
    CORL uses λ = 1/3 on locomotion (`configs/offline/awac/{halfcheetah,hopper,walker2d}`) and
    λ = 0.1 on antmaze and adroit (`configs/finetune/awac/*`).
    """

    hidden_dims: tuple[int, ...] = (256, 256, 256)  # static: actor MLP (CORL: 3×256)
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256)  # static: each critic's MLP
    num_critics: int = 2  # static: twin Q, min over members
    layer_norm: str = "none"  # static: LayerNorm placement in the critics
    log_std_min: float = -20.0  # static: clip of the state-independent log σ
    log_std_max: float = 2.0  # static: clip of the state-independent log σ
    max_weight: float = 100.0  # static: clip of exp(A/λ)
    awac_lambda: float = 1.0 / 3.0  # temperature λ of the advantage weights exp(A/λ)
    discount: float = 0.99  # γ
    tau: float = 0.005  # Polyak rate of the target critics
    actor_lr: float = 3e-4  # Adam learning rate of the actor
    critic_lr: float = 3e-4  # Adam learning rate of the critics
