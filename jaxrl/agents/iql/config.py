"""IQL hyperparameters (defaults: CORL `configs/offline/iql` locomotion; ALGORITHMS.md §4.1)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class IQLConfig:
    """Implicit Q-Learning.

    Static fields shape the program; the others become dynamic leaves of the agent state.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # static: width of every MLP (Q, V, actor)
    num_critics: int = 2  # static: twin Q
    deterministic_actor: bool = False  # static: ‖π(s) − a‖² instead of −log π(a|s)
    layer_norm: str = "none"  # static: LayerNorm placement in the critics and value
    q_reduction: str = "min"  # static: critic ensemble → V's target: "min" | "quantile" (RIQL)
    q_quantile: float = 0.25  # ρ of the "quantile" reduction (RIQL)
    critic_loss: str = "mse"  # static: "mse" | "huber" (RIQL, δ = 1/huber_sigma²)
    huber_sigma: float = 1.0  # σ of RIQL's Huber loss
    target_clip: tuple[float, float] | None = None  # static: clip of the TD target (RIQL)
    expectile: float = 0.7  # τ of the value expectile loss
    beta: float = 3.0  # inverse temperature of the AWR actor weights
    max_weight: float = 100.0  # clip of exp(β·A)
    discount: float = 0.99  # γ
    tau: float = 0.005  # Polyak rate of the target Q
    actor_lr: float = 3e-4  # Adam learning rate of the actor
    critic_lr: float = 3e-4  # Adam learning rate of the twin Q
    value_lr: float = 3e-4  # Adam learning rate of V
    exploration_noise: float = 0.03  # σ of the deterministic actor's online noise (clip 0.5)
