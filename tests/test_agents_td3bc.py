"""BC / %BC, TD3+BC and ReBRAC: hand-computed losses, policy delay, the online BC decay, no
recompilation across the switch, the data transforms they need, and small learning problems.

The loss tests use stand-in networks with one scalar parameter each, so every value below is
worked out by hand: the actor is π(s) = p·s and critic j is Q_j(s, a) = w_j·a + s.
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.bc import losses as bc_losses
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.td3bc import losses
from jaxrl.agents.td3bc.agent import bc_coefficients
from jaxrl.config import TrainConfig
from jaxrl.data.trajectories import top_trajectory_mask, trajectory_returns, with_next_actions
from jaxrl.networks import GaussianPolicy
from jaxrl.ops import bc_decay, bc_penalty, policy_update_due, smoothed_target_action
from jaxrl.run import run
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition
from tests.helpers import TINY

SPEC = EnvSpec(obs_dim=3, action_dim=2)


class LinearActor:
    """π(s) = p · s (a stand-in with the `apply` signature of a Linen module)."""

    @staticmethod
    def apply(p, obs):
        return p * obs


class LinearCritics:
    """Q_j(s, a) = w_j · Σa + Σs for w = params, stacked on axis 0 like `QEnsemble`."""

    @staticmethod
    def apply(w, obs, action):
        return w[:, None] * jnp.sum(action, -1)[None] + jnp.sum(obs, -1)[None]


def _hand_batch(terminated=(0.0, 0.0), truncated=(0.0, 0.0)):
    f = lambda x: jnp.asarray(x, jnp.float32)
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


# --- ops ------------------------------------------------------------------------------------


def test_smoothed_target_action_clips_noise_then_action():
    a = jnp.full((1000, 2), 0.8)
    out = np.asarray(smoothed_target_action(a, jax.random.key(0), 100.0, 0.5))
    z = np.asarray(jax.random.normal(jax.random.key(0), a.shape))  # the same draw
    np.testing.assert_allclose(out, np.clip(0.8 + np.clip(100.0 * z, -0.5, 0.5), -1, 1), 1e-6)
    # With σ = 100 almost all noise is clipped to ±0.5: 0.8 + 0.5 → 1 (action clip), or 0.3.
    assert np.mean(np.isclose(out, 0.3) | (out == 1.0)) > 0.99
    same = smoothed_target_action(a, jax.random.key(1), 0.0, 0.5)
    np.testing.assert_array_equal(same, a)


def test_bc_penalty_decay_and_delay_by_hand():
    pi, a = jnp.array([[0.5, 0.0], [1.0, 1.0]]), jnp.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(bc_penalty(pi, a, "sum"), [1.25, 1.0])
    np.testing.assert_allclose(bc_penalty(pi, a, "mean"), [0.625, 0.5])
    with pytest.raises(ValueError, match="allowed"):
        bc_penalty(pi, a, "max")
    steps = jnp.array([0.0, 250.0, 500.0, 900.0, 5000.0])
    np.testing.assert_allclose(bc_decay(steps, 1000.0, 0.5), [1.0, 0.75, 0.5, 0.5, 0.5])
    np.testing.assert_allclose(bc_decay(steps, 1000.0, 0.0), [1.0, 0.75, 0.5, 0.1, 0.0], atol=1e-6)
    due = [bool(policy_update_due(jnp.int32(i), 2)) for i in range(5)]
    assert due == [True, False, True, False, True]


# --- losses by hand ---------------------------------------------------------------------------


def test_td3_target_by_hand():
    """π̄(s') = 0.4·s' = [0.2, 0.4]; Q̄_j(s', ã') = w_j·ã' + s' with w = [1, 2], γ = 0.9."""
    args = (jnp.float32(0.4), jnp.array([1.0, 2.0]), LinearActor, LinearCritics)
    hp = (jnp.float32(0.9), jnp.float32(0.0), jnp.float32(0.5))  # γ, σ = 0, clip
    key = lambda: jax.random.key(0)  # σ = 0: the key only has to be fresh
    # min_j Q̄_j = [0.2 + 0.5, 0.4 + 1.0] = [0.7, 1.4]; y = r + γ m min Q̄.
    y, pen = losses.td3_target(*args, _hand_batch(), key(), *hp, 0.0)
    np.testing.assert_allclose(y, [1.0 + 0.9 * 0.7, 0.9 * 1.4], rtol=1e-6)
    assert float(pen) == 0.0
    # ReBRAC: penalty ‖ã' − a'_data‖² = [0, 0.16], β_c = 0.5: min Q̄ − β_c·pen = [0.7, 1.32].
    y, pen = losses.td3_target(*args, _hand_batch(), key(), *hp, jnp.float32(0.5))
    np.testing.assert_allclose(y, [1.63, 0.9 * 1.32], rtol=1e-6)
    np.testing.assert_allclose(pen, 0.08, rtol=1e-6)
    # A terminal drops the bootstrap; a time-limit row keeps it but drops the penalty.
    y, _ = losses.td3_target(*args, _hand_batch(terminated=(0, 1)), key(), *hp, jnp.float32(0.5))
    np.testing.assert_allclose(y, [1.63, 0.0], rtol=1e-6)
    y, _ = losses.td3_target(*args, _hand_batch(truncated=(0, 1)), key(), *hp, jnp.float32(0.5))
    np.testing.assert_allclose(y, [1.63, 0.9 * 1.4], rtol=1e-6)
    with pytest.raises(ValueError, match="with_next_actions"):
        batch = _hand_batch().replace(next_action=None)
        losses.td3_target(*args, batch, key(), *hp, jnp.float32(0.5))


def test_critic_loss_by_hand():
    # Q_j(s, a) = w_j·a + s: Q_1 = [1.5, −4.5], Q_2 = [2.0, −5.0]; y = [1.63, 1.188].
    y = jnp.array([1.63, 1.188])
    loss, q = losses.critic_loss(jnp.array([1.0, 2.0]), LinearCritics, _hand_batch(), y)
    np.testing.assert_allclose(q, [[1.5, -4.5], [2.0, -5.0]])
    expected = (0.13**2 + 5.688**2) / 2 + (0.37**2 + 6.188**2) / 2  # Σ_j mean_batch
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_td3bc_actor_loss_and_gradient_by_hand():
    """π(s) = 0.4·s = [0.4, −1.6]; Q_1(s, π) = [1.4, −5.6]; bc = [0.01, 1.21]."""
    w = jnp.array([1.0, 2.0])
    args = (w, LinearActor, LinearCritics, _hand_batch(), jnp.float32(2.5), jnp.float32(1.0))
    loss, aux = losses.actor_loss(jnp.float32(0.4), *args, "first", "mean")
    # λ = 2.5 / mean|Q_1| = 2.5 / 3.5; loss = mean bc − λ mean Q_1 = 0.61 + 1.5.
    np.testing.assert_allclose(loss, 2.11, rtol=1e-6)
    np.testing.assert_allclose(aux["bc_mse"], 0.61, rtol=1e-6)
    # λ is a constant for the gradient: d/dp = mean 2(ps − a)s − λ w_1 mean s = 4.3 + 1.5/1.4.
    grad = jax.grad(lambda p: losses.actor_loss(p, *args, "first", "mean")[0])(jnp.float32(0.4))
    np.testing.assert_allclose(grad, 4.3 + (2.5 / 3.5) * 1.5, rtol=1e-6)


def test_rebrac_actor_loss_by_hand():
    """min_j Q_j(s, π) = [1.4, −7.2]; λ = 1 / 4.3; β = 0.1; bc summed over |A| = 1."""
    w = jnp.array([1.0, 2.0])
    loss, aux = losses.actor_loss(
        jnp.float32(0.4),
        w,
        LinearActor,
        LinearCritics,
        _hand_batch(),
        jnp.float32(1.0),
        jnp.float32(0.1),
        "min",
        "sum",
    )
    np.testing.assert_allclose(loss, 0.1 * 0.61 + 2.9 / 4.3, rtol=1e-6)
    np.testing.assert_allclose(aux["actor_q"], -2.9, rtol=1e-6)


def test_bc_losses_by_hand_and_against_numpy():
    batch = _hand_batch()
    # π = [0.4, −1.6] vs a = [0.5, −0.5]: mean squared error 0.61.
    loss = bc_losses.deterministic_bc_loss(jnp.float32(0.4), LinearActor, batch)
    np.testing.assert_allclose(loss, 0.61, rtol=1e-6)
    policy = GaussianPolicy(2, (8,))
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)), jnp.float32)
    act = jnp.asarray([[0.1, -0.2], [0.5, 0.0], [-0.9, 0.3], [0.0, 0.99]], jnp.float32)
    params = policy.init(jax.random.key(0), obs)
    mean, log_std = (np.asarray(x, np.float64) for x in policy.apply(params, obs))
    u = np.arctanh(np.asarray(act, np.float64))
    logp = np.sum(
        -0.5 * ((u - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi), -1
    ) - np.sum(np.log(1 - np.tanh(u) ** 2), -1)
    b = batch.replace(obs=obs, action=act)
    np.testing.assert_allclose(
        bc_losses.gaussian_bc_loss(params, policy, b), -logp.mean(), rtol=1e-4
    )


# --- agents -----------------------------------------------------------------------------------


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    f = lambda x: jnp.asarray(x, jnp.float32)
    return Transition(
        obs=f(rng.normal(size=(n, 3))),
        action=f(rng.uniform(-0.9, 0.9, (n, 2))),
        reward=f(rng.normal(size=n)),
        terminated=f(rng.random(n) < 0.1),
        truncated=f(np.zeros(n)),
        next_obs=f(rng.normal(size=(n, 3))),
        mc_return=f(np.zeros(n)),
        next_action=f(rng.uniform(-0.9, 0.9, (n, 2))),
    )


@pytest.fixture(scope="module")
def agents():
    """Each agent with a jitted update whose traces are counted, built once per module."""
    out = {}
    for name in ("bc", "td3bc", "rebrac"):
        agent = make_agent(name, agent_config(name, TINY[name]), SPEC)
        traces = []

        def counted(state, batch, key, agent=agent, traces=traces):
            traces.append(1)
            return agent.update(state, batch, key)

        out[name] = (name, agent, jax.jit(counted), traces)
    return out


@pytest.fixture(params=["bc", "td3bc", "rebrac"])
def built(request, agents):
    return agents[request.param]


def test_policy_delay_keeps_actor_and_targets_between_policy_steps(built):
    name, agent, update, _ = built
    if name == "bc":
        return
    s0 = agent.init(jax.random.key(0))
    s1, _ = update(s0, _batch(seed=1), jax.random.key(1))  # step 0: actor and targets move
    s2, _ = update(s1, _batch(seed=2), jax.random.key(2))  # step 1: critic only
    s3, _ = update(s2, _batch(seed=3), jax.random.key(3))  # step 2: actor again
    changed = lambda a, b: (
        not all(
            np.array_equal(x, y)
            for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
        )
    )
    assert changed(s0.params["actor"], s1.params["actor"])
    assert changed(s0.target_params, s1.target_params)
    chex.assert_trees_all_equal(s1.params["actor"], s2.params["actor"])
    chex.assert_trees_all_equal(s1.opt_states["actor"], s2.opt_states["actor"])
    chex.assert_trees_all_equal(s1.target_params, s2.target_params)
    assert changed(s1.params["critic"], s2.params["critic"])
    assert changed(s2.params["actor"], s3.params["actor"])
    # Targets start equal to the online networks and move by Polyak averaging (τ = 0.005).
    chex.assert_trees_all_equal(s0.target_params, s0.params)


def test_no_recompilation_across_the_switch(built):
    name, agent, update, traces = built
    switch = jax.jit(agent.to_online)
    state = agent.init(jax.random.key(0))
    state, _ = update(state, _batch(seed=1), jax.random.key(1))
    n = len(traces)
    online = switch(state)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)
    chex.assert_trees_all_equal(online.params, state.params)
    for i in range(3):
        online, metrics = update(online, _batch(seed=2 + i), jax.random.key(2 + i))
    assert len(traces) == n  # the offline trace serves the online phase
    assert all(np.isfinite(np.asarray(v)).all() for v in metrics.values())
    if name == "bc":  # online_actor_lr = 0: the switch freezes the policy
        chex.assert_trees_all_equal(online.params, switch(state).params)


def test_rebrac_bc_coefficients_decay_online(agents):
    _, agent, update, traces = agents["rebrac"]
    state = agent.init(jax.random.key(0))
    hp = {**state.hparams, "actor_bc_coef": jnp.float32(0.2), "bc_decay_steps": jnp.float32(1e3)}
    state = state.replace(hparams=hp, step=jnp.int32(100))
    np.testing.assert_allclose(bc_coefficients(state), [0.2, 0.01], rtol=1e-6)
    online = jax.jit(agent.to_online)(state)
    assert float(online.hparams["online_start"]) == 100.0
    for step, coef in ((100, 0.2), (350, 0.15), (600, 0.1), (2000, 0.1)):
        actor_bc, critic_bc = bc_coefficients(online.replace(step=jnp.int32(step)))
        np.testing.assert_allclose(actor_bc, coef, rtol=1e-6)
        assert float(critic_bc) == 0.0
    # The update reports the coefficient it used.
    _, m = update(online.replace(step=jnp.int32(350)), _batch(), jax.random.key(1))
    np.testing.assert_allclose(m["actor_bc_coef"], 0.15, rtol=1e-6)
    assert float(m["critic_bc_coef"]) == 0.0


def test_td3bc_keeps_its_bc_weight_online_and_can_reset_optimizers(agents):
    _, agent, update, _ = agents["td3bc"]
    state, _ = update(agent.init(jax.random.key(0)), _batch(), jax.random.key(1))
    assert int(state.opt_states["actor"].inner_state[0].count) == 1
    online = agent.to_online(state.replace(step=jnp.int32(10)))
    actor_bc, _ = bc_coefficients(online.replace(step=jnp.int32(10_000)))
    assert float(actor_bc) == 1.0  # min_decay_coef = 1: TD3+BC's loss is unchanged online
    chex.assert_trees_all_equal(online.opt_states, state.opt_states)
    cfg = agent_config("td3bc", {**TINY["td3bc"], "reset_optimizers": True})
    resetting = make_agent("td3bc", cfg, SPEC)
    lr = {"learning_rate": jnp.float32(1e-3)}
    opt = state.opt_states["actor"]
    state = state.replace(opt_states={**state.opt_states, "actor": opt._replace(hyperparams=lr)})
    online = resetting.to_online(state)
    assert int(online.opt_states["actor"].inner_state[0].count) == 0
    np.testing.assert_allclose(online.opt_states["actor"].hyperparams["learning_rate"], 1e-3)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="top_fraction=0.0 must lie in"):
        make_agent("bc", agent_config("bc", {"top_fraction": 0.0}), SPEC)
    with pytest.raises(ValueError, match="actor_q='max'; allowed"):
        make_agent("td3bc", agent_config("td3bc", {"actor_q": "max"}), SPEC)
    with pytest.raises(ValueError, match="policy='beta'; allowed"):
        make_agent("bc", agent_config("bc", {"policy": "beta"}), SPEC)


# --- data transforms --------------------------------------------------------------------------


def _episodes_dataset():
    """Episode A: rewards [0, 0, 8] (terminal); B: [3, 0, 0] (time-out); C: [1] (time-out)."""
    r = np.array([0, 0, 8, 3, 0, 0, 1], np.float32)
    return data.from_arrays(
        {
            "observations": np.arange(7, dtype=np.float32)[:, None],
            "next_observations": np.arange(1, 8, dtype=np.float32)[:, None],
            "actions": np.linspace(-0.6, 0.6, 7, dtype=np.float32)[:, None],
            "rewards": r,
            "terminals": np.array([0, 0, 1, 0, 0, 0, 0]),
            "timeouts": np.array([0, 0, 0, 0, 0, 1, 1]),
        }
    )


def test_top_trajectories_rank_by_discounted_return():
    ds = _episodes_dataset()
    returns, episode = trajectory_returns(ds, 0.5)
    np.testing.assert_allclose(returns, [2.0, 3.0, 1.0])  # 8·0.25, 3, 1
    np.testing.assert_array_equal(episode, [0, 0, 0, 1, 1, 1, 2])
    # One third of three episodes keeps one: B under γ = 0.5, A undiscounted.
    np.testing.assert_array_equal(top_trajectory_mask(ds, 1 / 3, 0.5), [0, 0, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(top_trajectory_mask(ds, 1 / 3, 1.0), [1, 1, 1, 0, 0, 0, 0])
    # int(0.2 · 3) = 0 still keeps the best episode, as CORL's max(1, ·) does.
    assert top_trajectory_mask(ds, 0.2, 1.0).sum() == 3
    assert top_trajectory_mask(ds, 1.0).all()
    with pytest.raises(ValueError, match="must lie in"):
        top_trajectory_mask(ds, 1.5)


def test_next_actions_stay_within_episodes():
    ds = with_next_actions(_episodes_dataset())
    a = ds.transitions.action[:, 0]
    expected = np.array([a[1], a[2], a[2], a[4], a[5], a[5], a[6]])
    np.testing.assert_allclose(ds.transitions.next_action[:, 0], expected)


# --- learning (slow) --------------------------------------------------------------------------


def _final_returns(summary):
    ref = summary["reference_returns"]
    return [
        ref["random"] + r["final_score"] / 100 * (ref["expert"] - ref["random"])
        for r in summary["runs"]
    ]


@pytest.fixture(scope="module")
def pendulum_data(tmp_path_factory):
    """PD-expert data (return ~200), and a copy in which every other episode has uniform
    random actions and zero rewards (for BC, which reads only (s, a) and episode returns,
    the dynamics need not match). Returns the two paths and their mean episode returns."""
    from tests.test_learning import pd_expert_dataset  # same program: one compilation

    expert = pd_expert_dataset()
    folder = tmp_path_factory.mktemp("pendulum")
    data.save_hdf5(expert, folder / "expert.hdf5")
    t = expert.transitions
    _, episode = trajectory_returns(expert)
    bad = (episode % 2 == 1)[:, None]
    rng = np.random.default_rng(0)
    mixed = data.Dataset(
        t.replace(
            action=np.where(bad, rng.uniform(-1, 1, t.action.shape), t.action).astype(np.float32),
            reward=np.where(bad[:, 0], 0.0, t.reward).astype(np.float32),
        ),
        dict(expert.metadata),
    )
    data.save_hdf5(mixed, folder / "mixed.hdf5")
    returns = (np.mean(data.episode_returns(expert)), np.mean(data.episode_returns(mixed)))
    return str(folder / "expert.hdf5"), str(folder / "mixed.hdf5"), returns


def _learning_config(algo, path, agent, **fields):
    values = dict(
        algo=algo,
        agent=agent_config(algo, agent),
        task="inverted_pendulum",
        dataset=path,
        seeds=(0,),
        offline_steps=2_000,
        online_steps=0,
        chunk_length=1_000,
        eval_every=3_000,
        eval_episodes=5,
        keep_checkpoints=0,
    )
    values.update(fields)
    return TrainConfig(**values)


@pytest.mark.slow
def test_50pct_bc_imitates_the_expert_half_of_mixed_data(pendulum_data, tmp_path):
    _, mixed, (expert_return, mixed_return) = pendulum_data
    assert expert_return > 150 and mixed_return < 0.6 * expert_return  # half the episodes are bad
    config = _learning_config("bc", mixed, {"hidden_dims": (64, 64), "top_fraction": 0.5})
    summary = run(config, tmp_path, progress=False)
    # Stated threshold: 150 of the possible 200 (random policy: ~21).
    assert min(_final_returns(summary)) >= 150, _final_returns(summary)


@pytest.mark.slow
def test_td3bc_offline_on_pd_expert_data(pendulum_data, tmp_path):
    path, _, _ = pendulum_data
    agent = {"actor_hidden_dims": (64, 64), "critic_hidden_dims": (64, 64)}
    config = _learning_config("td3bc", path, agent, seeds=(0, 1), offline_steps=3_000)
    summary = run(config, tmp_path, progress=False)
    # Stated threshold: 150 of the possible 200 for both seeds (measured: 200 and 200; after
    # 2000 steps one seed still scored 13).
    assert min(_final_returns(summary)) >= 150, _final_returns(summary)


@pytest.mark.slow
def test_rebrac_offline_then_online(pendulum_data, tmp_path):
    path, _, _ = pendulum_data
    agent = {
        "actor_hidden_dims": (64, 64),
        "critic_hidden_dims": (64, 64),
        "actor_bc_coef": 0.1,
        "bc_decay_steps": 1_000,
    }
    config = _learning_config(
        "rebrac",
        path,
        agent,
        seeds=(0, 1),
        offline_steps=3_000,
        online_steps=1_000,
        retention="mixed",
        offline_ratio=0.5,
    )
    run(config, tmp_path, progress=False)
    records = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    offline = [r["eval_return"] for r in records if r["step"] == 3_000]
    # Stated threshold: both seeds at least 100 (random ~21) after 3000 offline steps (measured
    # 139 and 127). 1000 online steps are too few for a stated online threshold (measured 200
    # and 35); the online phase is checked for its BC schedule and finite losses.
    assert min(offline) >= 100, offline
    online = [r for r in records if r["phase"] == "online"]
    assert all(np.isfinite(r["critic_loss"]) and np.isfinite(r["eval_return"]) for r in online)
    # Mean coefficient over the online chunk: 0.1 · mean(max(0.5, 1 − k/1000)), k < 1000.
    expected = 0.1 * np.mean(np.maximum(0.5, 1 - np.arange(1000) / 1000))
    np.testing.assert_allclose(online[-1]["actor_bc_coef"], expected, rtol=1e-3)
    assert online[-1]["critic_bc_coef"] == 0.0
