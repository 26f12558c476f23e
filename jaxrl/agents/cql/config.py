"""CQL and Cal-QL hyperparameters (Cal-QL `conservative_sac.py`; ALGORITHMS.md §2, §4.3)."""

from __future__ import annotations

import dataclasses
import math

from jaxrl.agents.base import AgentConfig, DataNeeds, dynamic


@dataclasses.dataclass(frozen=True)
class CQLConfig(AgentConfig):
    """Conservative Q-Learning on SAC; Cal-QL is this with `calibrated=True`."""

    actor_hidden_dims: tuple[int, ...] = (256, 256)  # actor MLP
    critic_hidden_dims: tuple[int, ...] = (256, 256)  # each critic's MLP
    num_critics: int = 2  # ensemble size (WSRL pre-trains with 10)
    layer_norm: str = "none"  # LayerNorm in the critics (WSRL: "before_act")
    actor_layer_norm: str = "none"  # LayerNorm in the actor (WSRL: "before_act")
    std_mode: str = "calql"  # log-std head, see networks.STD_MODES (WSRL: "state")
    init: str = "orthogonal"  # √2-gain hidden layers (Cal-QL, WSRL)
    output_scale: float = 1e-2  # the output heads' init scale (Cal-QL 1e-2; WSRL √2, orthogonal)
    last_hidden_scale: float | None = None  # the last hidden layer's init scale (WSRL 1e-2)
    target_reduction: str = "min"  # "min" or "subset_min" (WSRL)
    subset_size: int = 2  # critics in a random target subset
    subset_replace: bool = True  # WSRL draws the subset with replacement
    cql_subset: bool = False  # conservative term on a random critic subset (WSRL)
    cql_n_actions: int = 10  # sampled actions of each kind for the logsumexp
    importance_sample: bool = True  # CQL(H) with importance sampling
    max_target_backup: bool = True  # max over n_actions next-action targets
    backup_entropy: bool = False  # entropy term in the target
    lagrange: bool = False  # learn α' against `target_action_gap`
    calibrated: bool = False  # Cal-QL's Monte-Carlo lower bound
    cql_alpha: float = dynamic(5.0)  # CQL weight w
    online_cql_alpha: float | None = None  # CQL weight after the switch (None: unchanged)
    online_calibration: bool = True  # keep Cal-QL's bound online (original); False: CORL
    target_action_gap: float = dynamic(0.8)  # τ_gap of the Lagrange version
    cql_temp: float = 1.0  # temperature T of the logsumexp
    clip_diff_min: float = -math.inf  # clip of the per-example gap
    clip_diff_max: float = math.inf
    actor_lr: float = dynamic(1e-4)  # Adam learning rate of the actor
    critic_lr: float = dynamic(3e-4)  # Adam learning rate of the critics
    temperature_lr: float = dynamic(1e-4)  # Adam learning rate of the temperature leaf
    cql_alpha_lr: float = dynamic(3e-4)  # Adam learning rate of log α' (Lagrange version)
    discount: float = dynamic(0.99)  # γ
    tau: float = dynamic(5e-3)  # Polyak rate of the target critics
    target_entropy_scale: float = 1.0  # H_target = −scale·|A|
    temperature_param: str = "exp"  # α = exp(leaf), or softplus(leaf) (WSRL)
    # "log_alpha" is −log α·mean(log π + H_target) (Cal-QL's `conservative_sac.py`);
    # "alpha" is SAC's α·(Ĥ − H_target), which WSRL's `cql.py` inherits from its `sac.py`
    temperature_form: str = "log_alpha"
    # Ĥ of the temperature loss from the actor step's samples at s ("obs"), or from
    # fresh samples at s' ("next_obs", WSRL: n of them per state under max_target_backup)
    entropy_from: str = "obs"

    def data_needs(self) -> DataNeeds:
        """Cal-QL reads Monte-Carlo returns-to-go with its own γ (`Transition.mc_return`)."""
        return DataNeeds(mc_return_discount=self.discount if self.calibrated else None)


@dataclasses.dataclass(frozen=True)
class CalQLConfig(CQLConfig):
    """Cal-QL: CQL with the policy-action Q-values bounded below by the MC return."""

    calibrated: bool = True
