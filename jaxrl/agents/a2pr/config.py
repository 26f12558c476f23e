"""A2PR hyperparameters (`ltlhuuu/A2PR: A2PR.py`, `utils/config.py`, README; ALGORITHMS.md §9).

The reference is offline only; the online settings are this library's design
(docs/algorithms/a2pr.md, "Switch / online").
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import dynamic
from jaxrl.agents.families.configs import TD3FamilyConfig


@dataclasses.dataclass(frozen=True)
class A2PRConfig(TD3FamilyConfig):
    """TD3 with a V(s), an advantage-filtered VAE and an advantage-chosen, masked BC target.

    Defaults are the reference code's (α 2.5, mask 0.5, vae_weight 1.0); its README's per-task
    settings are halfcheetah-medium α 40 / mask 1.0, hopper-medium α 2.5 / mask 0.4 / γ 0.995,
    walker2d-medium α 2.5 / vae_weight 1.5 / mask 1.0. The reference normalizes observations
    with the dataset's mean and std (eps 1e-3); the training layer does it when asked
    (`normalize_obs`). Fields marked `dynamic` are leaves of the agent state; the others are
    static.
    The TD3 family's fields (widths, critics, delay, noise, γ, τ, rates) are inherited from
    `jaxrl.agents.families.configs.TD3FamilyConfig`; only the defaults that differ are here.
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256, 256)  # actor MLP (tanh output)
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256, 256)  # each critic's MLP
    value_hidden_dims: tuple[int, ...] = (256, 256, 256, 256)  # V(s) MLP
    vae_hidden_dims: tuple[int, ...] = (750, 750)  # VAE encoder and decoder MLPs
    vae_latent_dim: int = 0  # size of the VAE latent; 0 means 2·|A|
    init: str = "xavier"  # hidden-layer init ("xavier" | "orthogonal" | "lecun")
    reset_optimizers: bool = False  # fresh actor, critic and V Adam states at the switch
    alpha: float = dynamic(2.5)  # α, the scale of the normalized Q term (halfcheetah-medium: 40)
    mask: float = dynamic(0.5)  # weight of each satisfied advantage condition in the BC mask M
    vae_weight: float = dynamic(1.0)  # w, weight of the positive-advantage VAE reconstruction term
    vae_kl_weight: float = dynamic(0.5)  # weight of the dimension-averaged KL in the VAE loss
    # online, the mask decays linearly to this fraction; 1: no decay
    min_mask_coef: float = dynamic(0.5)
    # online gradient steps of that decay (set: online steps)
    mask_decay_steps: int = dynamic(1_000_000, schedule="online")
    # VAE learning rate × this at the switch; 0 freezes it
    online_vae_lr_factor: float = dynamic(1.0)
    value_lr: float = dynamic(3e-4)  # Adam learning rate of V
    vae_lr: float = dynamic(1e-3)  # Adam learning rate of the VAE (the reference's Adam default)
