"""RO2O (ALGORITHMS.md §6): SAC-N with smoothness and uncertainty terms, fine-tuned without
retained offline data (a fresh FIFO buffer, updates after 2,500 pre-trained-policy steps).

States are normalized with the dataset's statistics, as the reference does. CPU-sized: 3x128
networks, 10 critics, 8 perturbations instead of 20.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "ro2o",
        agent={
            "actor_hidden_dims": (128, 128, 128),
            "critic_hidden_dims": (128, 128, 128),
            "num_perturbations": 8,
        },
        normalize_obs=True,
        retention="none",
        warmup_steps=2_500,
        warmup_policy="agent",
    )
