"""A2PR (ltlhuuu/A2PR README, halfcheetah-medium: α 40, vae_weight 1.0, mask 1.0, γ 0.99; the
reference networks: 3×256 actor, 4×256 critics and V, 750×750 VAE).

The reference is offline only. Online (this library's design, docs/algorithms/a2pr.md): the
same update on 50/50 mixed batches, so the advantage-filtered VAE keeps learning from the
online buffer too; the mask decays linearly to half over the online gradient steps
(mask_decay_steps follows online_steps × utd); exploration noise 0.1. Observations are
normalized with the dataset's mean and std (+1e-3), offline, online and in evaluation, as the
reference does (`normalize_obs=True`). On a 2-core CPU, smaller networks
(--config.agent.vae_hidden_dims='(256,256)' and 2×256 critics and V) run several times faster.
"""

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
        "a2pr",
        agent={"alpha": 40.0, "vae_weight": 1.0, "mask": 1.0, "discount": 0.99},
        retention="mixed",
        offline_ratio=0.5,
        normalize_obs=True,
    )
    # A reference, so --config.online_steps / --config.utd overrides move the decay with them.
    c.agent.mask_decay_steps = c.get_ref("online_steps") * c.get_ref("utd")
    return c
