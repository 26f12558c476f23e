"""TD3+BC (sfujim/TD3_BC defaults: α 2.5, policy delay 2, smoothing 0.2/0.5, lr 3e-4).

CORL has no TD3+BC fine-tuning; online this keeps the offline loss (min_decay_coef 1) with
exploration noise 0.1 and 50/50 mixed batches. Observations are normalized with the dataset's
mean and std (+1e-3), offline, online and in evaluation, as the reference does
(`normalize_obs=True`). The policy delay counts steps from 1, as the reference's `total_it`
(the actor first updates on the second step).
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "td3bc",
        agent={"alpha": 2.5, "one_based_delay": True},
        retention="mixed",
        offline_ratio=0.5,
        normalize_obs=True,
    )
