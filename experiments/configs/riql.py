"""RIQL (ALGORITHMS.md §11): IQL with a 5-critic quantile target, a Huber TD loss and a
deterministic actor, for corrupted data. Fine-tuning continues the same losses with 50/50
mixed batches, like the default IQL job. Observations are normalized with the dataset's
statistics (`normalize_obs=True`), as RIQL does, and the actor's learning rate is
cosine-annealed over the offline steps (RIQL's `CosineAnnealingLR(T_max=max_timesteps)`, the
periodic PyTorch form, stepping on through fine-tuning as CORL's IQL does).
"""

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
        "riql", agent={"hidden_dims": (128, 128), "actor_lr_schedule": "cosine"}, normalize_obs=True
    )
    c.agent.actor_lr_decay_steps = c.get_ref("offline_steps")
    return c
