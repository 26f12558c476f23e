"""TD3+BC: its actor loss by hand and against numpy, the policy delay, no recompilation across
the switch, its BC weight online, and a small learning problem.

The hand-computed loss tests use stand-in networks with one scalar parameter each: the actor is
π(s) = p·s and critic j is Q_j(s, a) = w_j·Σa + Σs.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.td3bc import losses
from jaxrl.agents.td3bc.agent import bc_coefficients
from jaxrl.config import TrainConfig
from jaxrl.networks import DeterministicPolicy, QEnsemble
from jaxrl.run import run
from jaxrl.specs import EnvSpec
from tests.agents.stand_ins import LinearActor, LinearCritics
from tests.agents.stand_ins import hand_batch as _hand_batch
from tests.agents.stand_ins import random_batch as _batch
from tests.helpers import TINY

SPEC = EnvSpec(obs_dim=3, action_dim=2)
N = lambda x: np.asarray(x, np.float64)  # noqa: E731


# --- losses -----------------------------------------------------------------------------------


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


def test_actor_loss_matches_numpy():
    """mean[β ‖π(s) − a‖²/|A| − α Q_1(s, π(s)) / mean|Q_1|] with real networks."""
    b = _batch(8, seed=3)
    actor, critic = DeterministicPolicy(2, (8,)), QEnsemble(2, (8,))
    ap = actor.init(jax.random.key(0), b.obs)
    cp = critic.init(jax.random.key(1), b.obs, b.action)
    alpha, beta = 2.5, 0.7
    loss, aux = losses.actor_loss(ap, cp, actor, critic, b, alpha, beta)
    pi = actor.apply(ap, b.obs)
    q1 = N(critic.apply(cp, b.obs, pi))[0]
    bc = np.mean((N(pi) - N(b.action)) ** 2, axis=-1)
    ref = np.mean(beta * bc - alpha / np.mean(np.abs(q1)) * q1)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    np.testing.assert_allclose(aux["bc_mse"], np.mean(bc), rtol=1e-5)
    np.testing.assert_allclose(aux["actor_q"], np.mean(q1), rtol=1e-5)


# --- the agent --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built():
    """TD3+BC with a jitted update whose traces are counted, built once per module."""
    agent = make_agent("td3bc", agent_config("td3bc", TINY["td3bc"]), SPEC)
    traces = []

    def counted(state, batch, key):
        traces.append(1)
        return agent.update(state, batch, key)

    return agent, jax.jit(counted), traces


def _changed(a, b):
    return not all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def test_policy_delay_keeps_actor_and_targets_between_policy_steps(built):
    agent, update, _ = built
    s0 = agent.init(jax.random.key(0))
    s1, _ = update(s0, _batch(seed=1), jax.random.key(1))  # step 0: actor and targets move
    s2, _ = update(s1, _batch(seed=2), jax.random.key(2))  # step 1: critic only
    s3, _ = update(s2, _batch(seed=3), jax.random.key(3))  # step 2: actor again
    assert _changed(s0.params["actor"], s1.params["actor"])
    assert _changed(s0.target_params, s1.target_params)
    chex.assert_trees_all_equal(s1.params["actor"], s2.params["actor"])
    chex.assert_trees_all_equal(s1.opt_states["actor"], s2.opt_states["actor"])
    chex.assert_trees_all_equal(s1.target_params, s2.target_params)
    assert _changed(s1.params["critic"], s2.params["critic"])
    assert _changed(s2.params["actor"], s3.params["actor"])
    # Targets start equal to the online networks and move by Polyak averaging (τ = 0.005).
    chex.assert_trees_all_equal(s0.target_params, s0.params)


def test_one_based_delay_first_updates_the_actor_on_the_second_step():
    """`one_based_delay=True`: the PyTorch references' count (`total_it += 1` first), so steps
    0, 2, … train the critic only and steps 1, 3, … the actor and the targets too."""
    config = agent_config("td3bc", {**TINY["td3bc"], "one_based_delay": True})
    agent = make_agent("td3bc", config, SPEC)
    update = jax.jit(agent.update)
    s0 = agent.init(jax.random.key(0))
    s1, _ = update(s0, _batch(seed=1), jax.random.key(1))
    s2, _ = update(s1, _batch(seed=2), jax.random.key(2))
    chex.assert_trees_all_equal(s0.params["actor"], s1.params["actor"])
    chex.assert_trees_all_equal(s0.target_params, s1.target_params)
    assert _changed(s0.params["critic"], s1.params["critic"])
    assert _changed(s1.params["actor"], s2.params["actor"])
    assert _changed(s1.target_params, s2.target_params)
    assert agent_config("td3bc").one_based_delay is False  # the library default: CORL JAX's


def test_no_recompilation_across_the_switch(built):
    agent, update, traces = built
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


def test_td3bc_keeps_its_bc_weight_online_and_can_reset_optimizers(built):
    agent, update, _ = built
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
    with pytest.raises(ValueError, match="actor_q='max'; allowed"):
        make_agent("td3bc", agent_config("td3bc", {"actor_q": "max"}), SPEC)


# --- learning (slow) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pendulum_expert(tmp_path_factory):
    """PD-expert data on the inverted pendulum (return ~200)."""
    from tests.test_learning import pd_expert_dataset  # same program: one compilation

    path = tmp_path_factory.mktemp("pendulum") / "expert.hdf5"
    data.save_hdf5(pd_expert_dataset(), path)
    return str(path)


def _final_returns(summary):
    ref = summary["reference_returns"]
    return [
        ref["random"] + r["final_score"] / 100 * (ref["expert"] - ref["random"])
        for r in summary["runs"]
    ]


@pytest.mark.slow
def test_td3bc_offline_on_pd_expert_data(pendulum_expert, tmp_path):
    agent = {"actor_hidden_dims": (64, 64), "critic_hidden_dims": (64, 64)}
    config = TrainConfig(
        algo="td3bc",
        agent=agent_config("td3bc", agent),
        task="inverted_pendulum",
        dataset=pendulum_expert,
        seeds=(0, 1),
        offline_steps=3_000,
        online_steps=0,
        chunk_length=1_000,
        eval_every=3_000,
        eval_episodes=5,
        keep_checkpoints=0,
    )
    summary = run(config, tmp_path, progress=False)
    # Stated threshold: 150 of the possible 200 for both seeds (measured: 200 and 200; after
    # 2000 steps one seed still scored 13).
    assert min(_final_returns(summary)) >= 150, _final_returns(summary)
