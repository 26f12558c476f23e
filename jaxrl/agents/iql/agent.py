"""IQL: expectile value, TD critic on V(s'), advantage-weighted actor.

References: Kostrikov, Nair, Levine, 2021, "Offline Reinforcement Learning with Implicit
Q-Learning"; CORL `algorithms/finetune/iql.py` (ALGORITHMS.md §4.1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams, identity_switch
from jaxrl.agents.iql.config import IQLConfig
from jaxrl.networks import DeterministicPolicy, GaussianPolicy, QEnsemble, ValueNetwork
from jaxrl.networks.distributions import gaussian_log_prob
from jaxrl.ops import awr_weights, expectile_loss, huber_loss, polyak, reduce_ensemble, td_target
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_iql(config: IQLConfig, spec: EnvSpec) -> Agent:
    """Builds IQL for `spec`. See `IQLConfig` for the settings (and RIQL's options)."""
    if config.q_reduction not in ("min", "quantile"):
        raise ValueError(f"q_reduction={config.q_reduction!r}; allowed: 'min', 'quantile'")
    if config.critic_loss not in ("mse", "huber"):
        raise ValueError(f"critic_loss={config.critic_loss!r}; allowed: 'mse', 'huber'")
    critic = QEnsemble(config.num_critics, config.hidden_dims, config.layer_norm)
    value = ValueNetwork(config.hidden_dims, config.layer_norm)
    if config.deterministic_actor:
        actor = DeterministicPolicy(spec.action_dim, config.hidden_dims)
    else:
        actor = GaussianPolicy(
            spec.action_dim, config.hidden_dims, std_mode="param", tanh_mean=True
        )
    txs = {
        "actor": adam(config.actor_lr),
        "critic": adam(config.critic_lr),
        "value": adam(config.value_lr),
    }

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic, k_value = jax.random.split(key, 3)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            "value": value.init(k_value, obs),
        }
        return AgentState(
            params=params,
            target_params={"critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(
                expectile=config.expectile,
                beta=config.beta,
                discount=config.discount,
                tau=config.tau,
                exploration_noise=config.exploration_noise,
                q_quantile=config.q_quantile,
                huber_delta=1.0 / config.huber_sigma**2,
            ),
            step=jnp.zeros((), jnp.int32),
        )

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        if config.deterministic_actor:
            a = actor.apply(state.params["actor"], obs)
            if deterministic:
                return a
            sigma = state.hparams["exploration_noise"]
            noise = jnp.clip(sigma * jax.random.normal(key, a.shape), -0.5, 0.5)
            return jnp.clip(a + noise, -1.0, 1.0)
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:
            return mean
        return jnp.clip(mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape), -1.0, 1.0)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        del key  # IQL's update is deterministic given the batch
        hp = state.hparams
        params = state.params
        q_all = critic.apply(state.target_params["critic"], batch.obs, batch.action)
        q_target = reduce_ensemble(q_all, config.q_reduction, quantile=hp["q_quantile"])
        v_next = value.apply(params["value"], batch.next_obs)

        def value_loss(vp):
            v = value.apply(vp, batch.obs)
            return jnp.mean(expectile_loss(q_target - v, hp["expectile"])), v

        def critic_loss(cp):
            q = critic.apply(cp, batch.obs, batch.action)
            y = td_target(batch.reward, batch.mask, v_next, hp["discount"])
            if config.target_clip is not None:
                y = jnp.clip(y, *config.target_clip)
            if config.critic_loss == "huber":
                return jnp.mean(huber_loss(q - y[None], hp["huber_delta"])), q
            return jnp.mean((q - y[None]) ** 2), q

        (v_loss, v), v_grads = jax.value_and_grad(value_loss, has_aux=True)(params["value"])
        # The actor's advantage uses V before its gradient step, as in the reference.
        adv = q_target - v
        weights = awr_weights(adv, hp["beta"], config.max_weight)

        def actor_loss(ap):
            if config.deterministic_actor:
                bc = jnp.sum((actor.apply(ap, batch.obs) - batch.action) ** 2, -1)
            else:
                mean, log_std = actor.apply(ap, batch.obs)
                bc = -gaussian_log_prob(mean, log_std, batch.action)
            return jnp.mean(weights * bc)

        (q_loss, q), q_grads = jax.value_and_grad(critic_loss, has_aux=True)(params["critic"])
        a_loss, a_grads = jax.value_and_grad(actor_loss)(params["actor"])

        new_params, new_opt = {}, {}
        for name, grads in (("value", v_grads), ("critic", q_grads), ("actor", a_grads)):
            new_params[name], new_opt[name] = apply_grads(
                txs[name], params[name], state.opt_states[name], grads
            )
        target = polyak(state.target_params["critic"], new_params["critic"], hp["tau"])
        metrics = {
            "value_loss": v_loss,
            "critic_loss": q_loss,
            "actor_loss": a_loss,
            "q_mean": jnp.mean(q),
            "v_mean": jnp.mean(v),
            "adv_mean": jnp.mean(adv),
            "awr_weight_mean": jnp.mean(weights),
        }
        new_state = state.replace(
            params=new_params,
            target_params={"critic": target},
            opt_states=new_opt,
            step=state.step + 1,
        )
        return new_state, metrics

    return Agent(init=init, act=act, update=update, to_online=identity_switch)
