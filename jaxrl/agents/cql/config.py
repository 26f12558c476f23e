"""CQL and Cal-QL hyperparameters (Cal-QL `conservative_sac.py`; ALGORITHMS.md §2, §4.3)."""

from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class CQLConfig:
    """Conservative Q-Learning on SAC; Cal-QL is this with `calibrated=True`."""

    policy_hidden_dims: tuple[int, ...] = (256, 256)  # static: actor MLP
    q_hidden_dims: tuple[int, ...] = (256, 256)  # static: each critic's MLP
    num_critics: int = 2  # static: ensemble size (WSRL pre-trains with 10)
    layer_norm: str = "none"  # static: LayerNorm in the critics (WSRL: "before_act")
    actor_layer_norm: str = "none"  # static: LayerNorm in the actor (WSRL: "before_act")
    std_mode: str = "calql"  # static: log-std head, see networks.STD_MODES (WSRL: "state")
    init: str = "orthogonal"  # static: √2-gain hidden layers, 1e-2 output (Cal-QL)
    target_reduction: str = "min"  # static: "min" or "subset_min" (WSRL)
    subset_size: int = 2  # static: critics in a random target subset
    subset_replace: bool = True  # static: WSRL draws the subset with replacement
    cql_subset: bool = False  # static: conservative term on a random critic subset (WSRL)
    cql_n_actions: int = 10  # static: sampled actions of each kind for the logsumexp
    importance_sample: bool = True  # static: CQL(H) with importance sampling
    max_target_backup: bool = True  # static: max over n_actions next-action targets
    backup_entropy: bool = False  # static: entropy term in the target
    lagrange: bool = False  # static: learn α' against `target_action_gap`
    calibrated: bool = False  # static: Cal-QL's Monte-Carlo lower bound
    cql_alpha: float = 5.0  # CQL weight w
    online_cql_alpha: float | None = None  # CQL weight after the switch (None: unchanged)
    online_calibration: bool = True  # keep Cal-QL's bound online (original); False: CORL
    target_action_gap: float = 0.8  # τ_gap of the Lagrange version
    cql_temp: float = 1.0  # temperature T of the logsumexp
    clip_diff_min: float = -math.inf  # clip of the per-example gap
    clip_diff_max: float = math.inf
    policy_lr: float = 1e-4  # Adam learning rate of the actor and of the temperature leaf
    q_lr: float = 3e-4  # Adam learning rate of the critics
    discount: float = 0.99  # γ
    tau: float = 5e-3  # Polyak rate of the target critics
    target_entropy_scale: float = 1.0  # H_target = −scale·|A|
    temperature_param: str = "exp"  # static: α = exp(leaf), or softplus(leaf) (WSRL)
    # static: "log_alpha" is −log α·mean(log π + H_target) (Cal-QL's `conservative_sac.py`);
    # "alpha" is SAC's α·(Ĥ − H_target), which WSRL's `cql.py` inherits from its `sac.py`
    temperature_form: str = "log_alpha"
    # static: Ĥ of the temperature loss from the actor step's samples at s ("obs"), or from
    # fresh samples at s' ("next_obs", WSRL: n of them per state under max_target_backup)
    entropy_from: str = "obs"


@dataclasses.dataclass(frozen=True)
class CalQLConfig(CQLConfig):
    """Cal-QL: CQL with the policy-action Q-values bounded below by the MC return."""

    calibrated: bool = True
