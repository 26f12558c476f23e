"""CQL (fixed weight 5, max-target backup), data appended online as in CORL."""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides(
        "cql", agent={"cql_alpha": 5.0}, retention="append", offline_steps=5_000, online_steps=5_000
    )
