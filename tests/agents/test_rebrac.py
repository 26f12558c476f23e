"""ReBRAC: its critic BC penalty and actor loss by hand and against numpy, the policy delay, the
online decay of its BC coefficients, no recompilation across the switch, the dataset's next
actions it needs, and a small learning problem.

The hand-computed loss tests use stand-in networks with one scalar parameter each: the actor is
π(s) = p·s and critic j is Q_j(s, a) = w_j·Σa + Σs.
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.rebrac import losses as rebrac_losses
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.agents.td3bc import losses
from jaxrl.agents.td3bc.agent import bc_coefficients
from jaxrl.config import TrainConfig
from jaxrl.data.trajectories import with_next_actions
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


def test_losses_match_numpy():
    """The critic penalty ‖ã' − a'‖²·(1 − truncated) and the actor loss
    mean[β ‖π(s) − a‖² − min_j Q_j(s, π(s)) / mean|min_j Q_j|] with real networks."""
    b = _batch(8, seed=4)
    b = b.replace(truncated=jnp.asarray(np.arange(8) % 3 == 0, jnp.float32))
    next_action = jnp.asarray(np.random.default_rng(5).uniform(-1, 1, (8, 2)), jnp.float32)
    pen = rebrac_losses.critic_bc_penalty(next_action, b)
    ref = np.sum((N(next_action) - N(b.next_action)) ** 2, -1) * (1 - N(b.truncated))
    np.testing.assert_allclose(pen, ref, rtol=1e-6)
    with pytest.raises(ValueError, match="with_next_actions"):
        rebrac_losses.critic_bc_penalty(next_action, b.replace(next_action=None))

    actor, critic = DeterministicPolicy(2, (8,)), QEnsemble(2, (8,))
    ap = actor.init(jax.random.key(0), b.obs)
    cp = critic.init(jax.random.key(1), b.obs, b.action)
    loss, _ = losses.actor_loss(ap, cp, actor, critic, b, 1.0, 0.3, "min", "sum")
    pi = actor.apply(ap, b.obs)
    q = N(critic.apply(cp, b.obs, pi)).min(0)
    bc = np.sum((N(pi) - N(b.action)) ** 2, axis=-1)
    np.testing.assert_allclose(loss, np.mean(0.3 * bc - q / np.mean(np.abs(q))), rtol=1e-5)


# --- the agent --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built():
    """ReBRAC with a jitted update whose traces are counted, built once per module."""
    agent = make_agent("rebrac", agent_config("rebrac", TINY["rebrac"]), SPEC)
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


def test_rebrac_bc_coefficients_decay_online(built):
    agent, update, _ = built
    state = agent.init(jax.random.key(0))
    hp = state.hparams.replace(actor_bc_coef=jnp.float32(0.2), bc_decay_steps=jnp.float32(1e3))
    state = state.replace(hparams=hp, step=jnp.int32(100))
    np.testing.assert_allclose(bc_coefficients(state), [0.2, 0.01], rtol=1e-6)
    online = jax.jit(agent.to_online)(state)
    assert int(online.switch_step) == 100
    for step, coef in ((100, 0.2), (350, 0.15), (600, 0.1), (2000, 0.1)):
        actor_bc, critic_bc = bc_coefficients(online.replace(step=jnp.int32(step)))
        np.testing.assert_allclose(actor_bc, coef, rtol=1e-6)
        assert float(critic_bc) == 0.0
    # The update reports the coefficient it used.
    _, m = update(online.replace(step=jnp.int32(350)), _batch(), jax.random.key(1))
    np.testing.assert_allclose(m["actor_bc_coef"], 0.15, rtol=1e-6)
    assert float(m["critic_bc_coef"]) == 0.0


# --- data: the next actions the critic penalty needs ------------------------------------------


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


def test_next_actions_stay_within_episodes():
    ds = with_next_actions(_episodes_dataset())
    a = ds.transitions.action[:, 0]
    expected = np.array([a[1], a[2], a[2], a[4], a[5], a[5], a[6]])
    np.testing.assert_allclose(ds.transitions.next_action[:, 0], expected)


# --- learning (slow) --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pendulum_expert(tmp_path_factory):
    """PD-expert data on the inverted pendulum (return ~200)."""
    from tests.test_learning import pd_expert_dataset  # same program: one compilation

    path = tmp_path_factory.mktemp("pendulum") / "expert.hdf5"
    data.save_hdf5(pd_expert_dataset(), path)
    return str(path)


@pytest.mark.slow
def test_rebrac_offline_then_online(pendulum_expert, tmp_path):
    agent = {
        "actor_hidden_dims": (64, 64),
        "critic_hidden_dims": (64, 64),
        "actor_bc_coef": 0.1,
        "bc_decay_steps": 1_000,
    }
    config = TrainConfig(
        algo="rebrac",
        agent=agent_config("rebrac", agent),
        task="inverted_pendulum",
        dataset=pendulum_expert,
        seeds=(0, 1),
        offline_steps=3_000,
        online_steps=1_000,
        chunk_length=1_000,
        eval_every=3_000,
        eval_episodes=5,
        keep_checkpoints=0,
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
