"""RLPD: SAC from scratch with the dataset as 50% of every batch, 10 LayerNorm critics,
2-of-10 target without replacement, mean-Q actor, UTD 20, random-action warm-up.

The recipe is `jaxrl.recipes.rlpd`. UTD 20 with 10 critics is expensive on a CPU; the default
here runs 5k env steps.
"""

from experiments.configs._base import with_overrides
from jaxrl import recipes


def get_config():
    return with_overrides(
        **recipes.rlpd(),
        online_steps=5_000,
        warmup_steps=1_000,
        eval_every=1_000,
    )
