"""SPOT hyperparameters (CORL `algorithms/finetune/spot.py`, `thuml/SPOT`; ALGORITHMS.md §4.5)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SPOTConfig:
    """Supported Policy Optimization: TD3 with a VAE behaviour-density penalty.

    The first `vae_steps` gradient steps of the offline phase train only the VAE; the TD3
    critic and actor train after them (the VAE is frozen from then on). λ per task in the
    references: thuml/SPOT locomotion 0.05–1.0 (halfcheetah-medium 0.05), CORL antmaze
    0.025–0.25 with λ_end 0.2 and online γ 0.995, pen-cloned 1.0 with λ_end 0.5.
    Static fields shape the program; the others become dynamic leaves of the agent state.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # static: deterministic tanh actor MLP
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # static: each TD3 critic's MLP
    num_critics: int = 2  # static: TD3 twin critics (the actor uses the first)
    actor_output_scale: float = 1e-2  # static: small init of the actor's output layer
    critic_output_scale: float = 1e-2  # static: small init of the critics' output layer
    vae_hidden_dims: tuple[int, ...] = (750, 750)  # static: encoder and decoder MLPs
    vae_latent_dim: int = 0  # static: size of z; 0 means 2·|A|
    vae_steps: int = 100_000  # static: leading offline steps that train only the VAE
    policy_freq: int = 2  # static: actor and target updates every k steps
    num_samples: int = 1  # static: latent samples in the density estimate
    iwae: bool = False  # static: importance-weighted estimate instead of the ELBO
    reset_optimizers: bool = True  # static: fresh actor and critic Adam states at the switch
    beta: float = 0.5  # β: KL weight in the VAE loss and the density estimate
    lambd: float = 0.05  # λ: weight of the −log π_β(π(s)|s) penalty
    lambd_cool: bool = True  # online, λ_t = λ·max(λ_end, 1 − t/cool_steps)
    lambd_end: float = 0.2  # smallest λ factor when cooling
    cool_steps: int = 1_000_000  # online gradient steps over which λ would cool to 0
    discount: float = 0.99  # γ offline
    online_discount: float = 0.99  # γ after the switch (CORL antmaze: 0.995)
    tau: float = 0.005  # Polyak rate of the target actor and critics
    policy_noise: float = 0.2  # σ of the target policy smoothing noise
    noise_clip: float = 0.5  # clip of the target smoothing and the exploration noise
    exploration_noise: float = 0.1  # σ of the Gaussian exploration noise online
    actor_lr: float = 1e-4  # Adam learning rate of the actor
    critic_lr: float = 3e-4  # Adam learning rate of the critics
    vae_lr: float = 1e-3  # Adam learning rate of the VAE
