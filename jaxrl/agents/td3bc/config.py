"""TD3+BC hyperparameters (defaults: `sfujim/TD3_BC`, CORL `offline/td3_bc.py`; ALGORITHMS.md
§4.7). The online settings follow CORL's ReBRAC fine-tuning scheme (docs/algorithms/td3_family.md).
"""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import dynamic
from jaxrl.agents.families.configs import TD3FamilyConfig


@dataclasses.dataclass(frozen=True)
class TD3BCConfig(TD3FamilyConfig):
    """TD3 with a behaviour-cloning term and a Q term normalized by sg(mean|Q|).

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    The reference normalizes observations with the dataset's mean and std (eps 1e-3), offline
    and online; the agent assumes the training layer does it when asked (it is not part of the
    agent).
    The TD3 family's fields (widths, critics, delay, noise, γ, τ, rates) are inherited from
    `jaxrl.agents.families.configs.TD3FamilyConfig`; only the defaults that differ are here.
    """

    actor_layer_norm: str = "none"  # "none" | "before_act" | "after_act"
    critic_layer_norm: str = "none"  # LayerNorm in the critics
    init: str = "xavier"  # hidden-layer init ("xavier" | "orthogonal" | "lecun")
    actor_q: str = "first"  # Q in the actor loss: "first" (Q_1, TD3+BC) | "min"
    bc_reduction: str = "mean"  # ‖π(s) − a‖² "mean" over |A| (F.mse_loss) | "sum"
    normalize_q: bool = True  # λ = α / sg(mean|Q|); False gives λ = α
    reset_optimizers: bool = False  # fresh Adam states at the switch (CORL reset_opts)
    # count steps from 1 for the policy delay, so the actor first updates on the second step
    # (sfujim/TD3_BC and CORL's PyTorch TD3+BC: `total_it += 1` first; set in the TD3+BC
    # config); False: from 0, the actor updates on the first step (CORL's JAX ReBRAC)
    one_based_delay: bool = False
    alpha: float = dynamic(2.5)  # α, the scale of the normalized Q term
    actor_bc_coef: float = dynamic(1.0)  # β_actor, the weight of the BC term offline
    # online β_actor floor of the linear decay; 1 means no decay
    min_decay_coef: float = dynamic(1.0)
    # online gradient steps over which β_actor decays to it
    bc_decay_steps: int = dynamic(1_000_000, schedule="online")
