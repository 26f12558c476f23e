"""A2PR hyperparameters (`ltlhuuu/A2PR: A2PR.py`, `utils/config.py`, README; ALGORITHMS.md §9).

The reference is offline only; the online settings are this library's design
(docs/algorithms/a2pr.md, "Switch / online").
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class A2PRConfig:
    """TD3 with a V(s), an advantage-filtered VAE and an advantage-chosen, masked BC target.

    Defaults are the reference code's (α 2.5, mask 0.5, vae_weight 1.0); its README's per-task
    settings are halfcheetah-medium α 40 / mask 1.0, hopper-medium α 2.5 / mask 0.4 / γ 0.995,
    walker2d-medium α 2.5 / vae_weight 1.5 / mask 1.0. The reference normalizes observations
    with the dataset's mean and std (eps 1e-3); the training layer does it when asked
    (`normalize_obs`). Static fields shape the program; the others become dynamic leaves of the
    agent state.
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256, 256)  # static: actor MLP (tanh output)
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256, 256)  # static: each critic's MLP
    value_hidden_dims: tuple[int, ...] = (256, 256, 256, 256)  # static: V(s) MLP
    vae_hidden_dims: tuple[int, ...] = (750, 750)  # static: VAE encoder and decoder MLPs
    vae_latent_dim: int = 0  # static: size of the VAE latent; 0 means 2·|A|
    init: str = "xavier"  # static: hidden-layer init ("xavier" | "orthogonal" | "lecun")
    num_critics: int = 2  # static: TD3 twin critics; Q_1 drives the actor and the filters
    policy_delay: int = 2  # static: actor and target updates every `policy_delay` steps
    reset_optimizers: bool = False  # static: fresh actor, critic and V Adam states at the switch
    alpha: float = 2.5  # α, the scale of the normalized Q term (halfcheetah-medium: 40)
    mask: float = 0.5  # weight of each satisfied advantage condition in the BC mask M
    vae_weight: float = 1.0  # w, weight of the positive-advantage VAE reconstruction term
    vae_kl_weight: float = 0.5  # weight of the dimension-averaged KL in the VAE loss
    policy_noise: float = 0.2  # σ of the target policy smoothing noise
    noise_clip: float = 0.5  # clip of that noise
    exploration_noise: float = 0.1  # σ of the Gaussian exploration noise online (TD3)
    discount: float = 0.99  # γ (hopper-medium: 0.995)
    tau: float = 0.005  # Polyak rate of the actor and critic targets
    min_mask_coef: float = 0.5  # online, the mask decays linearly to this fraction; 1: no decay
    mask_decay_steps: int = 1_000_000  # online gradient steps of that decay (set: online steps)
    online_vae_lr_factor: float = 1.0  # VAE learning rate × this at the switch; 0 freezes it
    actor_lr: float = 3e-4  # Adam learning rate of the actor
    critic_lr: float = 3e-4  # Adam learning rate of the critics
    value_lr: float = 3e-4  # Adam learning rate of V
    vae_lr: float = 1e-3  # Adam learning rate of the VAE (the reference's Adam default)
