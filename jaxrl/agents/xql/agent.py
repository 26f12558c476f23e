"""XQL: the IQL family with a Gumbel value loss, Huber-20 critics and the order V → actor → Q.

References: Garg, Hejna, Geist, Ermon, 2023, "Extreme Q-Learning: MaxEnt RL without Entropy";
`Div99/XQL: offline/learner.py` (ALGORITHMS.md §22a). The online phase is IQL's: the same
update on the appended buffer (identity switch).
"""

from __future__ import annotations

from jaxrl.agents.base import Agent
from jaxrl.agents.families import iql as family
from jaxrl.agents.xql.config import XQLConfig
from jaxrl.agents.xql.losses import VALUE_LOSSES
from jaxrl.specs import EnvSpec


def make_xql(config: XQLConfig, spec: EnvSpec) -> Agent:
    """Builds XQL for `spec`. See `XQLConfig` for the settings."""
    if config.value_loss not in VALUE_LOSSES:
        raise ValueError(f"value_loss={config.value_loss!r}; allowed: {sorted(VALUE_LOSSES)}")
    if config.loss_temperature <= 0:
        raise ValueError(f"loss_temperature={config.loss_temperature} must be positive")
    value_loss = VALUE_LOSSES[config.value_loss]
    return family.make_agent(
        config,
        spec,
        value_term=lambda x, hp: value_loss(x, hp.loss_temperature, hp.max_clip),
    )
