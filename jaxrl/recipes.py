"""Published offline→online recipes as `TrainConfig` overrides, in one place.

Each function returns the fields that define the recipe: ``algo``, ``agent`` (overrides of the
algorithm's config fields) and the `TrainConfig` fields of the online phase. Run sizes (steps,
warm-up length, evaluation cadence, network widths) are the caller's: the config files in
`experiments/configs/` add them, and the benchmark times one online chunk of each recipe.

Example:
    >>> from jaxrl import recipes
    >>> from jaxrl.agents.registry import agent_config
    >>> from jaxrl.config import TrainConfig
    >>> r = recipes.rlpd()
    >>> config = TrainConfig(
    ...     algo=r["algo"], agent=agent_config(r["algo"], r["agent"]),
    ...     **{k: v for k, v in r.items() if k not in ("algo", "agent")})
    >>> config.utd, config.retention
    (20, 'mixed')
"""

from __future__ import annotations

from typing import Any


def rlpd() -> dict[str, Any]:
    """RLPD: SAC from scratch with the dataset as 50% of every batch, 10 LayerNorm critics,
    a 2-of-10 target without replacement, a mean-Q actor, UTD 20, random-action warm-up.

    References: Ball et al., 2023, "Efficient Online Reinforcement Learning with Offline Data"
    (`ikostrikov/rlpd`); ALGORITHMS.md §3.
    """
    return {
        "algo": "sac",
        "agent": {
            "num_critics": 10,
            "critic_layer_norm": "before_act",
            "target_reduction": "subset_min",
            "subset_size": 2,
            "subset_replace": False,
            "actor_reduction": "mean",
            "target_entropy_scale": 0.5,
            "actor_update": "last",
        },
        "offline_steps": 0,
        "retention": "mixed",
        "offline_ratio": 0.5,
        "utd": 20,
        "warmup_policy": "random",
    }


def wsrl() -> dict[str, Any]:
    """WSRL: CQL pre-training, the offline data dropped at the switch, a warm-up by the frozen
    pre-trained policy, then SAC with UTD 4 on 4×256 rows per env step (WSRL's 1024-row batch).

    ``cql_n_actions`` is 4 (the reference samples 10): the CPU-sized choice of
    `experiments/configs/wsrl.py`, kept here so the benchmark times the same learner.

    References: Zhou et al., 2024, "Efficient Online Reinforcement Learning Fine-Tuning Need
    Not Retain Offline Data" (`zhouzypaul/wsrl`); ALGORITHMS.md §1.
    """
    return {
        "algo": "wsrl",
        "agent": {"cql_n_actions": 4},
        "retention": "none",
        "warmup_policy": "agent",
        "utd": 4,
        "batch_size": 256,
    }
