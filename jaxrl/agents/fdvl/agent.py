"""f-DVL: XQL's pipeline (the IQL family, Huber-20 critics, order V → actor → Q) with the χ²
or total-variation value loss.

References: Sikchi, Zheng, Zhang, Niekum, 2024, "Dual RL: Unification and New Methods for
Reinforcement and Imitation Learning"; `hari-sikchi/DVL` (ALGORITHMS.md §22b). The online
phase is IQL's (identity switch).
"""

from __future__ import annotations

from jaxrl.agents.base import Agent
from jaxrl.agents.families import iql as family
from jaxrl.agents.fdvl.config import FDVLConfig
from jaxrl.agents.fdvl.losses import VALUE_LOSSES
from jaxrl.specs import EnvSpec


def make_fdvl(config: FDVLConfig, spec: EnvSpec) -> Agent:
    """Builds f-DVL for `spec`. See `FDVLConfig` for the settings."""
    if config.f not in VALUE_LOSSES:
        raise ValueError(f"f={config.f!r}; allowed: {sorted(VALUE_LOSSES)}")
    if not 0.0 < config.mixing_weight < 1.0:
        raise ValueError(
            f"mixing_weight={config.mixing_weight} must lie in (0, 1): with λ = 1 nothing "
            "pulls V down inside the loss's flat region, so V is not pinned"
        )
    if config.f == "tv" and config.mixing_weight < 0.5:
        raise ValueError(
            f"mixing_weight={config.mixing_weight} must be >= 0.5 for f='tv': its minimiser "
            "has P(Q > V) = (1 − λ)/λ, which exceeds 1 below 0.5 (V is pushed down without bound)"
        )
    value_loss = VALUE_LOSSES[config.f]
    return family.make_agent(
        config,
        spec,
        value_term=lambda x, hp: value_loss(x, hp.mixing_weight),
    )
