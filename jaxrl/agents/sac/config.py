"""SAC hyperparameters, with the options RLPD and WSRL need (ALGORITHMS.md §1, §3)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Soft Actor-Critic with critic ensembles.

    RLPD: num_critics=10, critic_layer_norm="before_act", target_reduction="subset_min",
    subset_size=2, subset_replace=False, actor_reduction="mean", target_entropy_scale=0.5,
    actor_update="last", UTD 20 (set in the training config).
    WSRL: num_critics=10, LayerNorm on both, subset_replace=True, actor_reduction="min",
    backup_entropy=False, actor_lr=1e-4, temp_lr=1e-4, actor_update="full", UTD 4, batch 1024,
    temperature_param="softplus", entropy_from="next_obs".
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # static: actor MLP
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # static: each critic's MLP
    num_critics: int = 2  # static: ensemble size
    critic_layer_norm: str = "none"  # static: "none" | "before_act" | "after_act"
    actor_layer_norm: str = "none"  # static: LayerNorm in the actor
    target_reduction: str = "min"  # static: "min" over all, or "subset_min"
    subset_size: int = 2  # static: critics in the random target subset
    subset_replace: bool = False  # static: subset drawn with replacement (WSRL) or not (RLPD)
    actor_reduction: str = "min"  # static: "min" (SAC, WSRL) or "mean" (RLPD) over critics
    backup_entropy: bool = True  # static: subtract γ·α·log π(a'|s') in the target
    actor_update: str = (
        "last"  # static: with UTD > 1 the actor trains on the "last" slice or the "full" batch
    )
    init_temperature: float = 1.0  # α at initialisation
    temperature_param: str = "exp"  # static: α = exp(leaf), or softplus(leaf) (WSRL)
    # static: the temperature loss's entropy Ĥ from the actor step's samples at the batch
    # states ("obs"), or from fresh samples at the next states ("next_obs", WSRL's `sac.py`)
    entropy_from: str = "obs"
    target_entropy_scale: float = 1.0  # H_target = −scale·|A| (RLPD uses 0.5)
    actor_lr: float = 3e-4  # Adam learning rate of the actor
    critic_lr: float = 3e-4  # Adam learning rate of the critics
    temp_lr: float = 3e-4  # Adam learning rate of the temperature leaf
    discount: float = 0.99  # γ
    tau: float = 0.005  # Polyak rate of the target critics
