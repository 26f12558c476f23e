"""XQL hyperparameters (`Div99/XQL: offline/`; the "consistent" locomotion setting, §22a)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic, schedule_steps


@dataclasses.dataclass(frozen=True)
class XQLConfig(AgentConfig):
    """Extreme Q-Learning (offline XQL on IQL's pipeline).

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    Per-dataset β / clip settings: docs/algorithms/xql.md.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # width of every MLP (Q, V, actor)
    num_critics: int = 2  # twin Q, min over the target critics
    value_layer_norm: str = "before_act"  # V's Dense → LayerNorm → ReLU (Q has none)
    init: str = "orthogonal"  # hidden-layer init (√2 gain)
    value_loss: str = "rescale"  # "rescale" e^{−M}(e^z − z − 1) | "plain" e^z − z − 1
    loss_temperature: float = dynamic(2.0)  # β of the Gumbel loss, z = (Q̄ − V)/β (`--temp`)
    max_clip: float = dynamic(7.0)  # clip of z from above
    beta: float = dynamic(3.0)  # inverse temperature of the AWR actor weights (XQL's `temperature`)
    max_weight: float = 100.0  # clip of exp(β·A)
    huber_delta: float = dynamic(20.0)  # δ of the critics' Huber loss
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target Q
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    # "constant" (XQL's fine-tuning script) | "cosine_decay" (its offline script: optax's
    # cosine over actor_lr_decay_steps, then 0) | "cosine" (CORL's periodic form)
    actor_lr_schedule: str = "constant"
    actor_lr_decay_steps: int = schedule_steps(1_000_000, "offline")  # T of the schedule
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the twin Q
    value_lr: float = dynamic(3e-4)  # Adam learning rate of V
