"""FamO2O + IQL hyperparameters (defaults: `LeapLabTHU/FamO2O:
jax_iql/configs/family_antmaze_finetune_config.py` and `family_learner.py`; ALGORITHMS.md §7)."""

from __future__ import annotations

import dataclasses

from jaxrl.agents.base import AgentConfig, dynamic


@dataclasses.dataclass(frozen=True)
class FamO2OConfig(AgentConfig):
    """Family Offline-to-Online on IQL: a β-conditioned universal actor and a balance model.

    Fields marked `dynamic` are leaves of the agent state (sweepable); the others are static.
    β is the AWR inverse temperature; the reference's antmaze range is [8, 14] (around IQL's
    antmaze β = 10). The experiment config `experiments/configs/famo2o.py` uses locomotion
    settings instead.
    """

    hidden_dims: tuple[int, ...] = (256, 256)  # width of every MLP (Q, V, π_u, π_b)
    num_critics: int = 2  # twin Q, min over members
    layer_norm: str = "none"  # LayerNorm placement in the critics and value
    embedding_dim: int = 6  # d of the sin-cos embedding of β (even)
    embedding_base: float = 1e4  # n of the sin-cos embedding
    actor_tanh_mean: bool = True  # tanh on π_u's mean (the reference; the density is
    # an unsquashed Gaussian either way)
    actor_log_std_min: float = -5.0  # clip of π_u's state-independent log σ
    actor_log_std_max: float = 2.0  # clip of π_u's state-independent log σ
    balance_log_std_min: float = -10.0  # clip of π_b's state-independent log σ
    balance_log_std_max: float = 2.0  # clip of π_b's state-independent log σ
    actor_weighting: str = "per_sample"  # "per_sample" exp(β_i A_i) (paper), or
    # "reference" mean_k exp(β_k A_i), the (B, B) broadcast of the reference code
    max_weight: float = 100.0  # clip of exp(β·A)
    beta_min: float = dynamic(8.0)  # lower end of the balance coefficient β
    beta_max: float = dynamic(14.0)  # upper end of the balance coefficient β
    expectile: float = dynamic(0.9)  # τ of the value expectile loss (reference antmaze: 0.9)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(0.005)  # Polyak rate of the target Q
    init_temperature: float = dynamic(1.0)  # α_b of the balance model at initialisation
    target_entropy: float = dynamic(-0.5)  # H_target of the balance model's 1-d policy
    actor_lr: float = dynamic(3e-4)  # Adam learning rate of π_u (constant, as the reference config)
    balance_lr: float = dynamic(3e-4)  # Adam learning rate of π_b (the reference reuses actor_lr)
    temperature_lr: float = dynamic(3e-4)  # Adam learning rate of log α_b
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the twin Q
    value_lr: float = dynamic(3e-4)  # Adam learning rate of V
