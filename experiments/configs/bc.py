"""BC (CORL any_percent_bc.py: deterministic tanh actor, MSE, lr 3e-4). For %BC see
`bc10.py` (or set `--config.agent.top_fraction`).

Online the policy stays fixed (online_actor_lr 0; CORL's BC has no online phase), so the online
curve shows the offline policy collecting data; set online_actor_lr to continue BC online.
"""

from experiments.configs._base import with_overrides


def get_config():
    return with_overrides("bc", agent={"top_fraction": 1.0}, retention="append")
