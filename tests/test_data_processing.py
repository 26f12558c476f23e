"""Each algorithm's data processing as its reference does it: observation standardization and
IQL's return-range reward normalization, offline, online and in evaluation, and the config
files that choose them (docs/algorithms/, ALGORITHMS.md "Corrections" 2 and 3)."""

from __future__ import annotations

import importlib

import jax
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.registry import agent_config
from jaxrl.config import ConfigError, from_mapping, validate
from jaxrl.data import DatasetError
from jaxrl.run import build, init_states
from jaxrl.training import prepare_dataset
from tests.helpers import random_arrays, tiny_config

#: (normalize_obs, reward_normalization) of each reference, by config file (ALGORITHMS.md:
#: CORL's IQL `normalize: true` and `modify_reward`; CORL's AWAC and thuml/SPOT normalize
#: states; implicit_q_learning, XQL/f-DVL and FamO2O scale locomotion rewards; sfujim/TD3_BC,
#: PRDC, A2PR, RIQL and RO2O normalize states).
REFERENCE_PROCESSING = {
    "default": (True, "return_range"),  # the default job is IQL
    "gpu": (True, "return_range"),
    "sweep_iql_temperature": (True, "return_range"),
    "iql": (True, "return_range"),
    "xql": (False, "return_range"),
    "fdvl": (False, "return_range"),
    "famo2o": (False, "return_range"),
    "awac": (True, "none"),
    "spot": (True, "none"),
    "td3bc": (True, "none"),
    "prdc": (True, "none"),
    "a2pr": (True, "none"),
    "riql": (True, "none"),
    "ro2o": (True, "none"),
    "cql": (False, "none"),
    "calql": (False, "none"),
    "rebrac": (False, "none"),
    "rlpd": (False, "none"),
    "wsrl": (False, "none"),
    "sacn": (False, "none"),
    "edac": (False, "none"),
    "bc": (False, "none"),
    "bc10": (False, "none"),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_PROCESSING))
def test_config_files_process_data_as_their_references(name):
    c = importlib.import_module(f"experiments.configs.{name}").get_config()
    assert (c.normalize_obs, c.reward_normalization) == REFERENCE_PROCESSING[name]


def test_td3bc_config_counts_the_policy_delay_as_its_reference():
    c = importlib.import_module("experiments.configs.td3bc").get_config()
    assert c.agent.one_based_delay is True  # sfujim/TD3_BC, CORL: the actor's first step is 2nd


def test_spot_config_has_the_locomotion_references_actor():
    """thuml/SPOT (locomotion): actor dropout 0.1 and lr 3e-4; the library keeps CORL's."""
    c = importlib.import_module("experiments.configs.spot").get_config()
    assert (c.agent.actor_dropout, c.agent.actor_lr) == (0.1, 3e-4)
    default = agent_config("spot")
    assert (default.actor_dropout, default.actor_lr) == (0.0, 1e-4)


# --- return-range reward normalization -----------------------------------------------------------


def episodes_dataset() -> data.Dataset:
    """120 halfcheetah-shaped rows in four episodes (ends at rows 29, 59, 99 and 119; the
    second by termination, the others by time limit), rewards 0.01 · row."""
    arrays = random_arrays(120, 17, 6)
    arrays["rewards"] = (0.01 * np.arange(120)).astype(np.float32)
    arrays["terminals"] = np.zeros(120, np.float32)
    arrays["terminals"][59] = 1.0
    arrays["timeouts"] = np.zeros(120, np.float32)
    arrays["timeouts"][[29, 99, 119]] = 1.0
    return data.from_arrays(arrays, metadata={"task": "halfcheetah"})


def hand_returns() -> list[float]:
    r = [0.01 * i for i in range(120)]
    return [sum(r[0:30]), sum(r[30:60]), sum(r[60:100]), sum(r[100:120])]


def test_return_range_scale_numbers():
    ds = episodes_dataset()
    returns = hand_returns()  # 4.35, 13.35, 31.8, 21.9
    expected = 1000.0 / (max(returns) - min(returns))  # 1000 / 27.45
    assert data.return_range_scale(ds) == pytest.approx(expected, rel=1e-6)
    assert data.return_range_scale(ds, horizon=10) == pytest.approx(expected / 100, rel=1e-6)


def test_return_range_needs_distinct_returns():
    arrays = random_arrays(100, 17, 6, episode=50)
    arrays["rewards"] = np.ones(100, np.float32)  # two episodes, both return 50
    ds = data.from_arrays(arrays, metadata={"task": "halfcheetah"})
    with pytest.raises(DatasetError, match="all return 50.*reward_normalization='none'"):
        data.return_range_scale(ds)


def test_reward_normalization_is_checked():
    with pytest.raises(ConfigError, match="reward_normalization='minmax'.*allowed"):
        validate(tiny_config(dataset="x.hdf5", reward_normalization="minmax"))
    with pytest.raises(ConfigError, match="needs a dataset.*reward_normalization='none'"):
        validate(
            tiny_config(
                dataset="", offline_steps=0, retention="none", reward_normalization="return_range"
            )
        )
    values = {"algo": "iql", "dataset": "x.hdf5", "reward_normalization": "return_range"}
    assert from_mapping(values).reward_normalization == "return_range"


def test_prepared_rewards_are_normalized_then_scaled():
    ds = episodes_dataset()
    returns = hand_returns()
    factor = 10.0 / (max(returns) - min(returns))  # horizon: the tiny task's 10-step limit
    config = tiny_config(
        dataset="x.hdf5", reward_normalization="return_range", reward_scale=2.0, reward_bias=-1.0
    )
    out, _ = prepare_dataset(config, ds, horizon=10)
    expected = np.array([0.01 * i * factor * 2.0 - 1.0 for i in range(120)], np.float32)
    np.testing.assert_allclose(out.transitions.reward, expected, rtol=1e-5, atol=1e-6)
    assert out.metadata["reward_scale"] == pytest.approx(2.0 * factor)
    np.testing.assert_array_equal(ds.transitions.reward, (0.01 * np.arange(120)).astype(np.float32))
    plain, _ = prepare_dataset(tiny_config(dataset="x.hdf5", reward_scale=2.0), ds, horizon=10)
    assert plain.metadata["reward_scale"] == 2.0


@pytest.fixture(scope="module")
def episodes_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("episodes") / "episodes.hdf5"
    data.save_hdf5(episodes_dataset(), path)
    return str(path)


def test_online_rewards_get_the_dataset_factor(episodes_path):
    """Offline and online rewards share one factor (CORL `modify_reward_online`; XQL's script
    left online rewards raw, ALGORITHMS.md §22a): the buffer's rewards are the env's, replayed
    from the recorded actions, times the factor plus the bias."""
    config = tiny_config(
        dataset=episodes_path,
        offline_steps=0,
        online_steps=20,
        seeds=(0,),
        reward_normalization="return_range",
        reward_bias=0.5,
    )
    built = build(config)
    returns = hand_returns()
    factor = 10.0 / (max(returns) - min(returns))  # episode_length 10
    assert built.reward_scale == pytest.approx(factor, rel=1e-6)
    np.testing.assert_allclose(
        np.asarray(built.dataset.reward), factor * 0.01 * np.arange(120) + 0.5, rtol=1e-5
    )
    states = built.switch(init_states(built))
    env0 = jax.tree.map(lambda x: x[0], states.env)
    env0 = jax.tree.map(lambda x: x.copy() if isinstance(x, jax.Array) else x, env0)
    states, _ = built.online_chunk(states, built.dataset)
    rows = jax.tree.map(lambda x: np.asarray(x[0, :20]), states.buffer.data)

    @jax.jit
    def replay(env_state, actions):
        def body(es, a):
            es, out = jax.vmap(built.env.step)(es, a)
            return es, out.reward

        return jax.lax.scan(body, env_state, actions)[1]

    raw = np.asarray(replay(env0, rows.action.reshape(20, 1, -1))).reshape(20)
    assert np.abs(raw).max() > 0.1  # halfcheetah's rewards are not all zero
    np.testing.assert_allclose(rows.reward, raw * factor + 0.5, rtol=1e-5, atol=1e-5)


# --- observation standardization for AWAC and SPOT -------------------------------------------


@pytest.fixture(scope="module")
def shifted_path(tmp_path_factory):
    arrays = random_arrays(256, 17, 6)
    for key in ("observations", "next_observations"):
        arrays[key] = arrays[key] * 3.0 + 5.0
    path = tmp_path_factory.mktemp("shifted") / "shifted.hdf5"
    data.save_hdf5(data.from_arrays(arrays, metadata={"task": "halfcheetah"}), path)
    return str(path)


@pytest.mark.parametrize("algo", ["awac", "spot"])
def test_normalize_obs_offline_and_online(algo, shifted_path):
    """The dataset and the online buffer hold standardized observations. Evaluation
    standardizes through the same `Programs` wiring for every algorithm; IQL's case, with the
    env replayed and evaluation checked, is tests/test_data_formats.py."""
    built = build(tiny_config(algo, dataset=shifted_path, normalize_obs=True, seeds=(0,)))
    raw = data.load(shifted_path)
    norm = built.obs_normalizer
    np.testing.assert_array_equal(norm.mean, data.obs_normalizer(raw).mean)
    np.testing.assert_allclose(np.asarray(built.dataset.obs), norm(raw.transitions.obs), rtol=1e-6)
    states = built.switch(init_states(built))
    first_obs = np.asarray(states.env.obs)[:, 0]  # run 0 (the only run), env 0
    states, _ = built.online_chunk(states, built.dataset)
    row0 = np.asarray(states.buffer.data.obs)[0, 0]
    np.testing.assert_allclose(row0, norm(first_obs[0]), rtol=1e-5, atol=1e-6)
    assert np.abs(row0 - first_obs[0]).mean() > 1.0


@pytest.mark.parametrize("name", ["default", "gpu", "iql", "sweep_iql_temperature", "riql"])
def test_iql_configs_cosine_anneal_the_actor_over_the_offline_steps(name):
    c = importlib.import_module(f"experiments.configs.{name}").get_config()
    assert c.agent.actor_lr_schedule == "cosine"
    assert c.agent.actor_lr_decay_steps == c.offline_steps
    c.offline_steps = 2 * c.offline_steps  # a command-line override moves T_max with it
    assert c.to_dict()["agent"]["actor_lr_decay_steps"] == c.offline_steps
