"""SAC-N and EDAC hyperparameters (CORL `algorithms/offline/{sac_n,edac}.py` and
`configs/offline/{sac_n,edac}/*`; ALGORITHMS.md §15 "Agent: EDAC")."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class SACNConfig(AgentConfig):
    """SAC-N: SAC with N critics and the min over all of them, in EDAC's update order.

    CORL's N per dataset: halfcheetah 10, walker2d 20, hopper 200–500, adroit 100.
    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256, 256)  # actor MLP (CORL: 3×256)
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256)  # each critic's MLP
    num_critics: int = 10  # N (CORL halfcheetah)
    layer_norm: str = "none"  # LayerNorm placement in the critics
    log_std_min: float = -5.0  # clip of the actor's log σ (EDAC, not SAC's −20)
    log_std_max: float = 2.0  # clip of the actor's log σ
    diversity: bool = False  # add EDAC's ensemble-gradient diversity loss
    eta: float = dynamic(0.0)  # η, weight of the diversity loss (used when `diversity`)
    init_temperature: float = dynamic(1.0)  # α at initialisation (CORL: log α = 0)
    target_entropy_scale: float = 1.0  # H_target = −scale·|A|
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics
    temperature_lr: float = dynamic(3e-4)  # Adam learning rate of log α
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target critics


@dataclasses.dataclass(frozen=True)
class EDACConfig(SACNConfig):
    """EDAC: SAC-N plus η times the diversity of the critics' action-gradients.

    CORL's (N, η): halfcheetah and walker2d medium(-replay) (10, 1), their medium-expert
    (10, 5), hopper (50, 1), pen (20, 10), door/hammer/relocate (50, 200).
    """

    diversity: bool = True  # add EDAC's ensemble-gradient diversity loss
    eta: float = dynamic(1.0)  # η, weight of the diversity loss
