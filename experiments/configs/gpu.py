"""The default job at accelerator scale: D4RL-sized data, 1M + 1M steps, 16 seeds."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "iql",
        agent={"hidden_dims": (256, 256)},
        dataset_preset="d4rl",
        seeds=tuple(range(16)),
        offline_steps=1_000_000,
        online_steps=1_000_000,
        chunk_length=10_000,
        eval_every=50_000,
        eval_episodes=10,
        normalize_obs=True,  # IQL's data processing, as the default job (iql.py)
        reward_normalization="return_range",
    )
