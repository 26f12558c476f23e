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


#: Networks that one update leaves alone by design: SPOT's VAE once its phase is over (the tiny
#: config has vae_steps=0).
FROZEN_IN_ONE_UPDATE = {"spot": {"vae"}}


def test_update_moves_every_trained_network(built):
    """Each network the algorithm trains changes in one update (not just any one of them)."""
    name, _, state, update = built
    new, _ = update(state, _batch(), jax.random.key(1))
    for net in state.params:
        diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), new.params[net],
                            state.params[net])  # fmt: skip
        moved = max(jax.tree.leaves(diff)) > 0
        assert moved != (net in FROZEN_IN_ONE_UPDATE.get(name, ())), f"{name}: {net!r}"


#: Algorithms whose update draws no random numbers (IQL's expectile and AWR steps, BC's MSE).
DETERMINISTIC_UPDATES = ("iql", "riql", "bc", "xql", "fdvl")


def test_an_update_depends_on_the_key_exactly_when_it_samples(built):
    name, _, state, update = built
    s1, _ = update(state, _batch(), jax.random.key(1))
    s2, _ = update(state, _batch(), jax.random.key(2))
    flat = lambda s: np.concatenate([np.ravel(x) for x in jax.tree.leaves(s.params)])
    if name in DETERMINISTIC_UPDATES:
        np.testing.assert_array_equal(flat(s1), flat(s2))
    else:
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


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_to_online_marks_the_switch_and_changes_no_shape(algo):
    """The contract every `to_online` keeps: `switch_step` becomes the step counter (−1 before),
    and only leaves change (no shape or dtype), so the switch never recompiles."""
    agent = make_agent(algo, agent_config(algo, TINY[algo]), SPEC)
    state = agent.init(jax.random.key(0)).replace(step=jnp.int32(7))
    assert int(state.switch_step) == -1
    online = agent.to_online(state)
    assert int(online.switch_step) == 7
    chex.assert_trees_all_equal_shapes_and_dtypes(online, state)
