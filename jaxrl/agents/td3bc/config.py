"""TD3+BC hyperparameters (defaults: `sfujim/TD3_BC`, CORL `offline/td3_bc.py`; ALGORITHMS.md
§4.7). The online settings follow CORL's ReBRAC fine-tuning scheme (docs/algorithms/td3_family.md).
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class TD3BCConfig(AgentConfig):
    """TD3 with a behaviour-cloning term and a Q term normalized by sg(mean|Q|).

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    The reference normalizes observations with the dataset's mean and std (eps 1e-3), offline
    and online; the agent assumes the training layer does it when asked (it is not part of the
    agent).
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256)  # actor MLP (tanh output)
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # each critic's MLP
    actor_layer_norm: str = "none"  # "none" | "before_act" | "after_act"
    critic_layer_norm: str = "none"  # LayerNorm in the critics
    init: str = "xavier"  # hidden-layer init ("xavier" | "orthogonal" | "lecun")
    num_critics: int = 2  # twin Q
    policy_delay: int = 2  # actor and target updates every `policy_delay` steps
    actor_q: str = "first"  # Q in the actor loss: "first" (Q_1, TD3+BC) | "min"
    bc_reduction: str = "mean"  # ‖π(s) − a‖² "mean" over |A| (F.mse_loss) | "sum"
    normalize_q: bool = True  # λ = α / sg(mean|Q|); False gives λ = α
    reset_optimizers: bool = False  # fresh Adam states at the switch (CORL reset_opts)
    alpha: float = dynamic(2.5)  # α, the scale of the normalized Q term
    actor_bc_coef: float = dynamic(1.0)  # β_actor, the weight of the BC term offline
    # online β_actor floor of the linear decay; 1 means no decay
    min_decay_coef: float = dynamic(1.0)
    # online gradient steps over which β_actor decays to it
    bc_decay_steps: int = dynamic(1_000_000)
    policy_noise: float = dynamic(0.2)  # σ of the target policy smoothing noise
    noise_clip: float = dynamic(0.5)  # clip of that noise
    exploration_noise: float = dynamic(0.1)  # σ of the Gaussian exploration noise online (TD3)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the actor and critic targets
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics
