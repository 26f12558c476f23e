"""The agent contract shared by every algorithm, and small helpers for writing agents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct


@struct.dataclass
class AgentState:
    """Everything an agent learns or schedules, as one pytree.

    Attributes:
      params: online network parameters, by network name.
      target_params: target network parameters, by network name.
      opt_states: optimizer states by network name; learning rates live inside them
        (`optax.inject_hyperparams`), so they are leaves a sweep can vary.
      hparams: dynamic hyperparameters (discount, expectile, CQL α, …) as float32 scalars.
      step: number of gradient steps taken.
    """

    params: dict[str, Any]
    target_params: dict[str, Any]
    opt_states: dict[str, Any]
    hparams: dict[str, jax.Array]
    step: jax.Array


class Agent(NamedTuple):
    """An algorithm as pure functions (DESIGN.md, "Contracts").

    Attributes:
      init: `init(key) -> AgentState`.
      act: `act(state, obs, key, deterministic) -> action` for one observation.
      update: `update(state, batch, key) -> (state, metrics)`: one gradient step.
      to_online: `to_online(state) -> state`, the algorithm's offline→online switch.
      update_utd: optional `update_utd(state, batches, key)` for batches with a leading
        update-to-data axis, when the algorithm does not simply repeat `update` (RLPD and
        WSRL update the critic on every slice and the actor once). None means
        "`lax.scan` `update` over the slices". It may take `unroll=` (default 1), passed to
        its `lax.scan` over the slices: `unroll=True` traces every slice, so that XLA's cost
        analysis, which counts a loop body once, counts the FLOPs of all (`jaxrl.bench`).
      bind_dataset: optional `bind_dataset(dataset) -> Agent` for algorithms that read the
        whole offline dataset inside an update (PRDC's nearest-neighbour constraint). The
        training layer calls it inside each compiled chunk with the chunk's dataset argument
        (a `Transition`, shared by every run, never copied per run) and uses the returned
        agent's `update`/`update_utd`. None: the agent sees only its batches.
    """

    init: Callable[..., AgentState]
    act: Callable[..., jax.Array]
    update: Callable[..., tuple[AgentState, dict[str, jax.Array]]]
    to_online: Callable[[AgentState], AgentState]
    update_utd: Callable[..., tuple[AgentState, dict[str, jax.Array]]] | None = None
    bind_dataset: Callable[[Any], Agent] | None = None


def adam(learning_rate: float, **kwargs) -> optax.GradientTransformation:
    """Adam whose learning rate is a state leaf (sweepable, changeable at the switch)."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, **kwargs)


def apply_grads(
    tx: optax.GradientTransformation, params: Any, opt_state: Any, grads: Any
) -> tuple[Any, Any]:
    """One optimizer step; returns (new_params, new_opt_state)."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def as_hparams(**values: float) -> dict[str, jax.Array]:
    """Dynamic hyperparameters as float32 scalar leaves."""
    return {k: jnp.asarray(v, jnp.float32) for k, v in values.items()}


def set_learning_rate(opt_state: Any, value: float | jax.Array) -> Any:
    """A copy of an `inject_hyperparams` state with a new learning rate."""
    hp = dict(opt_state.hyperparams)
    hp["learning_rate"] = jnp.asarray(value, jnp.float32)
    return opt_state._replace(hyperparams=hp)


def identity_switch(state: AgentState) -> AgentState:
    return state
