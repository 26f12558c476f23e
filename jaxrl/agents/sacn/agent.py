"""SAC-N and EDAC: SAC with N critics (min over all), EDAC adding the diversity loss.

Update order per step, as in the EDAC code (CORL `algorithms/offline/edac.py`): the
temperature, then the actor (with the new α), then the critics (their target uses the new
actor and α), then the Polyak update. Offline and online updates are identical; online data
is added to the buffer by the training layer.

References: An et al., 2021, "Uncertainty-Based Offline Reinforcement Learning with
Diversified Q-Ensemble", `snu-mllab/EDAC`; CORL `algorithms/offline/{sac_n,edac}.py`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams, identity_switch
from jaxrl.agents.sacn import losses
from jaxrl.agents.sacn.config import SACNConfig
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.ops import polyak, temperature_loss
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_sacn(config: SACNConfig, spec: EnvSpec) -> Agent:
    """Builds SAC-N (or EDAC when `config.diversity`) for `spec`."""
    if config.diversity and config.num_critics < 2:
        raise ValueError(
            f"EDAC's diversity loss needs num_critics >= 2, got {config.num_critics}; "
            "raise num_critics or set diversity=False (SAC-N)"
        )
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims, config.layer_norm)
    actor = GaussianPolicy(
        spec.action_dim,
        config.hidden_dims,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
    )
    target_entropy = -config.target_entropy_scale * spec.action_dim
    txs = {
        "actor": adam(config.actor_lr),
        "critic": adam(config.critic_lr),
        "temperature": adam(config.temp_lr),
    }

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            "temperature": jnp.log(jnp.asarray(config.init_temperature, jnp.float32)),
        }
        return AgentState(
            params=params,
            target_params={"critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(eta=config.eta, discount=config.discount, tau=config.tau),
            step=jnp.zeros((), jnp.int32),
        )

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(mean, log_std, key)[0]

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        params, opts = dict(state.params), dict(state.opt_states)
        alpha_key, actor_key, target_key = jax.random.split(key, 3)

        # 1. Temperature, from a fresh sample of the current actor.
        mean, log_std = actor.apply(params["actor"], batch.obs)
        _, logp = tanh_gaussian_sample(mean, log_std, alpha_key)
        t_loss, t_grad = jax.value_and_grad(temperature_loss)(
            params["temperature"], logp, target_entropy, "log_alpha"
        )
        params["temperature"], opts["temperature"] = apply_grads(
            txs["temperature"], params["temperature"], opts["temperature"], t_grad
        )
        alpha = jnp.exp(params["temperature"])

        # 2. Actor, with the new α.
        (a_loss, a_aux), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
            params["actor"], actor, params["critic"], critic, batch.obs, actor_key, alpha
        )
        params["actor"], opts["actor"] = apply_grads(
            txs["actor"], params["actor"], opts["actor"], a_grads
        )

        # 3. Critics, their target from the new actor and α.
        y = losses.critic_target(
            state.target_params["critic"],
            critic,
            params["actor"],
            actor,
            batch,
            target_key,
            alpha,
            hp["discount"],
        )
        (q_loss, q_aux), q_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
            params["critic"], critic, batch, y, hp["eta"], config.diversity
        )
        params["critic"], opts["critic"] = apply_grads(
            txs["critic"], params["critic"], opts["critic"], q_grads
        )
        target = polyak(state.target_params["critic"], params["critic"], hp["tau"])
        metrics = {
            "critic_loss": q_loss,
            "td_loss": q_aux["td_loss"],
            "diversity_loss": q_aux["diversity"],
            "actor_loss": a_loss,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(a_aux["log_prob"]),
            "q_policy_std": a_aux["q_std"],
            "q_mean": jnp.mean(q_aux["q"]),
            "target_mean": jnp.mean(y),
        }
        new_state = state.replace(
            params=params,
            target_params={"critic": target},
            opt_states=opts,
            step=state.step + 1,
        )
        return new_state, metrics

    return Agent(init=init, act=act, update=update, to_online=identity_switch)


def make_edac(config: SACNConfig, spec: EnvSpec) -> Agent:
    """EDAC: `make_sacn` with the diversity loss switched on."""
    if not config.diversity:
        config = dataclasses.replace(config, diversity=True)
    return make_sacn(config, spec)
