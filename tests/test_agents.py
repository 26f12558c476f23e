"""Agent invariants: determinism for a key, shapes and bounds, the switch, config checks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.registry import AGENTS, agent_config, make_agent
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition
from tests.helpers import TINY

SPEC = EnvSpec(obs_dim=5, action_dim=2)


def _batch(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return Transition(
        obs=jnp.asarray(rng.normal(size=(n, 5)), jnp.float32),
        action=jnp.asarray(rng.uniform(-0.9, 0.9, (n, 2)), jnp.float32),
        reward=jnp.asarray(rng.normal(size=n), jnp.float32),
        terminated=jnp.asarray(rng.random(n) < 0.1, jnp.float32),
        truncated=jnp.zeros(n, jnp.float32),
        next_obs=jnp.asarray(rng.normal(size=(n, 5)), jnp.float32),
        mc_return=jnp.asarray(rng.normal(size=n) + 5.0, jnp.float32),
        next_action=jnp.asarray(rng.uniform(-0.9, 0.9, (n, 2)), jnp.float32),  # ReBRAC
    )


@pytest.fixture(scope="module", params=sorted(AGENTS))
def built(request):
    name = request.param
    agent = make_agent(name, agent_config(name, TINY[name]), SPEC)
    if agent.bind_dataset is not None:  # PRDC: its neighbour set, here a random dataset
        agent = agent.bind_dataset(_batch(64, seed=9))
    state = agent.init(jax.random.key(0))
    return name, agent, state, jax.jit(agent.update)


def test_update_is_deterministic_for_a_key(built):
    _, _, state, update = built
    batch = _batch()
    s1, m1 = update(state, batch, jax.random.key(7))
    s2, m2 = update(state, batch, jax.random.key(7))
    chex.assert_trees_all_equal(s1.params, s2.params)
    chex.assert_trees_all_equal(m1, m2)
    assert int(s1.step) == 1
    for leaf in jax.tree.leaves(m1):
        assert np.isfinite(np.asarray(leaf)).all()


def test_update_changes_params(built):
    _, _, state, update = built
    new, _ = update(state, _batch(), jax.random.key(1))
    diffs = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), new.params, state.params)
    assert max(jax.tree.leaves(diffs)) > 0


def test_stochastic_agents_depend_on_the_key(built):
    name, _, state, update = built
    if name in ("iql", "riql", "bc"):  # their updates use no randomness
        return
    s1, _ = update(state, _batch(), jax.random.key(1))
    s2, _ = update(state, _batch(), jax.random.key(2))
    flat = lambda s: np.concatenate([np.ravel(x) for x in jax.tree.leaves(s.params)])
    assert not np.allclose(flat(s1), flat(s2))


def test_act_shapes_and_bounds(built):
    _, agent, state, _ = built
    obs = jnp.ones((5,)) * 3.0
    for det in (True, False):
        a = agent.act(state, obs, jax.random.key(3), det)
        assert a.shape == (2,)
        assert np.all(np.abs(np.asarray(a)) <= 1.0)
    a1 = agent.act(state, obs, jax.random.key(3), True)
    a2 = agent.act(state, obs, jax.random.key(4), True)
    np.testing.assert_array_equal(a1, a2)


def test_init_differs_by_seed(built):
    _, agent, state, _ = built
    other = agent.init(jax.random.key(1))
    kernels = lambda s: np.concatenate(
        [
            np.ravel(x)
            for x in jax.tree.leaves(s.params.get("critic", s.params["actor"]))
            if x.ndim >= 2
        ]
    )
    assert not np.allclose(kernels(state), kernels(other))


def test_cql_switch_changes_only_hyperparameters():
    cfg = agent_config(
        "calql", {**TINY["calql"], "online_cql_alpha": 0.5, "online_calibration": False}
    )
    agent = make_agent("calql", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    assert float(state.hparams["calibrate"]) == 1.0
    online = agent.to_online(state)
    assert float(online.hparams["cql_alpha"]) == 0.5
    assert float(online.hparams["calibrate"]) == 0.0
    chex.assert_trees_all_equal(online.params, state.params)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)


def test_cql_lagrange_weight_and_its_step_by_hand():
    """Lagrange CQL: the critic pays α'·w·(gap − τ) with α' = exp(1) at init, and log α'
    ascends the gap: Adam's first step moves it by +lr·sign(mean gap − τ)."""
    cfg = agent_config("cql", {**TINY["cql"], "lagrange": True, "target_action_gap": 0.8})
    agent = make_agent("cql", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    new, m = jax.jit(agent.update)(state, _batch(), jax.random.key(1))
    c, w, gap = cfg.num_critics, cfg.cql_alpha, float(m["cql_gap"])
    expected = c * float(m["td_loss"]) + np.e * w * c * (gap - 0.8)
    np.testing.assert_allclose(float(m["critic_loss"]), expected, rtol=1e-5)
    step = float(new.params["cql_alpha"]) - 1.0
    np.testing.assert_allclose(step, cfg.q_lr * np.sign(gap - 0.8), rtol=1e-3)


def test_calql_bound_raises_policy_values():
    """With a huge MC return every policy-action value is bounded; without calibration none."""
    batch = _batch().replace(mc_return=jnp.full((32,), 1e3))
    cal = make_agent("calql", agent_config("calql", TINY["calql"]), SPEC)
    plain = make_agent("cql", agent_config("cql", TINY["cql"]), SPEC)
    _, m_cal = jax.jit(cal.update)(cal.init(jax.random.key(0)), batch, jax.random.key(1))
    _, m_cql = jax.jit(plain.update)(plain.init(jax.random.key(0)), batch, jax.random.key(1))
    assert float(m_cal["bound_rate"]) == 1.0
    assert float(m_cql["bound_rate"]) == 0.0
    assert float(m_cal["cql_gap"]) > float(m_cql["cql_gap"]) + 100.0


def test_sac_utd_update_runs_critic_per_slice():
    cfg = agent_config(
        "sac",
        {
            **TINY["sac"],
            "num_critics": 4,
            "target_reduction": "subset_min",
            "actor_reduction": "mean",
        },
    )
    agent = make_agent("sac", cfg, SPEC)
    state = agent.init(jax.random.key(0))
    batches = jax.tree.map(lambda x: x.reshape((4, 8) + x.shape[1:]), _batch())
    new, metrics = jax.jit(agent.update_utd)(state, batches, jax.random.key(2))
    assert int(new.step) == 4
    # Each critic step applies one Adam step: the count inside the optimizer state is 4 for
    # the critic and 1 for the actor (updated once per UTD block).
    assert int(new.opt_states["critic"].inner_state[0].count) == 4
    assert int(new.opt_states["actor"].inner_state[0].count) == 1
    assert np.isfinite(float(metrics["critic_loss"]))


def test_unknown_agent_field_is_refused():
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['betta'\].*allowed"):
        agent_config("iql", {"betta": 3.0})
    with pytest.raises(ValueError, match="unknown algorithm 'dqn'.*allowed"):
        agent_config("dqn")


def test_switch_keeps_shapes_and_compiles_update_once(built):
    """`to_online` changes leaves only, so one compiled update serves both phases."""
    _, agent, state, _ = built
    traces = []

    def counted(s, b, k):
        traces.append(1)
        return agent.update(s, b, k)

    update = jax.jit(counted)
    offline, _ = update(state, _batch(), jax.random.key(1))
    online = agent.to_online(offline)
    chex.assert_trees_all_equal_shapes_and_dtypes(online, offline)
    assert jax.tree.structure(online) == jax.tree.structure(offline)
    update(online, _batch(), jax.random.key(2))
    assert len(traces) == 1
