"""BC and %BC: supervised regression of the dataset's actions.

%BC is BC on the best `top_fraction` of episodes; the filtering is done once on the data
(`jaxrl.data.trajectories.top_trajectories`), so the agent is plain BC. Online, the policy is
kept fixed by default (CORL's BC has no online phase); `online_actor_lr` > 0 continues BC on
the batches the training layer draws (dataset and online buffer).

References: Chen et al., 2021, "Decision Transformer" (%BC baseline); CORL
`algorithms/offline/any_percent_bc.py`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.agents import base
from jaxrl.agents.base import Agent, AgentState
from jaxrl.agents.bc import losses
from jaxrl.agents.bc.config import BCConfig
from jaxrl.networks import DeterministicPolicy, GaussianPolicy, tanh_gaussian_sample
from jaxrl.ops import BC_REDUCTIONS
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

POLICIES = ("deterministic", "gaussian")


def make_bc(config: BCConfig, spec: EnvSpec) -> Agent:
    """Builds BC (or %BC) for `spec`. See `BCConfig` for the settings."""
    if config.policy not in POLICIES:
        raise ValueError(f"policy={config.policy!r}; allowed: {POLICIES}")
    if config.bc_reduction not in BC_REDUCTIONS:
        raise ValueError(f"bc_reduction={config.bc_reduction!r}; allowed: {BC_REDUCTIONS}")
    if not 0.0 < config.top_fraction <= 1.0:
        raise ValueError(
            f"top_fraction={config.top_fraction} must lie in (0, 1]; e.g. 0.1 for 10%BC, 1 for BC"
        )
    deterministic_policy = config.policy == "deterministic"
    if deterministic_policy:
        actor = DeterministicPolicy(
            spec.action_dim, config.hidden_dims, config.layer_norm, config.init
        )
    else:
        actor = GaussianPolicy(spec.action_dim, config.hidden_dims, config.layer_norm, config.init)
    tx = base.adam()

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = {"actor": actor.init(key, jnp.zeros((1, spec.obs_dim)))}
        return base.initial_state(params, {"actor": tx}, hp, ())

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        if deterministic_policy:
            a = actor.apply(state.params["actor"], obs)
            if deterministic:
                return a
            noise = state.hparams.exploration_noise * jax.random.normal(key, a.shape)
            return jnp.clip(a + noise, -1.0, 1.0)
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(mean, log_std, key)[0]

    def loss_fn(actor_params, batch):
        if deterministic_policy:
            return losses.deterministic_bc_loss(actor_params, actor, batch, config.bc_reduction)
        return losses.gaussian_bc_loss(actor_params, actor, batch)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        del key  # BC's update is deterministic given the batch
        loss, grads = jax.value_and_grad(loss_fn)(state.params["actor"], batch)
        params, opt = base.apply_grads(tx, state.params["actor"], state.opt_states["actor"], grads)
        new_state = state.replace(
            params={"actor": params}, opt_states={"actor": opt}, step=state.step + 1
        )
        return new_state, {"actor_loss": loss}

    def to_online(state: AgentState) -> AgentState:
        opt = base.set_learning_rate(state.opt_states["actor"], state.hparams.online_actor_lr)
        return base.mark_switch(state.replace(opt_states={"actor": opt}))

    return Agent(init=init, act=act, update=update, to_online=to_online)
