"""RIQL (ALGORITHMS.md §11): Huber loss by hand, its IQL losses against numpy, and the
biased-behaviour bandit (moved from tests/test_bandit_learning.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.base import set_learning_rate
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.networks import QEnsemble, ValueNetwork
from jaxrl.ops import huber_loss
from jaxrl.specs import EnvSpec
from tests.helpers import LEARN_BATCH
from tests.helpers import bandit as _bandit
from tests.helpers import key_data as _key_data
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


@pytest.mark.slow
def test_learns_the_bandit_beyond_behaviour_cloning():
    # IQL-style weights exp(β·A) need a large β for rewards of order 0.1 (AWAC's test uses
    # λ = 0.05, the same inverse temperature of 20).
    agent = make_agent(
        "riql", agent_config("riql", {"hidden_dims": (16, 16), "num_critics": 3}), EnvSpec(2, 1)
    )
    data, _ = _bandit(4096, seed=0)
    state = agent.init(jax.random.key(0))
    state = state.replace(
        hparams=state.hparams.replace(beta=jnp.asarray(20.0, jnp.float32)),
        opt_states={k: set_learning_rate(v, 1e-3) for k, v in state.opt_states.items()},
    )

    @jax.jit
    def train(state, idx, keys):  # the whole loop compiled: one dispatch
        def body(s, xs):
            i, k = xs
            batch = jax.tree.map(lambda x: x[i], data)
            return agent.update(s, batch, jax.random.wrap_key_data(k))[0], None

        return jax.lax.scan(body, state, (idx, keys))[0]

    idx = np.random.default_rng(1).integers(0, data.size, (2_000, LEARN_BATCH))
    state = train(state, idx, _key_data(2, 2_000))
    test, best = _bandit(512, seed=3)
    acts = jax.vmap(agent.act, in_axes=(None, 0, None, None))(
        state, test.obs, jax.random.key(4), True
    )
    mse = float(np.mean((np.asarray(acts)[:, 0] - best) ** 2))
    # Stated threshold: under half of behaviour cloning's ≈ 0.09 (bias 0.3 squared).
    assert mse < 0.04, mse
