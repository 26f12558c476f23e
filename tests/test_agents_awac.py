"""AWAC, SPOT, SAC-N and EDAC: losses against plain-numpy references, EDAC's diversity term,
the VAE densities, SPOT's phases and λ cooling, one compilation across the switch, and small
learning problems with stated thresholds."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.awac import losses as awac_losses
from jaxrl.agents.base import set_learning_rate
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.sacn import losses as sacn_losses
from jaxrl.agents.spot import losses as spot_losses
from jaxrl.agents.spot.agent import current_lambda
from jaxrl.networks import VAE, GaussianPolicy, QEnsemble, vae_iwae_nll, vae_neg_elbo
from jaxrl.ops import ensemble_gradient_diversity, linear_cooling
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


def test_linear_cooling_values():
    # λ·max(λ_end, 1 − t/T) with λ = 2, T = 100, λ_end = 0.2.
    values = [float(linear_cooling(2.0, t, 100.0, 0.2)) for t in (0, 1, 50, 80, 100, 500)]
    assert values == pytest.approx([2.0, 1.98, 1.0, 0.4, 0.4, 0.4])


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
    # The VAE training loss is the batch mean of the one-sample negative ELBO.
    loss, _ = spot_losses.vae_loss(params, vae, b, key(), 0.5)
    np.testing.assert_allclose(
        loss, np.mean(vae_neg_elbo(params, vae, b.obs, b.action, key(), 0.5))
    )


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


# --- losses against numpy -----------------------------------------------------------------


def test_awac_losses_match_numpy():
    critic = QEnsemble(2, (8,))
    actor = GaussianPolicy(ACT, (8,), std_mode="param")
    b = _batch()
    cp, tp = _init(critic, 0, b.obs, b.action), _init(critic, 1, b.obs, b.action)
    ap = _init(actor, 2, b.obs)
    ap = jax.tree.map(lambda x: x, ap)
    ap["params"]["log_std"] = jnp.asarray([-0.5, 0.3])
    key, gamma, lam = lambda: jax.random.key(5), 0.9, 0.25  # noqa: E731

    loss, _ = awac_losses.critic_loss(cp, critic, tp, ap, actor, b, key(), gamma)
    mean, log_std = map(N, actor.apply(ap, b.next_obs))
    a_next = np.clip(mean + np.exp(log_std) * N(jax.random.normal(key(), mean.shape)), -1, 1)
    q_next = N(critic.apply(tp, b.next_obs, jnp.asarray(a_next, jnp.float32))).min(0)
    y = N(b.reward) + gamma * (1 - N(b.terminated)) * q_next
    q = N(critic.apply(cp, b.obs, b.action))
    np.testing.assert_allclose(loss, np.mean((q[0] - y) ** 2) + np.mean((q[1] - y) ** 2), rtol=1e-5)

    loss, _ = awac_losses.actor_loss(ap, actor, cp, critic, b, key(), lam, 100.0)
    mean, log_std = map(N, actor.apply(ap, b.obs))
    a_pi = np.clip(mean + np.exp(log_std) * N(jax.random.normal(key(), mean.shape)), -1, 1)
    v = N(critic.apply(cp, b.obs, jnp.asarray(a_pi, jnp.float32))).min(0)
    adv = q.min(0) - v
    w = np.minimum(np.exp(adv / lam), 100.0)
    ref = -np.mean(w * _np_gauss_logp(mean, log_std, N(b.action)))
    np.testing.assert_allclose(loss, ref, rtol=1e-5)


def test_sacn_losses_match_numpy():
    critic = QEnsemble(3, (8,))
    actor = GaussianPolicy(ACT, (8,), log_std_min=-5.0)
    b = _batch()
    cp, tp = _init(critic, 0, b.obs, b.action), _init(critic, 1, b.obs, b.action)
    ap = _init(actor, 2, b.obs)
    key, alpha, gamma = lambda: jax.random.key(6), jnp.asarray(0.3), 0.95  # noqa: E731

    y = sacn_losses.critic_target(tp, critic, ap, actor, b, key(), alpha, gamma)
    mean, log_std = map(N, actor.apply(ap, b.next_obs))
    a_next, logp = _np_tanh_gauss(mean, log_std, N(jax.random.normal(key(), mean.shape)))
    q_next = N(critic.apply(tp, b.next_obs, jnp.asarray(a_next, jnp.float32))).min(0)
    y_ref = N(b.reward) + gamma * (1 - N(b.terminated)) * (q_next - 0.3 * logp)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-5)

    loss, aux = sacn_losses.critic_loss(cp, critic, b, y, 1.0, diversity=False)
    q = N(critic.apply(cp, b.obs, b.action))
    np.testing.assert_allclose(loss, np.sum(np.mean((q - N(y)) ** 2, axis=1)), rtol=1e-5)
    assert float(aux["diversity"]) == 0.0

    loss, _ = sacn_losses.actor_loss(ap, actor, cp, critic, b.obs, key(), alpha)
    mean, log_std = map(N, actor.apply(ap, b.obs))
    a, logp = _np_tanh_gauss(mean, log_std, N(jax.random.normal(key(), mean.shape)))
    q_pi = N(critic.apply(cp, b.obs, jnp.asarray(a, jnp.float32))).min(0)
    np.testing.assert_allclose(loss, np.mean(0.3 * logp - q_pi), rtol=1e-4)


def test_edac_diversity_with_linear_critics_matches_hand_gradients():
    """Linear critics Q_i = w_i·[s, a] + c_i have ∇_a Q_i = the action part of w_i."""
    n = 4
    critic = QEnsemble(n, ())  # no hidden layer: linear in (s, a)
    b = _batch()
    cp = _init(critic, 0, b.obs, b.action)
    kernel = N(cp["params"]["VmapQNetwork_0"]["Dense_0"]["kernel"])[:, :, 0]  # [N, S+A]
    w = kernel[:, OBS:]
    unit = w / np.linalg.norm(w, axis=-1, keepdims=True)
    div_ref = sum(unit[i] @ unit[j] for i in range(n) for j in range(n) if i != j) / (n - 1)
    # Per-member action-gradients from the member-wise evaluation equal the kernels.
    grads = jax.grad(lambda a: jnp.sum(sacn_losses.member_q_values(cp, critic, b.obs, a)))(
        jnp.broadcast_to(b.action, (n, B, ACT))
    )
    np.testing.assert_allclose(grads, np.broadcast_to(w[:, None], (n, B, ACT)), rtol=1e-6)
    y = jnp.linspace(-1.0, 1.0, B)
    loss, aux = sacn_losses.critic_loss(cp, critic, b, y, 2.5, diversity=True)
    q = N(critic.apply(cp, b.obs, b.action))
    td = np.sum(np.mean((q - N(y)) ** 2, axis=1))
    np.testing.assert_allclose(aux["diversity"], div_ref, rtol=1e-5)
    np.testing.assert_allclose(loss, td + 2.5 * div_ref, rtol=1e-5)
    # The diversity term has a gradient on the critics' action weights (double backprop).
    g = jax.grad(lambda p: sacn_losses.critic_loss(p, critic, b, y, 1.0, True)[1]["diversity"])(cp)
    assert np.abs(N(g["params"]["VmapQNetwork_0"]["Dense_0"]["kernel"])[:, OBS:]).max() > 1e-3


def test_spot_losses_match_numpy(vae_setup):
    vae, vp, b = vae_setup
    critic = QEnsemble(2, (8,))
    from jaxrl.networks import DeterministicPolicy

    actor = DeterministicPolicy(ACT, (8,))
    cp, tp = _init(critic, 0, b.obs, b.action), _init(critic, 1, b.obs, b.action)
    ap, tap = _init(actor, 2, b.obs), _init(actor, 3, b.obs)
    key, gamma = lambda: jax.random.key(7), 0.99  # noqa: E731

    loss, _ = spot_losses.critic_loss(cp, critic, tp, tap, actor, b, key(), gamma, 0.2, 0.5)
    a_t = N(actor.apply(tap, b.next_obs))
    a_next = np.clip(a_t + np.clip(0.2 * N(jax.random.normal(key(), a_t.shape)), -0.5, 0.5), -1, 1)
    q_next = N(critic.apply(tp, b.next_obs, jnp.asarray(a_next, jnp.float32))).min(0)
    y = N(b.reward) + gamma * (1 - N(b.terminated)) * q_next
    q = N(critic.apply(cp, b.obs, b.action))
    np.testing.assert_allclose(loss, np.sum(np.mean((q - y) ** 2, axis=1)), rtol=1e-5)

    lam, beta = 0.7, 0.5
    loss, _ = spot_losses.actor_loss(ap, actor, cp, critic, vp, vae, b.obs, key(), lam, beta, 2)
    pi = actor.apply(ap, b.obs)
    q1 = N(critic.apply(cp, b.obs, pi))[0]
    eps = jax.random.normal(key(), (2, B, 2 * ACT))
    mean, log_std, _, recon = _np_encode_decode(vae, vp, b.obs, pi, eps)
    nlb = np.mean((recon - N(pi)[None]) ** 2, axis=(0, 2)) + beta * np.mean(
        -0.5 * (1 + 2 * log_std - mean**2 - np.exp(2 * log_std)), axis=-1
    )
    ref = -np.mean(q1) / np.mean(np.abs(q1)) + lam * np.mean(nlb)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)


# --- agents: one compilation across the switch, SPOT's phases ------------------------------

SMALL = {"hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)}
CONFIGS = {
    "awac": SMALL,
    "sacn": {**SMALL, "num_critics": 3},
    "edac": {**SMALL, "num_critics": 3},
    "spot": {**SMALL, "vae_hidden_dims": (16, 16), "vae_steps": 300, "policy_freq": 2},
}
LEARN_BATCH = 64


def _key_data(seed, n):
    """n raw keys (uint32 data): every call of the fixture's update passes keys this way, so
    it compiles once for all the tests below."""
    return np.asarray(jax.random.key_data(jax.random.split(jax.random.key(seed), n)))


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def built(request):
    """One traced update per algorithm, reused by every test below (trace counter inside)."""
    name = request.param
    agent = make_agent(name, agent_config(name, CONFIGS[name]), EnvSpec(2, 1))
    traces = []

    def update(state, batch, key):
        traces.append(1)
        if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):  # raw key data
            key = jax.random.wrap_key_data(key)
        return agent.update(state, batch, key)

    return name, agent, jax.jit(update), traces


def test_no_recompilation_across_the_switch(built):
    name, agent, update, traces = built
    state = agent.init(jax.random.key(0))
    batch = _batch(LEARN_BATCH, obs_dim=2, action_dim=1)
    keys = _key_data(1, 4)
    state, _ = update(state, batch, keys[0])
    state, _ = update(state, batch, keys[1])
    online = agent.to_online(state)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)
    online, m = update(online, batch, keys[2])
    online, m = update(online, batch, keys[3])
    assert len(traces) == 1, f"{name} update traced {len(traces)} times"
    assert int(online.step) == 4
    assert all(np.isfinite(np.asarray(v)).all() for v in m.values())


def test_vmapped_update_passes_the_key_reuse_checker(built):
    """Under the run-axis vmap every `lax.cond` becomes a select that runs both branches; no
    key may then be consumed twice (SPOT's VAE/TD3 phase cond once did)."""
    name, agent, _, _ = built
    n = 2
    states = jax.vmap(agent.init)(jax.random.split(jax.random.key(0), n))
    batch = _batch(LEARN_BATCH, obs_dim=2, action_dim=1)
    batches = jax.tree.map(lambda x: jnp.stack([x] * n), batch)
    with jax.debug_key_reuse(True):
        keys = jax.random.split(jax.random.key(1), n)
        out, m = jax.jit(jax.vmap(agent.update))(states, batches, keys)
    assert all(np.isfinite(np.asarray(v)).all() for v in m.values()), name


def test_spot_phases_and_switch(built):
    name, agent, update, _ = built
    if name != "spot":
        pytest.skip("SPOT only")
    batch = _batch(LEARN_BATCH, obs_dim=2, action_dim=1)
    s0 = agent.init(jax.random.key(0))
    changed = lambda a, b, k: (
        not np.allclose(  # noqa: E731
            jax.tree.leaves(a.params[k])[0], jax.tree.leaves(b.params[k])[0]
        )
    )
    # Step 0 (inside the 300 VAE steps): only the VAE moves.
    s1, m = update(s0, batch, _key_data(1, 1)[0])
    assert changed(s0, s1, "vae") and not changed(s0, s1, "critic")
    assert not changed(s0, s1, "actor") and float(m["vae_loss"]) > 0
    # Step 300 (1-based count 301, odd): critic only. Step 301 (count 302): actor and targets.
    s = s1.replace(step=jnp.asarray(300, jnp.int32))
    s2, m2 = update(s, batch, _key_data(2, 1)[0])
    assert changed(s, s2, "critic") and not changed(s, s2, "actor") and not changed(s, s2, "vae")
    assert float(m2["vae_loss"]) == 0.0 and float(m2["actor_loss"]) == 0.0
    s3, m3 = update(s2, batch, _key_data(3, 1)[0])
    assert changed(s2, s3, "actor") and float(m3["lambd"]) == pytest.approx(0.05)
    assert not np.allclose(
        jax.tree.leaves(s3.target_params["actor"])[0], jax.tree.leaves(s2.target_params["actor"])[0]
    )
    # The switch: online γ, λ cooling from the next update, fresh Adam moments, same lr.
    hp = dict(s3.hparams, online_discount=jnp.float32(0.995), cool_steps=jnp.float32(10.0))
    on = agent.to_online(s3.replace(hparams=hp))
    assert float(on.hparams["discount"]) == pytest.approx(0.995)
    assert int(on.opt_states["actor"].inner_state[0].count) == 0
    assert int(on.opt_states["critic"].inner_state[0].count) == 0
    assert int(on.opt_states["vae"].inner_state[0].count) > 0
    lr = lambda s: float(s.opt_states["actor"].hyperparams["learning_rate"])  # noqa: E731
    assert lr(on) == lr(s3)
    # λ_t = 0.05·max(0.2, 1 − t/10), t = 1, 2, … from the first online update.
    lams = [float(current_lambda(on.hparams, on.step + i)) for i in (0, 1, 4, 9, 20)]
    assert lams == pytest.approx([0.045, 0.04, 0.025, 0.01, 0.01])
    s4, m4 = update(on, batch, _key_data(4, 1)[0])
    _, m5 = update(s4, batch, _key_data(5, 1)[0])
    assert [float(m4["lambd"]), float(m5["lambd"])] == pytest.approx([0.045, 0.04])


# --- learning: a contextual bandit with a biased behaviour policy -------------------------


def _bandit(n, seed):
    """s ~ U[−1, 1]², best action a*(s) = 0.6·s₀ − 0.3·s₁, r = −(a − a*)², every step terminal.

    The behaviour policy is biased: a = a* + 0.3 + N(0, 0.3²), so behaviour cloning scores a
    mean squared error of about 0.09, and an agent must use the rewards to beat that.
    """
    rng = np.random.default_rng(seed)
    s = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    best = 0.6 * s[:, 0] - 0.3 * s[:, 1]
    a = np.clip(best + 0.3 + 0.3 * rng.normal(size=n), -1, 1).astype(np.float32)
    r = -((a - best) ** 2)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    data = Transition(
        obs=f(s),
        action=f(a[:, None]),
        reward=f(r),
        terminated=f(np.ones(n)),
        truncated=f(np.zeros(n)),
        next_obs=f(s),
        mc_return=f(r),
    )
    return data, best


# Each algorithm's setting for the bandit (dynamic leaves, so no recompilation) and steps.
LEARN = {
    "awac": ({"awac_lambda": 0.05}, 2_000),
    "sacn": ({}, 2_000),
    "edac": ({}, 2_000),
    "spot": ({"lambd": 0.05}, 300 + 2_000),
}


@pytest.mark.slow
def test_learns_the_bandit_beyond_behaviour_cloning(built):
    name, agent, update, traces = built
    data, _ = _bandit(4096, seed=0)
    hp_overrides, steps = LEARN[name]
    state = agent.init(jax.random.key(0))
    # Learning rates 1e-3 for every network (leaves of the optimizer states: no recompile).
    state = state.replace(
        hparams={
            **state.hparams,
            **{k: jnp.asarray(v, jnp.float32) for k, v in hp_overrides.items()},
        },
        opt_states={k: set_learning_rate(v, 1e-3) for k, v in state.opt_states.items()},
    )
    # Batches and keys prepared on the host: one dispatch of the compiled update per step.
    host = jax.tree.map(np.asarray, data)
    rng = np.random.default_rng(1)
    keys = _key_data(2, steps)
    for i in range(steps):
        idx = rng.integers(0, data.size, LEARN_BATCH)
        state, _ = update(state, jax.tree.map(lambda x, j=idx: x[j], host), keys[i])
    test, best = _bandit(512, seed=3)
    acts = jax.vmap(agent.act, in_axes=(None, 0, None, None))(
        state, test.obs, jax.random.key(4), True
    )
    mse = float(np.mean((np.asarray(acts)[:, 0] - best) ** 2))
    # Stated threshold: under half of behaviour cloning's ≈ 0.09 (bias 0.3 squared).
    assert mse < 0.04, (name, mse)
    assert len(traces) == 1
