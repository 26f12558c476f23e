"""The SAC family's shared steps (jaxrl/agents/families/sac.py) against plain numpy.

Random numbers are re-drawn with the same key (sampling is not what is tested); the targets,
losses and the temperature step are then computed in numpy from the networks' outputs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl.agents.base import adam
from jaxrl.agents.families import sac as family
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.types import Transition

OBS, ACT, B, C = 3, 2, 8, 3
LOG_2PI = np.log(2 * np.pi)
N = lambda x: np.asarray(x, np.float64)  # noqa: E731


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f(rng.normal(size=(B, OBS))),
        action=f(rng.uniform(-0.9, 0.9, (B, ACT))),
        reward=f(rng.normal(size=B)),
        terminated=f(rng.random(B) < 0.3),
        truncated=f(np.zeros(B)),
        next_obs=f(rng.normal(size=(B, OBS))),
        mc_return=f(np.zeros(B)),
    )


def np_tanh_gaussian(mean, log_std, noise):
    """a = tanh(μ + σε) and log π(a|s) = log N(u; μ, σ²) − Σ log(1 − tanh(u)²)."""
    u = mean + np.exp(log_std) * noise
    z = (u - mean) / np.exp(log_std)
    logp = np.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, -1)
    return np.tanh(u), logp - np.sum(np.log(1 - np.tanh(u) ** 2), -1)


def np_sample(actor, params, obs, key):
    mean, log_std = map(N, actor.apply(params, obs))
    return np_tanh_gaussian(mean, log_std, N(jax.random.normal(key, mean.shape)))


@pytest.fixture(scope="module")
def nets():
    b = _batch()
    actor = GaussianPolicy(ACT, (8,), log_std_min=-5.0)
    critic = QEnsemble(C, (8,))
    ap = actor.init(jax.random.key(0), b.obs)
    cp = critic.init(jax.random.key(1), b.obs, b.action)
    tp = critic.init(jax.random.key(2), b.obs, b.action)
    return actor, critic, ap, cp, tp, b


def test_target_entropy_and_act(nets):
    actor, critic, ap, cp, _, b = nets
    assert family.target_entropy(6) == -6.0 and family.target_entropy(6, 0.5) == -3.0
    a, logp = family.sample_action(ap, actor, b.obs, jax.random.key(3))
    a_ref, logp_ref = np_sample(actor, ap, b.obs, jax.random.key(3))
    np.testing.assert_allclose(a, a_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logp, logp_ref, rtol=1e-4, atol=1e-4)
    state = type("S", (), {"params": {"actor": ap}})()
    act = family.make_act(actor)
    np.testing.assert_allclose(
        act(state, b.obs, jax.random.key(3), True), np.tanh(N(actor.apply(ap, b.obs)[0])), rtol=1e-6
    )
    np.testing.assert_allclose(act(state, b.obs, jax.random.key(3), False), a_ref, rtol=1e-5)
    params = family.init_params(jax.random.key(4), actor, critic, _spec(), jnp.float32(0.5))
    assert set(params) == {"actor", "critic", "temperature"} and float(params["temperature"]) == 0.5


def _spec():
    from jaxrl.specs import EnvSpec

    return EnvSpec(obs_dim=OBS, action_dim=ACT)


def test_soft_td_target_hand_values():
    r, m = jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0])
    q, logp = jnp.array([3.0, 5.0]), jnp.array([-1.0, 4.0])
    # y = r + γ·m·(Q − α log π): [1 + 0.5·(3 + 0.2), 2]; without the backup [1 + 0.5·3, 2].
    got = family.soft_td_target(r, m, q, logp, 0.2, 0.5)
    np.testing.assert_allclose(got, [2.6, 2.0], rtol=1e-6)
    got = family.soft_td_target(r, m, q, logp, 0.2, 0.5, backup_entropy=False)
    np.testing.assert_allclose(got, [2.5, 2.0], rtol=1e-6)


@pytest.mark.parametrize("backup_entropy", [True, False])
def test_critic_target_matches_numpy(nets, backup_entropy):
    actor, critic, ap, _, tp, b = nets
    alpha, gamma = 0.3, 0.95
    key = lambda: jax.random.key(6)  # noqa: E731  identical fresh keys
    y = family.critic_target(
        tp, critic, ap, actor, b, key(), jnp.asarray(alpha), gamma, backup_entropy=backup_entropy
    )
    a_next, logp = np_sample(actor, ap, b.next_obs, key())
    q_next = N(critic.apply(tp, b.next_obs, jnp.asarray(a_next, jnp.float32))).min(0)
    v = q_next - (alpha * logp if backup_entropy else 0.0)
    ref = N(b.reward) + gamma * (1 - N(b.terminated)) * v
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_critic_target_subset_is_min_over_the_drawn_members(nets):
    actor, critic, ap, _, tp, b = nets
    key = lambda: jax.random.key(6)  # noqa: E731
    subset_key = lambda: jax.random.key(7)  # noqa: E731
    y = family.critic_target(
        tp, critic, ap, actor, b, key(), jnp.asarray(0.0), 0.9,
        reduction="subset_min", subset_key=subset_key(), subset_size=2, subset_replace=False,
    )  # fmt: skip
    members = np.asarray(jax.random.choice(subset_key(), C, (2,), replace=False))
    a_next, _ = np_sample(actor, ap, b.next_obs, key())
    q_next = N(critic.apply(tp, b.next_obs, jnp.asarray(a_next, jnp.float32)))[members].min(0)
    ref = N(b.reward) + 0.9 * (1 - N(b.terminated)) * q_next
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_critic_td_loss_reductions_match_numpy(nets):
    _, critic, _, cp, _, b = nets
    y = jnp.linspace(-1.0, 1.0, B)
    q = N(critic.apply(cp, b.obs, b.action))
    sq = (q - N(y)[None]) ** 2
    refs = {"mean": sq.mean(), "sum": sq.mean(1).sum(), "none": sq.mean(1)}
    for reduction, ref in refs.items():
        loss, q_out = family.critic_td_loss(cp, critic, b, y, reduction)
        np.testing.assert_allclose(loss, ref, rtol=1e-5)
        np.testing.assert_allclose(q_out, q, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["min", "mean"])
def test_actor_loss_matches_numpy(nets, reduction):
    actor, critic, ap, cp, _, b = nets
    alpha = 0.3
    key = lambda: jax.random.key(8)  # noqa: E731
    loss, aux = family.actor_loss(
        ap, actor, cp, critic, b.obs, key(), jnp.asarray(alpha), reduction
    )
    a, logp = np_sample(actor, ap, b.obs, key())
    q = N(critic.apply(cp, b.obs, jnp.asarray(a, jnp.float32)))
    q_red = q.min(0) if reduction == "min" else q.mean(0)
    np.testing.assert_allclose(loss, np.mean(alpha * logp - q_red), rtol=1e-4)
    np.testing.assert_allclose(aux["log_prob"], logp, rtol=1e-4, atol=1e-4)
    assert aux["q"].shape == (C, B)
    np.testing.assert_allclose(
        family.actor_objective(jnp.array([1.0, -1.0]), jnp.array([2.0, 0.0]), 0.5), -1.0
    )


@pytest.mark.parametrize("form", ["alpha", "log_alpha"])
@pytest.mark.parametrize("param", ["exp", "softplus"])
def test_temperature_step_loss_and_adam_step(form, param):
    """The loss in numpy, and Adam's first step, which moves the leaf by −lr·sign(∂L/∂leaf)."""
    leaf = jnp.float32(0.4)
    log_probs = jnp.array([-1.0, 0.5, 2.0])
    tx = adam(1e-3)
    new, opt, loss = family.temperature_step(tx, leaf, tx.init(leaf), log_probs, -2.0, form, param)
    alpha = np.exp(0.4) if param == "exp" else np.log1p(np.exp(0.4))
    entropy = -np.mean(N(log_probs))
    if form == "alpha":
        ref = alpha * (entropy + 2.0)
        dalpha = 1.0 if param == "exp" else 1 / (1 + np.exp(-0.4)) / alpha  # ∂α/∂leaf / α
        grad = (entropy + 2.0) * alpha * dalpha
    else:
        ref = -np.log(alpha) * np.mean(N(log_probs) - 2.0)
        dlog = 1.0 if param == "exp" else 1 / (1 + np.exp(-0.4)) / alpha
        grad = -np.mean(N(log_probs) - 2.0) * dlog
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    np.testing.assert_allclose(float(new), 0.4 - 1e-3 * np.sign(grad), rtol=1e-5)
    assert int(opt.inner_state[0].count) == 1


def test_grad_step_is_value_and_grad_then_the_optimizer():
    tx = optax.sgd(0.1)
    params = jnp.array([1.0, -2.0])
    new, _, loss, aux = family.grad_step(
        tx, params, tx.init(params), lambda p, s: (s * jnp.sum(p**2), p), 3.0
    )
    # L = 3·Σp², ∇ = 6p; p − 0.1·6p = 0.4p.
    np.testing.assert_allclose(loss, 15.0)
    np.testing.assert_allclose(new, [0.4, -0.8], rtol=1e-6)
    np.testing.assert_allclose(aux, params)
