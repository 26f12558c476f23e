"""A conditional VAE over actions given states, and its ELBO / importance-weighted densities.

SPOT (ALGORITHMS.md §4.5) pre-trains it on the dataset and uses −ELBO(s, π(s)) as a
behaviour-density penalty; A2PR (§9) trains it on the positive-advantage actions only
(`recon_weight`) and pulls the actor towards its sampled reconstructions (`vae_reconstruct`).
The loss functions are written for a batch, with params first.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.networks.mlp import MLP, default_init

_LOG_2PI = jnp.log(2.0 * jnp.pi)


class VAE(nn.Module):
    """Encoder q(z | s, a) = N(μ, σ²) and decoder a ≈ max_action · tanh(D(s, z)).

    Attributes:
      action_dim: |A|.
      latent_dim: size of z (SPOT: 2·|A|).
      hidden_dims: widths of the encoder and of the decoder MLPs (SPOT: 750, 750).
      max_action: scale of the decoder's tanh output.
      log_std_min, log_std_max: clip of the encoder's log σ (SPOT: −4, 15).
    """

    action_dim: int
    latent_dim: int
    hidden_dims: Sequence[int] = (750, 750)
    max_action: float = 1.0
    log_std_min: float = -4.0
    log_std_max: float = 15.0

    def setup(self):
        self.encoder = MLP(self.hidden_dims)
        self.enc_mean = nn.Dense(self.latent_dim, kernel_init=default_init())
        self.enc_log_std = nn.Dense(self.latent_dim, kernel_init=default_init())
        self.decoder = MLP(self.hidden_dims)
        self.dec_out = nn.Dense(self.action_dim, kernel_init=default_init())

    def encode(self, obs: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(μ, log σ) of q(z | s, a), log σ clipped to [log_std_min, log_std_max]."""
        h = self.encoder(jnp.concatenate([obs, action], -1))
        log_std = jnp.clip(self.enc_log_std(h), self.log_std_min, self.log_std_max)
        return self.enc_mean(h), log_std

    def decode(self, obs: jax.Array, z: jax.Array) -> jax.Array:
        """The reconstructed action max_action · tanh(D(s, z))."""
        h = self.decoder(jnp.concatenate([obs, z], -1))
        return self.max_action * jnp.tanh(self.dec_out(h))

    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        mean, _ = self.encode(obs, action)
        return self.decode(obs, mean)


def _kl_std_normal(mean: jax.Array, log_std: jax.Array) -> jax.Array:
    """KL(N(μ, σ²) ‖ N(0, I)) per latent dimension."""
    return -0.5 * (1.0 + 2.0 * log_std - mean**2 - jnp.exp(2.0 * log_std))


def _sampled_reconstructions(params, vae: VAE, obs, action, key, num_samples: int):
    """(μ, log σ, ε [S, B, D], z = μ + σ·ε, D(s, z) [S, B, |A|]) for `num_samples` latents."""
    mean, log_std = vae.apply(params, obs, action, method=VAE.encode)
    eps = jax.random.normal(key, (num_samples,) + mean.shape, mean.dtype)
    z = mean[None] + jnp.exp(log_std)[None] * eps
    obs_s = jnp.broadcast_to(obs[None], (num_samples,) + obs.shape)
    return mean, log_std, eps, z, vae.apply(params, obs_s, z, method=VAE.decode)


def vae_neg_elbo(
    params,
    vae: VAE,
    obs: jax.Array,
    action: jax.Array,
    key: jax.Array,
    beta: float | jax.Array,
    num_samples: int = 1,
    recon_weight: jax.Array | None = None,
) -> jax.Array:
    """SPOT's per-example negative ELBO (up to a positive scale and a constant).

    `w · mean_{samples, dims} (D(s, z) − a)² + β · mean_dims KL(q(z|s,a) ‖ N(0, I))`, with
    z = μ + σ·ε drawn `num_samples` times and w = 1 unless `recon_weight` is given. Its batch
    mean with one sample is the VAE's training loss (MSE reconstruction plus β times the
    dimension-averaged KL).

    Args:
      params: the VAE's variables.
      vae: the module.
      obs: [B, |S|]; action: [B, |A|].
      key: for the latent noise.
      beta: the KL weight β (SPOT: 0.5).
      num_samples: latent samples per example.
      recon_weight: optional [B] weight of each example's reconstruction term (A2PR:
        `vae_weight · 1[Q_1(s, a) > V(s)]`); the KL term is not weighted.

    Returns:
      [B] negative ELBO estimates.

    References: Wu et al., 2022 (SPOT), eq. (7); `thuml/SPOT: vae.py: elbo_loss`.
    """
    mean, log_std, _, _, recon = _sampled_reconstructions(
        params, vae, obs, action, key, num_samples
    )
    recon_loss = jnp.mean((recon - action[None]) ** 2, axis=(0, 2))
    if recon_weight is not None:
        recon_loss = recon_weight * recon_loss
    kl = jnp.mean(_kl_std_normal(mean, log_std), axis=-1)
    return recon_loss + beta * kl


def vae_reconstruct(
    params, vae: VAE, obs: jax.Array, action: jax.Array, noise: jax.Array
) -> jax.Array:
    """One sampled reconstruction D(s, z), z = μ + σ·ε ~ q(z | s, a) (BCQ's `vae(s, a)`).

    Unlike `VAE.__call__` (which decodes the mean μ), the latent is drawn, as the BCQ-style
    VAE's forward pass does. Differentiable in `action` through the encoder and decoder
    (reparameterization), which A2PR's actor loss relies on. The noise is an argument rather
    than a key so that callers can draw it outside a `lax.cond` (under `vmap` a cond runs both
    branches, and JAX's key-reuse checker rejects a key carried into one).

    Args:
      params: the VAE's variables.
      vae: the module.
      obs: [B, |S|]; action: [B, |A|].
      noise: ε ~ N(0, I), [B, latent_dim] (e.g. `jax.random.normal(key, (B, latent_dim))`).

    Returns:
      [B, |A|] reconstructed actions.

    References: Fujimoto et al., 2019 (BCQ), `sfujim/BCQ: BCQ.py: VAE.forward`;
    `ltlhuuu/A2PR: A2PR.py: VAE.forward`.
    """
    mean, log_std = vae.apply(params, obs, action, method=VAE.encode)
    return vae.apply(params, obs, mean + jnp.exp(log_std) * noise, method=VAE.decode)


def vae_iwae_nll(
    params,
    vae: VAE,
    obs: jax.Array,
    action: jax.Array,
    key: jax.Array,
    beta: float | jax.Array,
    num_samples: int = 10,
) -> jax.Array:
    """Importance-weighted estimate of −log π_β(a|s) with `num_samples` latents.

    The decoder is a Gaussian with σ_dec = sqrt(β / 4), so that its log-likelihood matches the
    β-weighted MSE of `vae_neg_elbo` up to scale:
    `−[logsumexp_l (log p(a|z_l,s) + log p(z_l) − log q(z_l|s,a)) − log L]`.

    Returns:
      [B] negative log-likelihood estimates.

    References: SPOT, eq. (6); `thuml/SPOT: vae.py: importance_sampling_estimator`.
    """
    _, log_std, eps, z, recon = _sampled_reconstructions(params, vae, obs, action, key, num_samples)
    log_std_dec = 0.5 * jnp.log(beta / 4.0)
    log_pxz = jnp.sum(
        -0.5 * ((action[None] - recon) * jnp.exp(-log_std_dec)) ** 2 - log_std_dec - 0.5 * _LOG_2PI,
        axis=-1,
    )
    log_pz = jnp.sum(-0.5 * z**2 - 0.5 * _LOG_2PI, axis=-1)
    log_qz = jnp.sum(-0.5 * eps**2 - log_std[None] - 0.5 * _LOG_2PI, axis=-1)
    log_w = log_pxz + log_pz - log_qz
    return -(jax.nn.logsumexp(log_w, axis=0) - jnp.log(num_samples))
