"""The agent contract shared by every algorithm, and small helpers for writing agents."""

from __future__ import annotations

import dataclasses
import functools
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
      hparams: the algorithm's dynamic hyperparameters, an instance of
        `hparams_class(<its config class>)`: one float32 leaf per `dynamic` config field
        (discount, expectile, CQL α, learning rates, …). A sweep varies exactly these.
      step: number of gradient steps taken.
      switch_step: the value of `step` at the offline→online switch; −1 before it
        (`mark_switch`). Schedules that start at the switch read it.
    """

    params: dict[str, Any]
    target_params: dict[str, Any]
    opt_states: dict[str, Any]
    hparams: Any
    step: jax.Array
    switch_step: jax.Array = struct.field(default_factory=lambda: jnp.full((), -1, jnp.int32))

    def advanced(self, params: Any, opt_states: Any, target_params: Any) -> AgentState:
        """The state after one gradient step: these networks, optimizer states and targets,
        and `step` + 1; the hyperparameters and the switch stay."""
        return self.replace(
            params=params, target_params=target_params, opt_states=opt_states, step=self.step + 1
        )


class Agent(NamedTuple):
    """An algorithm as pure functions (DESIGN.md, "Contracts").

    Attributes:
      init: `init(key, hparams=None) -> AgentState`; `hparams` (an instance of the config's
        `hparams_class`, default: the config's values) may be traced: a sweep vmaps `init`
        over stacked hyperparameters.
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


def adam(learning_rate: float = 0.0, **kwargs) -> optax.GradientTransformation:
    """Adam whose learning rate is a state leaf (sweepable, changeable at the switch).

    Agents build it without a learning rate: `init_opt_states` writes the value from the
    hyperparameters, so no program holds a learning rate as a constant.
    """
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate, **kwargs)


def optimizers(*names: str) -> dict[str, optax.GradientTransformation]:
    """One `adam()` per network name; their learning rates come from the hyperparameters
    `<name>_lr` (`init_opt_states`)."""
    return {name: adam() for name in names}


def apply_grads(
    tx: optax.GradientTransformation, params: Any, opt_state: Any, grads: Any
) -> tuple[Any, Any]:
    """One optimizer step; returns (new_params, new_opt_state)."""
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


# --------------------------------------------------------------------------- configs


@dataclasses.dataclass(frozen=True)
class DataNeeds:
    """What an algorithm needs from the data besides (s, a, r, s′, mask), declared by its
    config (`AgentConfig.data_needs`) and read by one function, the training layer's
    `prepare_dataset` (and the online chunk for what it keeps up to date).

    Attributes:
      next_action: `Transition.next_action`, the dataset's action at s′ (ReBRAC's critic).
      mc_return_discount: γ of the Monte-Carlo returns-to-go in `Transition.mc_return`
        (Cal-QL), recomputed online as episodes end; None: no returns.
      obs_stats_with_next_obs: observation normalization statistics over obs ∪ next_obs
        (RIQL) rather than obs (CORL), when the training config normalizes observations.
      top_fraction: train on this share of the episodes with the highest return (%BC).
      top_fraction_discount: γ of the return that ranks the episodes for `top_fraction`.
      dataset_in_update: the update reads the whole offline dataset (PRDC's nearest
        neighbour, through `Agent.bind_dataset`), so a dataset is required.
    """

    next_action: bool = False
    mc_return_discount: float | None = None
    obs_stats_with_next_obs: bool = False
    top_fraction: float = 1.0
    top_fraction_discount: float = 1.0
    dataset_in_update: bool = False


class AgentConfig:
    """The base of every algorithm's config: a frozen dataclass of static fields and
    `dynamic` ones (its `hparams_class`), and the algorithm's `data_needs`."""

    def data_needs(self) -> DataNeeds:
        """What the algorithm needs from the data (default: plain transitions)."""
        return DataNeeds()

    def hparams(self) -> Any:
        """The dynamic fields as the config's `hparams_class` (float32 scalar leaves)."""
        return hparams_of(self)


# --------------------------------------------------------------------------- hyperparameters


#: The phases a schedule's length is counted in (`dynamic(..., schedule=)`, `schedule_steps`).
SCHEDULE_PHASES = ("offline", "online")


def dynamic(default: float, schedule: str | None = None) -> Any:
    """A config field that is a leaf of `AgentState.hparams`, not a constant of the program.

    Its value may differ between the runs of one compiled program (a sweep), so the agent
    must read it from `state.hparams` inside `act`/`update`/`to_online`, never from the
    config. Every other field of an agent config is static: it shapes or specialises the
    program (network sizes, modes, step counts).

    `schedule` ("offline" | "online") marks a length in that phase's gradient steps, which a
    run of another length scales with it (`schedule_fields`, `jaxrl.jobs.budget_config`).
    """
    return dataclasses.field(default=default, metadata=_metadata(True, schedule))


def schedule_steps(default: int, phase: str) -> Any:
    """A static config field that is a schedule's length in `phase`'s gradient steps."""
    return dataclasses.field(default=default, metadata=_metadata(False, phase))


def _metadata(is_dynamic: bool, schedule: str | None) -> dict[str, Any]:
    if schedule is not None and schedule not in SCHEDULE_PHASES:
        raise ValueError(f"schedule={schedule!r}; allowed: {SCHEDULE_PHASES}")
    meta: dict[str, Any] = {"dynamic": True} if is_dynamic else {}
    return {**meta, "schedule": schedule} if schedule else meta


def schedule_fields(config: Any) -> dict[str, str]:
    """The schedule-length fields of an agent config (class or instance) -> their phase, e.g.
    SPOT's {"vae_steps": "offline", "cool_steps": "online"}."""
    return {
        f.name: f.metadata["schedule"]
        for f in dataclasses.fields(config)
        if f.metadata.get("schedule")
    }


def dynamic_names(config: Any) -> tuple[str, ...]:
    """The names of the `dynamic` fields of an agent config (class or instance), in order."""
    return tuple(f.name for f in dataclasses.fields(config) if f.metadata.get("dynamic"))


@functools.cache
def hparams_class(config_cls: type) -> type:
    """The `flax.struct` dataclass of `config_cls`'s dynamic fields (one per config class).

    `IQLConfig` gives `IQLHparams` with fields `expectile`, `beta`, … (float32 scalars).
    """
    name = config_cls.__name__.removesuffix("Config") + "Hparams"
    names = dynamic_names(config_cls)
    namespace = {
        "__annotations__": dict.fromkeys(names, "jax.Array"),
        "__module__": config_cls.__module__,
        "__qualname__": name,
        "__doc__": f"The dynamic hyperparameters of `{config_cls.__name__}` "
        f"(float32 leaves): {', '.join(names)}.",
    }
    return struct.dataclass(type(name, (), namespace))


def hparams_of(config: Any) -> Any:
    """`config`'s dynamic fields as its `hparams_class`, float32 scalar leaves."""
    values = {n: jnp.asarray(getattr(config, n), jnp.float32) for n in dynamic_names(config)}
    return hparams_class(type(config))(**values)


def init_opt_states(
    txs: dict[str, optax.GradientTransformation], params: dict[str, Any], hparams: Any
) -> dict[str, Any]:
    """`tx.init(params[name])` for every optimizer, with its learning rate from `hparams`.

    The learning rate of optimizer `name` is the hyperparameter `<name>_lr` (`actor_lr`,
    `critic_lr`, `temperature_lr`, …), so a sweep over it lands in the optimizer state's
    injected `learning_rate`; that leaf is the live value afterwards (the switch may change
    it, e.g. BC's `online_actor_lr`).
    """
    out = {}
    for name, tx in txs.items():
        if not hasattr(hparams, f"{name}_lr"):
            raise TypeError(
                f"optimizer {name!r} has no learning rate among the hyperparameters "
                f"{[f.name for f in dataclasses.fields(hparams)]}: declare a dynamic config "
                f"field {name}_lr"
            )
        out[name] = set_learning_rate(tx.init(params[name]), getattr(hparams, f"{name}_lr"))
    return out


def initial_state(
    params: dict[str, Any],
    txs: dict[str, optax.GradientTransformation],
    hparams: Any,
    targets: tuple[str, ...] = (),
) -> AgentState:
    """A fresh `AgentState` at step 0: optimizer states from `hparams` (`init_opt_states`) and
    target copies of the networks named in `targets`."""
    return AgentState(
        params=params,
        target_params={name: params[name] for name in targets},
        opt_states=init_opt_states(txs, params, hparams),
        hparams=hparams,
        step=jnp.zeros((), jnp.int32),
    )


def init_networks(key: jax.Array, spec: Any, **networks: tuple[Any, Any]) -> dict[str, Any]:
    """Parameters of each network, by name, from `key` split into one subkey per network in
    the order given, each initialised on a one-row batch of zeros.

    `name=(module, inputs)`: inputs "s" (an observation), "sa" (an observation and an action),
    or a tuple of input widths (FamO2O's actor reads the observation and β's embedding).

    Example:
        >>> from jaxrl.networks import QEnsemble, ValueNetwork
        >>> from jaxrl.specs import EnvSpec
        >>> p = init_networks(jax.random.key(0), EnvSpec(3, 2),
        ...                   critic=(QEnsemble(2, (4,)), "sa"), value=(ValueNetwork((4,)), "s"))
        >>> sorted(p)
        ['critic', 'value']
    """
    keys = jax.random.split(key, len(networks))
    widths = {"s": (spec.obs_dim,), "sa": (spec.obs_dim, spec.action_dim)}
    params = {}
    for k, (name, (module, inputs)) in zip(keys, networks.items(), strict=True):
        dims = widths[inputs] if isinstance(inputs, str) else inputs
        params[name] = module.init(k, *(jnp.zeros((1, d)) for d in dims))
    return params


def mark_switch(state: AgentState) -> AgentState:
    """`state` with `switch_step` set to the current step (call it in `to_online`)."""
    return state.replace(switch_step=state.step)


def is_online(state: AgentState) -> jax.Array:
    """1.0 after the switch, 0.0 before it (float32)."""
    return (state.switch_step >= 0).astype(jnp.float32)


def set_learning_rate(opt_state: Any, value: float | jax.Array) -> Any:
    """A copy of an `inject_hyperparams` state with a new learning rate (float32; float64
    when x64 is enabled, as experiments/parity.py --x64 runs)."""
    hp = dict(opt_state.hyperparams)
    hp["learning_rate"] = jnp.asarray(value, jax.dtypes.canonicalize_dtype(jnp.float64))
    return opt_state._replace(hyperparams=hp)


def identity_switch(state: AgentState) -> AgentState:
    """The switch of an algorithm whose update does not change online: only `mark_switch`."""
    return mark_switch(state)
