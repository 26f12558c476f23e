"""SAC/RLPD losses, module-level with params first.

SAC is the family's base learner, so its terms are the family's (`jaxrl.agents.families.sac`)
with RLPD's choices: the critics' squared TD error averaged over critics and batch, the
actor on a configurable ensemble reduction (RLPD: mean; WSRL online: min), the temperature
in the "alpha" form. What is SAC's own is only that reduction of the TD error.

References: Haarnoja et al., 2018 (SAC), eq. (5); Ball et al., 2023 (RLPD,
`rlpd/agents/sac/sac_learner.py`); ALGORITHMS.md §1 phase 3 and §3 ("Critic loss").
"""

from __future__ import annotations

from typing import Any

import jax

from jaxrl.agents.families.sac import critic_td_loss
from jaxrl.networks import QEnsemble
from jaxrl.types import Transition


def critic_loss(
    critic_params: Any, critic: QEnsemble, batch: Transition, target: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """L_Q = mean_{i, B}(Q_i(s, a) − y)² over every critic (RLPD, WSRL; ALGORITHMS.md §3).

    Returns:
      (loss, q) with q = Q_i(s, a) of shape [C, B].
    """
    return critic_td_loss(critic_params, critic, batch, target, "mean")
