"""RIQL (ALGORITHMS.md §11): Huber loss by hand, and its IQL losses against numpy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.networks import GaussianPolicy, QEnsemble, ValueNetwork
from jaxrl.ops import huber_loss
from jaxrl.specs import EnvSpec
from tests.test_agents import _batch

SPEC = EnvSpec(obs_dim=5, action_dim=2)


def test_huber_loss_hand_values():
    # δ = 1/σ² = 0.25 for σ = 2: quadratic ½u²/δ inside |u| < δ, |u| − δ/2 outside.
    u = jnp.array([0.0, 0.1, -0.2, 0.25, 1.0, -3.0])
    want = [0.0, 0.5 * 0.01 / 0.25, 0.5 * 0.04 / 0.25, 0.25 - 0.125, 1.0 - 0.125, 3.0 - 0.125]
    np.testing.assert_allclose(huber_loss(u, 0.25), want, rtol=1e-6)
    # Continuous at |u| = δ, and its gradient is bounded by 1 in the tails.
    grad = jax.vmap(jax.grad(lambda x: huber_loss(x, 0.25)))(u)
    assert np.all(np.abs(np.asarray(grad)) <= 1.0 + 1e-6)


def test_riql_losses_match_numpy():
    cfg = agent_config("riql", {"hidden_dims": (8,), "num_critics": 3, "huber_sigma": 0.5})
    assert cfg.q_reduction == "quantile" and cfg.critic_loss == "huber" and cfg.deterministic_actor
    agent = make_agent("riql", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    batch = _batch(16)
    batch = batch.replace(reward=batch.reward.at[0].set(5_000.0))  # its target gets clipped
    _, m = jax.jit(agent.update)(state, batch, jax.random.key(1))

    critic, value = QEnsemble(3, (8,)), ValueNetwork((8,))
    q_t = np.asarray(critic.apply(state.target_params["critic"], batch.obs, batch.action))
    # torch.quantile / np.quantile "linear" interpolation over the 3 members, ρ = 0.25.
    target = np.quantile(q_t, 0.25, axis=0)
    v = np.asarray(value.apply(state.params["value"], batch.obs))
    u = target - v
    expectile = np.where(u < 0, 0.3, 0.7) * u**2
    np.testing.assert_allclose(float(m["value_loss"]), expectile.mean(), rtol=1e-5)

    v_next = np.asarray(value.apply(state.params["value"], batch.next_obs))
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * v_next
    assert y[0] > 1000
    y = np.clip(y, -100.0, 1000.0)
    q = np.asarray(critic.apply(state.params["critic"], batch.obs, batch.action))
    diff, delta = q - y[None], 1.0 / 0.5**2
    huber = np.where(np.abs(diff) < delta, 0.5 * diff**2 / delta, np.abs(diff) - 0.5 * delta)
    np.testing.assert_allclose(float(m["critic_loss"]), huber.mean(), rtol=1e-5)


def test_iql_losses_match_numpy():
    """Plain IQL: expectile value loss on the min of the target critics, MSE critic loss to
    r + γ·m·V(s'), and the AWR actor loss mean(min(exp(β·(Q̄ − V)), 100)·(−log π(a|s)))."""
    cfg = agent_config("iql", {"hidden_dims": (8,), "beta": 3.0})
    agent = make_agent("iql", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    batch = _batch(16)
    _, m = jax.jit(agent.update)(state, batch, jax.random.key(1))

    critic, value = QEnsemble(2, (8,)), ValueNetwork((8,))
    actor = GaussianPolicy(2, (8,), std_mode="param", tanh_mean=True)
    q_t = np.asarray(critic.apply(state.target_params["critic"], batch.obs, batch.action))
    v = np.asarray(value.apply(state.params["value"], batch.obs))
    u = q_t.min(0) - v
    tau = cfg.expectile
    np.testing.assert_allclose(
        float(m["value_loss"]), (np.where(u < 0, 1 - tau, tau) * u**2).mean(), rtol=1e-5
    )
    v_next = np.asarray(value.apply(state.params["value"], batch.next_obs))
    y = np.asarray(batch.reward) + 0.99 * (1 - np.asarray(batch.terminated)) * v_next
    q = np.asarray(critic.apply(state.params["critic"], batch.obs, batch.action))
    np.testing.assert_allclose(float(m["critic_loss"]), ((q - y) ** 2).mean(), rtol=1e-5)

    weights = np.minimum(np.exp(3.0 * u), 100.0)
    mean, log_std = (np.asarray(x) for x in actor.apply(state.params["actor"], batch.obs))
    a = np.asarray(batch.action)
    logp = (-0.5 * ((a - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)
    np.testing.assert_allclose(float(m["actor_loss"]), np.mean(weights * -logp), rtol=1e-5)
    np.testing.assert_allclose(float(m["awr_weight_mean"]), weights.mean(), rtol=1e-5)


def test_iql_refuses_unknown_reductions():
    with pytest.raises(ValueError, match="q_reduction='median'; allowed"):
        make_agent("iql", agent_config("iql", {"q_reduction": "median"}), SPEC)
    with pytest.raises(ValueError, match="critic_loss='l1'; allowed"):
        make_agent("iql", agent_config("iql", {"critic_loss": "l1"}), SPEC)
