"""IQL hyperparameters (defaults: CORL `configs/offline/iql` locomotion; ALGORITHMS.md §4.1)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic, schedule_steps


@dataclasses.dataclass(frozen=True)
class IQLConfig(AgentConfig):
    """Implicit Q-Learning.

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # width of every MLP (Q, V, actor)
    num_critics: int = 2  # twin Q
    deterministic_actor: bool = False  # ‖π(s) − a‖² instead of −log π(a|s)
    layer_norm: str = "none"  # LayerNorm placement in the critics and value
    q_reduction: str = "min"  # critic ensemble → V's target: "min" | "quantile" (RIQL)
    q_quantile: float = dynamic(0.25)  # ρ of the "quantile" reduction (RIQL)
    # "mse": ½ Σ_j MSE_j (CORL) | "mse_sum": Σ_j MSE_j (implicit_q_learning) | "huber" (RIQL,
    # δ = 1/huber_sigma²)
    critic_loss: str = "mse"
    # "simultaneous": every loss from the parameters before the step (CORL) | "value_first":
    # V steps first, the actor's advantage and the critic's V(s') use the new V (the authors'
    # ikostrikov/implicit_q_learning `learner.py`)
    update_order: str = "simultaneous"
    log_std_min: float = -20.0  # clip of the actor's log σ (CORL −20; implicit_q_learning −5)
    huber_sigma: float = dynamic(1.0)  # σ of RIQL's Huber loss
    target_clip: tuple[float, float] | None = None  # clip of the TD target (RIQL)
    expectile: float = dynamic(0.7)  # τ of the value expectile loss
    beta: float = dynamic(3.0)  # inverse temperature of the AWR actor weights
    max_weight: float = 100.0  # clip of exp(β·A)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target Q
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    # "constant" | "cosine": CORL's CosineAnnealingLR over actor_lr_decay_steps (periodic) |
    # "cosine_decay": implicit_q_learning's offline optax schedule, held at 0 after them
    actor_lr_schedule: str = "constant"
    actor_lr_decay_steps: int = schedule_steps(1_000_000, "offline")  # its T_max
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the twin Q
    value_lr: float = dynamic(3e-4)  # Adam learning rate of V
    # σ of the deterministic actor's online noise (clip 0.5)
    exploration_noise: float = dynamic(0.03)
