"""BC and %BC: the losses by hand and against numpy, no recompilation across the switch (which
freezes the policy), the episode filter %BC needs, and a small learning problem.

The hand-computed loss test uses a stand-in actor with one scalar parameter, π(s) = p·s.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.bc import losses as bc_losses
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.config import TrainConfig
from jaxrl.data.trajectories import top_trajectory_mask, trajectory_returns
from jaxrl.networks import GaussianPolicy
from jaxrl.run import run
from jaxrl.specs import EnvSpec
from tests.agents.stand_ins import LinearActor
from tests.agents.stand_ins import hand_batch as _hand_batch
from tests.agents.stand_ins import random_batch as _batch
from tests.helpers import TINY

SPEC = EnvSpec(obs_dim=3, action_dim=2)


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


def test_no_recompilation_across_the_switch():
    agent = make_agent("bc", agent_config("bc", TINY["bc"]), SPEC)
    traces = []

    def counted(state, batch, key):
        traces.append(1)
        return agent.update(state, batch, key)

    update = jax.jit(counted)
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
    # online_actor_lr = 0: the switch freezes the policy
    chex.assert_trees_all_equal(online.params, switch(state).params)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="top_fraction=0.0 must lie in"):
        make_agent("bc", agent_config("bc", {"top_fraction": 0.0}), SPEC)
    with pytest.raises(ValueError, match="policy='beta'; allowed"):
        make_agent("bc", agent_config("bc", {"policy": "beta"}), SPEC)


# --- data: %BC's episode filter ---------------------------------------------------------------


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


# --- learning (slow) --------------------------------------------------------------------------


def _final_returns(summary):
    ref = summary["reference_returns"]
    return [
        ref["random"] + r["final_score"] / 100 * (ref["expert"] - ref["random"])
        for r in summary["runs"]
    ]


@pytest.fixture(scope="module")
def pendulum_mixed(tmp_path_factory):
    """PD-expert data (return ~200) in which every other episode has uniform random actions and
    zero rewards (for BC, which reads only (s, a) and episode returns, the dynamics need not
    match). Returns the path and the two datasets' mean episode returns."""
    from tests.test_learning import pd_expert_dataset  # same program: one compilation

    expert = pd_expert_dataset()
    folder = tmp_path_factory.mktemp("pendulum")
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
    return str(folder / "mixed.hdf5"), returns


@pytest.mark.slow
def test_50pct_bc_imitates_the_expert_half_of_mixed_data(pendulum_mixed, tmp_path):
    mixed, (expert_return, mixed_return) = pendulum_mixed
    assert expert_return > 150 and mixed_return < 0.6 * expert_return  # half the episodes are bad
    config = TrainConfig(
        algo="bc",
        agent=agent_config("bc", {"hidden_dims": (64, 64), "top_fraction": 0.5}),
        task="inverted_pendulum",
        dataset=mixed,
        seeds=(0,),
        offline_steps=2_000,
        online_steps=0,
        chunk_length=1_000,
        eval_every=3_000,
        eval_episodes=5,
        keep_checkpoints=0,
    )
    summary = run(config, tmp_path, progress=False)
    # Stated threshold: 150 of the possible 200 (random policy: ~21).
    assert min(_final_returns(summary)) >= 150, _final_returns(summary)
