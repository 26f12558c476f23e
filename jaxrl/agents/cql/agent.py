"""CQL and Cal-QL on a SAC learner.

References: Kumar et al., 2020, "Conservative Q-Learning for Offline RL"; Nakamoto et al.,
2023, "Cal-QL: Calibrated Offline RL Pre-Training for Efficient Online Fine-Tuning",
`nakamotoo/Cal-QL:JaxCQL/conservative_sac.py` (ALGORITHMS.md §2).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams
from jaxrl.agents.cql.config import CalQLConfig, CQLConfig
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.ops import (
    check_temperature_options,
    cql_gap,
    polyak,
    reduce_ensemble,
    subset_indices,
    td_target,
    temperature_leaf,
    temperature_loss,
    temperature_value,
)
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def make_cql(config: CQLConfig, spec: EnvSpec) -> Agent:
    """Builds CQL (or Cal-QL when `config.calibrated`) for `spec`."""
    critic = QEnsemble(
        config.num_critics, config.q_hidden_dims, config.layer_norm, config.init, 1e-2
    )
    actor = GaussianPolicy(
        spec.action_dim,
        config.policy_hidden_dims,
        layer_norm=config.actor_layer_norm,
        init_mode=config.init,
        std_mode=config.std_mode,
        output_scale=1e-2,
    )
    target_entropy = -config.target_entropy_scale * spec.action_dim
    n = config.cql_n_actions
    param = config.temperature_param
    check_temperature_options(param, config.entropy_from)
    if config.temperature_form not in ("alpha", "log_alpha"):
        raise ValueError(
            f"temperature_form={config.temperature_form!r}; allowed: 'alpha', 'log_alpha'"
        )
    next_entropy = config.entropy_from == "next_obs"
    txs = {
        "actor": adam(config.policy_lr),
        "critic": adam(config.q_lr),
        "temperature": adam(config.policy_lr),
    }
    if config.lagrange:
        txs["cql_alpha"] = adam(config.q_lr)
    online_alpha = config.cql_alpha if config.online_cql_alpha is None else config.online_cql_alpha

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic = jax.random.split(key)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            # α = 1 at initialisation (the leaf is exactly 0 under exp).
            "temperature": temperature_leaf(1.0, param),
        }
        if config.lagrange:
            params["cql_alpha"] = jnp.ones((), jnp.float32)  # log α', initialised to 1.0
        return AgentState(
            params=params,
            target_params={"critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(
                cql_alpha=config.cql_alpha,
                online_cql_alpha=online_alpha,
                calibrate=float(config.calibrated),
                online_calibrate=float(config.calibrated and config.online_calibration),
                target_action_gap=config.target_action_gap,
                discount=config.discount,
                tau=config.tau,
            ),
            step=jnp.zeros((), jnp.int32),
        )

    def policy(ap, obs, key):
        mean, log_std = actor.apply(ap, obs)
        return tanh_gaussian_sample(mean, log_std, key)

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        if deterministic:
            return jnp.tanh(actor.apply(state.params["actor"], obs)[0])
        return policy(state.params["actor"], obs, key)[0]

    def repeat(x):  # [B, d] -> [B, n, d]
        return jnp.repeat(x[:, None], n, axis=1)

    def conservative_weights(key):  # [C]
        c, k = config.num_critics, config.subset_size
        if not config.cql_subset:
            return jnp.ones((c,))
        return jnp.zeros((c,)).at[subset_indices(key, c, k, config.subset_replace)].add(c / k)

    def update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        params = state.params
        # Keys 0–5 always; then the conservative subset's and the entropy sample's, when used.
        keys = jax.random.split(key, 6 + int(config.cql_subset) + int(next_entropy))
        alpha = temperature_value(params["temperature"], param)
        batch_size = batch.reward.shape[0]

        # Target: max over n next actions of the (subset-)min target critics.
        if config.max_target_backup:
            next_a, next_logp = policy(params["actor"], repeat(batch.next_obs), keys[0])
            q_next = critic.apply(state.target_params["critic"], repeat(batch.next_obs), next_a)
            q_next = reduce_ensemble(
                q_next, config.target_reduction, keys[1], config.subset_size, config.subset_replace
            )
            best = jnp.argmax(q_next, axis=1)
            q_next = jnp.take_along_axis(q_next, best[:, None], 1)[:, 0]
            next_logp = jnp.take_along_axis(next_logp, best[:, None], 1)[:, 0]
        else:
            next_a, next_logp = policy(params["actor"], batch.next_obs, keys[0])
            q_next = critic.apply(state.target_params["critic"], batch.next_obs, next_a)
            q_next = reduce_ensemble(
                q_next, config.target_reduction, keys[1], config.subset_size, config.subset_replace
            )
        if config.backup_entropy:
            q_next = q_next - alpha * next_logp
        y = td_target(batch.reward, batch.mask, q_next, hp["discount"])

        # Actions for the conservative term, all evaluated at s.
        obs_n = repeat(batch.obs)
        rand_a = jax.random.uniform(keys[2], (batch_size, n, spec.action_dim), minval=-1, maxval=1)
        cur_a, cur_logp = policy(params["actor"], obs_n, keys[3])
        nxt_a, nxt_logp = policy(params["actor"], repeat(batch.next_obs), keys[4])
        cur_a, cur_logp, nxt_a, nxt_logp = jax.lax.stop_gradient((cur_a, cur_logp, nxt_a, nxt_logp))
        # Cal-QL's bound; −inf (no bound) when calibration is off.
        bound = jnp.where(hp["calibrate"] > 0, batch.mc_return, -jnp.inf)
        log_cql_alpha = params.get("cql_alpha")
        # Weight of each critic in the conservative term, summing to C: all ones, or WSRL's
        # random subset S (its own draw) with mean over S scaled to the sum convention, C/|S|.
        cql_weight = conservative_weights(keys[6] if config.cql_subset else None)

        def critic_loss(cp):
            q = critic.apply(cp, batch.obs, batch.action)  # [C, B]
            td = jnp.mean((q - y[None]) ** 2, axis=1)  # [C]
            q_ood = critic.apply(
                cp, jnp.concatenate([obs_n] * 3, 1), jnp.concatenate([rand_a, cur_a, nxt_a], 1)
            )  # [C, B, 3n]
            q_rand, q_cur, q_nxt = jnp.split(q_ood, 3, axis=2)
            gap, bound_rate = jax.vmap(
                lambda qd, qr, qc, qn: cql_gap(
                    qd,
                    qr,
                    qc,
                    cur_logp,
                    qn,
                    nxt_logp,
                    spec.action_dim,
                    config.cql_temp,
                    config.importance_sample,
                    bound,
                    config.clip_diff_min,
                    config.clip_diff_max,
                )
            )(q, q_rand, q_cur, q_nxt)
            if config.lagrange:
                a_prime = jnp.clip(jnp.exp(jax.lax.stop_gradient(log_cql_alpha)), 0.0, 1e6)
                cql = a_prime * hp["cql_alpha"] * (gap - hp["target_action_gap"])
            else:
                cql = hp["cql_alpha"] * gap
            loss = jnp.sum(td) + jnp.sum(cql_weight * cql)
            return loss, (q, td, gap, bound_rate)

        (q_loss, (q, td, gap, bound_rate)), q_grads = jax.value_and_grad(critic_loss, has_aux=True)(
            params["critic"]
        )

        def actor_loss(ap):
            a, logp = policy(ap, batch.obs, keys[5])
            q_pi = reduce_ensemble(critic.apply(params["critic"], batch.obs, a), "min")
            return jnp.mean(alpha * logp - q_pi), logp

        (a_loss, logp), a_grads = jax.value_and_grad(actor_loss, has_aux=True)(params["actor"])
        if next_entropy:  # fresh a' ~ π(·|s'), n per state with the max-target backup
            next_obs = repeat(batch.next_obs) if config.max_target_backup else batch.next_obs
            t_logp = policy(params["actor"], next_obs, keys[-1])[1]
        else:
            t_logp = logp
        t_loss, t_grad = jax.value_and_grad(temperature_loss)(
            params["temperature"], t_logp, target_entropy, config.temperature_form, param
        )
        grads = {"critic": q_grads, "actor": a_grads, "temperature": t_grad}
        if config.lagrange:
            # α' ascends the gap: L = −mean_j α'·w·(gap_j − τ_gap).
            def alpha_loss(la):
                a_prime = jnp.clip(jnp.exp(la), 0.0, 1e6)
                gap_mean = jnp.mean(cql_weight * jax.lax.stop_gradient(gap))
                return -a_prime * hp["cql_alpha"] * (gap_mean - hp["target_action_gap"])

            grads["cql_alpha"] = jax.grad(alpha_loss)(log_cql_alpha)
        new_params, new_opt = dict(params), dict(state.opt_states)
        for name, g in grads.items():
            new_params[name], new_opt[name] = apply_grads(
                txs[name], params[name], state.opt_states[name], g
            )
        target = polyak(state.target_params["critic"], new_params["critic"], hp["tau"])
        metrics = {
            "critic_loss": q_loss,
            "td_loss": jnp.mean(td),
            "cql_gap": jnp.mean(gap),
            "bound_rate": jnp.mean(bound_rate),
            "actor_loss": a_loss,
            "temperature_loss": t_loss,
            "alpha": alpha,
            "entropy": -jnp.mean(logp),
            "q_mean": jnp.mean(q),
            "target_mean": jnp.mean(y),
        }
        new_state = state.replace(
            params=new_params,
            target_params={"critic": target},
            opt_states=new_opt,
            step=state.step + 1,
        )
        return new_state, metrics

    def to_online(state: AgentState) -> AgentState:
        hp = dict(state.hparams)
        hp["cql_alpha"] = hp["online_cql_alpha"]
        hp["calibrate"] = hp["online_calibrate"]
        return state.replace(hparams=hp)

    return Agent(init=init, act=act, update=update, to_online=to_online)


def make_calql(config: CQLConfig, spec: EnvSpec) -> Agent:
    """Cal-QL: `make_cql` with the Monte-Carlo lower bound switched on."""
    if not config.calibrated:
        config = CalQLConfig(**dataclasses.asdict(config))
    return make_cql(config, spec)
