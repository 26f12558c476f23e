"""The IQL family, written once: a value V regressed on the target critics' reduced Q̄ with a
pluggable per-sample loss of x = Q̄ − V, a TD critic on V(s') with a pluggable error loss, and
the advantage-weighted (AWR) actor, composed in one of two orders.

An algorithm of the family is IQL with another value loss, another critic loss and another
order of steps (ALGORITHMS.md §4.1 IQL, §11 RIQL, §7 FamO2O, §22 XQL and f-DVL):

>>> nets = make_networks(spec, hidden_dims=(256, 256))
>>> update = make_update(
...     nets,
...     value_term=lambda x, hp: expectile_loss(x, hp.expectile),
...     critic_term=lambda q, y, hp: ensemble_td_loss(q, y, "mean"),
...     order="simultaneous",
... )

Shapes: `obs` [B, |S|], `action` [B, |A|], critic outputs [C, B], V [B].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrl.agents import base
from jaxrl.agents.base import Agent, AgentState
from jaxrl.networks import DeterministicPolicy, GaussianPolicy, QEnsemble, ValueNetwork
from jaxrl.networks.distributions import gaussian_log_prob
from jaxrl.ops import awr_weights, polyak, reduce_ensemble, td_target
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

#: "simultaneous": every loss from the parameters before the step, V's advantage included
#: (CORL's IQL, `algorithms/finetune/iql.py`). "value_first": V first; the actor's advantage
#: and the critic's V(s') use the updated V (ikostrikov/implicit_q_learning `learner.py`, the
#: authors' own; Div99/XQL `learner.py`; FamO2O's reference order as well).
ORDERS = ("simultaneous", "value_first")

#: x [B] of one batch, hparams -> per-sample loss [B] (a batch statistic may enter, e.g. XQL's
#: batch-max rescaling).
ValueLoss = Callable[[jax.Array, dict[str, jax.Array]], jax.Array]
#: Q [C, B], y [B], hparams -> scalar critic loss.
CriticLoss = Callable[[jax.Array, jax.Array, dict[str, jax.Array]], jax.Array]


class Networks(NamedTuple):
    """The family's networks and their optimizers (`make_networks`)."""

    actor: Any
    critic: QEnsemble
    value: ValueNetwork
    txs: dict[str, optax.GradientTransformation]
    deterministic_actor: bool


def make_networks(
    spec: EnvSpec,
    hidden_dims: tuple[int, ...] = (256, 256),
    num_critics: int = 2,
    critic_layer_norm: str = "none",
    value_layer_norm: str = "none",
    deterministic_actor: bool = False,
    init_mode: str = "xavier",
    log_std_min: float = -20.0,
) -> Networks:
    """Twin (or K) Q, V and the actor: a Gaussian with tanh mean and a state-independent
    log σ (an unsquashed density, CORL's IQL and XQL), or a deterministic tanh policy."""
    critic = QEnsemble(num_critics, hidden_dims, critic_layer_norm, init_mode)
    value = ValueNetwork(hidden_dims, value_layer_norm, init_mode)
    if deterministic_actor:
        actor = DeterministicPolicy(spec.action_dim, hidden_dims, init_mode=init_mode)
    else:
        actor = GaussianPolicy(
            spec.action_dim,
            hidden_dims,
            init_mode=init_mode,
            std_mode="param",
            tanh_mean=True,
            log_std_min=log_std_min,
        )
    txs = base.optimizers("actor", "critic", "value")  # rates: init_opt_states
    return Networks(actor, critic, value, txs, deterministic_actor)


def init_state(nets: Networks, spec: EnvSpec, key: jax.Array, hparams: Any) -> AgentState:
    """Fresh parameters (one subkey per network), target critics equal to the critics."""
    params = base.init_networks(
        key, spec, actor=(nets.actor, "s"), critic=(nets.critic, "sa"), value=(nets.value, "s")
    )
    return base.initial_state(params, nets.txs, hparams, ("critic",))


def act(
    nets: Networks, state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool
) -> jax.Array:
    """The mean action, or a Gaussian sample clipped to [−1, 1]; the deterministic actor
    explores with N(0, σ²) noise clipped at ±0.5 (σ = `exploration_noise`)."""
    if nets.deterministic_actor:
        a = nets.actor.apply(state.params["actor"], obs)
        if deterministic:
            return a
        sigma = state.hparams.exploration_noise
        noise = jnp.clip(sigma * jax.random.normal(key, a.shape), -0.5, 0.5)
        return jnp.clip(a + noise, -1.0, 1.0)
    mean, log_std = nets.actor.apply(state.params["actor"], obs)
    if deterministic:
        return mean
    return jnp.clip(mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape), -1.0, 1.0)


def value_loss(
    value_params: Any,
    value: ValueNetwork,
    obs: jax.Array,
    q_target: jax.Array,
    per_sample: Callable[[jax.Array], jax.Array],
) -> tuple[jax.Array, jax.Array]:
    """L_V = mean_B f(Q̄(s,a) − V(s)), f = `per_sample` (IQL: the expectile loss).

    Args:
      value_params: V's parameters (the only ones differentiated).
      value: V.
      obs: [B, |S|].
      q_target: [B] the target critics' reduction Q̄(s, a), no gradient.
      per_sample: x [B] -> f(x) [B].

    Returns:
      (loss, V(s) [B]).

    References: Kostrikov et al., 2021, "Offline RL with Implicit Q-Learning", eq. (5)
    (ALGORITHMS.md §4.1); Garg et al., 2023, "Extreme Q-Learning", eq. (11) (§22a).
    """
    v = value.apply(value_params, obs)
    return jnp.mean(per_sample(q_target - v)), v


def value_target(
    batch: Transition,
    v_next: jax.Array,
    discount: float | jax.Array,
    clip: tuple[float, float] | None = None,
) -> jax.Array:
    """y = r + γ · m · V(s'), gradient stopped, optionally clipped (RIQL: [−100, 1000])."""
    y = td_target(batch.reward, batch.mask, v_next, discount)
    return y if clip is None else jnp.clip(y, *clip)


def critic_loss(
    critic_params: Any,
    critic: QEnsemble,
    batch: Transition,
    target: jax.Array,
    error: Callable[[jax.Array, jax.Array], jax.Array],
) -> tuple[jax.Array, jax.Array]:
    """L_Q = error(Q_{1..C}(s,a), y): IQL ½Σ_j MSE (as the mean over j), FamO2O Σ_j MSE,
    RIQL mean Huber, XQL Σ_j mean Huber_20 (ALGORITHMS.md §4.1, §7, §11, §22a).

    Returns:
      (loss, Q [C, B]).
    """
    q = critic.apply(critic_params, batch.obs, batch.action)
    return error(q, target), q


def huber_td_loss(q: jax.Array, target: jax.Array, delta: float | jax.Array = 20.0) -> jax.Array:
    """Σ_j mean_B H_δ(Q_j − y), H_δ(u) = ½ min(|u|, δ)² + δ (|u| − min(|u|, δ)): the Huber of
    rlax (quadratic ½u² inside, δ-slope tails), XQL's and f-DVL's critic loss with δ = 20.

    (`jaxrl.ops.huber_loss` is PyTorch's `smooth_l1_loss`, H_δ/δ, RIQL's form.)

    References: Garg et al., 2023, "Extreme Q-Learning"; `Div99/XQL: offline/critic.py`
    (ALGORITHMS.md §22a).
    """
    abs_u = jnp.abs(q - target[None])
    quadratic = jnp.minimum(abs_u, delta)
    return jnp.sum(jnp.mean(0.5 * quadratic**2 + delta * (abs_u - quadratic), axis=1))


def awr_actor_loss(
    actor_params: Any,
    actor: Any,
    batch: Transition,
    weights: jax.Array,
    deterministic: bool = False,
) -> jax.Array:
    """L_π = mean_B w · ℓ(a|s), w = min(exp(β A), w_max) (gradient stopped),
    ℓ = −log π(a|s) (Gaussian, summed over |A|) or ‖π(s) − a‖² (deterministic actor).

    References: Peng et al., 2019, "Advantage-Weighted Regression", eq. (7); IQL eq. (7)
    (ALGORITHMS.md §4.1 "Actor (AWR)", §22a).
    """
    if deterministic:
        bc = jnp.sum((actor.apply(actor_params, batch.obs) - batch.action) ** 2, -1)
    else:
        mean, log_std = actor.apply(actor_params, batch.obs)
        bc = -gaussian_log_prob(mean, log_std, batch.action)
    return jnp.mean(weights * bc)


def make_update(
    nets: Networks,
    value_term: ValueLoss,
    critic_term: CriticLoss,
    order: str = "simultaneous",
    q_reduction: str = "min",
    target_clip: tuple[float, float] | None = None,
    max_weight: float = 100.0,
    actor_lr_period: int = 0,
    actor_lr_schedule: str = "cosine",
) -> Callable[[AgentState, Transition, jax.Array], tuple[AgentState, dict[str, jax.Array]]]:
    """One IQL-family gradient step: V, the AWR actor and the TD critic, then Polyak on Q̄.

    Args:
      nets: `make_networks`.
      value_term: f(x, hparams) per sample, x = Q̄(s,a) − V(s), for `value_loss`.
      critic_term: (Q [C, B], y [B], hparams) -> scalar, the `critic_loss` error.
      order: one of `ORDERS`.
      q_reduction: how the target critics make Q̄: "min" or "quantile" (ρ = hp.q_quantile).
      target_clip: clip of the TD target, or None.
      max_weight: clip of the AWR weights.
      actor_lr_period: T > 0 schedules the actor's learning rate over T gradient steps with
        `actor_lr_schedule` (`actor_learning_rate`); 0: constant.
      actor_lr_schedule: "cosine" (CORL's periodic `CosineAnnealingLR`) or "cosine_decay"
        (optax's `cosine_decay_schedule`, held at 0 after T), when `actor_lr_period` > 0.

    The hyperparameters read are "beta" (AWR inverse temperature), "discount", "tau" (and
    "q_quantile" for the quantile reduction), besides those the two losses read.
    """
    if order not in ORDERS:
        raise ValueError(f"order={order!r}; allowed: {ORDERS}")
    critic, value, txs = nets.critic, nets.value, nets.txs

    def update(state: AgentState, batch: Transition, key: jax.Array):
        del key  # the family's update is deterministic given the batch
        hp = state.hparams
        params, opts = dict(state.params), dict(state.opt_states)
        q_all = critic.apply(state.target_params["critic"], batch.obs, batch.action)
        rho = hp.q_quantile if q_reduction == "quantile" else 0.25  # ρ only read there
        q_target = reduce_ensemble(q_all, q_reduction, quantile=rho)
        if order == "simultaneous":
            v_next = value.apply(params["value"], batch.next_obs)
        per_sample = lambda x: value_term(x, hp)  # noqa: E731
        (v_loss, v), v_grads = jax.value_and_grad(value_loss, has_aux=True)(
            params["value"], value, batch.obs, q_target, per_sample
        )
        grads = {"value": v_grads}
        if order == "value_first":
            params["value"], opts["value"] = base.apply_grads(
                txs["value"], params["value"], opts["value"], v_grads
            )
            v = value.apply(params["value"], batch.obs)
            v_next = value.apply(params["value"], batch.next_obs)
        adv = q_target - v
        weights = awr_weights(adv, hp.beta, max_weight)
        y = value_target(batch, v_next, hp.discount, target_clip)
        error = lambda q, t: critic_term(q, t, hp)  # noqa: E731
        (q_loss, q), grads["critic"] = jax.value_and_grad(critic_loss, has_aux=True)(
            params["critic"], critic, batch, y, error
        )
        a_loss, grads["actor"] = jax.value_and_grad(awr_actor_loss)(
            params["actor"], nets.actor, batch, weights, nets.deterministic_actor
        )
        if actor_lr_period > 0:
            opts["actor"] = base.set_learning_rate(
                opts["actor"],
                actor_learning_rate(actor_lr_schedule, hp.actor_lr, state.step, actor_lr_period),
            )
        stepped = ("critic", "actor") if order == "value_first" else ("value", "critic", "actor")
        for name in stepped:
            params[name], opts[name] = base.apply_grads(
                txs[name], params[name], opts[name], grads[name]
            )
        target = polyak(state.target_params["critic"], params["critic"], hp.tau)
        metrics = {
            "value_loss": v_loss,
            "critic_loss": q_loss,
            "actor_loss": a_loss,
            "q_mean": jnp.mean(q),
            "v_mean": jnp.mean(v),
            "adv_mean": jnp.mean(adv),
            "awr_weight_mean": jnp.mean(weights),
        }
        new_state = state.advanced(params, opts, {"critic": target})
        return new_state, metrics

    return update


#: The actor's learning-rate schedules of the family's references: "constant"; "cosine",
#: CORL's periodic `CosineAnnealingLR` (CORL and RIQL IQL); "cosine_decay", optax's
#: `cosine_decay_schedule`, 0 from T on (implicit_q_learning, XQL and f-DVL offline scripts;
#: their fine-tuning scripts keep the rate constant).
ACTOR_LR_SCHEDULES = ("constant", "cosine", "cosine_decay")


def actor_lr_period(config: Any) -> int:
    """T of `config.actor_lr_schedule` over `config.actor_lr_decay_steps`, 0 when constant;
    unknown schedules and a non-positive T under a decaying schedule are refused."""
    schedule, steps = config.actor_lr_schedule, config.actor_lr_decay_steps
    if schedule not in ACTOR_LR_SCHEDULES:
        raise ValueError(f"actor_lr_schedule={schedule!r}; allowed: {ACTOR_LR_SCHEDULES}")
    if schedule != "constant" and steps < 1:
        raise ValueError(
            f"actor_lr_decay_steps={steps} must be >= 1 with actor_lr_schedule={schedule!r} "
            "(the references: the offline steps)"
        )
    return 0 if schedule == "constant" else steps


def actor_learning_rate(schedule: str, lr: jax.Array, step: jax.Array, period: int) -> jax.Array:
    """The actor's rate at gradient step `step` under `schedule` ("cosine" or "cosine_decay")."""
    if schedule == "cosine":
        return cosine_annealing(lr, step, period)
    if schedule == "cosine_decay":
        return cosine_annealing(lr, jnp.minimum(step, period), period)
    raise ValueError(f"actor_lr_schedule={schedule!r}; allowed: {ACTOR_LR_SCHEDULES[1:]}")


def cosine_annealing(lr: jax.Array, step: jax.Array, period: int) -> jax.Array:
    """PyTorch's `CosineAnnealingLR(T_max=period, eta_min=0)` in closed form: the rate of
    gradient step `step` (0-based), `lr · ½(1 + cos(π · step / period))`, periodic in
    2·period (CORL `finetune/iql.py` steps it once per actor update, fine-tuning included)."""
    return lr * 0.5 * (1.0 + jnp.cos(jnp.pi * step.astype(jnp.float32) / period))


def make_agent(
    config: Any,
    spec: EnvSpec,
    value_term: ValueLoss,
    critic_term: CriticLoss | None = None,
    order: str = "value_first",
    log_std_min: float = -5.0,
) -> Agent:
    """An offline-to-online IQL-family agent whose online phase is IQL's (identity switch).

    `config` (an `AgentConfig`) carries the family's static fields by these names:
    `hidden_dims`, `num_critics`, `value_layer_norm`, `init`, `max_weight`,
    `actor_lr_schedule` and `actor_lr_decay_steps` (`ACTOR_LR_SCHEDULES`); its dynamic fields
    (`config.hparams()`) include `beta`, `discount`, `tau`, `actor_lr`, `critic_lr`,
    `value_lr`, `huber_delta` for the default critic term Σ_j mean Huber_δ (XQL's and
    f-DVL's, ALGORITHMS.md §22), and whatever `value_term` reads.
    """
    nets = make_networks(
        spec,
        config.hidden_dims,
        config.num_critics,
        value_layer_norm=config.value_layer_norm,
        init_mode=config.init,
        log_std_min=log_std_min,
    )
    if critic_term is None:
        critic_term = lambda q, y, hp: huber_td_loss(q, y, hp.huber_delta)  # noqa: E731
    update = make_update(
        nets,
        value_term,
        critic_term,
        order,
        max_weight=config.max_weight,
        actor_lr_period=actor_lr_period(config),
        actor_lr_schedule=config.actor_lr_schedule,
    )
    return Agent(
        init=lambda key, hparams=None: init_state(
            nets, spec, key, config.hparams() if hparams is None else hparams
        ),
        act=lambda state, obs, key, deterministic: act(nets, state, obs, key, deterministic),
        update=update,
        to_online=base.identity_switch,
    )
