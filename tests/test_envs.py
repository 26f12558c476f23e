"""The Brax wrapper (true final observation, split flags, episode statistics) and the registry.

Brax programs are slow to compile on CPU, so each environment is compiled once into a single
jitted `reset + lax.scan(step)` rollout shared by the tests of this module.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import TASKS, Env, TaskSpec, get_task, make_env, normalized_score
from jaxrl.envs.wrapper import _brax_env

CHEETAH_LIMIT, CHEETAH_STEPS = 5, 12
HOPPER_LIMIT, HOPPER_STEPS = 40, 300


def _rollout_fn(env: Env, num_steps: int, action_scale: float):
    """reset + scan of `env.step` under uniform actions in ±action_scale.

    Beside the wrapper, the scan also steps the raw Brax environment from a state it carries
    itself (re-synchronised with the wrapper only at resets), to get an independent reference
    for the observation a step really produced.
    """
    raw = _brax_env(env.task.brax_name, env.task.backend)

    def rollout(key):
        reset_key, act_key = jax.random.split(key)
        s0 = env.reset(reset_key)
        actions = jax.random.uniform(
            act_key, (num_steps, env.spec.action_dim), minval=-action_scale, maxval=action_scale
        )

        def body(carry, a):
            state, raw_state = carry
            new_state, out = env.step(state, a)
            raw_next = raw.step(raw_state, jnp.clip(a, -1.0, 1.0))
            # The reset the wrapper draws uses the second half of its key split (a clone, so
            # the check passes under jax.debug_key_reuse).
            reset_key = jax.random.split(jax.random.clone(state.key))[1]
            reset_obs = raw.reset(reset_key).obs
            raw_state = jax.tree.map(
                lambda w, r: jnp.where(out.done > 0, w, r),
                new_state.brax_state,
                raw_next.replace(done=jnp.zeros_like(raw_next.done)),
            )
            ys = dict(
                out=out,
                state_obs=new_state.obs,
                state_return=new_state.episode_return,
                state_length=new_state.episode_length,
                state_brax_done=new_state.brax_state.done,
                raw_next_obs=raw_next.obs,
                raw_reward=raw_next.reward,
                raw_done=raw_next.done,
                reset_obs=reset_obs,
                raw_action=a,
            )
            return (new_state, raw_state), ys

        _, ys = jax.lax.scan(body, (s0, s0.brax_state), actions)
        return s0, ys

    return jax.jit(rollout)


@pytest.fixture(scope="module")
def cheetah_env():
    return make_env("halfcheetah", episode_length=CHEETAH_LIMIT)


@pytest.fixture(scope="module")
def cheetah(cheetah_env):
    s0, ys = _rollout_fn(cheetah_env, CHEETAH_STEPS, action_scale=1.5)(jax.random.key(0))
    return jax.device_get((s0, ys))


@pytest.fixture(scope="module")
def hopper_env():
    return make_env("hopper", episode_length=HOPPER_LIMIT)


@pytest.fixture(scope="module")
def hopper(hopper_env):
    # Large random actions (clipped to ±1 by the wrapper) make the hopper fall quickly.
    s0, ys = _rollout_fn(hopper_env, HOPPER_STEPS, action_scale=3.0)(jax.random.key(1))
    return jax.device_get((s0, ys))


# ----------------------------------------------------------------------------- specs


def test_make_env_spec(cheetah_env, hopper_env):
    assert cheetah_env.spec.obs_dim == 17 and cheetah_env.spec.action_dim == 6
    assert cheetah_env.spec.episode_length == CHEETAH_LIMIT
    assert cheetah_env.task is TASKS["halfcheetah"]
    assert hopper_env.spec.obs_dim == 11 and hopper_env.spec.action_dim == 3
    assert (hopper_env.spec.action_low, hopper_env.spec.action_high) == (-1.0, 1.0)
    # Without an override the task's own limit; a TaskSpec works as well as a name.
    assert make_env("halfcheetah").spec.episode_length == 1000
    custom = TaskSpec("short_cheetah", "halfcheetah", episode_length=7)
    env = make_env(custom)
    assert env.spec.episode_length == 7 and env.task is custom
    with pytest.raises(ValueError, match="unknown task"):
        make_env("nope")


def test_reset_state(cheetah):
    s0, ys = cheetah
    assert s0.obs.shape == (17,)
    assert float(s0.episode_return) == 0.0 and int(s0.episode_length) == 0
    np.testing.assert_array_equal(s0.obs, s0.brax_state.obs)
    # The first step acts on the reset observation.
    np.testing.assert_array_equal(ys["out"].obs[0], s0.obs)


# ----------------------------------------------------------------------------- truncation


def test_halfcheetah_truncates_at_the_limit_and_never_terminates(cheetah):
    _, ys = cheetah
    out = ys["out"]
    # Steps 5 and 10 (indices 4 and 9) reach the limit of 5.
    expected = np.zeros(CHEETAH_STEPS)
    expected[[4, 9]] = 1.0
    np.testing.assert_array_equal(out.truncated, expected)
    np.testing.assert_array_equal(out.terminated, np.zeros(CHEETAH_STEPS))
    np.testing.assert_array_equal(out.done, expected)
    assert out.truncated.dtype == np.float32 and out.terminated.dtype == np.float32


def test_truncation_returns_the_true_final_observation(cheetah):
    _, ys = cheetah
    out = ys["out"]
    for t in (4, 9):
        assert out.truncated[t] == 1.0
        # The state already holds a reset observation; next_obs is the last real one.
        assert not np.allclose(out.next_obs[t], ys["state_obs"][t])
        np.testing.assert_allclose(out.next_obs[t], ys["raw_next_obs"][t], rtol=1e-6, atol=1e-6)
        # The new state's observation is the reset one, and the next step acts on it.
        np.testing.assert_allclose(ys["state_obs"][t], ys["reset_obs"][t], rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(out.obs[t + 1], ys["state_obs"][t])
        # The reset brax state does not inherit the stepped state's done flag.
        assert ys["state_brax_done"][t] == 0.0


def test_non_final_steps_continue_the_episode(cheetah):
    _, ys = cheetah
    out = ys["out"]
    for t in range(CHEETAH_STEPS):
        np.testing.assert_allclose(out.next_obs[t], ys["raw_next_obs"][t], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out.reward[t], ys["raw_reward"][t], rtol=1e-6, atol=1e-6)
        if out.done[t] == 0:
            np.testing.assert_array_equal(ys["state_obs"][t], out.next_obs[t])
            if t + 1 < CHEETAH_STEPS:
                np.testing.assert_array_equal(out.obs[t + 1], out.next_obs[t])


def test_actions_are_clipped(cheetah):
    _, ys = cheetah
    a = ys["raw_action"]
    assert np.abs(a).max() > 1.0  # the test drew actions outside the bounds
    np.testing.assert_array_equal(ys["out"].action, np.clip(a, -1.0, 1.0))


def _check_episode_accounting(ys):
    out = ys["out"]
    ret, length = 0.0, 0
    for t in range(out.reward.shape[0]):
        ret += float(out.reward[t])
        length += 1
        np.testing.assert_allclose(out.episode_return[t], ret, rtol=1e-5, atol=1e-5)
        assert int(out.episode_length[t]) == length
        if out.done[t]:
            ret, length = 0.0, 0
        np.testing.assert_allclose(ys["state_return"][t], ret, rtol=1e-5, atol=1e-5)
        assert int(ys["state_length"][t]) == length


def test_episode_statistics_halfcheetah(cheetah):
    _, ys = cheetah
    _check_episode_accounting(ys)
    np.testing.assert_array_equal(ys["out"].episode_length, [1, 2, 3, 4, 5] * 2 + [1, 2])


# ----------------------------------------------------------------------------- termination


def test_hopper_terminates_and_termination_is_not_truncation(hopper):
    _, ys = hopper
    out = ys["out"]
    term, trunc = out.terminated, out.truncated
    assert term.sum() >= 1, "the hopper never fell"
    # The flags are exclusive: a terminated step is never also truncated.
    assert np.all(trunc[term > 0] == 0)
    assert np.all(term[trunc > 0] == 0)
    np.testing.assert_array_equal(out.done, np.maximum(term, trunc))
    # Terminations come from Brax's done bit, exactly.
    np.testing.assert_array_equal(term, ys["raw_done"])
    # Terminated episodes end before the limit; truncated ones exactly at it.
    assert np.all(out.episode_length[term > 0] <= HOPPER_LIMIT)
    assert np.all(out.episode_length[trunc > 0] == HOPPER_LIMIT)
    assert np.all(out.episode_length <= HOPPER_LIMIT)


def test_hopper_termination_matches_the_fall_in_the_true_final_observation(hopper):
    _, ys = hopper
    out = ys["out"]
    # Hopper's observation starts with (torso height z, torso angle); it is unhealthy when
    # z ≤ 0.7 or |angle| ≥ 0.2. The true next_obs must show the fall at terminated steps.
    z, angle = out.next_obs[:, 0], out.next_obs[:, 1]
    fallen = (z <= 0.7) | (np.abs(angle) >= 0.2)
    np.testing.assert_array_equal(out.terminated > 0, fallen)
    for t in np.flatnonzero(out.terminated):
        np.testing.assert_allclose(out.next_obs[t], ys["raw_next_obs"][t], rtol=1e-6, atol=1e-6)
        # The state was reset to a healthy pose, unlike the final observation.
        assert not np.allclose(out.next_obs[t], ys["state_obs"][t])
        np.testing.assert_allclose(ys["state_obs"][t], ys["reset_obs"][t], rtol=1e-6, atol=1e-6)
        assert ys["state_obs"][t][0] > 0.7 and abs(ys["state_obs"][t][1]) < 0.2
        assert ys["state_brax_done"][t] == 0.0


def test_episode_statistics_hopper(hopper):
    _, ys = hopper
    _check_episode_accounting(ys)


# ----------------------------------------------------------------------------- registry


def test_get_task_known_and_unknown():
    t = get_task("hopper")
    assert isinstance(t, TaskSpec) and t.brax_name == "hopper" and t.episode_length == 1000
    assert get_task("inverted_pendulum").episode_length == 200
    with pytest.raises(ValueError, match="unknown task 'cheetah'") as err:
        get_task("cheetah")
    for name in TASKS:
        assert repr(name) in str(err.value)


def test_registry_is_consistent():
    assert {"halfcheetah", "hopper", "walker2d", "ant", "inverted_pendulum"} <= set(TASKS)
    for name, task in TASKS.items():
        assert task.name == name
        assert task.expert_return > task.random_return


def test_normalized_score_hand_values():
    # Hand values with explicit references: random −290, expert 3500 → range 3790.
    assert normalized_score(3500.0, -290.0, 3500.0) == pytest.approx(100.0)
    assert normalized_score(-290.0, -290.0, 3500.0) == pytest.approx(0.0)
    # (1605 + 290) / 3790 = 0.5
    assert normalized_score(1605.0, -290.0, 3500.0) == pytest.approx(50.0)
    # hopper (random 53.7, expert 1127.1, range 1073.4): (53.7 − 53.7)/1073.4 = 0;
    # (322.05 − 53.7)/1073.4 = 0.25; (−483 − 53.7)/1073.4 = −0.5; (2200.5 − 53.7)/1073.4 = 2.
    h = get_task("hopper")
    out = normalized_score(
        np.array([53.7, 322.05, -483.0, 2200.5]), h.random_return, h.expert_return
    )
    np.testing.assert_allclose(out, [0.0, 25.0, -50.0, 200.0])
