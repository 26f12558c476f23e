"""RO2O: uncertainty and smoothness for robust offline-to-online RL (ALGORITHMS.md §6).

Update order per step, as EDAC and the reference: temperature, then actor (with policy
smoothness), then critics (TD + Q smoothness + OOD penalty), then Polyak.

References: Wen et al., 2024, "Towards Robust Offline-to-Online Reinforcement Learning via
Uncertainty and Smoothness"; `BattleWen/RO2O:algorithms/{offline/ro2o_mujoco.py,
finetune/ro2o_ft_mujoco.py}`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams
from jaxrl.agents.ro2o.config import RO2OConfig
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.ops import (
    asymmetric_squared,
    gaussian_symmetric_kl,
    linf_perturbations,
    polyak,
    td_target,
    temperature_loss,
    uncertainty_pseudo_target,
)
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def ood_weight(step: jax.Array, hp: dict[str, jax.Array]) -> jax.Array:
    """u at `step`: max(u_init − decay·step, u_min)."""
    return jnp.maximum(hp["ood_u_init"] - hp["ood_u_decay"] * step, hp["ood_u_min"])


def make_ro2o(config: RO2OConfig, spec: EnvSpec) -> Agent:
    """Builds RO2O for `spec`."""
    critic = QEnsemble(config.num_critics, config.critic_hidden_dims)
    actor = GaussianPolicy(
        spec.action_dim,
        config.hidden_dims,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
    )
    target_entropy = -float(spec.action_dim)
    n = config.num_perturbations
    txs = {
        "actor": adam(config.actor_lr),
        "critic": adam(config.critic_lr),
        "temperature": adam(config.alpha_lr),
    }

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            "temperature": jnp.zeros((), jnp.float32),  # log α
        }
        return AgentState(
            params=params,
            target_params={"critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(
                discount=config.discount,
                tau=config.tau,
                q_smooth_coef=config.q_smooth_coef,
                policy_smooth_coef=config.policy_smooth_coef,
                ood_coef=config.ood_coef,
                ood_u_init=config.ood_u_init,
                ood_u_decay=config.ood_u_decay,
                ood_u_min=config.ood_u_min,
                online_ood_u=config.online_ood_u,
            ),
            step=jnp.zeros((), jnp.int32),
        )

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(mean, log_std, key)[0]

    def perturbed(obs: jax.Array, deltas: jax.Array) -> jax.Array:  # [B, d], [n, d] -> [n, B, d]
        return obs[None] + deltas[:, None]

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp, params = state.hparams, state.params
        keys = jax.random.split(key, 7)
        obs = batch.obs

        # 1. Temperature, on a fresh policy sample.
        mean, log_std = actor.apply(params["actor"], obs)
        _, logp = tanh_gaussian_sample(mean, log_std, keys[0])
        t_loss, t_grad = jax.value_and_grad(temperature_loss)(
            params["temperature"], logp, target_entropy, "log_alpha"
        )
        log_alpha, t_opt = apply_grads(
            txs["temperature"], params["temperature"], state.opt_states["temperature"], t_grad
        )
        alpha = jnp.exp(log_alpha)

        # 2. Actor: SAC-N objective + worst-case symmetric KL between π(s) and π(s + δ).
        pol_deltas = linf_perturbations(keys[1], n, spec.obs_dim, config.perturb_eps_policy)

        def actor_loss(ap):
            mean, log_std = actor.apply(ap, obs)
            a, logp = tanh_gaussian_sample(mean, log_std, keys[2])
            q = jnp.min(critic.apply(params["critic"], obs, a), axis=0)
            sac = jnp.mean(alpha * logp - q)
            mean_p, log_std_p = actor.apply(ap, perturbed(obs, pol_deltas))
            kl = gaussian_symmetric_kl(mean[None], log_std[None], mean_p, log_std_p)  # [n, B]
            smooth = jnp.mean(jnp.max(kl, axis=0))
            return sac + hp["policy_smooth_coef"] * smooth, (sac, smooth, logp)

        (a_loss, (sac_loss, pol_smooth, logp)), a_grads = jax.value_and_grad(
            actor_loss, has_aux=True
        )(params["actor"])
        actor_params, a_opt = apply_grads(
            txs["actor"], params["actor"], state.opt_states["actor"], a_grads
        )

        # 3. Critics, with the updated actor for next actions and OOD actions.
        mean_n, log_std_n = actor.apply(actor_params, batch.next_obs)
        a_next, logp_next = tanh_gaussian_sample(mean_n, log_std_n, keys[3])
        q_next = jnp.min(critic.apply(state.target_params["critic"], batch.next_obs, a_next), 0)
        y = td_target(batch.reward, batch.mask, q_next - alpha * logp_next, hp["discount"])
        q_deltas = linf_perturbations(keys[4], n, spec.obs_dim, config.perturb_eps_q)
        ood_deltas = linf_perturbations(keys[5], n, spec.obs_dim, config.perturb_eps_ood)
        ood_obs = perturbed(obs, ood_deltas)  # [n, B, d]
        mean_o, log_std_o = actor.apply(actor_params, ood_obs)
        ood_actions = jax.lax.stop_gradient(tanh_gaussian_sample(mean_o, log_std_o, keys[6])[0])
        u = ood_weight(state.step, hp)

        def critic_loss(cp):
            q = critic.apply(cp, obs, batch.action)  # [N, B]
            td = jnp.sum(jnp.mean((q - y[None]) ** 2, axis=1))
            repeat_a = jnp.broadcast_to(batch.action, (n,) + batch.action.shape)
            q_pert = critic.apply(cp, perturbed(obs, q_deltas), repeat_a)  # [N, n, B]
            diff = asymmetric_squared(q_pert - q[:, None], config.q_smooth_positive_weight)
            q_smooth = jnp.mean(jnp.max(jnp.mean(diff, axis=0), axis=0))
            q_ood = critic.apply(cp, ood_obs, ood_actions)  # [N, n, B]
            ood = jnp.mean((q_ood - uncertainty_pseudo_target(q_ood, u)) ** 2)
            total = td + hp["q_smooth_coef"] * q_smooth + hp["ood_coef"] * ood
            return total, (q, td, q_smooth, ood)

        (q_loss, (q, td, q_smooth, ood)), q_grads = jax.value_and_grad(critic_loss, has_aux=True)(
            params["critic"]
        )
        critic_params, q_opt = apply_grads(
            txs["critic"], params["critic"], state.opt_states["critic"], q_grads
        )
        target = polyak(state.target_params["critic"], critic_params, hp["tau"])
        metrics = {
            "critic_loss": q_loss,
            "td_loss": td,
            "q_smooth_loss": q_smooth,
            "ood_loss": ood,
            "ood_u": u,
            "actor_loss": a_loss,
            "sac_actor_loss": sac_loss,
            "policy_smooth_loss": pol_smooth,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(logp),
            "q_mean": jnp.mean(q),
            "q_std": jnp.mean(jnp.std(q, axis=0)),
        }
        new_state = state.replace(
            params={"actor": actor_params, "critic": critic_params, "temperature": log_alpha},
            target_params={"critic": target},
            opt_states={"actor": a_opt, "critic": q_opt, "temperature": t_opt},
            step=state.step + 1,
        )
        return new_state, metrics

    def to_online(state: AgentState) -> AgentState:
        hp = dict(state.hparams)
        hp["ood_u_init"] = hp["online_ood_u"]
        hp["ood_u_min"] = hp["online_ood_u"]
        hp["ood_u_decay"] = jnp.zeros_like(hp["ood_u_decay"])
        return state.replace(hparams=hp)

    return Agent(init=init, act=act, update=update, to_online=to_online)
