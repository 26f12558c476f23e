"""WSRL (ALGORITHMS.md §1): CQL pre-training of a 10-critic LayerNorm ensemble; at the switch
the offline data is dropped, the frozen pre-trained policy fills an empty buffer with no
updates (warm-up), then SAC fine-tunes the same networks with UTD 4: each env step draws
4×256 rows (WSRL's 1024-row batch), one critic step per 256 rows and one actor step on all.

WSRL uses 250k offline steps and a 5,000-step warm-up on locomotion; this CPU-sized default
runs 2k offline steps, a 1,000-step warm-up and 4k online steps with 2x128 networks and
4 sampled actions in the CQL term (10 critics and UTD 4 are slow on a 2-core CPU).
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "wsrl",
        agent={
            "policy_hidden_dims": (128, 128),
            "q_hidden_dims": (128, 128),
            "cql_n_actions": 4,
        },
        offline_steps=2_000,
        online_steps=4_000,
        retention="none",
        warmup_steps=1_000,
        warmup_policy="agent",
        utd=4,
        batch_size=256,
        eval_every=1_000,
    )
