"""The TD3 family's shared steps, written once: TD3+BC, ReBRAC, SPOT, PRDC and A2PR compose them.

Every function is pure and works on one batch (actions [B, |A|], values [B], an ensemble's
values [C, B]); `actor` and `critic` are the Linen modules (a `DeterministicPolicy` and a
`QEnsemble`). What is here:

- networks and acting: `td3_networks`, `td3_act` (the deterministic actor with Gaussian
  exploration noise), `td3_parts` (networks, optimizers, `init` and `act` of an actor-critic
  TD3 agent);
- the critic: `smoothed_target_action` (target policy smoothing), `clipped_double_q_target`,
  `td3_target` (the two together, with an optional next-value penalty), `critic_loss`,
  `critic_step`, and `critic_update` (target and step on an agent state);
- the actor: `actor_q` (Q_1 or min_j Q_j), `normalized_q_weight`, `normalized_q_term` and
  `regularized_actor_loss` (TD3+BC's λ-normalized Q plus a weighted regularizer),
  `policy_update_due`, `delayed_actor_step` (the delayed actor step with its Polyak target
  updates) and `actor_update` (the same on an agent state);
- the state: `stepped_state` (an agent state after a critic and an actor update) and
  `critic_metrics` (what every TD3-family agent reports of its critic step);
- the switch: `online_decay` (the linear online decay of a regularization weight),
  `steps_since_switch`, `online_weight` (the decay at a state's step) and `start_online` (the
  `to_online` that starts it).

An algorithm's own terms (ReBRAC's critic penalty, SPOT's VAE density, PRDC's dataset
constraint, A2PR's advantage mask and VAE) are in its folder's `losses.py`.

Example:

    >>> import jax.numpy as jnp
    >>> float(online_decay(2.0, jnp.float32(250.0), 1000.0, 0.5))
    1.5
    >>> [bool(policy_update_due(jnp.int32(i), 2)) for i in range(3)]
    [True, False, True]

References: Fujimoto et al., 2018, "Addressing Function Approximation Error in Actor-Critic
Methods" (TD3); Fujimoto & Gu, 2021, "A Minimalist Approach to Offline Reinforcement Learning"
(TD3+BC); ALGORITHMS.md §4.5 (SPOT), §4.6 (ReBRAC), §4.7 (TD3+BC), §8 (PRDC), §9 (A2PR).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxrl.agents import base
from jaxrl.agents.base import AgentState
from jaxrl.networks import DeterministicPolicy, QEnsemble
from jaxrl.ops import cond_with_keys, ensemble_td_loss, polyak, td_target
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

#: Which critic value the actor maximizes: "first" Q_1 (TD3, TD3+BC, SPOT, PRDC, A2PR),
#: "min" min_j Q_j (ReBRAC).
ACTOR_Q_MODES = ("first", "min")


# --- networks and acting ----------------------------------------------------------------------


def td3_networks(config, spec: EnvSpec) -> tuple[DeterministicPolicy, QEnsemble]:
    """The deterministic tanh actor and the critic ensemble of a TD3-family config (its
    `actor_*`, `critic_*`, `num_critics` and `init` fields); TD3+BC, ReBRAC and PRDC."""
    actor = DeterministicPolicy(
        spec.action_dim, config.actor_hidden_dims, config.actor_layer_norm, config.init
    )
    critic = QEnsemble(
        config.num_critics, config.critic_hidden_dims, config.critic_layer_norm, config.init
    )
    return actor, critic


def td3_act(actor: nn.Module, clip_noise: bool = False):
    """`act` of a TD3-family agent: π(s), plus Gaussian exploration noise unless deterministic.

    The noise is σ·ε, ε ~ N(0, I), with σ = `hparams.exploration_noise`; the action is
    clip(π(s) + σ·ε, ±1) (TD3, CORL TD3+BC and ReBRAC), or clip(π(s) + clip(σ·ε, ±c), ±1) with
    c = `hparams.noise_clip` when `clip_noise` (CORL `finetune/spot.py`).

    References: Fujimoto et al., 2018 (TD3), `sfujim/TD3:main.py`; ALGORITHMS.md §4.5–4.7.
    """

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        a = actor.apply(state.params["actor"], obs)
        if deterministic:
            return a
        hp = state.hparams
        noise = hp.exploration_noise * jax.random.normal(key, a.shape, a.dtype)
        if clip_noise:
            noise = jnp.clip(noise, -hp.noise_clip, hp.noise_clip)
        return jnp.clip(a + noise, -1.0, 1.0)

    return act


class Parts(NamedTuple):
    """What `td3_parts` builds: the networks, their optimizers, `init` and `act`."""

    actor: DeterministicPolicy
    critic: QEnsemble
    txs: dict[str, optax.GradientTransformation]
    init: Callable[..., AgentState]
    act: Callable[..., jax.Array]


def td3_parts(config, spec: EnvSpec) -> Parts:
    """The actor-critic pieces of TD3+BC, ReBRAC and PRDC: `td3_networks`, Adam optimizers
    "actor" and "critic" (rates from the hyperparameters `actor_lr`, `critic_lr`), an `init`
    whose targets copy both networks, and `td3_act`. Refuses `policy_delay` < 1."""
    if config.policy_delay < 1:
        raise ValueError(f"policy_delay={config.policy_delay} must be >= 1 (1: no delay)")
    actor, critic = td3_networks(config, spec)
    txs = base.optimizers("actor", "critic")

    def init(key: jax.Array, hparams: Any = None) -> AgentState:
        hp = config.hparams() if hparams is None else hparams
        params = base.init_networks(key, spec, actor=(actor, "s"), critic=(critic, "sa"))
        return base.initial_state(params, txs, hp, tuple(params))

    return Parts(actor, critic, txs, init, td3_act(actor))


# --- the critic -------------------------------------------------------------------------------


def smoothed_target_action(
    action: jax.Array,
    key: jax.Array,
    noise_std: float | jax.Array,
    noise_clip: float | jax.Array,
) -> jax.Array:
    """TD3 target policy smoothing: clip(a + clip(σ·ε, −c, c), −1, 1), ε ~ N(0, I).

    Args:
      action: target-actor actions π̄(s') in [−1, 1], [B, |A|].
      key: PRNG key for ε.
      noise_std: σ (0.2 in TD3, TD3+BC, ReBRAC, SPOT, PRDC, A2PR).
      noise_clip: c (0.5).

    References: Fujimoto et al., 2018, eq. (14).
    """
    noise = jnp.clip(noise_std * jax.random.normal(key, action.shape), -noise_clip, noise_clip)
    return jnp.clip(action + noise, -1.0, 1.0)


def clipped_double_q_target(
    critic_params: Any,
    critic: nn.Module,
    batch: Transition,
    next_action: jax.Array,
    discount: float | jax.Array,
    next_value_penalty: jax.Array | None = None,
) -> jax.Array:
    """y = r + γ m [min_j Q_j(s', ã') − p], gradient stopped: the clipped double-Q target.

    Args:
      critic_params: the critics to bootstrap from (the target critics Q̄ in TD3; A2PR also
        uses the online critics after their step).
      batch: reward, mask (1 − terminated) and next_obs [B].
      next_action: ã' [B, |A|].
      discount: γ.
      next_value_penalty: p [B] subtracted from min_j Q_j(s', ã'); None subtracts nothing.

    Returns:
      y [B].

    References: Fujimoto et al., 2018, eq. (10).
    """
    q_next = jnp.min(critic.apply(critic_params, batch.next_obs, next_action), axis=0)
    if next_value_penalty is not None:
        q_next = q_next - next_value_penalty
    return td_target(batch.reward, batch.mask, q_next, discount)


def td3_target(
    actor_target_params: Any,
    critic_target_params: Any,
    actor: nn.Module,
    critic: nn.Module,
    batch: Transition,
    key: jax.Array,
    discount: float | jax.Array,
    noise_std: float | jax.Array,
    noise_clip: float | jax.Array,
    penalty_fn: Callable[[jax.Array, Transition], jax.Array] | None = None,
    penalty_coef: float | jax.Array = 1.0,
    dropout_key: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """TD3's target: y = r + γ m [min_j Q̄_j(s', ã') − β · p(ã')], gradient stopped.

    ã' = clip(π̄(s') + clip(σ·ε, ±c), ±1) is the smoothed action of the target actor
    (`smoothed_target_action`). Without `penalty_fn` this is TD3's target; ReBRAC passes its
    critic BC term (`jaxrl.agents.rebrac.losses.critic_bc_penalty`) and β = β_critic.

    Args:
      actor_target_params, critic_target_params: π̄ and Q̄.
      batch: reward, mask, next_obs (and whatever `penalty_fn` reads).
      key: PRNG key of the smoothing noise.
      discount: γ.
      noise_std, noise_clip: σ and c of the smoothing noise.
      penalty_fn: `penalty_fn(ã', batch) -> p [B]`, or None.
      penalty_coef: β.
      dropout_key: the target actor's dropout key, or None for none (thuml/SPOT's target actor
        is a copy of its training-mode actor, so it drops out too).

    Returns:
      (y [B], ã' [B, |A|], p [B] or None).

    References: Fujimoto et al., 2018, eq. (10) and (14); ReBRAC's penalty: ALGORITHMS.md §4.6.
    """
    if dropout_key is None:
        target_action = actor.apply(actor_target_params, batch.next_obs)
    else:
        target_action = actor.apply(actor_target_params, batch.next_obs, dropout_key)
    next_action = smoothed_target_action(target_action, key, noise_std, noise_clip)
    penalty = None if penalty_fn is None else penalty_fn(next_action, batch)
    y = clipped_double_q_target(
        critic_target_params,
        critic,
        batch,
        next_action,
        discount,
        None if penalty is None else penalty_coef * penalty,
    )
    return y, next_action, penalty


def critic_loss(
    critic_params: Any, critic: nn.Module, batch: Transition, target: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Σ_j mean_batch (Q_j(s, a) − y)², as TD3 (`mse(Q1) + mse(Q2)`), CORL TD3+BC, ReBRAC, SPOT.

    Args:
      critic_params: differentiated.
      target: y [B] (`td3_target`).

    Returns:
      (loss, Q [num_critics, B]).
    """
    q = critic.apply(critic_params, batch.obs, batch.action)
    return ensemble_td_loss(q, target, "sum"), q


def critic_step(
    tx: optax.GradientTransformation,
    critic: nn.Module,
    critic_params: Any,
    critic_opt_state: Any,
    batch: Transition,
    target: jax.Array,
) -> tuple[Any, Any, jax.Array, jax.Array]:
    """One optimizer step on `critic_loss` towards the fixed target y.

    Returns:
      (critic_params, critic_opt_state, loss, Q [num_critics, B] before the step).
    """
    (loss, q), grads = jax.value_and_grad(critic_loss, has_aux=True)(
        critic_params, critic, batch, target
    )
    critic_params, critic_opt_state = base.apply_grads(tx, critic_params, critic_opt_state, grads)
    return critic_params, critic_opt_state, loss, q


class CriticUpdate(NamedTuple):
    """What `critic_update` returns: the stepped critics and what the metrics report."""

    params: Any  # θ_Q after the step
    opt_state: Any
    loss: jax.Array  # Σ_j mean_B (Q_j − y)² before the step
    q: jax.Array  # Q_j(s, a) [C, B] before the step
    target: jax.Array  # y [B]
    next_action: jax.Array  # ã' [B, |A|]
    penalty: jax.Array | None  # p(ã') [B], or None without `penalty_fn`


def critic_update(
    state: AgentState,
    tx: optax.GradientTransformation,
    actor: nn.Module,
    critic: nn.Module,
    batch: Transition,
    key: jax.Array,
    penalty_fn: Callable[[jax.Array, Transition], jax.Array] | None = None,
    penalty_coef: float | jax.Array = 1.0,
    dropout_key: jax.Array | None = None,
) -> CriticUpdate:
    """TD3's critic step on an agent state: `td3_target` from the targets in
    `state.target_params`, then `critic_step` on `state.params["critic"]`.

    Reads the leaves `discount`, `policy_noise` and `noise_clip` of `state.hparams`.
    """
    hp = state.hparams
    y, next_action, penalty = td3_target(
        state.target_params["actor"],
        state.target_params["critic"],
        actor,
        critic,
        batch,
        key,
        hp.discount,
        hp.policy_noise,
        hp.noise_clip,
        penalty_fn,
        penalty_coef,
        dropout_key,
    )
    params, opt_state, loss, q = critic_step(
        tx, critic, state.params["critic"], state.opt_states["critic"], batch, y
    )
    return CriticUpdate(params, opt_state, loss, q, y, next_action, penalty)


# --- the actor --------------------------------------------------------------------------------


def actor_q(q_all: jax.Array, mode: str = "first") -> jax.Array:
    """Q(s, π(s)) [B] the actor maximizes, from every critic's [C, B]: Q_1 or min_j Q_j.

    Args:
      q_all: Q_j(s, π(s)) [C, B].
      mode: one of `ACTOR_Q_MODES`.
    """
    if mode == "first":
        return q_all[0]
    if mode == "min":
        return jnp.min(q_all, axis=0)
    raise ValueError(f"actor_q={mode!r}; allowed: {ACTOR_Q_MODES}")


def normalized_q_weight(q: jax.Array, scale: float | jax.Array = 1.0) -> jax.Array:
    """λ = sg(scale / mean|Q|): TD3+BC's Q normalization (α = 2.5; ReBRAC and SPOT 1).

    References: Fujimoto & Gu, 2021, eq. (3).
    """
    return jax.lax.stop_gradient(scale / jnp.mean(jnp.abs(q)))


def normalized_q_term(q: jax.Array, scale: float | jax.Array = 1.0) -> jax.Array:
    """−λ · mean Q with λ = `normalized_q_weight(Q, scale)`: the Q part of SPOT's and A2PR's
    actor losses (ALGORITHMS.md §4.5, §9)."""
    return -normalized_q_weight(q, scale) * jnp.mean(q)


def regularized_actor_loss(
    q: jax.Array,
    reg: jax.Array,
    q_scale: float | jax.Array,
    reg_coef: float | jax.Array,
    normalize_q: bool = True,
) -> jax.Array:
    """mean[β · reg − λ · Q] with λ = `normalized_q_weight(Q, q_scale)` (or q_scale).

    TD3+BC: β = 1, q_scale = α, reg = ‖π(s) − a‖² / |A|, Q = Q_1 (Fujimoto & Gu, 2021, eq. (3)).
    ReBRAC: β = β_actor, q_scale = 1, reg = ‖π(s) − a‖², Q = min_j Q_j (Tarasov et al., 2023,
    eq. (2)). PRDC: reg = ‖π(s) − a_nn‖² / |A| (ALGORITHMS.md §8, `LAMDA-RL/PRDC:prdc.py`).

    Args:
      q: Q(s, π(s)) [B], differentiable in the actor.
      reg: the per-example regularizer [B].
      q_scale: α (TD3+BC, PRDC) or 1 (ReBRAC).
      reg_coef: β.
      normalize_q: divide by sg(mean|Q|); off gives λ = q_scale.
    """
    lam = normalized_q_weight(q, q_scale) if normalize_q else q_scale
    return jnp.mean(reg_coef * reg - lam * q)


def policy_update_due(step: jax.Array, delay: int, one_based: bool = False) -> jax.Array:
    """True on the steps that update the actor and the targets.

    `step` counts gradient steps from 0. By default the due steps are step % delay == 0, so the
    first step updates the actor, as in CORL's JAX ReBRAC (the PyTorch TD3/TD3+BC code first
    updates it on the second step); `one_based` gives (step + 1) % delay == 0, SPOT's count
    (`thuml/SPOT`, CORL `finetune/spot.py`).
    """
    if one_based:
        step = step + 1
    return (step % delay) == 0


def delayed_actor_step(
    due: jax.Array,
    loss_fn: Callable[[Any, Any], tuple[jax.Array, dict[str, jax.Array]]],
    tx: optax.GradientTransformation,
    actor_params: Any,
    actor_opt_state: Any,
    target_params: dict[str, Any],
    critic_params: Any,
    tau: float | jax.Array,
    operand: Any = None,
    report_skipped: bool = True,
) -> tuple[Any, Any, dict[str, Any], dict[str, jax.Array]]:
    """TD3's delayed policy update: when `due`, one actor step and the Polyak target updates.

    On a due step: (loss, aux), g = value_and_grad(loss_fn)(θ_π, operand); one `tx` step on θ_π;
    then θ̄_π ← (1 − τ) θ̄_π + τ θ_π and θ̄_Q ← (1 − τ) θ̄_Q + τ θ_Q with the new actor and
    `critic_params` (the critics after this step's update). Otherwise nothing moves. A
    `lax.cond` on `due` (under the run-axis `vmap` a select that runs both branches).

    Args:
      due: `policy_update_due(...)`.
      loss_fn: `loss_fn(actor_params, operand) -> (loss, aux)`, differentiated in its first
        argument.
      tx: the actor's optimizer.
      actor_params, actor_opt_state: the actor and its optimizer state.
      target_params: {"actor": θ̄_π, "critic": θ̄_Q}.
      critic_params: θ_Q after this step's critic update.
      tau: τ.
      operand: passed to `loss_fn` through the cond; typed keys in it cross as raw data
        (`jaxrl.ops.cond_with_keys`), so SPOT's ELBO key passes the key-reuse checker.
      report_skipped: on skipped steps, still evaluate `loss_fn` to report its loss and aux
        (TD3+BC, ReBRAC, PRDC, A2PR); False reports zeros (SPOT).

    Returns:
      (actor_params, actor_opt_state, target_params, {"actor_loss": loss, **aux}).

    References: Fujimoto et al., 2018, Algorithm 1 ("if t mod d then").
    """

    def step(operand):
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(actor_params, operand)
        new_actor, new_opt = base.apply_grads(tx, actor_params, actor_opt_state, grads)
        targets = {
            "actor": polyak(target_params["actor"], new_actor, tau),
            "critic": polyak(target_params["critic"], critic_params, tau),
        }
        return new_actor, new_opt, targets, {"actor_loss": loss, **aux}

    def skip(operand):
        if report_skipped:
            loss, aux = loss_fn(actor_params, operand)
            metrics = {"actor_loss": loss, **aux}
        else:
            shapes = jax.eval_shape(loss_fn, actor_params, operand)
            loss, aux = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
            metrics = {"actor_loss": loss, **aux}
        return actor_params, actor_opt_state, target_params, metrics

    return cond_with_keys(due, step, skip, operand)


def actor_update(
    state: AgentState,
    loss_fn: Callable[[Any, Any], tuple[jax.Array, dict[str, jax.Array]]],
    tx: optax.GradientTransformation,
    critic_params: Any,
    delay: int,
    one_based: bool = False,
    operand: Any = None,
    report_skipped: bool = True,
) -> tuple[Any, Any, dict[str, Any], dict[str, jax.Array]]:
    """`delayed_actor_step` on an agent state, due by `policy_update_due(state.step, delay,
    one_based)`: the actor and its optimizer state from `state.params` / `state.opt_states`,
    the targets from `state.target_params`, τ from the leaf `tau` of `state.hparams`."""
    return delayed_actor_step(
        policy_update_due(state.step, delay, one_based),
        loss_fn,
        tx,
        state.params["actor"],
        state.opt_states["actor"],
        state.target_params,
        critic_params,
        state.hparams.tau,
        operand,
        report_skipped,
    )


# --- the state --------------------------------------------------------------------------------


def stepped_state(state: AgentState, c: CriticUpdate, actor: tuple) -> AgentState:
    """`state` after a critic update `c` and an `actor_update` result `actor` (params, opt
    state, targets, metrics), with `step` + 1; the other networks keep theirs."""
    actor_params, actor_opt, targets, _ = actor
    return state.advanced(
        {**state.params, "actor": actor_params, "critic": c.params},
        {**state.opt_states, "actor": actor_opt, "critic": c.opt_state},
        targets,
    )


def critic_metrics(c: CriticUpdate) -> dict[str, jax.Array]:
    """critic_loss, q_mean and target_mean of a critic update (before its step)."""
    return {"critic_loss": c.loss, "q_mean": jnp.mean(c.q), "target_mean": jnp.mean(c.target)}


# --- the switch -------------------------------------------------------------------------------


def online_decay(
    value: float | jax.Array,
    t: jax.Array,
    horizon: float | jax.Array,
    floor: float | jax.Array,
    active: bool | jax.Array = True,
) -> jax.Array:
    """value · max(floor, 1 − t / max(horizon, 1)) while `active`, else value.

    The linear online decay of a regularization weight that stops at floor · value:
    ReBRAC's β_actor (CORL `finetune/rebrac.py`: floor 0.5 over the online updates), SPOT's λ
    (CORL `finetune/spot.py`, `thuml/SPOT`: λ_end, t counted from 1), and jaxrl's online
    schedules of PRDC's constraint weight and A2PR's mask.

    Args:
      value: the weight before the decay.
      t: online steps since the switch, float32 (`steps_since_switch`).
      horizon: steps over which the factor would reach 0.
      floor: the smallest factor.
      active: a bool (array): the decay applies; otherwise the factor is 1.

    References: ALGORITHMS.md §4.6 (ReBRAC), §4.5 (SPOT); docs/algorithms/prdc.md and a2pr.md
    (jaxrl's online schedules for PRDC, §8, and A2PR, §9).
    """
    t = jnp.asarray(t, jnp.float32)
    factor = jnp.maximum(floor, 1.0 - t / jnp.maximum(horizon, 1.0))
    return value * jnp.where(active, factor, 1.0)


def steps_since_switch(step: jax.Array, online_start: jax.Array, first: float = 0.0) -> jax.Array:
    """step − online_start as float32 (0 at the first online update), plus `first` if set.

    Args:
      step: the agent's step counter (int32).
      online_start: the counter at the switch (`AgentState.switch_step`, set by
        `start_online`).
      first: the count of the first online update; SPOT's reference increments its online
        counter before using it (`first=1.0`).
    """
    t = step.astype(jnp.float32) - online_start
    return t + first if first else t


def online_weight(
    state: AgentState,
    value: float | jax.Array,
    horizon: float | jax.Array,
    floor: float | jax.Array,
) -> jax.Array:
    """`online_decay` of `value` at `state.step`: offline the value, after `start_online`
    value · max(floor, 1 − (step − online_start) / horizon) (ReBRAC's β_actor, PRDC's
    constraint weight, A2PR's mask)."""
    t = steps_since_switch(state.step, state.switch_step.astype(jnp.float32))
    return online_decay(value, t, horizon, floor, base.is_online(state) > 0)


def start_online(
    state: AgentState,
    txs: dict[str, optax.GradientTransformation] | None = None,
    reset: Sequence[str] = (),
) -> AgentState:
    """The TD3 family's `to_online`: starts the online decay and optionally resets optimizers.

    Marks the switch (`switch_step` = the step counter, which `online_weight` reads), and
    gives the networks named in `reset`
    fresh optimizer states (moments and counts) that keep their possibly swept learning rates
    (CORL's `reset_opts`, SPOT's fine-tuning). Only leaves change, so the switch never
    recompiles.
    """
    opts = dict(state.opt_states)
    for name in reset:
        lr = opts[name].hyperparams["learning_rate"]
        opts[name] = base.set_learning_rate(txs[name].init(state.params[name]), lr)
    return base.mark_switch(state.replace(opt_states=opts))
