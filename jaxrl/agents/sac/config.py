"""SAC hyperparameters, with the options RLPD and WSRL need (ALGORITHMS.md §1, §3)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class SACConfig(AgentConfig):
    """Soft Actor-Critic with critic ensembles.

    RLPD: num_critics=10, critic_layer_norm="before_act", target_reduction="subset_min",
    subset_size=2, subset_replace=False, actor_reduction="mean", target_entropy_scale=0.5,
    actor_update="last", UTD 20 (set in the training config).
    WSRL: num_critics=10, LayerNorm on both, subset_replace=True, actor_reduction="min",
    backup_entropy=False, actor_lr=1e-4, temperature_lr=1e-4, actor_update="full", UTD 4,
    batch 1024, temperature_param="softplus", entropy_from="next_obs".
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256)  # actor MLP
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # each critic's MLP
    num_critics: int = 2  # ensemble size
    critic_layer_norm: str = "none"  # "none" | "before_act" | "after_act"
    actor_layer_norm: str = "none"  # LayerNorm in the actor
    target_reduction: str = "min"  # "min" over all, or "subset_min"
    subset_size: int = 2  # critics in the random target subset
    subset_replace: bool = False  # subset drawn with replacement (WSRL) or not (RLPD)
    actor_reduction: str = "min"  # "min" (SAC, WSRL) or "mean" (RLPD) over critics
    backup_entropy: bool = True  # subtract γ·α·log π(a'|s') in the target
    actor_update: str = (
        "last"  # with UTD > 1 the actor trains on the "last" slice or the "full" batch
    )
    init_temperature: float = dynamic(1.0)  # α at initialisation
    temperature_param: str = "exp"  # α = exp(leaf), or softplus(leaf) (WSRL)
    # the temperature loss's entropy Ĥ from the actor step's samples at the batch
    # states ("obs"), or from fresh samples at the next states ("next_obs", WSRL's `sac.py`)
    entropy_from: str = "obs"
    target_entropy_scale: float = 1.0  # H_target = −scale·|A| (RLPD uses 0.5)
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics
    temperature_lr: float = dynamic(3e-4)  # Adam learning rate of the temperature leaf
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target critics
