"""IQL (CORL locomotion defaults: expectile 0.7, β 3), offline then online with appended data."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides("iql", agent={"expectile": 0.7, "beta": 3.0}, retention="append")
