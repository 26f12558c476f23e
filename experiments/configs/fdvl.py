"""f-DVL (ALGORITHMS.md §22b): XQL's locomotion pipeline with the χ² value loss, λ = 0.8
(`--config.agent.f=tv` for total variation, λ ≥ 0.5), offline then online with the dataset
kept in the buffer (IQL's fine-tuning loop)."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "fdvl",
        agent={"f": "chi2", "mixing_weight": 0.8},
        batch_size=256,
        retention="append",
        # XQL's locomotion rewards × T / (R_max − R_min), offline and online (§22b).
        reward_normalization="return_range",
    )
