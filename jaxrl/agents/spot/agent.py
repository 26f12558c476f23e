"""SPOT: a VAE pre-trained on the dataset, then TD3 with a behaviour-density penalty.

One compiled program per phase: the offline update trains the VAE while `step < vae_steps`
and TD3 afterwards (a `lax.cond` on the step counter; under the run-axis `vmap` both
branches execute, so the VAE steps cost as much as a full update). The switch sets the
online discount, starts λ cooling and resets the actor and critic optimizers, as in CORL
`algorithms/finetune/spot.py`.

References: Wu et al., 2022, "Supported Policy Optimization for Offline Reinforcement
Learning"; `thuml/SPOT`; CORL `algorithms/finetune/spot.py` (ALGORITHMS.md §4.5).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.agents.base import Agent, AgentState, adam, apply_grads, as_hparams
from jaxrl.agents.spot import losses
from jaxrl.agents.spot.config import SPOTConfig
from jaxrl.networks import VAE, DeterministicPolicy, QEnsemble
from jaxrl.ops import linear_cooling, polyak
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

_METRICS = (
    "vae_loss",
    "critic_loss",
    "actor_loss",
    "neg_log_beta",
    "lambd",
    "q_mean",
    "target_mean",
)


def current_lambda(hp: dict[str, jax.Array], step: jax.Array) -> jax.Array:
    """λ_t: λ offline; online with cooling, λ·max(λ_end, 1 − t/T) with t = 1 at the first
    online update (the reference increments its online counter before using it)."""
    t = step - hp["online_start"] + 1.0
    cooled = linear_cooling(hp["lambd"], t, hp["cool_steps"], hp["lambd_end"])
    return jnp.where(hp["online"] * hp["lambd_cool"] > 0, cooled, hp["lambd"])


def _through_cond(key: jax.Array) -> jax.Array:
    """A key as raw data, to pass into a `lax.cond` whose branches rebuild it.

    Under the run-axis vmap a cond on a per-run predicate becomes a select that runs both
    branches, and JAX's key-reuse checker then counts a typed key consumed in one branch and
    passed through the other as used twice. Raw data is not tracked; the values (and so the
    results) are the same as passing the key itself.
    """
    return jax.random.key_data(key)


def make_spot(config: SPOTConfig, spec: EnvSpec) -> Agent:
    """Builds SPOT for `spec`. See `SPOTConfig` for the settings."""
    if config.policy_freq < 1 or config.num_samples < 1 or config.vae_steps < 0:
        raise ValueError(
            f"policy_freq={config.policy_freq}, num_samples={config.num_samples} must be >= 1 "
            f"and vae_steps={config.vae_steps} >= 0"
        )
    critic = QEnsemble(
        config.num_critics,
        config.critic_hidden_dims,
        output_scale=config.critic_output_scale,
    )
    actor = DeterministicPolicy(
        spec.action_dim, config.hidden_dims, output_scale=config.actor_output_scale
    )
    vae = VAE(
        spec.action_dim,
        config.vae_latent_dim or 2 * spec.action_dim,
        config.vae_hidden_dims,
    )
    txs = {
        "actor": adam(config.actor_lr),
        "critic": adam(config.critic_lr),
        "vae": adam(config.vae_lr),
    }

    def init(key: jax.Array) -> AgentState:
        k_actor, k_critic, k_vae = jax.random.split(key, 3)
        obs = jnp.zeros((1, spec.obs_dim))
        act = jnp.zeros((1, spec.action_dim))
        params = {
            "actor": actor.init(k_actor, obs),
            "critic": critic.init(k_critic, obs, act),
            "vae": vae.init(k_vae, obs, act),
        }
        return AgentState(
            params=params,
            target_params={"actor": params["actor"], "critic": params["critic"]},
            opt_states={k: txs[k].init(params[k]) for k in txs},
            hparams=as_hparams(
                beta=config.beta,
                lambd=config.lambd,
                lambd_cool=float(config.lambd_cool),
                lambd_end=config.lambd_end,
                cool_steps=config.cool_steps,
                discount=config.discount,
                online_discount=config.online_discount,
                tau=config.tau,
                policy_noise=config.policy_noise,
                noise_clip=config.noise_clip,
                exploration_noise=config.exploration_noise,
                online=0.0,
                online_start=0.0,
            ),
            step=jnp.zeros((), jnp.int32),
        )

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        a = actor.apply(state.params["actor"], obs)
        if deterministic:
            return a
        hp = state.hparams
        noise = hp["exploration_noise"] * jax.random.normal(key, a.shape, a.dtype)
        return jnp.clip(a + jnp.clip(noise, -hp["noise_clip"], hp["noise_clip"]), -1.0, 1.0)

    def zero_metrics():
        return {k: jnp.zeros((), jnp.float32) for k in _METRICS}

    def vae_update(state: AgentState, batch: Transition, key: jax.Array):
        loss, grads = jax.value_and_grad(
            lambda p: losses.vae_loss(p, vae, batch, key, state.hparams["beta"])[0]
        )(state.params["vae"])
        vp, v_opt = apply_grads(txs["vae"], state.params["vae"], state.opt_states["vae"], grads)
        state = state.replace(
            params={**state.params, "vae": vp}, opt_states={**state.opt_states, "vae": v_opt}
        )
        return state, {**zero_metrics(), "vae_loss": loss}

    def td3_update(state: AgentState, batch: Transition, key: jax.Array):
        hp = state.hparams
        critic_key, elbo_key = jax.random.split(key)
        (q_loss, q_aux), q_grads = jax.value_and_grad(losses.critic_loss, has_aux=True)(
            state.params["critic"],
            critic,
            state.target_params["critic"],
            state.target_params["actor"],
            actor,
            batch,
            critic_key,
            hp["discount"],
            hp["policy_noise"],
            hp["noise_clip"],
        )
        cp, c_opt = apply_grads(
            txs["critic"], state.params["critic"], state.opt_states["critic"], q_grads
        )
        state = state.replace(
            params={**state.params, "critic": cp},
            opt_states={**state.opt_states, "critic": c_opt},
        )
        lambd = current_lambda(hp, state.step)

        def actor_update(s: AgentState, elbo_key_data: jax.Array):
            elbo_key = jax.random.wrap_key_data(elbo_key_data)
            (a_loss, a_aux), a_grads = jax.value_and_grad(losses.actor_loss, has_aux=True)(
                s.params["actor"],
                actor,
                s.params["critic"],
                critic,
                s.params["vae"],
                vae,
                batch.obs,
                elbo_key,
                lambd,
                hp["beta"],
                config.num_samples,
                config.iwae,
            )
            ap, a_opt = apply_grads(txs["actor"], s.params["actor"], s.opt_states["actor"], a_grads)
            targets = {
                "actor": polyak(s.target_params["actor"], ap, hp["tau"]),
                "critic": polyak(s.target_params["critic"], s.params["critic"], hp["tau"]),
            }
            s = s.replace(
                params={**s.params, "actor": ap},
                target_params=targets,
                opt_states={**s.opt_states, "actor": a_opt},
            )
            return s, a_loss, jnp.mean(a_aux["neg_log_beta"])

        def no_actor_update(s: AgentState, _):
            return s, jnp.zeros(()), jnp.zeros(())

        # The reference counts every step (VAE ones too) and updates the actor when the
        # 1-based count is a multiple of policy_freq.
        do_actor = (state.step + 1) % config.policy_freq == 0
        state, a_loss, nlb = jax.lax.cond(
            do_actor, actor_update, no_actor_update, state, _through_cond(elbo_key)
        )
        metrics = {
            **zero_metrics(),
            "critic_loss": q_loss,
            "actor_loss": a_loss,
            "neg_log_beta": nlb,
            "lambd": lambd,
            "q_mean": jnp.mean(q_aux["q"]),
            "target_mean": jnp.mean(q_aux["target"]),
        }
        return state, metrics

    def update(state: AgentState, batch: Transition, key: jax.Array):
        if config.vae_steps == 0:
            new_state, metrics = td3_update(state, batch, key)
        else:
            # The key enters the cond as raw data (see `_through_cond`).
            new_state, metrics = jax.lax.cond(
                state.step < config.vae_steps,
                lambda s, b, k: vae_update(s, b, jax.random.wrap_key_data(k)),
                lambda s, b, k: td3_update(s, b, jax.random.wrap_key_data(k)),
                state,
                batch,
                _through_cond(key),
            )
        return new_state.replace(step=state.step + 1), metrics

    def to_online(state: AgentState) -> AgentState:
        hp = dict(state.hparams)
        hp["discount"] = hp["online_discount"]
        hp["online"] = jnp.ones_like(hp["online"])
        hp["online_start"] = state.step.astype(jnp.float32)
        opts = dict(state.opt_states)
        if config.reset_optimizers:
            for name in ("actor", "critic"):
                fresh = txs[name].init(state.params[name])
                # Keep the learning rate leaves (they may carry a sweep).
                opts[name] = fresh._replace(hyperparams=state.opt_states[name].hyperparams)
        return state.replace(hparams=hp, opt_states=opts)

    return Agent(init=init, act=act, update=update, to_online=to_online)
