"""f-DVL hyperparameters (`hari-sikchi/DVL`, on XQL's pipeline; ALGORITHMS.md §22b)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic, schedule_steps


@dataclasses.dataclass(frozen=True)
class FDVLConfig(AgentConfig):
    """Dual-RL value learning with the χ² or total-variation value loss.

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # width of every MLP (Q, V, actor)
    num_critics: int = 2  # twin Q, min over the target critics
    value_layer_norm: str = "before_act"  # V's Dense → LayerNorm → ReLU (as XQL)
    init: str = "orthogonal"  # hidden-layer init (√2 gain)
    f: str = "chi2"  # the f-divergence of V's loss, "chi2" | "tv"
    mixing_weight: float = dynamic(0.8)  # λ ∈ (0, 1) of the value loss (`--temp`; TV needs λ ≥ 0.5)
    beta: float = dynamic(3.0)  # inverse temperature of the AWR actor weights
    max_weight: float = 100.0  # clip of exp(β·A)
    huber_delta: float = dynamic(20.0)  # δ of the critics' Huber loss
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target Q
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    # "constant" (f-DVL's fine-tuning script) | "cosine_decay" (its offline script: optax's
    # cosine over actor_lr_decay_steps, then 0) | "cosine" (CORL's periodic form)
    actor_lr_schedule: str = "constant"
    actor_lr_decay_steps: int = schedule_steps(1_000_000, "offline")  # T of the schedule
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the twin Q
    value_lr: float = dynamic(3e-4)  # Adam learning rate of V
