"""Config fields a whole family reads through its shared steps, declared once.

A family member's config inherits them and redeclares only the defaults it changes; its own
fields follow. Field names are the vocabulary of docs/ALGORITHMS.md ("One vocabulary").
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class TD3FamilyConfig(AgentConfig):
    """What `jaxrl.agents.families.td3` reads: the actor and critic widths, the critic
    ensemble, the policy delay, the target smoothing and exploration noise, γ, τ and the
    actor's and critics' learning rates (TD3: Fujimoto et al., 2018, defaults of
    `sfujim/TD3`). TD3+BC, ReBRAC, PRDC, A2PR and SPOT."""

    actor_hidden_dims: tuple[int, ...] = (256, 256)  # actor MLP (tanh output)
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # each critic's MLP
    num_critics: int = 2  # twin Q (the critics' min bootstraps the target)
    policy_delay: int = 2  # actor and target updates every `policy_delay` steps
    policy_noise: float = dynamic(0.2)  # σ of the target policy smoothing noise
    noise_clip: float = dynamic(0.5)  # clip of that noise (SPOT: of the exploration noise too)
    exploration_noise: float = dynamic(0.1)  # σ of the Gaussian exploration noise online
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the actor and critic targets
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics
