"""Small learning problems with stated thresholds (slow: each trains for tens of seconds).

inverted_pendulum: reward 1 per step while the pole is up, episodes cut at 200 steps, so
returns lie in [0, 200]; the uniform random policy scores about 21 (measured over 8 episodes).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import data
from jaxrl.agents.registry import agent_config
from jaxrl.config import TrainConfig
from jaxrl.data import generate
from jaxrl.envs import make_env
from jaxrl.run import run

pytestmark = pytest.mark.slow

RANDOM_RETURN = 21.0  # uniform policy on inverted_pendulum with a 200-step limit


def returns_of(summary, field="final_score"):
    """Each run's raw return from its normalized score `field` in a job summary."""
    ref = summary["reference_returns"]
    return [
        ref["random"] + r[field] / 100 * (ref["expert"] - ref["random"]) for r in summary["runs"]
    ]


def pd_expert_dataset(num_envs=8, steps=2_500, noise=0.2, seed=0):
    """Rollouts of a hand-tuned PD controller (a = 5·angle + 1·angular velocity, noised)."""
    env = make_env("inverted_pendulum")

    def act(gains, obs, key):
        return jnp.clip(obs @ gains + noise * jax.random.normal(key, (1,)), -1.0, 1.0)

    rollout = generate.collect_rollouts(env, act, num_envs, steps)
    outs = rollout(jnp.array([0.0, 5.0, 0.0, 1.0]), jax.random.key(seed))
    return generate.rollout_to_dataset(outs, "pd-expert", {"task": "inverted_pendulum"})


def test_iql_offline_on_expert_data_beats_random(tmp_path):
    ds = pd_expert_dataset()
    data_return = float(np.mean(data.episode_returns(ds)))
    assert data_return > 150  # the data really is expert
    data.save_hdf5(ds, tmp_path / "pendulum-expert.hdf5")
    config = TrainConfig(
        algo="iql",
        agent=agent_config("iql", {"hidden_dims": (64, 64), "beta": 3.0}),
        task="inverted_pendulum",
        dataset=str(tmp_path / "pendulum-expert.hdf5"),
        seeds=(0, 1),
        offline_steps=3_000,
        online_steps=0,
        chunk_length=1_000,
        eval_every=3_000,
        eval_episodes=5,
    )
    summary = run(config, tmp_path / "run", progress=False)
    returns = returns_of(summary)
    # Stated margin: every seed at least 100 above the random policy's ~21.
    assert min(returns) >= RANDOM_RETURN + 100, returns


def test_sac_learns_inverted_pendulum(tmp_path):
    config = TrainConfig(
        algo="sac",
        agent=agent_config("sac", {"actor_hidden_dims": (64, 64), "critic_hidden_dims": (64, 64)}),
        task="inverted_pendulum",
        dataset="",
        seeds=(0, 1),
        batch_size=128,
        offline_steps=0,
        online_steps=8_000,
        num_envs=4,
        utd=4,
        chunk_length=2_000,
        retention="none",
        warmup_steps=1_000,
        warmup_policy="random",
        eval_every=2_000,
        eval_episodes=5,
    )
    summary = run(config, tmp_path, progress=False)
    returns = returns_of(summary)
    # Stated threshold: the mean final return reaches 150 of the possible 200.
    assert np.mean(returns) >= 150, returns


def test_rlpd_learns_inverted_pendulum_with_expert_data(tmp_path):
    """RLPD's recipe (from scratch, 50/50 batches with the data, LayerNorm critics, 2-of-N
    target without replacement, mean-Q actor, H_target = −|A|/2) on PD-controller data for
    3,000 env steps: `experiments/configs/rlpd.py`'s agent with 4 critics and 2×64 networks, and
    UTD 4 instead of 20, to fit the CPU budget.

    Measured (seeds 0, 1): 188 and 188 after 3,000 steps. An earlier variant (actor step on
    all rows) scored 126 and 76 after 2,000 steps, where SAC with no data scored 145 and 98:
    on this easy task the data does not visibly speed learning up, so the test checks that the
    recipe learns, not that it beats SAC."""
    ds = pd_expert_dataset(steps=1_500)
    data.save_hdf5(ds, tmp_path / "pendulum-expert.hdf5")
    from experiments.configs import rlpd as rlpd_config

    rlpd = {
        **rlpd_config.get_config().agent.to_dict(),
        "actor_hidden_dims": (64, 64),
        "critic_hidden_dims": (64, 64),
        "num_critics": 4,
    }
    config = TrainConfig(
        algo="sac",
        agent=agent_config("sac", rlpd),
        task="inverted_pendulum",
        dataset=str(tmp_path / "pendulum-expert.hdf5"),
        seeds=(0, 1),
        batch_size=128,
        offline_steps=0,
        online_steps=3_000,
        num_envs=4,
        utd=4,
        chunk_length=1_000,
        retention="mixed",
        offline_ratio=0.5,
        warmup_steps=400,
        warmup_policy="random",
        eval_every=1_000,
        eval_episodes=5,
    )
    summary = run(config, tmp_path / "run", progress=False)
    returns = returns_of(summary)
    # Stated threshold: the mean final return reaches 150 of 200.
    assert np.mean(returns) >= 150, returns


def test_wsrl_pretrains_then_fine_tunes_without_offline_data(tmp_path):
    """CQL pre-training on PD-controller data, then SAC online with no retained data."""
    ds = pd_expert_dataset(steps=1_500)
    data.save_hdf5(ds, tmp_path / "pendulum-expert.hdf5")
    config = TrainConfig(
        algo="wsrl",
        agent=agent_config(
            "wsrl",
            {
                "actor_hidden_dims": (32, 32),
                "critic_hidden_dims": (32, 32),
                "num_critics": 4,
                "cql_n_actions": 3,
                "cql_alpha": 1.0,
            },
        ),
        task="inverted_pendulum",
        dataset=str(tmp_path / "pendulum-expert.hdf5"),
        seeds=(0, 1),
        batch_size=64,
        offline_steps=2_000,
        online_steps=2_000,
        num_envs=4,
        utd=4,
        chunk_length=1_000,
        retention="none",
        warmup_steps=400,
        warmup_policy="agent",
        eval_every=1_000,
        eval_episodes=5,
    )
    summary = run(config, tmp_path / "run", progress=False)
    offline, final = returns_of(summary, "offline_score"), returns_of(summary)
    # Stated thresholds: pre-training alone lifts every seed 80 above random (~21), and after
    # fine-tuning on online data only the mean return is at least 150 of 200.
    assert min(offline) >= RANDOM_RETURN + 80, offline
    assert np.mean(final) >= 150, (offline, final)
