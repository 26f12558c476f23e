"""SAC with critic ensembles, random-subset targets, LayerNorm and high update-to-data ratios.

References: Haarnoja et al., 2018 (SAC); Ball et al., 2023 (RLPD, `ikostrikov/rlpd`);
Zhou et al., 2024 (WSRL, `zhouzypaul/wsrl`). ALGORITHMS.md §1 and §3.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams, identity_switch
from jaxrl.agents.sac.config import SACConfig
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.ops import (
    check_temperature_options,
    polyak,
    reduce_ensemble,
    td_target,
    temperature_leaf,
    temperature_loss,
    temperature_value,
)
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_sac(config: SACConfig, spec: EnvSpec) -> Agent:
    """Builds SAC for `spec`. See `SACConfig` for the RLPD and WSRL settings."""
    if config.actor_update not in ("last", "full"):
        raise ValueError(f"actor_update={config.actor_update!r}; allowed: 'last', 'full'")
    check_temperature_options(config.temperature_param, config.entropy_from)
    param = config.temperature_param
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims, config.critic_layer_norm)
    actor = GaussianPolicy(spec.action_dim, config.hidden_dims, config.actor_layer_norm)
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
            "temperature": temperature_leaf(config.init_temperature, param),
        }
        return AgentState(
            params=params,
            target_params={"critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(discount=config.discount, tau=config.tau),
            step=jnp.zeros((), jnp.int32),
        )

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(mean, log_std, key)[0]

    def critic_step(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        next_key, subset_key = jax.random.split(key)
        alpha = temperature_value(state.params["temperature"], param)
        mean, log_std = actor.apply(state.params["actor"], batch.next_obs)
        next_action, next_logp = tanh_gaussian_sample(mean, log_std, next_key)
        q_next = critic.apply(state.target_params["critic"], batch.next_obs, next_action)
        q_next = reduce_ensemble(
            q_next, config.target_reduction, subset_key, config.subset_size, config.subset_replace
        )
        if config.backup_entropy:
            q_next = q_next - alpha * next_logp
        y = td_target(batch.reward, batch.mask, q_next, hp["discount"])

        def loss_fn(cp):
            q = critic.apply(cp, batch.obs, batch.action)
            return jnp.mean((q - y[None]) ** 2), q

        (loss, q), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["critic"])
        cp, opt = apply_grads(
            txs["critic"], state.params["critic"], state.opt_states["critic"], grads
        )
        target = polyak(state.target_params["critic"], cp, hp["tau"])
        state = state.replace(
            params={**state.params, "critic": cp},
            target_params={"critic": target},
            opt_states={**state.opt_states, "critic": opt},
        )
        return state, {"critic_loss": loss, "q_mean": jnp.mean(q), "target_mean": jnp.mean(y)}

    def actor_step(state: AgentState, batch: Transition, key: jax.Array):
        leaf = state.params["temperature"]
        alpha = temperature_value(leaf, param)
        if config.entropy_from == "next_obs":
            key, entropy_key = jax.random.split(key)

        def loss_fn(ap):
            mean, log_std = actor.apply(ap, batch.obs)
            a, logp = tanh_gaussian_sample(mean, log_std, key)
            q = critic.apply(state.params["critic"], batch.obs, a)
            q = reduce_ensemble(q, config.actor_reduction)
            return jnp.mean(alpha * logp - q), logp

        (a_loss, logp), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["actor"])
        ap, a_opt = apply_grads(
            txs["actor"], state.params["actor"], state.opt_states["actor"], grads
        )
        if config.entropy_from == "next_obs":  # fresh a' ~ π(·|s') of the pre-step actor
            mean, log_std = actor.apply(state.params["actor"], batch.next_obs)
            t_logp = tanh_gaussian_sample(mean, log_std, entropy_key)[1]
        else:
            t_logp = logp
        t_loss, t_grad = jax.value_and_grad(temperature_loss)(
            leaf, t_logp, target_entropy, "alpha", param
        )
        la, t_opt = apply_grads(txs["temperature"], leaf, state.opt_states["temperature"], t_grad)
        state = state.replace(
            params={**state.params, "actor": ap, "temperature": la},
            opt_states={**state.opt_states, "actor": a_opt, "temperature": t_opt},
        )
        metrics = {
            "actor_loss": a_loss,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(logp),
        }
        return state, metrics

    def update(state: AgentState, batch: Transition, key: jax.Array):
        critic_key, actor_key = jax.random.split(key)
        state, c_metrics = critic_step(state, batch, critic_key)
        state, a_metrics = actor_step(state, batch, actor_key)
        return state.replace(step=state.step + 1), {**c_metrics, **a_metrics}

    def update_utd(state: AgentState, batches: Transition, key: jax.Array, unroll: int | bool = 1):
        utd = batches.reward.shape[0]
        critic_key, actor_key = jax.random.split(key)

        def body(carry, batch):  # the key rides in the carry (see training.chunks._utd_update)
            s, k = carry
            k, step_key = jax.random.split(k)
            s, m = critic_step(s, batch, step_key)
            return (s, k), m

        # `unroll=True` (jaxrl.bench): XLA's cost analysis then counts every critic step.
        (state, _), c_metrics = jax.lax.scan(body, (state, critic_key), batches, unroll=unroll)
        if config.actor_update == "last":
            actor_batch = jax.tree.map(lambda x: x[-1], batches)
        else:
            actor_batch = jax.tree.map(lambda x: x.reshape((-1,) + x.shape[2:]), batches)
        state, a_metrics = actor_step(state, actor_batch, actor_key)
        c_metrics = jax.tree.map(jnp.mean, c_metrics)
        return state.replace(step=state.step + utd), {**c_metrics, **a_metrics}

    return Agent(
        init=init, act=act, update=update, to_online=identity_switch, update_utd=update_utd
    )
