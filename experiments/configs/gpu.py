"""The default job at accelerator scale: D4RL-sized data, 1M + 1M steps, 16 seeds."""

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
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
    # CORL's actor learning rate: cosine-annealed over the offline steps (periodic; it climbs
    # back during fine-tuning, as CORL's scheduler keeps stepping); a reference, so
    # --config.offline_steps moves it.
    c.agent.actor_lr_schedule = "cosine"
    c.agent.actor_lr_decay_steps = c.get_ref("offline_steps")
    return c
