"""AWAC (ALGORITHMS.md §4.2): its losses against numpy, one compilation across the switch, the
key-reuse checker under vmap, and the biased-behaviour bandit (`tests.helpers.bandit`)."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.awac import losses as awac_losses
from jaxrl.agents.base import set_learning_rate
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.specs import EnvSpec
from tests.helpers import LEARN_BATCH
from tests.helpers import bandit as _bandit
from tests.helpers import key_data as _key_data
from tests.networks.test_vae_and_diversity import ACT, N, _batch, _init, _np_gauss_logp

CONFIG = {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)}


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


@pytest.fixture(scope="module")
def built():
    """One traced update, reused by every test below (trace counter inside)."""
    agent = make_agent("awac", agent_config("awac", CONFIG), EnvSpec(2, 1))
    traces = []

    def update(state, batch, key):
        traces.append(1)
        if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):  # raw key data
            key = jax.random.wrap_key_data(key)
        return agent.update(state, batch, key)

    return agent, jax.jit(update), traces


def test_no_recompilation_across_the_switch(built):
    agent, update, traces = built
    state = agent.init(jax.random.key(0))
    batch = _batch(LEARN_BATCH, obs_dim=2, action_dim=1)
    keys = _key_data(1, 4)
    state, _ = update(state, batch, keys[0])
    state, _ = update(state, batch, keys[1])
    online = agent.to_online(state)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)
    online, m = update(online, batch, keys[2])
    online, m = update(online, batch, keys[3])
    assert len(traces) == 1, f"awac update traced {len(traces)} times"
    assert int(online.step) == 4
    assert all(np.isfinite(np.asarray(v)).all() for v in m.values())


def test_vmapped_update_passes_the_key_reuse_checker(built):
    agent, _, _ = built
    n = 2
    states = jax.vmap(agent.init)(jax.random.split(jax.random.key(0), n))
    batch = _batch(LEARN_BATCH, obs_dim=2, action_dim=1)
    batches = jax.tree.map(lambda x: jnp.stack([x] * n), batch)
    with jax.debug_key_reuse(True):
        keys = jax.random.split(jax.random.key(1), n)
        out, m = jax.jit(jax.vmap(agent.update))(states, batches, keys)
    assert all(np.isfinite(np.asarray(v)).all() for v in m.values())


@pytest.mark.slow
def test_learns_the_bandit_beyond_behaviour_cloning(built):
    agent, update, traces = built
    data, _ = _bandit(4096, seed=0)
    steps = 2_000
    state = agent.init(jax.random.key(0))
    state = state.replace(
        hparams=state.hparams.replace(awac_lambda=jnp.asarray(0.05, jnp.float32)),
        opt_states={k: set_learning_rate(v, 1e-3) for k, v in state.opt_states.items()},
    )
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
    assert mse < 0.04, mse
    assert len(traces) == 1
