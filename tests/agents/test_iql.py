"""IQL (ALGORITHMS.md §4.1): its own loss terms and the composed update against numpy."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.iql import losses
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.networks import GaussianPolicy, QEnsemble, ValueNetwork
from jaxrl.specs import EnvSpec
from tests.test_agents import _batch

SPEC = EnvSpec(obs_dim=5, action_dim=2)


def test_iql_terms_by_hand():
    x = jnp.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    # τ = 0.7: weight 0.3 below zero, 0.7 above.
    want = [0.3 * 4.0, 0.3 * 0.25, 0.0, 0.7 * 1.0, 0.7 * 9.0]
    np.testing.assert_allclose(losses.value_term(x, 0.7), want, rtol=1e-6)
    q = jnp.array([[1.0, 2.0, -1.0], [0.0, 4.0, 1.0]])
    y = jnp.array([0.5, 2.0, 0.0])
    sq = np.array([[0.25, 0.0, 1.0], [0.25, 4.0, 1.0]])
    np.testing.assert_allclose(losses.mse_critic_term(q, y), sq.mean(), rtol=1e-6)
    # δ = 1: ½u² for |u| < 1, |u| − ½ otherwise; u = [[.5, 0, −1], [−.5, 2, 1]].
    hub = np.array([[0.125, 0.0, 0.5], [0.125, 1.5, 0.5]])
    np.testing.assert_allclose(losses.huber_critic_term(q, y, 1.0), hub.mean(), rtol=1e-6)


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


def test_iql_cosine_actor_lr_follows_corl_cosine_annealing():
    """CORL's `CosineAnnealingLR(T_max=4)`, stepped after every actor update and never reset:
    rates 1, .854, .5, .146, 0, .146, .5, .854 × actor_lr for gradient steps 0–7 (the
    schedule climbs back after T, as CORL's does during fine-tuning); the other optimizers and
    the "constant" default keep their rate."""
    lr = 3e-4
    config = agent_config(
        "iql", {"hidden_dims": (8,), "actor_lr_schedule": "cosine", "actor_lr_decay_steps": 4}
    )
    agent = make_agent("iql", config, SPEC)
    state = agent.init(jax.random.key(0))
    update = jax.jit(agent.update)
    seen = []
    for _ in range(8):
        state, _ = update(state, _batch(), jax.random.key(1))
        seen.append(float(state.opt_states["actor"].hyperparams["learning_rate"]))
        assert float(state.opt_states["critic"].hyperparams["learning_rate"]) == pytest.approx(lr)
    expected = [lr * 0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(8)]
    np.testing.assert_allclose(seen, expected, rtol=1e-5, atol=1e-12)
    plain = make_agent("iql", agent_config("iql", {"hidden_dims": (8,)}), SPEC)
    s, _ = jax.jit(plain.update)(plain.init(jax.random.key(0)), _batch(), jax.random.key(1))
    assert float(s.opt_states["actor"].hyperparams["learning_rate"]) == pytest.approx(lr)
    with pytest.raises(ValueError, match="actor_lr_schedule='linear'; allowed"):
        make_agent("iql", agent_config("iql", {"actor_lr_schedule": "linear"}), SPEC)


def test_the_authors_options_sum_the_critic_losses_and_step_v_first():
    """implicit_q_learning's own update (docs/PARITY.md): Σ_j MSE_j (twice CORL's ½Σ_j) and V
    stepped before the actor's advantage and the critic's V(s'); unknown values refused."""
    from jaxrl.types import Transition

    spec = EnvSpec(3, 2)
    rng = np.random.default_rng(0)
    batch = Transition(
        obs=rng.normal(size=(8, 3)).astype(np.float32),
        action=rng.uniform(-0.9, 0.9, (8, 2)).astype(np.float32),
        reward=rng.normal(size=8).astype(np.float32),
        terminated=np.zeros(8, np.float32),
        truncated=np.zeros(8, np.float32),
        next_obs=rng.normal(size=(8, 3)).astype(np.float32),
        mc_return=np.zeros(8, np.float32),
    )

    def metrics(**fields):
        agent = make_agent("iql", agent_config("iql", {"hidden_dims": (8,), **fields}), spec)
        return agent.update(agent.init(jax.random.key(0)), batch, jax.random.key(1))[1]

    base, summed = metrics(), metrics(critic_loss="mse_sum")
    np.testing.assert_allclose(summed["critic_loss"], 2 * base["critic_loss"], rtol=1e-6)
    first = metrics(update_order="value_first")
    np.testing.assert_allclose(first["value_loss"], base["value_loss"], rtol=1e-6)
    assert abs(float(first["adv_mean"]) - float(base["adv_mean"])) > 1e-6  # the new V
    for field, value in (("critic_loss", "l1"), ("update_order", "iql")):
        with pytest.raises(ValueError, match=f"{field}='{value}'; allowed"):
            metrics(**{field: value})
