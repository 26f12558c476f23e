"""FamO2O on IQL: the β embedding, the actor / balance / temperature losses against numpy, the
offline→online switch of β without recompilation, and a small learning problem."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.families import iql as family
from jaxrl.agents.famo2o import FamO2OConfig, losses, make_famo2o
from jaxrl.agents.registry import agent_config
from jaxrl.config import TrainConfig
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.ops import ensemble_td_loss, sinusoidal_embedding
from jaxrl.run import run
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition
from tests.test_learning import RANDOM_RETURN, pd_expert_dataset

SPEC = EnvSpec(obs_dim=5, action_dim=2)
B = 8
LOG_2PI = math.log(2.0 * math.pi)


def _emb_np(beta, d=6, n=1e4):
    """emb_{2i} = sin(β / n^{2i/d}), emb_{2i+1} = cos(β / n^{2i/d}), written out by hand."""
    beta = np.asarray(beta, np.float64)
    out = np.empty(beta.shape + (d,))
    for i in range(d // 2):
        out[..., 2 * i] = np.sin(beta / n ** (2 * i / d))
        out[..., 2 * i + 1] = np.cos(beta / n ** (2 * i / d))
    return out


def _gauss_logp_np(mean, log_std, x):
    z = (x - mean) / np.exp(log_std)
    return np.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)


def _batch(n=B, seed=0):
    rng = np.random.default_rng(seed)
    return Transition(
        obs=jnp.asarray(rng.normal(size=(n, 5)), jnp.float32),
        action=jnp.asarray(rng.uniform(-0.9, 0.9, (n, 2)), jnp.float32),
        reward=jnp.asarray(rng.normal(size=n), jnp.float32),
        terminated=jnp.asarray(rng.random(n) < 0.2, jnp.float32),
        truncated=jnp.zeros(n, jnp.float32),
        next_obs=jnp.asarray(rng.normal(size=(n, 5)), jnp.float32),
        mc_return=jnp.zeros(n, jnp.float32),
    )


def _np(x):
    return np.asarray(x, np.float64)


@pytest.fixture(scope="module")
def nets():
    """Tiny π_u, π_b and twin Q with random (not initial) parameters."""
    actor = GaussianPolicy(2, (16, 16), std_mode="param", tanh_mean=True, log_std_min=-5.0)
    balance = GaussianPolicy(1, (16, 16), std_mode="param", log_std_min=-10.0)
    critic = QEnsemble(2, (16, 16))
    keys = jax.random.split(jax.random.key(0), 3)
    ap = actor.init(keys[0], jnp.zeros((1, 11)))
    bp = balance.init(keys[1], jnp.zeros((1, 5)))
    cp = critic.init(keys[2], jnp.zeros((1, 5)), jnp.zeros((1, 2)))
    # Non-zero log-stds so that σ enters every formula.
    ap = jax.tree_util.tree_map_with_path(
        lambda p, x: jnp.array([-0.3, 0.2]) if "log_std" in str(p) else x, ap
    )
    bp = jax.tree_util.tree_map_with_path(
        lambda p, x: jnp.array([-0.5]) if "log_std" in str(p) else x, bp
    )
    return actor, ap, balance, bp, critic, cp


# ----------------------------------------------------------------------------- embedding


def test_embedding_hand_values():
    # β = 0: sin 0 = 0 and cos 0 = 1 at every frequency.
    np.testing.assert_allclose(sinusoidal_embedding(jnp.zeros(())), [0, 1, 0, 1, 0, 1])
    # d = 2 has the single frequency n^0 = 1: [sin β, cos β].
    np.testing.assert_allclose(
        sinusoidal_embedding(jnp.array(math.pi / 2), dim=2), [1.0, 0.0], atol=1e-6
    )
    # d = 4, n = 100: frequencies 1 and 100^(-1/2) = 0.1; β = 10 → [sin 10, cos 10, sin 1, cos 1].
    np.testing.assert_allclose(
        sinusoidal_embedding(jnp.array(10.0), dim=4, base=100.0),
        [math.sin(10.0), math.cos(10.0), math.sin(1.0), math.cos(1.0)],
        rtol=1e-5,
        atol=1e-6,
    )


def test_embedding_matches_the_numpy_formula_on_the_beta_range():
    beta = np.linspace(8.0, 14.0, 13).reshape(13, 1)
    out = sinusoidal_embedding(jnp.asarray(beta, jnp.float32))
    assert out.shape == (13, 1, 6)
    np.testing.assert_allclose(out, _emb_np(beta), atol=2e-6)
    # The coarsest frequency (β / 464) is monotone over [8, 14]: distinct βs stay distinct.
    assert np.all(np.diff(np.asarray(out)[:, 0, 4]) > 0)


def test_embedding_refuses_an_odd_dimension():
    with pytest.raises(ValueError, match="dim=5 must be a positive even number"):
        sinusoidal_embedding(jnp.zeros(()), dim=5)


# ----------------------------------------------------------------------------- β for π_u


def test_actor_betas_offline_uniform_online_from_the_balance_model(nets):
    _, _, balance, bp, _, _ = nets
    obs = _batch().obs
    key = lambda: jax.random.key(3)  # the same key, fresh for each use (key-reuse checks)
    offline = losses.actor_betas(bp, balance, obs, key(), jnp.array(0.0), 8.0, 14.0)
    online = losses.actor_betas(bp, balance, obs, key(), jnp.array(1.0), 8.0, 14.0)
    uniform_key, balance_key = jax.random.split(key())
    expected_offline = 8.0 + 6.0 * _np(jax.random.uniform(uniform_key, (B,)))
    np.testing.assert_allclose(offline, expected_offline, rtol=1e-6)
    mean_b, log_std_b = balance.apply(bp, obs)
    eps = _np(jax.random.normal(balance_key, (B, 1)))
    u = _np(mean_b) + np.exp(_np(log_std_b)) * eps
    np.testing.assert_allclose(online, 8.0 + (np.tanh(u[:, 0]) + 1.0) / 2.0 * 6.0, rtol=1e-5)
    assert np.all((_np(online) >= 8.0) & (_np(online) <= 14.0))
    # No gradient reaches π_b through π_u's β.
    grads = jax.grad(
        lambda p: jnp.sum(losses.actor_betas(p, balance, obs, key(), jnp.array(1.0), 8.0, 14.0))
    )(bp)
    assert all(float(jnp.max(jnp.abs(g))) == 0.0 for g in jax.tree.leaves(grads))


# ----------------------------------------------------------------------------- losses


@pytest.mark.parametrize("weighting", ["per_sample", "reference"])
def test_actor_loss_matches_numpy(nets, weighting):
    actor, ap, *_ = nets
    batch = _batch()
    rng = np.random.default_rng(1)
    beta = rng.uniform(8.0, 14.0, B).astype(np.float32)
    adv = rng.normal(scale=0.5, size=B).astype(np.float32)
    adv[0] = 2.0  # exp(2β) > 100: clipped
    loss, aux = losses.actor_loss(
        ap, actor, batch.obs, batch.action, jnp.asarray(beta), jnp.asarray(adv), 6, 1e4,
        weighting=weighting,
    )  # fmt: skip
    x = np.concatenate([_np(batch.obs), _emb_np(beta)], -1)
    mean, log_std = (_np(t) for t in actor.apply(ap, jnp.asarray(x, jnp.float32)))
    logp = _gauss_logp_np(mean, log_std, _np(batch.action))
    if weighting == "per_sample":
        w = np.minimum(np.exp(beta * adv), 100.0)
        assert w[0] == 100.0
    else:  # w_i = mean_k min(exp(β_k A_i), 100): the reference's [B, B] broadcast
        w = np.mean(np.minimum(np.exp(beta[:, None] * adv[None, :]), 100.0), axis=0)
    np.testing.assert_allclose(aux["weights"], w, rtol=1e-5)
    np.testing.assert_allclose(aux["log_prob"], logp, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loss, -np.mean(w * logp), rtol=1e-5)


def test_balance_loss_matches_numpy_and_differentiates_through_the_frozen_actor(nets):
    actor, ap, balance, bp, critic, cp = nets
    obs = _batch().obs
    key = lambda: jax.random.key(5)  # the same key, fresh for each use (key-reuse checks)
    args = (ap, actor, losses.frozen_min_q(cp, critic), obs)
    loss, aux = losses.balance_loss(bp, balance, *args, key(), jnp.log(0.5), 8.0, 14.0, 6, 1e4)

    beta_key, action_key = jax.random.split(key())
    mean_b, log_std_b = (_np(t) for t in balance.apply(bp, obs))
    eps_b = _np(jax.random.normal(beta_key, (B, 1)))
    u = mean_b + np.exp(log_std_b) * eps_b
    # log π_b(β̃|s) = log N(u) − log(1 − tanh²u), one dimension.
    logp = _gauss_logp_np(mean_b, log_std_b, u) - np.log(1.0 - np.tanh(u[:, 0]) ** 2)
    beta = 8.0 + (np.tanh(u[:, 0]) + 1.0) / 2.0 * 6.0
    x = np.concatenate([_np(obs), _emb_np(beta)], -1)
    mean_u, log_std_u = (_np(t) for t in actor.apply(ap, jnp.asarray(x, jnp.float32)))
    a = mean_u + np.exp(log_std_u) * _np(jax.random.normal(action_key, (B, 2)))
    q = np.min(_np(critic.apply(cp, obs, jnp.asarray(a, jnp.float32))), axis=0)
    np.testing.assert_allclose(aux["log_prob"], logp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(aux["beta"], beta, rtol=1e-5)
    np.testing.assert_allclose(aux["q"], q, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(loss, np.mean(0.5 * logp - q), rtol=1e-4, atol=1e-5)

    # With α_b = 0 the loss is −Q alone: π_b still gets a gradient, through ã's dependence on
    # β (π_u is frozen but differentiable); π_u's parameters are not an argument of the grad.
    grads = jax.grad(
        lambda p: losses.balance_loss(p, balance, *args, key(), -1e3, 8.0, 14.0, 6, 1e4)[0]
    )(bp)
    assert float(jnp.max(jnp.abs(grads["params"]["Dense_0"]["kernel"]))) > 0.0


def agent_balance(state, obs):
    """π_b(·|s) of an agent state: the balance network of `make_famo2o`'s tiny config."""
    cfg = FamO2OConfig(hidden_dims=(16, 16))
    balance = GaussianPolicy(
        1,
        cfg.hidden_dims,
        std_mode="param",
        log_std_min=cfg.balance_log_std_min,
        log_std_max=cfg.balance_log_std_max,
    )
    return balance.apply(state.params["balance"], obs)


def test_temperature_step_follows_the_balance_entropy():
    """α_b · (H − H_target), H = −mean log π_b; Adam's first step moves log α_b by ∓lr."""
    agent = make_famo2o(FamO2OConfig(hidden_dims=(16, 16)), SPEC)
    state = agent.init(jax.random.key(0))
    assert float(state.params["temperature"]) == 0.0  # α_b = 1
    batch = _batch(32)
    new, m = jax.jit(agent.update)(state, batch, jax.random.key(1))
    # H of π_b from the balance model itself: the update's first subkey is the balance loss's,
    # whose first subkey draws β̃ (u = μ_b + σ_b ε, log π_b = log N(u) − log(1 − tanh² u)).
    balance_key, _ = jax.random.split(jax.random.key(1))
    draw_key, _ = jax.random.split(balance_key)
    mean_b, log_std_b = (_np(t) for t in agent_balance(state, batch.obs))
    u = mean_b + np.exp(log_std_b) * _np(jax.random.normal(draw_key, (32, 1)))
    logp = _gauss_logp_np(mean_b, log_std_b, u) - np.log(1.0 - np.tanh(u[:, 0]) ** 2)
    entropy = float(-np.mean(logp))
    np.testing.assert_allclose(float(m["balance_entropy"]), entropy, rtol=1e-4)
    np.testing.assert_allclose(float(m["alpha"]), 1.0)
    np.testing.assert_allclose(float(m["temperature_loss"]), 1.0 * (entropy + 0.5), rtol=1e-5)
    np.testing.assert_allclose(
        float(new.params["temperature"]), -3e-4 * np.sign(entropy + 0.5), rtol=1e-3
    )


def test_critic_loss_sums_the_twins_mse(nets):
    *_, critic, cp = nets
    batch = _batch()
    v_next = jnp.asarray(np.random.default_rng(2).normal(size=B), jnp.float32)
    # FamO2O's critic is the IQL family's TD critic with the twins' MSE summed.
    y_lib = family.value_target(batch, v_next, 0.9)
    loss, q = family.critic_loss(
        cp, critic, batch, y_lib, lambda q, t: ensemble_td_loss(q, t, "sum")
    )
    y = _np(batch.reward) + 0.9 * (1.0 - _np(batch.terminated)) * _np(v_next)
    np.testing.assert_allclose(loss, np.sum(np.mean((_np(q) - y) ** 2, axis=1)), rtol=1e-5)


# ----------------------------------------------------------------------------- the switch


def _saturate_balance(state, sign):
    """π_b's mean at ±30 and σ at e^-10, so every β̃ is ±1 (β at one end of the range)."""

    def fix(path, x):
        name = jax.tree_util.keystr(path)
        if "'Dense_0'" in name and "MLP_0" not in name:
            return jnp.full_like(x, sign * 30.0) if "bias" in name else jnp.zeros_like(x)
        if "log_std" in name:
            return jnp.full_like(x, -10.0)
        return x

    bp = jax.tree_util.tree_map_with_path(fix, state.params["balance"])
    return state.replace(params={**state.params, "balance": bp})


def test_switch_moves_beta_to_the_balance_model_and_compiles_once():
    agent = make_famo2o(FamO2OConfig(hidden_dims=(16, 16)), SPEC)
    state = _saturate_balance(agent.init(jax.random.key(0)), +1.0)
    traces = []

    def counted(s, b, k):
        traces.append(1)
        return agent.update(s, b, k)

    update = jax.jit(counted)
    _, m_off = update(state, _batch(64), jax.random.key(1))
    online = agent.to_online(state)
    assert int(online.switch_step) == 0
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)
    chex.assert_trees_all_equal(online.params, state.params)
    _, m_on = update(online, _batch(64), jax.random.key(1))
    assert len(traces) == 1
    # Offline: β ~ U[8, 14] (mean near 11, never at the end); online: π_b says β_max.
    assert 9.5 < float(m_off["beta_mean"]) < 12.5
    np.testing.assert_allclose(float(m_on["beta_mean"]), 14.0, rtol=1e-6)
    # The balance model trains in both phases.
    np.testing.assert_allclose(float(m_off["balance_beta_mean"]), 14.0, rtol=1e-6)
    assert float(m_off["balance_loss"]) == float(m_on["balance_loss"])


def test_act_uses_the_balance_mode_and_the_actor_mean():
    agent = make_famo2o(FamO2OConfig(hidden_dims=(16, 16)), SPEC)
    state = _saturate_balance(agent.init(jax.random.key(0)), -1.0)
    obs = jnp.linspace(-1.0, 1.0, 5)
    a = agent.act(state, obs, jax.random.key(2), True)
    actor = GaussianPolicy(2, (16, 16), std_mode="param", tanh_mean=True, log_std_min=-5.0)
    x = np.concatenate([_np(obs), _emb_np(8.0)])  # π_b's mode tanh(−30) = −1 → β_min
    mean, _ = actor.apply(state.params["actor"], jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(a, np.clip(_np(mean), -1, 1), rtol=1e-5, atol=1e-6)
    explore = agent.act(state, obs, jax.random.key(2), False)
    assert explore.shape == (2,) and not np.allclose(explore, a)
    assert np.all(np.abs(_np(explore)) <= 1.0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="actor_weighting='batch'; allowed"):
        make_famo2o(FamO2OConfig(actor_weighting="batch"), SPEC)
    with pytest.raises(ValueError, match="embedding_dim=3 must be a positive even number"):
        make_famo2o(FamO2OConfig(embedding_dim=3), SPEC)


# ----------------------------------------------------------------------------- learning


@pytest.mark.slow
def test_famo2o_learns_from_expert_data_and_keeps_it_online(tmp_path):
    """Offline on PD-controller data (inverted_pendulum), then online with the data appended
    and β chosen by the balance model. About 90 s of CPU time (2 cores; it took 160–180 s of
    wall time while benchmarks loaded the machine)."""
    ds = pd_expert_dataset(steps=1_500)
    assert float(np.mean(data.episode_returns(ds))) > 150  # the data really is expert
    data.save_hdf5(ds, tmp_path / "pendulum-expert.hdf5")
    agent = {"hidden_dims": (32, 32), "expectile": 0.7, "beta_min": 1.0, "beta_max": 5.0}
    config = TrainConfig(
        algo="famo2o",
        agent=agent_config("famo2o", agent),
        task="inverted_pendulum",
        dataset=str(tmp_path / "pendulum-expert.hdf5"),
        seeds=(0, 1),
        offline_steps=1_500,
        online_steps=500,
        retention="append",
        chunk_length=500,
        eval_every=500,
        eval_episodes=5,
    )
    summary = run(config, tmp_path / "run", progress=False)
    ref = summary["reference_returns"]
    to_return = lambda s: ref["random"] + s / 100 * (ref["expert"] - ref["random"])
    offline = [to_return(r["offline_score"]) for r in summary["runs"]]
    final = [to_return(r["final_score"]) for r in summary["runs"]]
    # Stated thresholds: every seed at least 100 above the random policy's ~21 of 200, both
    # after pre-training and after the online phase driven by the balance model.
    assert min(offline) >= RANDOM_RETURN + 100, offline
    assert min(final) >= RANDOM_RETURN + 100, (offline, final)
