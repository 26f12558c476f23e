"""RLPD: SAC from scratch with the dataset as 50% of every batch, 10 LayerNorm critics,
2-of-10 target without replacement, mean-Q actor, UTD 20, random-action warm-up.

UTD 20 with 10 critics is expensive on a CPU; the default here runs 5k env steps.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "sac",
        agent={
            "num_critics": 10,
            "critic_layer_norm": "before_act",
            "target_reduction": "subset_min",
            "subset_size": 2,
            "subset_replace": False,
            "actor_reduction": "mean",
            "target_entropy_scale": 0.5,
            "actor_update": "last",
        },
        offline_steps=0,
        online_steps=5_000,
        retention="mixed",
        offline_ratio=0.5,
        utd=20,
        warmup_steps=1_000,
        warmup_policy="random",
        eval_every=1_000,
    )
