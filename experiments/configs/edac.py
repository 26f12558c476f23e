"""EDAC with N = 10 critics and η = 1 (CORL halfcheetah-medium), offline then online."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "edac",
        agent={
            "num_critics": 10,
            "eta": 1.0,
            "actor_hidden_dims": (256, 256),
            "critic_hidden_dims": (256, 256),
        },
        retention="append",
    )
