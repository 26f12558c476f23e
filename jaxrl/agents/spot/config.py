"""SPOT hyperparameters (CORL `algorithms/finetune/spot.py`, `thuml/SPOT`; ALGORITHMS.md §4.5)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import dynamic, schedule_steps
from jaxrl.agents.families.configs import TD3FamilyConfig


@dataclasses.dataclass(frozen=True)
class SPOTConfig(TD3FamilyConfig):
    """Supported Policy Optimization: TD3 with a VAE behaviour-density penalty.

    The first `vae_steps` gradient steps of the offline phase train only the VAE; the TD3
    critic and actor train after them (the VAE is frozen from then on). λ per task in the
    references: thuml/SPOT locomotion 0.05–1.0 (halfcheetah-medium 0.05), CORL antmaze
    0.025–0.25 with λ_end 0.2 and online γ 0.995, pen-cloned 1.0 with λ_end 0.5.
    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    The TD3 family's fields (widths, critics, delay, noise, γ, τ, rates) are inherited from
    `jaxrl.agents.families.configs.TD3FamilyConfig`; only the defaults that differ are here.
    """

    actor_output_scale: float = 1e-2  # small init of the actor's output layer
    critic_output_scale: float = 1e-2  # small init of the critics' output layer
    vae_hidden_dims: tuple[int, ...] = (750, 750)  # encoder and decoder MLPs
    vae_latent_dim: int = 0  # size of z; 0 means 2·|A|
    vae_steps: int = schedule_steps(100_000, "offline")  # leading offline steps: VAE only
    num_samples: int = 1  # latent samples in the density estimate
    iwae: bool = False  # importance-weighted estimate instead of the ELBO
    reset_optimizers: bool = True  # fresh actor and critic Adam states at the switch
    beta: float = dynamic(0.5)  # β: KL weight in the VAE loss and the density estimate
    lambd: float = dynamic(0.05)  # λ: weight of the −log π_β(π(s)|s) penalty
    lambd_cool: bool = True  # online, λ_t = λ·max(λ_end, 1 − t/cool_steps)
    lambd_end: float = dynamic(0.2)  # smallest λ factor when cooling
    # online gradient steps over which λ would cool to 0
    cool_steps: int = dynamic(1_000_000, schedule="online")
    online_discount: float = dynamic(0.99)  # γ after the switch (CORL antmaze: 0.995)
    actor_lr: float = dynamic(1e-4)  # Adam learning rate of the actor (thuml/SPOT: 3e-4)
    # dropout on the actor's hidden layers in its updates and its target's (thuml/SPOT: 0.1;
    # CORL: none); acting and evaluation use no dropout
    actor_dropout: float = 0.0
    vae_lr: float = dynamic(1e-3)  # Adam learning rate of the VAE
