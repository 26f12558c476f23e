"""ReBRAC's own term, at module level (ALGORITHMS.md §4.6): the critic's behaviour-cloning
penalty on the target action. The rest of ReBRAC's losses are TD3+BC's with ReBRAC's modes
(`jaxrl.agents.td3bc.losses.actor_loss` with "min" and "sum") and the TD3 family's
(`jaxrl.agents.families.td3`).

References: Tarasov et al., 2023, "Revisiting the Minimalist Approach to Offline Reinforcement
Learning" (its critic objective); CORL `algorithms/offline/rebrac.py` (`update_critic`).
"""

from __future__ import annotations

import jax

from jaxrl.ops import bc_penalty
from jaxrl.types import Transition


def critic_bc_penalty(next_action: jax.Array, batch: Transition) -> jax.Array:
    """‖ã' − a'_data‖² · (1 − truncated), per example [B]: ReBRAC's critic BC term.

    The TD target subtracts β_critic times this from min_j Q̄_j(s', ã')
    (`jaxrl.agents.families.td3.td3_target`'s `next_value_penalty`), giving
    y = r + γ m [min_j Q̄_j(s', ã') − β_c ‖ã' − a'‖²]. The penalty is dropped at time-limit
    rows, where the data holds no next action.

    Args:
      next_action: the smoothed target action ã' [B, |A|].
      batch: needs `next_action`, the dataset's a' [B, |A|], and `truncated` [B].
    """
    if batch.next_action is None:
        raise ValueError(
            "the critic BC penalty needs batch.next_action, the dataset's next actions; "
            "add them with jaxrl.data.trajectories.with_next_actions(dataset) (the "
            "training layer adds them when `data_needs().next_action` is set)"
        )
    return bc_penalty(next_action, batch.next_action, "sum") * (1.0 - batch.truncated)
