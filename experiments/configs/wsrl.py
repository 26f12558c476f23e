"""WSRL's online recipe on a pre-trained agent: no retained offline data, a warm-up with the
frozen pre-trained policy and no updates, then SAC-style updates with UTD 4 and batch 1024.

Here pre-training and fine-tuning use one agent (Cal-QL with a 10-critic LayerNorm ensemble,
subset targets drawn with replacement); WSRL's hand-off from Cal-QL to a plain SAC learner
is the baselines issue's work. The CQL weight is set to 0 online, which turns the learner
into SAC with a max-backup target.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "calql",
        agent={
            "num_critics": 10,
            "layer_norm": "before_act",
            "target_reduction": "subset_min",
            "subset_size": 2,
            "subset_replace": True,
            "online_cql_alpha": 0.0,
            "cql_n_actions": 4,
        },
        offline_steps=2_000,
        online_steps=2_000,
        retention="none",
        warmup_steps=1_000,
        warmup_policy="agent",
        utd=4,
        batch_size=1024,
        eval_every=1_000,
    )
