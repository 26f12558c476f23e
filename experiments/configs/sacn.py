"""SAC-N with N = 10 critics (CORL halfcheetah), the same update offline and online."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "sacn",
        agent={
            "num_critics": 10,
            "actor_hidden_dims": (256, 256),
            "critic_hidden_dims": (256, 256),
        },
        retention="append",
    )
