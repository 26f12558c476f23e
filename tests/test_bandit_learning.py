"""Small learning problems for RIQL, RO2O, CQL and Cal-QL: the biased-behaviour contextual
bandit of `test_agents_awac.py` (behaviour cloning scores a squared error of about 0.09; an
agent must use the rewards to get under 0.04). Slow: each trains a few thousand steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.base import set_learning_rate
from jaxrl.agents.registry import agent_config, make_agent
from jaxrl.specs import EnvSpec
from tests.test_agents_awac import LEARN_BATCH, _bandit, _key_data

pytestmark = pytest.mark.slow

SMALL = {"hidden_dims": (16, 16)}
# Each algorithm: its config fields, dynamic hyperparameters set on the state, and steps.
# IQL-style weights exp(β·A) need a large β for rewards of order 0.1 (AWAC's test uses
# λ = 0.05, the same inverse temperature of 20). CQL's term pulls the policy toward the biased
# behaviour: with w = 1 the error was 0.066 (CQL) and 0.054 (Cal-QL); with w = 0.1, 0.013 and
# 0.009 (measured, this seed).
LEARN = {
    "riql": ({**SMALL, "num_critics": 3}, {"beta": 20.0}, 2_000),
    "ro2o": (
        {**SMALL, "critic_hidden_dims": (16, 16), "num_critics": 3, "num_perturbations": 4},
        {},
        2_000,
    ),
    "cql": (
        {"policy_hidden_dims": (16, 16), "q_hidden_dims": (16, 16), "cql_n_actions": 4},
        {"cql_alpha": 0.1},
        2_000,
    ),
    "calql": (
        {"policy_hidden_dims": (16, 16), "q_hidden_dims": (16, 16), "cql_n_actions": 4},
        {"cql_alpha": 0.1},
        2_000,
    ),
}


@pytest.mark.parametrize("name", sorted(LEARN))
def test_learns_the_bandit_beyond_behaviour_cloning(name):
    fields, hp_overrides, steps = LEARN[name]
    agent = make_agent(name, agent_config(name, fields), EnvSpec(2, 1))
    data, _ = _bandit(4096, seed=0)
    state = agent.init(jax.random.key(0))
    state = state.replace(
        hparams={
            **state.hparams,
            **{k: jnp.asarray(v, jnp.float32) for k, v in hp_overrides.items()},
        },
        opt_states={k: set_learning_rate(v, 1e-3) for k, v in state.opt_states.items()},
    )

    @jax.jit
    def train(state, idx, keys):  # the whole loop compiled: one dispatch
        def body(s, xs):
            i, k = xs
            batch = jax.tree.map(lambda x: x[i], data)
            return agent.update(s, batch, jax.random.wrap_key_data(k))[0], None

        return jax.lax.scan(body, state, (idx, keys))[0]

    idx = np.random.default_rng(1).integers(0, data.size, (steps, LEARN_BATCH))
    state = train(state, idx, _key_data(2, steps))
    test, best = _bandit(512, seed=3)
    acts = jax.vmap(agent.act, in_axes=(None, 0, None, None))(
        state, test.obs, jax.random.key(4), True
    )
    mse = float(np.mean((np.asarray(acts)[:, 0] - best) ** 2))
    # Stated threshold: under half of behaviour cloning's ≈ 0.09 (bias 0.3 squared).
    assert mse < 0.04, (name, mse)
