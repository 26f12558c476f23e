"""The SAC family's shared steps, written once: SAC/RLPD, SAC-N/EDAC, CQL/Cal-QL, WSRL, RO2O.

Every member acts with a tanh-squashed Gaussian, learns an entropy temperature toward a target
entropy, trains its actor on `α log π(ã|s) − Q(s, ã)` with ã reparameterized, and bootstraps
its critics from a soft TD target (with or without the entropy backup). Only the reduction
over the critic ensemble, the temperature's form, the update order and each algorithm's own
terms differ; those stay in the algorithm's folder (`losses.py` for the terms, `agent.py` for
the order).

Functions are pure. Losses take the parameters (or network outputs) first, then one batch.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxrl.agents.families import sac as family
    >>> from jaxrl.networks import GaussianPolicy
    >>> actor = GaussianPolicy(2, (8,))
    >>> params = actor.init(jax.random.key(0), jnp.zeros((1, 3)))
    >>> a, logp = family.sample_action(params, actor, jnp.zeros((4, 3)), jax.random.key(1))
    >>> a.shape, logp.shape, family.target_entropy(2, 0.5)
    ((4, 2), (4,), -1.0)

References: Haarnoja et al., 2018, "Soft Actor-Critic Algorithms and Applications", eqs. (5),
(7), (17)/(18); ALGORITHMS.md "Shared building blocks" §3 (policy heads), §4 (entropy
temperature module), §1 (WSRL phase 3), §2 (Cal-QL), §3 (RLPD), §6 (RO2O).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxrl.agents.base import AgentState, apply_grads, init_networks
from jaxrl.networks import GaussianPolicy, QEnsemble, tanh_gaussian_sample
from jaxrl.ops import ensemble_td_loss, reduce_ensemble, td_target, temperature_loss
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition


def sample_action(
    actor_params: Any, actor: GaussianPolicy, obs: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """ã = tanh(μ(s) + σ(s)·ε), ε ~ N(0, I), and log π(ã|s) with the tanh log-determinant.

    Reparameterized, so gradients flow into `actor_params` (SAC eq. (11)). Any leading axes
    of `obs` are kept.
    """
    mean, log_std = actor.apply(actor_params, obs)
    return tanh_gaussian_sample(mean, log_std, key)


def make_act(actor: GaussianPolicy) -> Callable[[AgentState, jax.Array, jax.Array, bool], Any]:
    """`act(state, obs, key, deterministic)` of a squashed-Gaussian actor at `params["actor"]`:
    tanh(μ(s)) when deterministic, else a sample ã ~ π(·|s) (ALGORITHMS.md shared §3)."""

    def act(state: AgentState, obs: jax.Array, key: jax.Array, deterministic: bool) -> jax.Array:
        mean, log_std = actor.apply(state.params["actor"], obs)
        if deterministic:
            return jnp.tanh(mean)
        return tanh_gaussian_sample(mean, log_std, key)[0]

    return act


def init_params(
    key: jax.Array,
    actor: GaussianPolicy,
    critic: QEnsemble,
    spec: EnvSpec,
    temperature: jax.Array,
) -> dict[str, Any]:
    """{"actor", "critic", "temperature"} for `spec`, from one key split into the actor's and
    the critics' (in that order); `temperature` is the learned leaf, e.g. `temperature_leaf`."""
    params = init_networks(key, spec, actor=(actor, "s"), critic=(critic, "sa"))
    return {**params, "temperature": temperature}


def target_entropy(action_dim: int, scale: float = 1.0) -> float:
    """H_target = −scale·|A|: scale 1 (WSRL, Cal-QL, CORL, RO2O) or 1/2 (RLPD).

    References: Haarnoja et al., 2018, §5 ("−dim(A)"); ALGORITHMS.md shared §4.
    """
    return -scale * action_dim


def soft_td_target(
    reward: jax.Array,
    mask: jax.Array,
    q_next: jax.Array,
    next_log_prob: jax.Array,
    alpha: jax.Array,
    discount: float | jax.Array,
    backup_entropy: bool = True,
) -> jax.Array:
    """y = r + γ·mask·(Q̄(s', a') − α log π(a'|s')), the entropy term only with the backup.

    Args:
      reward, mask: r_t and 1 − terminated_t, shape [B].
      q_next: the ensemble-reduced target value Q̄(s', a'), shape [B].
      next_log_prob: log π(a'|s') of the sampled a', shape [B].
      alpha: the temperature α.
      discount: γ.
      backup_entropy: subtract α log π(a'|s') (SAC, RLPD, SAC-N, RO2O); off in CQL/Cal-QL and
        WSRL.

    References: Haarnoja et al., 2018, eqs. (2)–(3); ALGORITHMS.md §3 ("Critic loss"), §6.
    """
    if backup_entropy:
        q_next = q_next - alpha * next_log_prob
    return td_target(reward, mask, q_next, discount)


def critic_target(
    target_params: Any,
    critic: QEnsemble,
    actor_params: Any,
    actor: GaussianPolicy,
    batch: Transition,
    key: jax.Array,
    alpha: jax.Array,
    discount: float | jax.Array,
    *,
    reduction: str = "min",
    subset_key: jax.Array | None = None,
    subset_size: int = 2,
    subset_replace: bool = False,
    backup_entropy: bool = True,
    max_over: int = 0,
) -> jax.Array:
    """The soft TD target from fresh a' ~ π(·|s'); no gradient.

    y = r + γ(1−d)(red_i Q̄_i(s', a') [− α log π(a'|s')]), where `red` is `reduction` over the
    target ensemble: "min" over all (SAC-N, EDAC, RO2O, CQL), "subset_min" over a random
    subset drawn with `subset_key` (RLPD without, WSRL with replacement), see
    `jaxrl.ops.reduce_ensemble`. With `max_over` = n > 0, CQL's max backup: n actions
    a'_k ~ π(·|s') per next state and y from the k with the largest red_i Q̄_i(s', a'_k),
    whose log π the entropy term uses (`cql_max_target_backup`, ALGORITHMS.md §2).

    References: Haarnoja et al., 2018, eq. (3); An et al., 2021 (SAC-N), eq. (2);
    ALGORITHMS.md §1 phase 3, §2 ("TD target"), §3, §6.
    """
    next_obs = batch.next_obs
    if max_over:
        next_obs = jnp.repeat(next_obs[:, None], max_over, axis=1)  # [B, n, d]
    next_action, next_log_prob = sample_action(actor_params, actor, next_obs, key)
    q_next = critic.apply(target_params, next_obs, next_action)
    q_next = reduce_ensemble(q_next, reduction, subset_key, subset_size, subset_replace)
    if max_over:
        best = jnp.argmax(q_next, axis=1)[:, None]
        q_next = jnp.take_along_axis(q_next, best, 1)[:, 0]
        next_log_prob = jnp.take_along_axis(next_log_prob, best, 1)[:, 0]
    return soft_td_target(
        batch.reward, batch.mask, q_next, next_log_prob, alpha, discount, backup_entropy
    )


def target_options(config: Any, subset_key: jax.Array | None) -> dict[str, Any]:
    """`critic_target`'s keyword options from a config's `target_reduction`, `subset_size`,
    `subset_replace` and `backup_entropy` fields (SAC/RLPD/WSRL, CQL/Cal-QL)."""
    return {
        "reduction": config.target_reduction,
        "subset_key": subset_key,
        "subset_size": config.subset_size,
        "subset_replace": config.subset_replace,
        "backup_entropy": config.backup_entropy,
    }


def critic_td_loss(
    critic_params: Any,
    critic: QEnsemble,
    batch: Transition,
    target: jax.Array,
    reduction: str,
) -> tuple[jax.Array, jax.Array]:
    """(Q_i(s, a) − y)² of every critic, reduced as the algorithm's reference reduces it.

    Args:
      reduction: "mean" over critics and batch (SAC/RLPD, WSRL online), "sum" over critics of
        the batch mean (SAC-N, EDAC, RO2O) or "none", the batch mean per critic (CQL); see
        `jaxrl.ops.ensemble_td_loss`.

    Returns:
      (loss, q): the loss and Q_i(s, a) of shape [C, B].

    References: Haarnoja et al., 2018, eq. (5); ALGORITHMS.md §2, §3, §6.
    """
    q = critic.apply(critic_params, batch.obs, batch.action)
    return ensemble_td_loss(q, target, reduction), q


def actor_objective(log_prob: jax.Array, q: jax.Array, alpha: jax.Array) -> jax.Array:
    """mean_B[α log π(ã|s) − Q(s, ã)] on network outputs: log π(ã|s) and the reduced Q, [B].

    References: Haarnoja et al., 2018, eq. (7) with the reparameterization of eq. (11).
    """
    return jnp.mean(alpha * log_prob - q)


def actor_loss(
    actor_params: Any,
    actor: GaussianPolicy,
    critic_params: Any,
    critic: QEnsemble,
    obs: jax.Array,
    key: jax.Array,
    alpha: jax.Array,
    reduction: str = "min",
    extra: Callable[[Any, dict[str, Any]], tuple[jax.Array, Any]] | None = None,
) -> tuple[jax.Array, dict[str, Any]]:
    """The SAC actor loss mean_B[α log π(ã|s) − red_i Q_i(s, ã)], ã ~ π(·|s) reparameterized,
    plus an algorithm's own term.

    Args:
      reduction: over the critic ensemble, "min" over all (WSRL, CQL, SAC-N, EDAC, RO2O) or
        "mean" (RLPD), see `jaxrl.ops.reduce_ensemble`.
      extra: `extra(actor_params, aux) -> (term, term_aux)`, a term added to the loss (RO2O's
        weighted policy smoothness, which reads aux["dist"]); None adds nothing.

    Returns:
      (loss, aux) with aux "log_prob" [B], "q" (every critic, [C, B]), "dist" (μ(s),
      log σ(s)) and, with `extra`, "sac_loss" (the loss without the term) and "extra"
      (`term_aux`).

    References: Haarnoja et al., 2018, eq. (7); ALGORITHMS.md §1 phase 3 ("Actor loss"), §2
    ("Policy"), §3, §6.
    """
    mean, log_std = actor.apply(actor_params, obs)
    action, log_prob = tanh_gaussian_sample(mean, log_std, key)
    q = critic.apply(critic_params, obs, action)
    loss = actor_objective(log_prob, reduce_ensemble(q, reduction), alpha)
    aux = {"log_prob": log_prob, "q": q, "dist": (mean, log_std)}
    if extra is None:
        return loss, aux
    term, aux["extra"] = extra(actor_params, aux)
    aux["sac_loss"] = loss
    return loss + term, aux


def grad_step(
    tx: optax.GradientTransformation,
    params: Any,
    opt_state: Any,
    loss_fn: Callable[..., tuple[jax.Array, Any]],
    *args: Any,
) -> tuple[Any, Any, jax.Array, Any]:
    """One optimizer step on `loss_fn(params, *args) -> (loss, aux)`, differentiated in
    `params` only; returns (params, opt_state, loss, aux)."""
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, *args)
    params, opt_state = apply_grads(tx, params, opt_state, grads)
    return params, opt_state, loss, aux


def temperature_step(
    tx: optax.GradientTransformation,
    leaf: jax.Array,
    opt_state: Any,
    log_probs: jax.Array,
    target_entropy: float | jax.Array,
    form: str,
    param: str = "exp",
) -> tuple[jax.Array, Any, jax.Array]:
    """One optimizer step on the temperature loss; returns (leaf, opt_state, loss).

    Args:
      leaf: the learned scalar, α = `temperature_value(leaf, param)`.
      log_probs: log π of fresh policy samples (at s, or at s' for WSRL); no gradient.
      target_entropy: H_target, see `target_entropy`.
      form: "alpha", α·(Ĥ − H_target) (RLPD, WSRL), or "log_alpha",
        −log α·mean(log π + H_target) (Cal-QL, CORL's SAC-N/EDAC, RO2O); see
        `jaxrl.ops.temperature_loss`.
      param: "exp" or "softplus" (WSRL).

    References: Haarnoja et al., 2018, eq. (18); ALGORITHMS.md shared §4.
    """
    loss, grad = jax.value_and_grad(temperature_loss)(leaf, log_probs, target_entropy, form, param)
    leaf, opt_state = apply_grads(tx, leaf, opt_state, grad)
    return leaf, opt_state, loss
