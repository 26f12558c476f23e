"""Linen networks: MLP trunks, critic ensembles, value heads and policy heads."""

from jaxrl.networks.distributions import (
    gaussian_log_prob,
    tanh_gaussian_log_prob,
    tanh_gaussian_sample,
)
from jaxrl.networks.mlp import MLP, default_init, output_init
from jaxrl.networks.policies import DeterministicPolicy, GaussianPolicy
from jaxrl.networks.vae import VAE, vae_iwae_nll, vae_neg_elbo, vae_reconstruct
from jaxrl.networks.values import QEnsemble, ValueNetwork

__all__ = [
    "MLP",
    "DeterministicPolicy",
    "GaussianPolicy",
    "QEnsemble",
    "VAE",
    "ValueNetwork",
    "default_init",
    "gaussian_log_prob",
    "output_init",
    "tanh_gaussian_log_prob",
    "tanh_gaussian_sample",
    "vae_iwae_nll",
    "vae_neg_elbo",
    "vae_reconstruct",
]
