"""The TD3 family's shared steps (`jaxrl.agents.families.td3`): hand-computed values and numpy
references for the smoothed target, the clipped double-Q target (with ReBRAC's penalty), the
critic loss, the delayed actor step, the online decay and the switch.

The hand-computed tests use stand-in networks with one scalar parameter each: the actor is
π(s) = p·s and critic j is Q_j(s, a) = w_j·Σa + Σs.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl.agents.base import AgentState, adam, set_learning_rate
from jaxrl.agents.families import td3
from jaxrl.agents.rebrac.losses import critic_bc_penalty
from jaxrl.networks import DeterministicPolicy, QEnsemble
from jaxrl.ops import bc_penalty
from jaxrl.types import Transition
from tests.agents.stand_ins import LinearActor, LinearCritics
from tests.helpers import make_hparams

N = lambda x: np.asarray(x, np.float64)  # noqa: E731


def _hand_batch(terminated=(0.0, 0.0), truncated=(0.0, 0.0)):
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f([[1.0], [-4.0]]),
        action=f([[0.5], [-0.5]]),
        reward=f([1.0, 0.0]),
        terminated=f(terminated),
        truncated=f(truncated),
        next_obs=f([[0.5], [1.0]]),
        mc_return=f([0.0, 0.0]),
        next_action=f([[0.2], [0.0]]),
    )


def _batch(n=8, seed=0, obs_dim=3, action_dim=2):
    rng = np.random.default_rng(seed)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Transition(
        obs=f(rng.normal(size=(n, obs_dim))),
        action=f(rng.uniform(-0.9, 0.9, (n, action_dim))),
        reward=f(rng.normal(size=n)),
        terminated=f(rng.random(n) < 0.3),
        truncated=f(rng.random(n) < 0.3),
        next_obs=f(rng.normal(size=(n, obs_dim))),
        mc_return=f(np.zeros(n)),
        next_action=f(rng.uniform(-0.9, 0.9, (n, action_dim))),
    )


# --- the critic -------------------------------------------------------------------------------


def test_smoothed_target_action_clips_noise_then_action():
    a = jnp.full((1000, 2), 0.8)
    out = np.asarray(td3.smoothed_target_action(a, jax.random.key(0), 100.0, 0.5))
    z = np.asarray(jax.random.normal(jax.random.key(0), a.shape))  # the same draw
    np.testing.assert_allclose(out, np.clip(0.8 + np.clip(100.0 * z, -0.5, 0.5), -1, 1), 1e-6)
    # With σ = 100 almost all noise is clipped to ±0.5: 0.8 + 0.5 → 1 (action clip), or 0.3.
    assert np.mean(np.isclose(out, 0.3) | (out == 1.0)) > 0.99
    same = td3.smoothed_target_action(a, jax.random.key(1), 0.0, 0.5)
    np.testing.assert_array_equal(same, a)


def test_td3_target_by_hand():
    """π̄(s') = 0.4·s' = [0.2, 0.4]; Q̄_j(s', ã') = w_j·ã' + s' with w = [1, 2], γ = 0.9."""
    args = (jnp.float32(0.4), jnp.array([1.0, 2.0]), LinearActor, LinearCritics)
    hp = (jnp.float32(0.9), jnp.float32(0.0), jnp.float32(0.5))  # γ, σ = 0, clip
    key = lambda: jax.random.key(0)  # noqa: E731  σ = 0: the key only has to be fresh
    # min_j Q̄_j = [0.2 + 0.5, 0.4 + 1.0] = [0.7, 1.4]; y = r + γ m min Q̄.
    y, next_action, pen = td3.td3_target(*args, _hand_batch(), key(), *hp)
    np.testing.assert_allclose(y, [1.0 + 0.9 * 0.7, 0.9 * 1.4], rtol=1e-6)
    np.testing.assert_allclose(next_action, [[0.2], [0.4]], rtol=1e-6)
    assert pen is None
    # ReBRAC: penalty ‖ã' − a'_data‖² = [0, 0.16], β_c = 0.5: min Q̄ − β_c·pen = [0.7, 1.32].
    rebrac = (critic_bc_penalty, jnp.float32(0.5))
    y, _, pen = td3.td3_target(*args, _hand_batch(), key(), *hp, *rebrac)
    np.testing.assert_allclose(y, [1.63, 0.9 * 1.32], rtol=1e-6)
    np.testing.assert_allclose(jnp.mean(pen), 0.08, rtol=1e-6)
    # A terminal drops the bootstrap; a time-limit row keeps it but drops the penalty.
    y, _, _ = td3.td3_target(*args, _hand_batch(terminated=(0, 1)), key(), *hp, *rebrac)
    np.testing.assert_allclose(y, [1.63, 0.0], rtol=1e-6)
    y, _, _ = td3.td3_target(*args, _hand_batch(truncated=(0, 1)), key(), *hp, *rebrac)
    np.testing.assert_allclose(y, [1.63, 0.9 * 1.4], rtol=1e-6)
    with pytest.raises(ValueError, match="with_next_actions"):
        batch = _hand_batch().replace(next_action=None)
        td3.td3_target(*args, batch, key(), *hp, *rebrac)


def test_critic_loss_by_hand():
    # Q_j(s, a) = w_j·a + s: Q_1 = [1.5, −4.5], Q_2 = [2.0, −5.0]; y = [1.63, 1.188].
    y = jnp.array([1.63, 1.188])
    loss, q = td3.critic_loss(jnp.array([1.0, 2.0]), LinearCritics, _hand_batch(), y)
    np.testing.assert_allclose(q, [[1.5, -4.5], [2.0, -5.0]])
    expected = (0.13**2 + 5.688**2) / 2 + (0.37**2 + 6.188**2) / 2  # Σ_j mean_batch
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


@pytest.fixture(scope="module")
def nets():
    b = _batch()
    actor, critic = DeterministicPolicy(2, (8,)), QEnsemble(3, (8,))
    k = [jax.random.key(i) for i in range(4)]
    params = {
        "actor": actor.init(k[0], b.obs),
        "critic": critic.init(k[1], b.obs, b.action),
        "target_actor": actor.init(k[2], b.obs),
        "target_critic": critic.init(k[3], b.obs, b.action),
    }
    return actor, critic, params, b


def test_td3_target_and_critic_step_match_numpy(nets):
    actor, critic, p, b = nets
    gamma, sigma, clip, beta_c = 0.99, 0.3, 0.4, 0.7
    key = lambda: jax.random.key(5)  # noqa: E731  identical fresh keys
    y, next_action, pen = td3.td3_target(
        p["target_actor"], p["target_critic"], actor, critic, b, key(), gamma, sigma, clip,
        critic_bc_penalty, beta_c,
    )  # fmt: skip
    a_t = N(actor.apply(p["target_actor"], b.next_obs))
    eps = N(jax.random.normal(key(), a_t.shape))
    a_next = np.clip(a_t + np.clip(sigma * eps, -clip, clip), -1, 1)
    np.testing.assert_allclose(next_action, a_next, rtol=1e-6, atol=1e-7)
    q_next = N(critic.apply(p["target_critic"], b.next_obs, next_action)).min(0)
    pen_ref = np.sum((a_next - N(b.next_action)) ** 2, -1) * (1 - N(b.truncated))
    np.testing.assert_allclose(pen, pen_ref, rtol=1e-5, atol=1e-7)
    y_ref = N(b.reward) + gamma * (1 - N(b.terminated)) * (q_next - beta_c * pen_ref)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    # Without a penalty the target is TD3's.
    y0, _, none = td3.td3_target(
        p["target_actor"], p["target_critic"], actor, critic, b, key(), gamma, sigma, clip
    )
    assert none is None
    np.testing.assert_allclose(y0, N(b.reward) + gamma * (1 - N(b.terminated)) * q_next, 1e-5)

    # One SGD step on Σ_j mean_B (Q_j − y)²; the loss and Q are those before the step.
    tx = optax.sgd(0.1)
    cp, _, loss, q = td3.critic_step(tx, critic, p["critic"], tx.init(p["critic"]), b, y)
    q_ref = N(critic.apply(p["critic"], b.obs, b.action))
    np.testing.assert_allclose(q, q_ref, rtol=1e-6)
    np.testing.assert_allclose(loss, np.sum(np.mean((q_ref - N(y)) ** 2, axis=1)), rtol=1e-5)
    grads = jax.grad(lambda c: td3.critic_loss(c, critic, b, y)[0])(p["critic"])
    expected = jax.tree.map(lambda w, g: w - 0.1 * g, p["critic"], grads)
    chex.assert_trees_all_close(cp, expected, rtol=1e-6)


# --- the actor --------------------------------------------------------------------------------


def test_actor_q_normalized_terms_and_regularized_loss_match_numpy():
    q_all = jnp.array([[1.0, -3.0, 2.0], [0.5, -1.0, 4.0]])
    np.testing.assert_array_equal(td3.actor_q(q_all, "first"), [1.0, -3.0, 2.0])
    np.testing.assert_array_equal(td3.actor_q(q_all, "min"), [0.5, -3.0, 2.0])
    with pytest.raises(ValueError, match="actor_q='max'; allowed"):
        td3.actor_q(q_all, "max")
    q, reg = jnp.array([1.0, -3.0, 2.0]), jnp.array([0.1, 0.4, 0.0])
    lam = 2.5 / np.mean(np.abs(N(q)))
    np.testing.assert_allclose(td3.normalized_q_weight(q, 2.5), lam, rtol=1e-6)
    np.testing.assert_allclose(td3.normalized_q_term(q, 2.5), -lam * np.mean(N(q)), rtol=1e-6)
    loss = td3.regularized_actor_loss(q, reg, 2.5, 0.5)
    np.testing.assert_allclose(loss, np.mean(0.5 * N(reg) - lam * N(q)), rtol=1e-6)
    unnormalized = td3.regularized_actor_loss(q, reg, 2.5, 0.5, normalize_q=False)
    np.testing.assert_allclose(unnormalized, np.mean(0.5 * N(reg) - 2.5 * N(q)), rtol=1e-6)
    # λ carries no gradient: d/dQ_i = −λ / B.
    g = jax.grad(lambda x: td3.regularized_actor_loss(x, reg, 2.5, 0.5))(q)
    np.testing.assert_allclose(g, np.full(3, -lam / 3), rtol=1e-6)


def test_bc_penalty_decay_and_delay_by_hand():
    pi, a = jnp.array([[0.5, 0.0], [1.0, 1.0]]), jnp.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(bc_penalty(pi, a, "sum"), [1.25, 1.0])
    np.testing.assert_allclose(bc_penalty(pi, a, "mean"), [0.625, 0.5])
    with pytest.raises(ValueError, match="allowed"):
        bc_penalty(pi, a, "max")
    steps = jnp.array([0.0, 250.0, 500.0, 900.0, 5000.0])
    np.testing.assert_allclose(
        td3.online_decay(1.0, steps, 1000.0, 0.5), [1.0, 0.75, 0.5, 0.5, 0.5]
    )
    np.testing.assert_allclose(
        td3.online_decay(1.0, steps, 1000.0, 0.0), [1.0, 0.75, 0.5, 0.1, 0.0], atol=1e-6
    )
    due = [bool(td3.policy_update_due(jnp.int32(i), 2)) for i in range(5)]
    assert due == [True, False, True, False, True]
    # SPOT counts from 1: the second, fourth, … steps are due.
    due = [bool(td3.policy_update_due(jnp.int32(i), 2, one_based=True)) for i in range(5)]
    assert due == [False, True, False, True, False]


def test_delayed_actor_step_moves_actor_and_targets_only_when_due():
    """loss(p) = (p − 3)²·c with SGD(0.1): a due step takes p to p − 0.2·c·(p − 3)."""
    tx = optax.sgd(0.1)
    p, c = jnp.float32(1.0), jnp.float32(2.0)
    targets = {"actor": jnp.float32(0.0), "critic": jnp.float32(10.0)}

    def loss_fn(params, scale):
        loss = scale * (params - 3.0) ** 2
        return loss, {"twice": 2 * loss}

    args = (loss_fn, tx, p, tx.init(p), targets, jnp.float32(20.0), 0.5)
    new_p, _, new_t, m = td3.delayed_actor_step(jnp.bool_(True), *args, operand=c)
    np.testing.assert_allclose(new_p, 1.0 - 0.1 * 2 * 2.0 * (1.0 - 3.0), rtol=1e-6)  # 1.8
    np.testing.assert_allclose(new_t["actor"], 0.5 * 0.0 + 0.5 * 1.8, rtol=1e-6)
    np.testing.assert_allclose(new_t["critic"], 0.5 * 10.0 + 0.5 * 20.0, rtol=1e-6)
    np.testing.assert_allclose([m["actor_loss"], m["twice"]], [8.0, 16.0], rtol=1e-6)
    same_p, _, same_t, m = td3.delayed_actor_step(jnp.bool_(False), *args, operand=c)
    assert float(same_p) == 1.0
    chex.assert_trees_all_equal(same_t, targets)
    np.testing.assert_allclose([m["actor_loss"], m["twice"]], [8.0, 16.0], rtol=1e-6)
    _, _, _, m = td3.delayed_actor_step(jnp.bool_(False), *args, operand=c, report_skipped=False)
    assert float(m["actor_loss"]) == 0.0 and float(m["twice"]) == 0.0


# --- the switch -------------------------------------------------------------------------------


def test_online_decay_values():
    # λ·max(λ_end, 1 − t/T) with λ = 2, T = 100, λ_end = 0.2 (SPOT's λ cooling).
    values = [float(td3.online_decay(2.0, t, 100.0, 0.2)) for t in (0, 1, 50, 80, 100, 500)]
    assert values == pytest.approx([2.0, 1.98, 1.0, 0.4, 0.4, 0.4])
    # Inactive (offline): the value itself; numpy reference for a grid of steps.
    assert float(td3.online_decay(2.0, 50.0, 100.0, 0.2, jnp.bool_(False))) == 2.0
    t = np.arange(0, 300, 7, dtype=np.float32)
    np.testing.assert_allclose(
        td3.online_decay(0.3, jnp.asarray(t), 250.0, 0.5), 0.3 * np.maximum(0.5, 1 - t / 250), 1e-6
    )


def test_steps_since_switch_and_start_online():
    params = {"actor": jnp.ones(3), "critic": jnp.ones(2)}
    txs = {"actor": adam(1e-3), "critic": adam(1e-3)}
    opt = {k: txs[k].update(params[k], txs[k].init(params[k]), params[k])[1] for k in txs}
    opt["actor"] = set_learning_rate(opt["actor"], 5e-4)
    state = AgentState(
        params=params,
        target_params=dict(params),
        opt_states=opt,
        hparams=make_hparams(),
        step=jnp.int32(40),
    )
    online = td3.start_online(state, txs, ("actor",))
    assert int(state.switch_step) == -1 and int(online.switch_step) == 40
    assert int(online.opt_states["actor"].inner_state[0].count) == 0
    np.testing.assert_allclose(online.opt_states["actor"].hyperparams["learning_rate"], 5e-4)
    chex.assert_trees_all_equal(online.opt_states["critic"], state.opt_states["critic"])
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)
    t = td3.steps_since_switch(jnp.int32(45), online.switch_step.astype(jnp.float32))
    assert t.dtype == jnp.float32 and float(t) == 5.0
    assert float(td3.steps_since_switch(jnp.int32(40), jnp.float32(40.0), first=1.0)) == 1.0


def test_act_adds_clipped_exploration_noise(nets):
    actor, _, p, b = nets
    act = td3.td3_act(actor)
    act_clipped = td3.td3_act(actor, clip_noise=True)
    hp = make_hparams(exploration_noise=5.0, noise_clip=0.1)
    state = AgentState({"actor": p["actor"]}, {}, {}, hp, jnp.int32(0))
    obs = b.obs[0]
    mean = N(actor.apply(p["actor"], obs))
    np.testing.assert_array_equal(act(state, obs, jax.random.key(0), True), mean)
    eps = N(jax.random.normal(jax.random.key(1), mean.shape))
    np.testing.assert_allclose(
        act(state, obs, jax.random.key(1), False), np.clip(mean + 5.0 * eps, -1, 1), 1e-6
    )
    np.testing.assert_allclose(
        act_clipped(state, obs, jax.random.key(1), False),
        np.clip(mean + np.clip(5.0 * eps, -0.1, 0.1), -1, 1),
        1e-6,
    )


def _agent_state(params, txs, step=0, **hparams):
    return AgentState(
        params=params,
        target_params=dict(params),
        opt_states={k: txs[k].init(params[k]) for k in txs},
        hparams=make_hparams(**hparams),
        step=jnp.int32(step),
    )


def test_state_level_steps_read_the_state(nets):
    """critic_update, actor_update and online_weight are their parts applied to the state's
    params, optimizer states, targets and hyperparameter leaves."""
    actor, critic, p, b = nets
    txs = {"actor": optax.sgd(0.1), "critic": optax.sgd(0.1)}
    params = {"actor": p["actor"], "critic": p["critic"]}
    hp = dict(discount=0.9, policy_noise=0.2, noise_clip=0.5, tau=0.25)
    state = _agent_state(params, txs, step=3, **hp)
    state = state.replace(target_params={"actor": p["target_actor"], "critic": p["target_critic"]})
    key = lambda: jax.random.key(9)  # noqa: E731
    c = td3.critic_update(state, txs["critic"], actor, critic, b, key())
    y, a_next, pen = td3.td3_target(
        p["target_actor"], p["target_critic"], actor, critic, b, key(), 0.9, 0.2, 0.5
    )
    cp, c_opt, loss, q = td3.critic_step(
        txs["critic"], critic, p["critic"], state.opt_states["critic"], b, y
    )
    chex.assert_trees_all_equal((c.params, c.opt_state, c.loss, c.q), (cp, c_opt, loss, q))
    chex.assert_trees_all_equal((c.target, c.next_action), (y, a_next))
    assert c.penalty is None and pen is None

    def loss_fn(ap, _):
        pi = actor.apply(ap, b.obs)
        return -jnp.mean(critic.apply(cp, b.obs, pi)[0]), {}

    # Step 3 with delay 2: not due (0-based), due when counted from 1.
    for one_based, due in ((False, False), (True, True)):
        got = td3.actor_update(state, loss_fn, txs["actor"], cp, 2, one_based)
        want = td3.delayed_actor_step(
            jnp.bool_(due), loss_fn, txs["actor"], p["actor"], state.opt_states["actor"],
            state.target_params, cp, jnp.float32(0.25),
        )  # fmt: skip
        chex.assert_trees_all_equal(got, want)

    # online_weight: offline the value; after the switch at step 100 the linear decay.
    assert float(td3.online_weight(state, 0.4, 1000.0, 0.5)) == pytest.approx(0.4)
    online = td3.start_online(state.replace(step=jnp.int32(100)))
    for step, w in ((100, 0.4), (350, 0.3), (2000, 0.2)):
        got = td3.online_weight(online.replace(step=jnp.int32(step)), 0.4, 1000.0, 0.5)
        np.testing.assert_allclose(got, w, rtol=1e-6)
