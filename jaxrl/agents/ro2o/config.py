"""RO2O hyperparameters (`BattleWen/RO2O:algorithms/offline/ro2o_mujoco.py`; ALGORITHMS.md §6)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class RO2OConfig(AgentConfig):
    """RO2O: SAC-N with Q and policy smoothness over perturbed states and an OOD penalty.

    Defaults are the MuJoCo README settings. Online (`ro2o_ft_mujoco.py`) the same losses
    continue without retained offline data (training config: retention="none", warm-up 2,500
    steps with the pre-trained policy); the uncertainty weight u is held at `online_ood_u`
    with no decay, as the README advises. States are normalized with the dataset statistics
    (`normalize_obs` in the training config).
    """

    actor_hidden_dims: tuple[int, ...] = (256, 256, 256)  # actor MLP
    critic_hidden_dims: tuple[int, ...] = (256, 256, 256)  # each critic's MLP
    num_critics: int = 10  # ensemble size N
    num_perturbations: int = 20  # n uniform perturbations per smoothness term
    perturb_eps_q: float = 0.01  # ε of the Q-smoothness perturbations (L∞ radius)
    perturb_eps_policy: float = 0.01  # ε of the policy-smoothness perturbations
    perturb_eps_ood: float = 0.01  # ε of the OOD-state perturbations
    # η₁: weight of the Q-smoothness loss (hard-coded upstream)
    q_smooth_coef: float = dynamic(1e-4)
    q_smooth_positive_weight: float = 0.8  # asymmetric weight of positive Q differences
    policy_smooth_coef: float = dynamic(1.0)  # β_policy: weight of the symmetric-KL smoothness loss
    ood_coef: float = dynamic(0.1)  # β_ood: weight of the OOD pseudo-target loss
    ood_u_init: float = dynamic(1.0)  # u at step 0 (pseudo-target Q − u·std)
    ood_u_decay: float = dynamic(5e-7)  # u decreases by this per gradient step ...
    ood_u_min: float = dynamic(0.1)  # ... down to this
    online_ood_u: float = dynamic(0.1)  # u after the switch, held constant
    log_std_min: float = -5.0  # clip of the actor's log σ
    log_std_max: float = 2.0
    actor_lr: float = dynamic(3e-4)  # Adam learning rates
    critic_lr: float = dynamic(3e-4)
    temperature_lr: float = dynamic(3e-4)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(5e-3)  # Polyak rate of the target critics
