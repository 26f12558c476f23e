"""ReBRAC hyperparameters (CORL `offline/rebrac.py`, `finetune/rebrac.py`; ALGORITHMS.md §4.6)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import DataNeeds, dynamic
from jaxrl.agents.td3bc.config import TD3BCConfig


@dataclasses.dataclass(frozen=True)
class ReBRACConfig(TD3BCConfig):
    """Revisited BRAC: TD3+BC with deeper LayerNorm critics, actor and critic BC penalties.

    Defaults are CORL's locomotion settings with halfcheetah-medium's coefficients
    (β_actor 0.001, β_critic 0.01); CORL's per-dataset table is in ALGORITHMS.md §4.6. The
    critic penalty needs the dataset's next actions (`Transition.next_action`), which the
    training layer adds because `data_needs` asks for them.
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256, 256)  # actor MLP (tanh output)
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256)  # each critic's MLP
    critic_layer_norm: str = "after_act"  # Dense → ReLU → LayerNorm (CORL critic_ln)
    actor_q: str = "min"  # min over the critics in the actor loss
    bc_reduction: str = "sum"  # ‖π(s) − a‖² summed over action dimensions
    alpha: float = dynamic(1.0)  # scale of the normalized Q term (ReBRAC: λ = 1 / sg(mean|min Q|))
    actor_bc_coef: float = dynamic(0.001)  # β_actor offline
    critic_bc_coef: float = dynamic(0.01)  # β_critic: penalty β_c‖ã' − a'_data‖² in the TD target
    online_critic_bc_coef: float = dynamic(0.0)  # β_critic after the switch (CORL: 0)
    # online β_actor decays linearly to this fraction (CORL 0.5)
    min_decay_coef: float = dynamic(0.5)
    exploration_noise: float = dynamic(0.0)  # online exploration σ (CORL fine-tuning configs: 0)
    actor_lr: float = dynamic(1e-3)  # Adam learning rate of the actor (antmaze: 3e-4)
    critic_lr: float = dynamic(1e-3)  # Adam learning rate of the critics (antmaze: 5e-5)

    def data_needs(self) -> DataNeeds:
        """The critic's BC penalty reads the dataset's next actions."""
        return DataNeeds(next_action=True)
