"""WSRL: CQL/Cal-QL pre-training, then plain SAC on the same networks without offline data.

References: Zhou et al., 2024, "Efficient Online Reinforcement Learning Fine-Tuning Need Not
Retain Offline Data" (`zhouzypaul/wsrl`: `finetune.py`, `wsrl/agents/{cql,sac}.py`);
ALGORITHMS.md §1.

WSRL restores the pre-trained CQL checkpoint into a SAC learner. Here the two learners are
built over identical network modules, so the hand-off is only a change of update rule: the
offline chunk calls the CQL `update`, the online chunk calls SAC's `update_utd` on the same
`AgentState` (parameters, target critics, Adam moments and learning rates carry over), and
the switch changes no shapes.
"""

from __future__ import annotations

from jaxrl.agents.base import Agent, identity_switch
from jaxrl.agents.cql import make_cql
from jaxrl.agents.sac import SACConfig, make_sac
from jaxrl.agents.wsrl.config import WSRLConfig
from jaxrl.specs import EnvSpec


def online_sac_config(config: WSRLConfig) -> SACConfig:
    """The SAC learner WSRL fine-tunes with, over the networks `config` pre-trains."""
    return SACConfig(
        actor_hidden_dims=config.actor_hidden_dims,
        critic_hidden_dims=config.critic_hidden_dims,
        num_critics=config.num_critics,
        critic_layer_norm=config.layer_norm,
        actor_layer_norm=config.actor_layer_norm,
        target_reduction=config.target_reduction,
        subset_size=config.subset_size,
        subset_replace=config.subset_replace,
        actor_reduction=config.online_actor_reduction,
        backup_entropy=config.online_backup_entropy,
        actor_update=config.online_actor_update,
        target_entropy_scale=config.target_entropy_scale,
        temperature_param=config.temperature_param,
        entropy_from=config.entropy_from,
        # Learning rates, γ and τ are read from the carried-over state (CQL's hyperparameters).
    )


def make_wsrl(config: WSRLConfig, spec: EnvSpec) -> Agent:
    """Builds WSRL for `spec`: `update` is CQL (offline), `update_utd` is SAC (online)."""
    if config.std_mode != "state":
        raise ValueError(
            f"WSRL hands the actor to SAC, whose policy has a state-dependent log-std head; "
            f"std_mode={config.std_mode!r} is not supported, use std_mode='state'"
        )
    offline = make_cql(config, spec)
    online = make_sac(online_sac_config(config), spec)
    # The CQL weight and calibration after the switch never matter: online updates are SAC's.
    return Agent(
        init=offline.init,
        act=offline.act,
        update=offline.update,
        to_online=identity_switch,
        update_utd=online.update_utd,
    )
