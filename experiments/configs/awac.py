"""AWAC (CORL locomotion λ = 1/3; use 0.1 on antmaze/adroit), offline then online with the
dataset appended to the buffer and observations standardized by the dataset's statistics
(offline, online, in evaluation), as in CORL `algorithms/finetune/awac.py`."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "awac",
        agent={
            "awac_lambda": 1.0 / 3.0,
            "actor_hidden_dims": (256, 256),
            "critic_hidden_dims": (256, 256),
        },
        retention="append",
        normalize_obs=True,
    )
