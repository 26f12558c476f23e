"""WSRL (ALGORITHMS.md §1): CQL pre-training of a 10-critic LayerNorm ensemble; at the switch
the offline data is dropped, the frozen pre-trained policy fills an empty buffer with no
updates (warm-up), then SAC fine-tunes the same networks with UTD 4: each env step draws
4×256 rows (WSRL's 1024-row batch), one critic step per 256 rows and one actor step on all.

The recipe is `jaxrl.recipes.wsrl`. WSRL uses 250k offline steps and a 5,000-step warm-up on
locomotion; this CPU-sized default runs 2k offline steps, a 1,000-step warm-up and 4k online
steps with 2x128 networks and 4 sampled actions in the CQL term (10 critics and UTD 4 are slow
on a 2-core CPU).
"""

from experiments.configs._base import with_overrides
from jaxrl import recipes


def get_config():
    recipe = recipes.wsrl()
    agent = {"actor_hidden_dims": (128, 128), "critic_hidden_dims": (128, 128), **recipe["agent"]}
    return with_overrides(
        **{**recipe, "agent": agent},
        offline_steps=2_000,
        online_steps=4_000,
        warmup_steps=1_000,
        eval_every=1_000,
    )
