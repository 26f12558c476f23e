"""SAC-N and EDAC (ALGORITHMS.md §15 "Agent: EDAC"): the critic loss and EDAC's diversity term
against numpy, one compilation across the switch, the key-reuse checker under vmap, and a
contextual bandit learned beyond behaviour cloning with a stated threshold."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.base import set_learning_rate
from jaxrl.agents.families import sac as family
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.sacn import losses
from jaxrl.networks import GaussianPolicy, QEnsemble
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition
from tests.helpers import bandit as _bandit

OBS, ACT, B = 3, 2, 8
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


def _np_tanh_gauss(mean, log_std, noise):
    u = mean + np.exp(log_std) * noise
    z = (u - mean) / np.exp(log_std)
    logp = np.sum(-0.5 * z**2 - log_std - 0.5 * LOG_2PI, axis=-1)
    return np.tanh(u), logp - np.sum(np.log(1 - np.tanh(u) ** 2), axis=-1)


def test_sacn_losses_match_numpy():
    critic = QEnsemble(3, (8,))
    actor = GaussianPolicy(ACT, (8,), log_std_min=-5.0)
    b = _batch()
    cp, tp = _init(critic, 0, b.obs, b.action), _init(critic, 1, b.obs, b.action)
    ap = _init(actor, 2, b.obs)
    key, alpha, gamma = lambda: jax.random.key(6), jnp.asarray(0.3), 0.95  # noqa: E731

    y = family.critic_target(tp, critic, ap, actor, b, key(), alpha, gamma)
    mean, log_std = map(N, actor.apply(ap, b.next_obs))
    a_next, logp = _np_tanh_gauss(mean, log_std, N(jax.random.normal(key(), mean.shape)))
    q_next = N(critic.apply(tp, b.next_obs, jnp.asarray(a_next, jnp.float32))).min(0)
    y_ref = N(b.reward) + gamma * (1 - N(b.terminated)) * (q_next - 0.3 * logp)
    np.testing.assert_allclose(y, y_ref, rtol=1e-4, atol=1e-5)

    loss, aux = losses.critic_loss(cp, critic, b, y, 1.0, diversity=False)
    q = N(critic.apply(cp, b.obs, b.action))
    np.testing.assert_allclose(loss, np.sum(np.mean((q - N(y)) ** 2, axis=1)), rtol=1e-5)
    assert float(aux["diversity"]) == 0.0

    loss, aux = family.actor_loss(ap, actor, cp, critic, b.obs, key(), alpha)
    mean, log_std = map(N, actor.apply(ap, b.obs))
    a, logp = _np_tanh_gauss(mean, log_std, N(jax.random.normal(key(), mean.shape)))
    q_pi = N(critic.apply(cp, b.obs, jnp.asarray(a, jnp.float32))).min(0)
    np.testing.assert_allclose(loss, np.mean(0.3 * logp - q_pi), rtol=1e-4)
    q_all = N(critic.apply(cp, b.obs, jnp.asarray(a, jnp.float32)))  # the "q_policy_std" metric
    np.testing.assert_allclose(jnp.mean(jnp.std(aux["q"], 0)), q_all.std(0).mean(), rtol=1e-4)


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
    grads = jax.grad(lambda a: jnp.sum(losses.member_q_values(cp, critic, b.obs, a)))(
        jnp.broadcast_to(b.action, (n, B, ACT))
    )
    np.testing.assert_allclose(grads, np.broadcast_to(w[:, None], (n, B, ACT)), rtol=1e-6)
    y = jnp.linspace(-1.0, 1.0, B)
    loss, aux = losses.critic_loss(cp, critic, b, y, 2.5, diversity=True)
    q = N(critic.apply(cp, b.obs, b.action))
    td = np.sum(np.mean((q - N(y)) ** 2, axis=1))
    np.testing.assert_allclose(aux["diversity"], div_ref, rtol=1e-5)
    np.testing.assert_allclose(loss, td + 2.5 * div_ref, rtol=1e-5)
    # The diversity term has a gradient on the critics' action weights (double backprop).
    g = jax.grad(lambda p: losses.critic_loss(p, critic, b, y, 1.0, True)[1]["diversity"])(cp)
    assert np.abs(N(g["params"]["VmapQNetwork_0"]["Dense_0"]["kernel"])[:, OBS:]).max() > 1e-3


# --- agents: one compilation across the switch, the key-reuse checker, learning ----------

SMALL = {"actor_hidden_dims": (16, 16), "critic_hidden_dims": (16, 16)}
CONFIGS = {"sacn": {**SMALL, "num_critics": 3}, "edac": {**SMALL, "num_critics": 3}}
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


# --- learning: a contextual bandit with a biased behaviour policy -------------------------


# Each algorithm's setting for the bandit (dynamic leaves, so no recompilation) and steps.
LEARN = {"sacn": ({}, 2_000), "edac": ({}, 2_000)}


@pytest.mark.slow
def test_learns_the_bandit_beyond_behaviour_cloning(built):
    name, agent, update, traces = built
    data, _ = _bandit(4096, seed=0)
    hp_overrides, steps = LEARN[name]
    state = agent.init(jax.random.key(0))
    # Learning rates 1e-3 for every network (leaves of the optimizer states: no recompile).
    state = state.replace(
        hparams=state.hparams.replace(
            **{k: jnp.asarray(v, jnp.float32) for k, v in hp_overrides.items()}
        ),
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
