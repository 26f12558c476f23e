"""10%BC (CORL any_percent_bc.py with frac 0.1): BC on the best 10% of episodes by
0.99-discounted return; otherwise `bc.py` (deterministic tanh actor, MSE, lr 3e-4, the policy
fixed online, where CORL's %BC has no online phase).
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides("bc", agent={"top_fraction": 0.1}, retention="append")
