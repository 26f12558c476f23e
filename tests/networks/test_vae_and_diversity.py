"""The VAE densities (SPOT's and A2PR's) and EDAC's gradient diversity against plain-numpy
references. The algorithms' own tests are in tests/agents/."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.networks import VAE, vae_iwae_nll, vae_neg_elbo
from jaxrl.ops import ensemble_gradient_diversity
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

OBS, ACT, B = 3, 2, 8
SPEC = EnvSpec(obs_dim=OBS, action_dim=ACT)
LOG_2PI = np.log(2 * np.pi)
N = lambda x: np.asarray(x, np.float64)  # noqa: E731


def _batch(n=B, seed=0, obs_dim=OBS, action_dim=ACT):
    rng = np.random.default_rng(seed)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f(rng.normal(size=(n, obs_dim))),
        action=f(rng.uniform(-0.9, 0.9, (n, action_dim))),
        reward=f(rng.normal(size=n)),
        terminated=f(rng.random(n) < 0.3),
        truncated=f(np.zeros(n)),
        next_obs=f(rng.normal(size=(n, obs_dim))),
        mc_return=f(np.zeros(n)),
    )


def _init(module, key, *args):
    return module.init(jax.random.key(key), *args)


def _np_gauss_logp(mean, log_std, x):
    z = (x - mean) / np.exp(log_std)
    return np.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def _np_tanh_gauss(mean, log_std, noise):
    u = mean + np.exp(log_std) * noise
    logp = _np_gauss_logp(mean, log_std, u) - np.sum(np.log(1 - np.tanh(u) ** 2), axis=-1)
    return np.tanh(u), logp


# --- ops -----------------------------------------------------------------------------------


def test_gradient_diversity_hand_values_and_numpy_loop():
    e0, e1 = [1.0, 0.0], [0.0, 1.0]
    grads = lambda *rows: jnp.asarray([[r] for r in rows], jnp.float32)  # noqa: E731 [N,1,2]
    # Orthogonal gradients are perfectly diverse; equal ones give Σ_{i≠j} 1 / (N−1) = N.
    assert float(ensemble_gradient_diversity(grads(e0, e1))) == pytest.approx(0.0, abs=1e-6)
    assert float(ensemble_gradient_diversity(grads(e0, e0, e0))) == pytest.approx(3.0)
    # Opposite ones: cos = −1 for both ordered pairs, divided by N − 1 = 1.
    assert float(ensemble_gradient_diversity(grads(e0, [-2.0, 0.0]))) == pytest.approx(-2.0)
    # Norms do not matter, only directions.
    assert float(ensemble_gradient_diversity(grads([3.0, 4.0], [6.0, 8.0]))) == pytest.approx(2.0)
    # Random gradients against the plain double loop over ordered pairs.
    g = np.random.default_rng(1).normal(size=(5, 7, 3))
    ref = 0.0
    for b in range(7):
        unit = g[:, b] / np.linalg.norm(g[:, b], axis=-1, keepdims=True)
        ref += sum(unit[i] @ unit[j] for i in range(5) for j in range(5) if i != j) / 4
    np.testing.assert_allclose(ensemble_gradient_diversity(jnp.asarray(g)), ref / 7, rtol=1e-5)
    with pytest.raises(ValueError, match="N >= 2"):
        ensemble_gradient_diversity(jnp.ones((1, 4, 2)))


# --- networks: the VAE's densities ---------------------------------------------------------


@pytest.fixture(scope="module")
def vae_setup():
    vae = VAE(ACT, 2 * ACT, (8, 8))
    b = _batch()
    return vae, _init(vae, 0, b.obs, b.action), b


def _np_encode_decode(vae, params, obs, action, eps):
    mean, log_std = map(N, vae.apply(params, obs, action, method=VAE.encode))
    z = mean[None] + np.exp(log_std)[None] * N(eps)
    obs_s = np.broadcast_to(N(obs)[None], (eps.shape[0],) + obs.shape)
    recon = N(vae.apply(params, jnp.asarray(obs_s, jnp.float32), jnp.asarray(z, jnp.float32),
                        method=VAE.decode))  # fmt: skip
    return mean, log_std, z, recon


def test_vae_neg_elbo_matches_numpy(vae_setup):
    vae, params, b = vae_setup
    key = lambda: jax.random.key(3)  # noqa: E731  identical fresh keys
    got = vae_neg_elbo(params, vae, b.obs, b.action, key(), 0.5, num_samples=3)
    eps = jax.random.normal(key(), (3, B, 2 * ACT))
    mean, log_std, _, recon = _np_encode_decode(vae, params, b.obs, b.action, eps)
    recon_loss = np.mean((recon - N(b.action)[None]) ** 2, axis=(0, 2))
    kl = np.mean(-0.5 * (1 + 2 * log_std - mean**2 - np.exp(2 * log_std)), axis=-1)
    np.testing.assert_allclose(got, recon_loss + 0.5 * kl, rtol=1e-5, atol=1e-6)


def test_vae_iwae_matches_numpy(vae_setup):
    vae, params, b = vae_setup
    key, beta, n = lambda: jax.random.key(4), 0.5, 4  # noqa: E731
    got = vae_iwae_nll(params, vae, b.obs, b.action, key(), beta, num_samples=n)
    eps = N(jax.random.normal(key(), (n, B, 2 * ACT)))
    mean, log_std, z, recon = _np_encode_decode(vae, params, b.obs, b.action, eps)
    sd = np.sqrt(beta / 4)
    log_pxz = np.sum(
        -0.5 * ((N(b.action)[None] - recon) / sd) ** 2 - np.log(sd) - 0.5 * LOG_2PI, -1
    )
    log_pz = np.sum(-0.5 * z**2 - 0.5 * LOG_2PI, -1)
    log_qz = np.sum(-0.5 * ((z - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * LOG_2PI, -1)
    w = log_pxz + log_pz - log_qz
    m = w.max(0)
    ll = m + np.log(np.mean(np.exp(w - m), axis=0))
    np.testing.assert_allclose(got, -ll, rtol=1e-4, atol=1e-4)
