"""A sweep as one program: IQL's inverse temperature β ∈ {1, 3, 10} × 3 seeds = 9 runs.

Sized for a CPU check (2x32 networks, 1k offline + 1k online steps); for a real study raise
the budget, e.g. `--config.offline_steps=100000 --config.online_steps=100000`. The 9 runs
share one compiled program per phase and split over every device (padded to a multiple of
the device count). Results per setting: summary.json "settings"; per run: "runs".
"""

import json

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
        "iql",
        agent={"hidden_dims": (32, 32)},
        seeds=(0, 1, 2),
        offline_steps=1_000,
        online_steps=1_000,
        chunk_length=500,
        eval_every=500,
        eval_episodes=3,
        batch_size=128,
        normalize_obs=True,  # IQL's data processing, as experiments/configs/iql.py
        reward_normalization="return_range",
    )
    # CORL's actor learning rate: cosine-annealed over the offline steps (periodic; it climbs
    # back during fine-tuning, as CORL's scheduler keeps stepping); a reference, so
    # --config.offline_steps moves it.
    c.agent.actor_lr_schedule = "cosine"
    c.agent.actor_lr_decay_steps = c.get_ref("offline_steps")
    c.sweep = json.dumps({"agent.beta": [1.0, 3.0, 10.0]})
    return c
