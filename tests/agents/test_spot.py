"""SPOT: its losses against plain-numpy references, λ and its cooling, the VAE/TD3 phases and the
switch, one compilation across the switch, the key-reuse checker under the run-axis vmap, and a
small learning problem with a stated threshold."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.base import AgentState, set_learning_rate
from jaxrl.agents.families import td3
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.spot import losses as spot_losses
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble, vae_neg_elbo
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition
from tests.helpers import LEARN_BATCH, make_hparams
from tests.helpers import bandit as _bandit
from tests.helpers import key_data as _key_data

OBS, ACT, B = 3, 2, 8
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


# --- losses -----------------------------------------------------------------------------------


def test_vae_loss_is_the_mean_one_sample_neg_elbo(vae_setup):
    vae, params, b = vae_setup
    key = lambda: jax.random.key(3)  # noqa: E731  identical fresh keys
    # The VAE training loss is the batch mean of the one-sample negative ELBO.
    loss, _ = spot_losses.vae_loss(params, vae, b, key(), 0.5)
    np.testing.assert_allclose(
        loss, np.mean(vae_neg_elbo(params, vae, b.obs, b.action, key(), 0.5))
    )
    eps = jax.random.normal(key(), (1, B, 2 * ACT))
    mean, log_std, _, recon = _np_encode_decode(vae, params, b.obs, b.action, eps)
    recon_loss = np.mean((recon - N(b.action)[None]) ** 2, axis=(0, 2))
    kl = np.mean(-0.5 * (1 + 2 * log_std - mean**2 - np.exp(2 * log_std)), axis=-1)
    np.testing.assert_allclose(loss, np.mean(recon_loss + 0.5 * kl), rtol=1e-5)


def test_spot_losses_match_numpy(vae_setup):
    vae, vp, b = vae_setup
    critic = QEnsemble(2, (8,))
    actor = DeterministicPolicy(ACT, (8,))
    cp, tp = _init(critic, 0, b.obs, b.action), _init(critic, 1, b.obs, b.action)
    ap, tap = _init(actor, 2, b.obs), _init(actor, 3, b.obs)
    key, gamma = lambda: jax.random.key(7), 0.99  # noqa: E731

    # The critic is the TD3 family's: TD3 target at the smoothed target action, Σ_j MSE.
    y, _, _ = td3.td3_target(tap, tp, actor, critic, b, key(), gamma, 0.2, 0.5)
    loss, _ = td3.critic_loss(cp, critic, b, y)
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


def test_actor_dropout_is_torch_dropout_on_each_hidden_layer():
    """thuml/SPOT's actor: Linear → Dropout(p) → ReLU per hidden layer, in training only."""
    b, p = _batch(), 0.25
    plain, dropping = (
        DeterministicPolicy(ACT, (8, 8)),
        DeterministicPolicy(ACT, (8, 8), dropout_rate=p),
    )
    params = _init(plain, 2, b.obs)
    assert jax.tree.structure(_init(dropping, 2, b.obs)) == jax.tree.structure(params)
    # Without a key (acting, evaluation) the dropping actor is the plain one.
    np.testing.assert_array_equal(dropping.apply(params, b.obs), plain.apply(params, b.obs))
    key = jax.random.key(5)
    w = params["params"]
    x = N(b.obs)
    for i, name in enumerate(("Dense_0", "Dense_1")):
        layer = w["MLP_0"][name]
        z = x @ N(layer["kernel"]) + N(layer["bias"])
        keep = N(jax.random.bernoulli(jax.random.fold_in(key, i), 1 - p, z.shape))
        x = np.maximum(z * keep / (1 - p), 0.0)
    ref = np.tanh(x @ N(w["Dense_0"]["kernel"]) + N(w["Dense_0"]["bias"]))
    np.testing.assert_allclose(dropping.apply(params, b.obs, key), ref, rtol=1e-5, atol=1e-6)
    # The mask keeps a fraction 1 − p and rescales what it keeps.
    from jaxrl.networks.mlp import dropout

    ones = jnp.ones((200_000,))
    dropped = N(dropout(ones, p, jax.random.key(0)))
    assert abs(np.mean(dropped == 0.0) - p) < 0.005
    np.testing.assert_allclose(dropped[dropped > 0], 1 / (1 - p), rtol=1e-6)


def test_actor_dropout_enters_the_update_not_the_actions():
    """With dropout 0.1 the update moves otherwise than without, and acting stays deterministic."""
    config = {**CONFIG, "vae_steps": 0}
    spec, b = EnvSpec(OBS, ACT), _batch()
    agents = {
        rate: make_agent("spot", agent_config("spot", {**config, "actor_dropout": rate}), spec)
        for rate in (0.0, 0.1)
    }
    states = {rate: a.init(jax.random.key(0)) for rate, a in agents.items()}
    chex.assert_trees_all_equal(states[0.0].params, states[0.1].params)
    updates = {r: jax.jit(a.update) for r, a in agents.items()}
    for _ in range(2):  # the second step updates the actor (policy_delay 2)
        states = {r: updates[r](states[r], b, jax.random.key(1))[0] for r in states}
    assert not np.allclose(
        states[0.0].params["actor"]["params"]["Dense_0"]["kernel"],
        states[0.1].params["actor"]["params"]["Dense_0"]["kernel"],
    )
    acted = agents[0.1].act(states[0.1], b.obs, jax.random.key(2), True)
    no_dropout = DeterministicPolicy(ACT, CONFIG["actor_hidden_dims"], output_scale=1e-2)
    np.testing.assert_allclose(acted, no_dropout.apply(states[0.1].params["actor"], b.obs))
    with pytest.raises(ValueError, match=r"actor_dropout=1.0.*\[0, 1\)"):
        make_agent("spot", agent_config("spot", {**config, "actor_dropout": 1.0}), spec)


def test_current_lambda_matches_numpy():
    """λ offline; online (and cooling) λ·max(λ_end, 1 − t/T), t = step − switch + 1."""
    hp = make_hparams(lambd=0.3, lambd_end=0.25, cool_steps=40.0)
    state = AgentState(params={}, target_params={}, opt_states={}, hparams=hp, step=jnp.int32(0))
    steps = np.arange(100, 160, 3)
    got = [float(spot_losses.current_lambda(state, True, jnp.int32(s))) for s in steps]
    np.testing.assert_allclose(got, 0.3, rtol=1e-6)
    state = state.replace(switch_step=jnp.int32(100))
    got = [float(spot_losses.current_lambda(state, True, jnp.int32(s))) for s in steps]
    t = steps - 100 + 1
    np.testing.assert_allclose(got, 0.3 * np.maximum(0.25, 1 - t / 40), rtol=1e-6)
    # cooling off: λ stays
    assert float(spot_losses.current_lambda(state, False, jnp.int32(130))) == pytest.approx(0.3)


# --- the agent --------------------------------------------------------------------------------

CONFIG = {
    "actor_hidden_dims": (16, 16),
    "critic_hidden_dims": (16, 16),
    "vae_hidden_dims": (16, 16),
    "vae_steps": 300,
    "policy_delay": 2,
}


@pytest.fixture(scope="module")
def built():
    """One traced update, reused by every test below (trace counter inside)."""
    agent = make_agent("spot", agent_config("spot", CONFIG), EnvSpec(2, 1))
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
    assert len(traces) == 1, f"spot update traced {len(traces)} times"
    assert int(online.step) == 4
    assert all(np.isfinite(np.asarray(v)).all() for v in m.values())


def test_vmapped_update_passes_the_key_reuse_checker(built):
    """Under the run-axis vmap every `lax.cond` becomes a select that runs both branches; no
    key may then be consumed twice (SPOT's VAE/TD3 phase cond once did)."""
    agent, _, _ = built
    n = 2
    states = jax.vmap(agent.init)(jax.random.split(jax.random.key(0), n))
    batch = _batch(LEARN_BATCH, obs_dim=2, action_dim=1)
    batches = jax.tree.map(lambda x: jnp.stack([x] * n), batch)
    with jax.debug_key_reuse(True):
        keys = jax.random.split(jax.random.key(1), n)
        out, m = jax.jit(jax.vmap(agent.update))(states, batches, keys)
    assert all(np.isfinite(np.asarray(v)).all() for v in m.values())


def test_spot_phases_and_switch(built):
    agent, update, _ = built
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
    hp = s3.hparams.replace(online_discount=jnp.float32(0.995), cool_steps=jnp.float32(10.0))
    on = agent.to_online(s3.replace(hparams=hp))
    assert float(on.hparams.discount) == pytest.approx(0.995)
    assert int(on.opt_states["actor"].inner_state[0].count) == 0
    assert int(on.opt_states["critic"].inner_state[0].count) == 0
    assert int(on.opt_states["vae"].inner_state[0].count) > 0
    lr = lambda s: float(s.opt_states["actor"].hyperparams["learning_rate"])  # noqa: E731
    assert lr(on) == lr(s3)
    # λ_t = 0.05·max(0.2, 1 − t/10), t = 1, 2, … from the first online update.
    lams = [float(spot_losses.current_lambda(on, True, on.step + i)) for i in (0, 1, 4, 9, 20)]
    assert lams == pytest.approx([0.045, 0.04, 0.025, 0.01, 0.01])
    s4, m4 = update(on, batch, _key_data(4, 1)[0])
    _, m5 = update(s4, batch, _key_data(5, 1)[0])
    assert [float(m4["lambd"]), float(m5["lambd"])] == pytest.approx([0.045, 0.04])


# --- learning: a contextual bandit with a biased behaviour policy -------------------------


@pytest.mark.slow
def test_learns_the_bandit_beyond_behaviour_cloning(built):
    agent, update, traces = built
    data, _ = _bandit(4096, seed=0)
    hp_overrides, steps = {"lambd": 0.05}, 300 + 2_000
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
    assert mse < 0.04, ("spot", mse)
    assert len(traces) == 1
