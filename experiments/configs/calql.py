"""Cal-QL: CQL with the Monte-Carlo lower bound, 50/50 mixed batches online (Cal-QL scripts).

CQL's 3×10 sampled actions per state make each update ~15× an IQL update: on a 2-core CPU this
config trains for fewer steps than the others.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "calql",
        agent={"cql_alpha": 5.0, "online_calibration": True},
        retention="mixed",
        offline_ratio=0.5,
        offline_steps=5_000,
        online_steps=5_000,
    )
