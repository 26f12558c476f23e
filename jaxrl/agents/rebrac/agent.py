"""ReBRAC: TD3+BC revisited, with actor and critic behaviour-cloning penalties.

Critic target: y = r + γ m [min_j Q̄_j(s', ã') − β_critic ‖ã' − a'_data‖²]; actor loss:
mean[β_actor ‖π(s) − a‖² − min_j Q_j(s, π(s)) / sg(mean|min_j Q_j|)]; LayerNorm after the
activation in 3×256 critics. Online, β_actor decays linearly to `min_decay_coef`·β_actor over
`bc_decay_steps` online updates and β_critic becomes `online_critic_bc_coef` (0), as in CORL's
fine-tuning script; the decay is computed from the agent's step counter, so the switch only
changes leaves.

References: Tarasov et al., 2023, "Revisiting the Minimalist Approach to Offline Reinforcement
Learning" (ReBRAC); CORL `algorithms/offline/rebrac.py`, `algorithms/finetune/rebrac.py`
(ALGORITHMS.md §4.6).
"""

from __future__ import annotations

from jaxrl.agents.base import Agent
from jaxrl.agents.rebrac import losses
from jaxrl.agents.rebrac.config import ReBRACConfig
from jaxrl.agents.td3bc.agent import make_td3_family
from jaxrl.specs import EnvSpec


def make_rebrac(config: ReBRACConfig, spec: EnvSpec) -> Agent:
    """Builds ReBRAC for `spec`. See `ReBRACConfig` for the settings.

    Batches must carry `next_action` (see `jaxrl.data.trajectories.with_next_actions`).
    """
    return make_td3_family(config, spec, critic_penalty=losses.critic_bc_penalty)
