"""XQL (ALGORITHMS.md §22a), the one-setting ("consistent") locomotion defaults: β 2, clip 7,
AWR temperature 3, batch 256; offline then online with the dataset kept in the buffer, as
XQL's `train_finetune.py` (IQL's fine-tuning loop). Per-dataset β/clip: docs/algorithms/xql.md.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "xql",
        agent={"loss_temperature": 2.0, "max_clip": 7.0, "beta": 3.0},
        batch_size=256,
        retention="append",
        # Locomotion rewards × T / (R_max − R_min), offline and online (§22a "Data").
        reward_normalization="return_range",
    )
