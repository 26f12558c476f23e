"""RIQL (ALGORITHMS.md §11): IQL with a 5-critic quantile target, a Huber TD loss and a
deterministic actor, for corrupted data. Fine-tuning continues the same losses with 50/50
mixed batches, like the default IQL job. Observations are normalized with the dataset's
statistics (`normalize_obs=True`), as RIQL does.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides("riql", agent={"hidden_dims": (128, 128)}, normalize_obs=True)
