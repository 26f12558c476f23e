"""Offline datasets on the host: validation, construction, episode structure, MC returns.

A `Dataset` is a `Transition` of numpy arrays with a leading axis N plus JSON-able metadata.
Every reader funnels through `from_arrays`, which calls `validate` first, so a dataset that
exists has finite float32 values, consistent lengths and explicit episode boundaries.

Example:

    >>> import numpy as np
    >>> from jaxrl.data import from_arrays, episode_returns, with_mc_returns
    >>> obs = np.arange(4, dtype=np.float32)[:, None]
    >>> ds = from_arrays({
    ...     "observations": obs, "next_observations": obs + 1,
    ...     "actions": np.zeros((4, 1)), "rewards": np.ones(4),
    ...     "terminals": np.array([0, 1, 0, 0]),
    ... })
    >>> episode_returns(ds)
    array([2., 2.])
    >>> with_mc_returns(ds, discount=0.5).transitions.mc_return
    array([1.5, 1. , 1.5, 1. ], dtype=float32)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxrl.ops.returns import mc_return_to_go_np
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

#: Keys every dataset must have (D4RL names).
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals", "next_observations")
#: Keys a dataset may have; anything else is ignored.
OPTIONAL_KEYS = ("timeouts", "infos/mc_return")

#: Slack on the action bounds before a value counts as out of range.
ACTION_BOUND_TOLERANCE = 1e-3
#: Dataset actions are clipped this far inside the bounds (RLPD, WSRL, CORL: ±(1 − 1e-5)), so
#: the log-probability of a tanh-squashed policy stays finite at the data's actions.
ACTION_CLIP_EPS = 1e-5

#: The action box assumed without a spec: EnvSpec's default, the box of every jaxrl environment.
_DEFAULT_ACTION_BOX = (
    EnvSpec.__dataclass_fields__["action_low"].default,
    EnvSpec.__dataclass_fields__["action_high"].default,
)


class DatasetError(ValueError):
    """A dataset file or array mapping is malformed.

    The message names the source, the offending key and (where it applies) the first offending
    row index, and says how to fix it.
    """


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """An offline dataset on the host.

    Attributes:
      transitions: a `Transition` of numpy float32 arrays with leading axis N. `terminated` and
        `truncated` are 0/1; the last row always ends an episode. `mc_return` is zeros unless
        filled by `with_mc_returns` (or read from a file that stored it).
      metadata: JSON-able description, e.g. "name", "task", "random_return", "expert_return",
        "seed", "generator". May be empty.
    """

    transitions: Transition
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of transitions N."""
        return int(self.transitions.reward.shape[0])


def _fail(source: str, key: str | None, problem: str, fix: str, index: int | None = None) -> None:
    where = f"{source}: key '{key}': " if key is not None else f"{source}: "
    at = f" (first offending index {index})" if index is not None else ""
    raise DatasetError(f"{where}{problem}{at}. Fix: {fix}")


def _first_row(bad: np.ndarray) -> int | None:
    """Index of the first row of `bad` ([N, ...] bool) with any True entry, else None."""
    rows = bad.reshape(bad.shape[0], -1).any(axis=1)
    return int(np.argmax(rows)) if rows.any() else None


def _describe_entry(a: np.ndarray, bad: np.ndarray, row: int) -> str:
    """'value v' (1-D) or 'value v in column c' (2-D) of the first bad entry of `row`."""
    if a.ndim == 1:
        return f"value {a[row].item()!r}"
    col = int(np.argmax(bad[row].reshape(-1)))
    return f"value {a[row].reshape(-1)[col].item()!r} in column {col}"


def _column(a: np.ndarray) -> np.ndarray:
    """A per-transition scalar stored as [N] or [N, 1], as [N]."""
    return a.reshape(a.shape[0]) if a.ndim == 2 and a.shape[1] == 1 else a


def validate(arrays: Mapping[str, np.ndarray], *, source: str, spec: EnvSpec | None = None) -> None:
    """Checks that a D4RL-style array mapping describes a usable dataset.

    Checks, in order: the required keys are present; the dataset is non-empty; every array has
    the same number of rows; observations and next observations are [N, obs_dim] (matching
    `spec.obs_dim` if given); actions are [N, action_dim] floats (matching `spec.action_dim`);
    rewards, terminals, timeouts and `infos/mc_return` are [N] (or [N, 1]); every float value
    is finite as float32; actions lie in the action box (within 1e-3); terminals and timeouts
    are 0/1. Keys other than `REQUIRED_KEYS` and `OPTIONAL_KEYS` are ignored.

    Args:
      arrays: `observations`, `actions`, `rewards`, `terminals`, `next_observations`, and
        optionally `timeouts` and `infos/mc_return`.
      source: where the arrays come from (a file path); every message starts with it.
      spec: the environment the dataset is for. Without it the observation and action sizes
        are not checked and actions are checked against [-1, 1], the action box of every jaxrl
        environment.

    Raises:
      DatasetError: naming `source`, the key and the first offending row index.
    """
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        present = sorted(str(k) for k in arrays)
        _fail(
            source,
            missing[0],
            f"required key missing (missing: {missing}; present: {present})",
            f"store every key of {list(REQUIRED_KEYS)} in the D4RL layout "
            "(next_observations[t] is the observation after actions[t])",
        )
    keys = list(REQUIRED_KEYS) + [k for k in OPTIONAL_KEYS if k in arrays]
    arrs = {k: np.asarray(arrays[k]) for k in keys}

    for k, a in arrs.items():
        if a.ndim == 0:
            _fail(
                source,
                k,
                "is a scalar, not an array with one row per transition",
                "store one row per transition",
            )
        if a.dtype.kind not in "biuf":
            _fail(source, k, f"has non-numeric dtype {a.dtype}", "store numbers (float32)")

    n = arrs["observations"].shape[0]
    if n == 0:
        _fail(source, "observations", "empty dataset (0 rows)", "write at least one transition")
    for k, a in arrs.items():
        if a.shape[0] != n:
            _fail(
                source,
                k,
                f"has {a.shape[0]} rows but 'observations' has {n}",
                "store the same number of rows under every key",
                index=min(a.shape[0], n),
            )

    obs, next_obs, act = arrs["observations"], arrs["next_observations"], arrs["actions"]
    for k in ("observations", "next_observations"):
        if arrs[k].ndim != 2:
            _fail(
                source,
                k,
                f"must be 2-D [N, obs_dim], got shape {arrs[k].shape}",
                "flatten each observation to a vector",
            )
    if spec is not None and obs.shape[1] != spec.obs_dim:
        _fail(
            source,
            "observations",
            f"observation size {obs.shape[1]} does not match the task's obs_dim {spec.obs_dim}",
            "load the dataset generated for this task",
        )
    if next_obs.shape[1] != obs.shape[1]:
        _fail(
            source,
            "next_observations",
            f"observation size {next_obs.shape[1]} differs from 'observations' ({obs.shape[1]})",
            "store next observations of the same environment",
        )

    if act.dtype.kind in "biu":
        _fail(
            source,
            "actions",
            f"integer actions for a continuous task (dtype {act.dtype})",
            "store continuous actions as float32 in the environment's action box",
        )
    if act.ndim != 2:
        _fail(
            source,
            "actions",
            f"must be 2-D [N, action_dim], got shape {act.shape}",
            "store actions as [N, action_dim] (use [N, 1] for one action dimension)",
        )
    if spec is not None and act.shape[1] != spec.action_dim:
        _fail(
            source,
            "actions",
            f"action size {act.shape[1]} does not match the task's action_dim {spec.action_dim}",
            "load the dataset generated for this task",
        )

    for k in ("rewards", "terminals", "timeouts", "infos/mc_return"):
        if k in arrs and _column(arrs[k]).ndim != 1:
            _fail(
                source,
                k,
                f"must be 1-D [N], got shape {arrs[k].shape}",
                "store one scalar per transition",
            )

    for k, a in arrs.items():
        if a.dtype.kind == "f":
            # Checked as float32, the dtype the dataset is kept in: a float64 value beyond
            # float32's range would otherwise turn into inf after loading.
            with np.errstate(over="ignore"):
                nonfinite = ~np.isfinite(a.astype(np.float32, copy=False))
            bad = _first_row(nonfinite)
            if bad is not None:
                _fail(
                    source,
                    k,
                    f"non-finite {_describe_entry(a, nonfinite, bad)}",
                    "drop or repair the rows with NaN/inf (or values beyond float32's range)",
                    index=bad,
                )

    low, high = (spec.action_low, spec.action_high) if spec is not None else _DEFAULT_ACTION_BOX
    out = (act < low - ACTION_BOUND_TOLERANCE) | (act > high + ACTION_BOUND_TOLERANCE)
    bad = _first_row(out)
    if bad is not None:
        _fail(
            source,
            "actions",
            f"{_describe_entry(act, out, bad)} outside the action box [{low}, {high}]",
            "rescale actions to the environment's action box (pass spec= with its bounds)",
            index=bad,
        )

    for k in ("terminals", "timeouts"):
        if k in arrs:
            a = _column(arrs[k])
            notbool = ~((a == 0) | (a == 1))
            bad = _first_row(notbool)
            if bad is not None:
                _fail(
                    source,
                    k,
                    f"{_describe_entry(a, notbool, bad)} is not boolean (0/1)",
                    "store 0/1 (or bool) flags",
                    index=bad,
                )


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"{type(x).__name__} is not JSON-able")


def _normalize_metadata(metadata: Mapping | None, source: str) -> dict:
    """A JSON round-trip of `metadata`, so it stores and reloads exactly."""
    if not metadata:
        return {}
    try:
        return json.loads(json.dumps(dict(metadata), default=_json_default, allow_nan=True))
    except (TypeError, ValueError) as e:
        raise DatasetError(
            f"{source}: metadata is not JSON-able ({e}). Fix: keep metadata to strings, "
            "numbers, booleans, None, lists and dicts"
        ) from None


def from_arrays(
    arrays: Mapping[str, np.ndarray],
    *,
    source: str = "<arrays>",
    spec: EnvSpec | None = None,
    metadata: dict | None = None,
) -> Dataset:
    """Validates a D4RL-style array mapping and builds a `Dataset`.

    Episode boundaries: `terminated = terminals`; `truncated = timeouts AND NOT terminals`. When
    there is no `timeouts` key, episode ends are recovered by the RLPD/WSRL rule: an episode
    ends after row t where `observations[t + 1] != next_observations[t]`; such a row is
    truncated unless it is a terminal. The last row always ends an episode (truncated unless
    terminal), since the data stops there. Actions are clipped to ±(1 − 1e-5) of the action
    box, as the reference implementations do.

    Args:
      arrays: see `validate`. `infos/mc_return`, if present, becomes `mc_return`.
      source: name used in error messages.
      spec: the environment the dataset is for (checks sizes and the action box).
      metadata: JSON-able description; numpy scalars are converted to Python numbers.

    Returns:
      A `Dataset` of float32 host arrays.

    Raises:
      DatasetError: if `validate` rejects the arrays or `metadata` is not JSON-able.
    """
    validate(arrays, source=source, spec=spec)
    f32 = lambda k: np.ascontiguousarray(np.asarray(arrays[k]), dtype=np.float32)
    obs, next_obs = f32("observations"), f32("next_observations")
    n = obs.shape[0]
    terminated = _column(np.asarray(arrays["terminals"])).astype(bool)
    if "timeouts" in arrays:
        ends = _column(np.asarray(arrays["timeouts"])).astype(bool)
    else:
        ends = np.zeros(n, bool)
        ends[:-1] = np.any(obs[1:] != next_obs[:-1], axis=1)
    ends[-1] = True
    truncated = ends & ~terminated

    low, high = (spec.action_low, spec.action_high) if spec is not None else _DEFAULT_ACTION_BOX
    mid, half = (high + low) / 2.0, (high - low) / 2.0 * (1.0 - ACTION_CLIP_EPS)
    action = np.clip(f32("actions"), mid - half, mid + half).astype(np.float32)

    if "infos/mc_return" in arrays:
        mc_return = _column(f32("infos/mc_return"))
    else:
        mc_return = np.zeros(n, np.float32)
    transitions = Transition(
        obs=obs,
        action=action,
        reward=_column(f32("rewards")),
        terminated=terminated.astype(np.float32),
        truncated=truncated.astype(np.float32),
        next_obs=next_obs,
        mc_return=mc_return,
    )
    return Dataset(transitions, _normalize_metadata(metadata, source))


def episode_ends(ds: Dataset) -> np.ndarray:
    """Where episodes end.

    Args:
      ds: a dataset.

    Returns:
      bool [N]: `terminated | truncated`, and the last row.
    """
    t = ds.transitions
    ends = (np.asarray(t.terminated) > 0) | (np.asarray(t.truncated) > 0)
    if ends.size:
        ends[-1] = True
    return ends


def episode_returns(ds: Dataset) -> np.ndarray:
    """Undiscounted return of each episode, in dataset order.

    Args:
      ds: a dataset.

    Returns:
      float64 [num_episodes] sums of rewards between consecutive episode ends.
    """
    ends = episode_ends(ds)
    if not ends.size:
        return np.zeros(0)
    starts = np.concatenate([[0], np.flatnonzero(ends)[:-1] + 1])
    return np.add.reduceat(np.asarray(ds.transitions.reward, np.float64), starts)


def with_mc_returns(ds: Dataset, discount: float, sparse_reward: float | None = None) -> Dataset:
    """Fills `mc_return` with each transition's discounted Monte-Carlo return-to-go.

    G_t = r_t + γ G_{t+1} within an episode, with G = 0 after its last step (terminal or not,
    as Cal-QL and WSRL do). With `sparse_reward` = r_neg, an episode whose every reward equals
    r_neg gets G_t = r_neg / (1 − γ) at every step.

    Args:
      ds: a dataset (rewards already transformed the way training will see them).
      discount: γ in [0, 1]; 1 gives the undiscounted return-to-go (Decision Transformer).
      sparse_reward: r_neg of the sparse-reward rule, or None to disable it.

    Returns:
      A new `Dataset`; metadata records `mc_return_discount` and `mc_return_sparse_reward`.

    References:
      Nakamoto et al., "Cal-QL: Calibrated Offline RL Pre-Training for Efficient Online
      Fine-Tuning", 2023 (`JaxCQL/replay_buffer.py: calc_return_to_go`).
    """
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    if sparse_reward is not None and discount == 1.0:
        raise ValueError("the sparse-reward rule r_neg / (1 - discount) needs discount < 1")
    g = mc_return_to_go_np(ds.transitions.reward, episode_ends(ds), discount, sparse_reward)
    metadata = dict(ds.metadata)
    metadata["mc_return_discount"] = float(discount)
    metadata["mc_return_sparse_reward"] = None if sparse_reward is None else float(sparse_reward)
    return Dataset(ds.transitions.replace(mc_return=g.astype(np.float32)), metadata)


def to_device(ds: Dataset) -> Transition:
    """Moves the transitions to the default device, once.

    Args:
      ds: a dataset.

    Returns:
      The `Transition` as device arrays, to be shared by every run index (DESIGN rule 5).
    """
    return jax.device_put(ds.transitions)
