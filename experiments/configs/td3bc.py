"""TD3+BC (sfujim/TD3_BC defaults: α 2.5, policy delay 2, smoothing 0.2/0.5, lr 3e-4).

CORL has no TD3+BC fine-tuning; online this keeps the offline loss (min_decay_coef 1) with
exploration noise 0.1 and 50/50 mixed batches. The reference normalizes observations with the
dataset statistics; enable the training layer's observation normalization where available.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides("td3bc", agent={"alpha": 2.5}, retention="mixed", offline_ratio=0.5)
