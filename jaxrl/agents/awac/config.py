"""AWAC hyperparameters (CORL `algorithms/finetune/awac.py`; ALGORITHMS.md §4.2)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class AWACConfig(AgentConfig):
    """Advantage-Weighted Actor-Critic.

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    CORL uses λ = 1/3 on locomotion (`configs/offline/awac/{halfcheetah,hopper,walker2d}`) and
    λ = 0.1 on antmaze and adroit (`configs/finetune/awac/*`).
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256, 256)  # actor MLP (CORL: 3×256)
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256)  # each critic's MLP
    num_critics: int = 2  # twin Q, min over members
    layer_norm: str = "none"  # LayerNorm placement in the critics
    log_std_min: float = -20.0  # clip of the state-independent log σ
    log_std_max: float = 2.0  # clip of the state-independent log σ
    max_weight: float = 100.0  # clip of exp(A/λ)
    awac_lambda: float = dynamic(1.0 / 3.0)  # temperature λ of the advantage weights exp(A/λ)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target critics
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics
