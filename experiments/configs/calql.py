"""Cal-QL: CQL with the Monte-Carlo lower bound, 50/50 mixed batches online (Cal-QL scripts).

Online, as `conservative_sac_main.py`: a trajectory with the policy held fixed, its
Monte-Carlo returns computed, then as many updates as it had steps (`online_updates=
"after_chunk"` with 1,000-step chunks, halfcheetah's episode length; on tasks that end
episodes early a chunk holds several).

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
        online_updates="after_chunk",
        chunk_length=1_000,
    )
