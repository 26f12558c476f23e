"""online_updates="after_chunk" (Cal-QL's online loop): the chunk's env steps with the policy
held fixed, the episodes' Monte-Carlo returns, then as many updates; "interleaved" (the
default) updates after every env step. A probe agent makes both visible: its action is its
update count, and its update reports what its batch held."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents.base import Agent
from jaxrl.config import ConfigError, validate
from jaxrl.run import build, init_states
from jaxrl.training.chunks import make_online_chunk
from tests.helpers import tiny_config, write_dataset

EPISODE, CHUNK, WARMUP = 10, 20, 4  # 2 episodes per chunk; the first 4 env steps collect only


def probe(agent: Agent) -> Agent:
    """`agent`'s state, acting step/1000 in every dimension, an update that counts and reports
    the share of finite Monte-Carlo returns among its batch's online rows (offline rows carry
    theirs from the dataset; online ones are −inf until their episode ends)."""

    def act(state, obs, key, deterministic):
        return jnp.full(obs.shape[:-1] + (6,), state.step.astype(jnp.float32) / 1000.0)

    def update(state, batch, key):
        online = batch.reward == -7.0  # the online rows: reward_bias below makes them so
        finite = jnp.sum(online & jnp.isfinite(batch.mc_return)) / jnp.maximum(online.sum(), 1)
        return state.replace(step=state.step + 1), {"finite_mc": finite}

    return agent._replace(act=act, update=update, update_utd=None)


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    path = write_dataset(tmp_path_factory.mktemp("data") / "tiny.hdf5")
    out = {}
    for mode in ("interleaved", "after_chunk"):
        config = tiny_config(
            "bc",
            dataset=path,
            seeds=(0,),
            chunk_length=CHUNK,
            episode_length=EPISODE,
            warmup_steps=WARMUP,
            retention="mixed",
            offline_ratio=0.0,
            utd=2,
            reward_scale=0.0,  # online rewards become exactly reward_bias: a row marker
            reward_bias=-7.0,
            online_updates=mode,
        )
        programs = build(config)
        agent = probe(programs.agent)
        chunk = make_online_chunk(
            config, agent, programs.env, programs.dataset_size, mc_discount=0.9, reward_scale=0.0
        )
        states = programs.switch(init_states(programs))
        out[mode] = (chunk, states, programs.dataset)
    return out


def test_after_chunk_holds_the_policy_then_takes_every_update(chunks):
    chunk, states, dataset = chunks["after_chunk"]
    states, metrics = chunk(states, dataset)
    actions = np.asarray(states.buffer.data.action)[0, :CHUNK, 0]
    np.testing.assert_array_equal(actions, 0.0)  # every step acted with the chunk's first state
    # (CHUNK − WARMUP) env steps past the warm-up, utd 2 updates each: 32 updates
    assert int(states.agent.step[0]) == int(states.grad_steps[0]) == 2 * (CHUNK - WARMUP)
    # Both episodes ended inside the chunk: every online row the updates saw had its return.
    assert float(metrics["finite_mc"][0]) == 1.0
    states, _ = chunk(states, dataset)  # the next chunk acts with the updated policy
    actions = np.asarray(states.buffer.data.action)[0, CHUNK : 2 * CHUNK, 0]
    np.testing.assert_allclose(actions, 2 * (CHUNK - WARMUP) / 1000.0, rtol=1e-6)
    assert int(states.grad_steps[0]) == 2 * (2 * CHUNK - WARMUP)


def test_interleaved_updates_after_every_env_step(chunks):
    chunk, states, dataset = chunks["interleaved"]
    states, metrics = chunk(states, dataset)
    actions = np.asarray(states.buffer.data.action)[0, :CHUNK, 0]
    # step t acts after max(0, t − WARMUP) env steps of 2 updates
    expected = [2 * max(0, t - WARMUP) / 1000.0 for t in range(CHUNK)]
    np.testing.assert_allclose(actions, expected, rtol=1e-6, atol=1e-9)
    assert int(states.grad_steps[0]) == 2 * (CHUNK - WARMUP)
    # Updates inside an unfinished episode see −inf returns-to-go.
    assert float(metrics["finite_mc"][0]) < 0.9


def test_online_updates_is_checked():
    with pytest.raises(ConfigError, match="online_updates='after_episode' is not allowed"):
        validate(tiny_config(dataset="x.hdf5", online_updates="after_episode"))


def test_calql_config_collects_a_trajectory_then_updates():
    import importlib

    c = importlib.import_module("experiments.configs.calql").get_config()
    assert (c.online_updates, c.chunk_length) == ("after_chunk", 1_000)  # halfcheetah's episode
    assert jax.tree.leaves(c.to_dict())  # still a valid config dict
