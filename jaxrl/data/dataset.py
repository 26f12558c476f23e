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
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxrl.ops.returns import mc_return_to_go_np
from jaxrl.specs import EnvSpec
from jaxrl.types import Transition

#: Keys every dataset must have (D4RL names).
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals")
#: Keys a dataset may have; anything else is ignored. Without `next_observations`, `timeouts`
#: is required and next observations are rebuilt the way D4RL's `qlearning_dataset` does.
OPTIONAL_KEYS = ("next_observations", "timeouts", "infos/mc_return")

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


def _action_box(spec: EnvSpec | None, action_box) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) as float64 arrays: `action_box` if given, else the spec's, else [-1, 1]."""
    if action_box is None:
        action_box = (spec.action_low, spec.action_high) if spec is not None else None
    low, high = action_box if action_box is not None else _DEFAULT_ACTION_BOX
    return np.asarray(low, np.float64), np.asarray(high, np.float64)


def _format_box(low: np.ndarray, high: np.ndarray) -> str:
    fmt = lambda x: repr(x.item()) if x.ndim == 0 else np.array2string(x, separator=", ")
    return f"[{fmt(low)}, {fmt(high)}]"


def clip_to_box(actions: np.ndarray, low, high, eps: float = ACTION_CLIP_EPS) -> np.ndarray:
    """Clips `actions` into the box shrunk by `eps` of its half-width on each side.

    Args:
      actions: [N, action_dim] actions.
      low: lower bound, a scalar or [action_dim]; infinite bounds are left open.
      high: upper bound, like `low`.
      eps: the relative margin; 1e-5 keeps `atanh` of a [-1, 1] action finite.

    Returns:
      float32 clipped actions.
    """
    low = np.asarray(low, np.float64)
    high = np.asarray(high, np.float64)
    finite = np.isfinite(low) & np.isfinite(high)
    with np.errstate(invalid="ignore", over="ignore"):
        margin = np.where(finite, (high - low) / 2.0 * eps, 0.0)
    return np.clip(np.asarray(actions), low + margin, high - margin).astype(np.float32)


def validate(
    arrays: Mapping[str, np.ndarray],
    *,
    source: str,
    spec: EnvSpec | None = None,
    action_box: tuple | None = None,
) -> None:
    """Checks that a D4RL-style array mapping describes a usable dataset.

    Checks, in order: the required keys are present (and `timeouts` when `next_observations`
    is absent); the dataset is non-empty; every array has the same number of rows; observations
    and next observations are [N, obs_dim] (matching `spec.obs_dim` if given); actions are
    [N, action_dim] floats (matching `spec.action_dim`); rewards, terminals, timeouts and
    `infos/mc_return` are [N] (or [N, 1]); every float value is finite as float32; actions lie
    in the action box (within 1e-3); terminals and timeouts are 0/1. Keys other than
    `REQUIRED_KEYS` and `OPTIONAL_KEYS` are ignored.

    Args:
      arrays: `observations`, `actions`, `rewards`, `terminals`, and optionally
        `next_observations`, `timeouts` and `infos/mc_return`.
      source: where the arrays come from (a file path); every message starts with it.
      spec: the environment the dataset is for. Without it the observation and action sizes
        are not checked and actions are checked against [-1, 1], the action box of every jaxrl
        environment.
      action_box: `(low, high)`, scalars or [action_dim] arrays, overriding the spec's box
        (e.g. the action space stored in a Minari dataset).

    Raises:
      DatasetError: naming `source`, the key and the first offending row index.
    """
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if not missing and "next_observations" not in arrays and "timeouts" not in arrays:
        _fail(
            source,
            "next_observations",
            "required key missing, and without 'timeouts' the ends of episodes (whose next "
            "observation is unknown) cannot be told apart",
            "store 'next_observations', or 'timeouts' so that next observations can be rebuilt "
            "from the following rows as D4RL's qlearning_dataset does",
        )
    if missing:
        present = sorted(str(k) for k in arrays)
        _fail(
            source,
            missing[0],
            f"required key missing (missing: {missing}; present: {present})",
            f"store every key of {list(REQUIRED_KEYS)} in the D4RL layout, plus "
            "'next_observations' (the observation after actions[t]) or 'timeouts'",
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

    obs, act = arrs["observations"], arrs["actions"]
    for k in ("observations", "next_observations"):
        if k in arrs and arrs[k].ndim != 2:
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
    if "next_observations" in arrs and arrs["next_observations"].shape[1] != obs.shape[1]:
        _fail(
            source,
            "next_observations",
            f"observation size {arrs['next_observations'].shape[1]} differs from "
            f"'observations' ({obs.shape[1]})",
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

    low, high = _action_box(spec, action_box)
    out = (act < low - ACTION_BOUND_TOLERANCE) | (act > high + ACTION_BOUND_TOLERANCE)
    bad = _first_row(out)
    if bad is not None:
        _fail(
            source,
            "actions",
            f"{_describe_entry(act, out, bad)} outside the action box {_format_box(low, high)}",
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
    action_box: tuple | None = None,
) -> Dataset:
    """Validates a D4RL-style array mapping and builds a `Dataset`.

    Episode boundaries: `terminated = terminals`; `truncated = timeouts AND NOT terminals`. When
    there is no `timeouts` key, episode ends are recovered by the RLPD/WSRL rule: an episode
    ends after row t where `observations[t + 1] != next_observations[t]`; such a row is
    truncated unless it is a terminal. The last row always ends an episode (truncated unless
    terminal), since the data stops there. Actions are clipped to ±(1 − 1e-5) of the action
    box, as the reference implementations do.

    Without `next_observations` (raw D4RL `get_dataset()` files), next observations are the
    following rows, as in D4RL's `qlearning_dataset`: rows flagged `timeouts` and the last
    row are dropped (their next observation is not in the data), and the row before each
    dropped timeout becomes the truncated end of its episode; a terminal row keeps the
    following row as `next_obs` (it never bootstraps). The metadata records
    `"rebuilt_next_observations": true` and the number of `"dropped_rows"`.

    Args:
      arrays: see `validate`. `infos/mc_return`, if present, becomes `mc_return`.
      source: name used in error messages.
      spec: the environment the dataset is for (checks sizes and the action box).
      metadata: JSON-able description; numpy scalars are converted to Python numbers.
      action_box: `(low, high)` overriding the spec's action box (see `validate`).

    Returns:
      A `Dataset` of float32 host arrays.

    Raises:
      DatasetError: if `validate` rejects the arrays, no row is left after dropping the rows
        without a next observation, or `metadata` is not JSON-able.
    """
    validate(arrays, source=source, spec=spec, action_box=action_box)
    f32 = lambda k: np.ascontiguousarray(np.asarray(arrays[k]), dtype=np.float32)
    obs = f32("observations")
    n = obs.shape[0]
    terminated = _column(np.asarray(arrays["terminals"])).astype(bool)
    metadata = dict(metadata or {})
    if "next_observations" in arrays:
        keep = slice(None)
        next_obs = f32("next_observations")
        if "timeouts" in arrays:
            ends = _column(np.asarray(arrays["timeouts"])).astype(bool)
        else:
            ends = np.zeros(n, bool)
            ends[:-1] = np.any(obs[1:] != next_obs[:-1], axis=1)
    else:
        timeouts = _column(np.asarray(arrays["timeouts"])).astype(bool)
        keep = ~timeouts
        keep[-1] = False
        if not keep.any():
            _fail(
                source,
                "next_observations",
                f"missing, and none of the {n} rows has a next observation in the data (each "
                "is a timeout or the last row)",
                "store 'next_observations'",
            )
        next_obs = np.empty_like(obs)
        next_obs[:-1] = obs[1:]
        # The row before a dropped timeout row ends its episode (the data cuts it there).
        ends = np.zeros(n, bool)
        ends[:-1] = timeouts[1:]
        keep = np.flatnonzero(keep)
        obs, next_obs, terminated, ends = obs[keep], next_obs[keep], terminated[keep], ends[keep]
        metadata["rebuilt_next_observations"] = True
        metadata["dropped_rows"] = int(n - keep.size)
    ends[-1] = True
    truncated = ends & ~terminated

    low, high = _action_box(spec, action_box)
    action = clip_to_box(f32("actions")[keep], low, high)

    if "infos/mc_return" in arrays:
        mc_return = _column(f32("infos/mc_return"))[keep]
    else:
        mc_return = np.zeros(obs.shape[0], np.float32)
    transitions = Transition(
        obs=np.ascontiguousarray(obs),
        action=action,
        reward=np.ascontiguousarray(_column(f32("rewards"))[keep]),
        terminated=terminated.astype(np.float32),
        truncated=truncated.astype(np.float32),
        next_obs=np.ascontiguousarray(next_obs),
        mc_return=np.ascontiguousarray(mc_return),
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


def first_episodes(ds: Dataset, n: int) -> Dataset:
    """The rows of the first `n` episodes of `ds` (all of it if it has fewer), same metadata."""
    ends = np.flatnonzero(episode_ends(ds))
    rows = int(ends[min(n, ends.size) - 1]) + 1 if n > 0 and ends.size else 0
    return Dataset(jax.tree.map(lambda x: x[:rows], ds.transitions), dict(ds.metadata))


def concatenate(
    parts: Sequence[Dataset], *, spec: EnvSpec | None = None, metadata: dict | None = None
) -> Dataset:
    """The rows of `parts` one after another, validated as one dataset (`from_arrays`).

    Each episode ends where it ended in its part; `mc_return` is zeros again (the returns of a
    mixture are recomputed by `with_mc_returns`).

    Args:
      parts: datasets with the same observation and action sizes.
      spec: the environment the result is for.
      metadata: the result's metadata (default: none).
    """
    fields = {
        "observations": "obs",
        "actions": "action",
        "rewards": "reward",
        "next_observations": "next_obs",
        "terminals": "terminated",
        "timeouts": "truncated",
    }
    arrays = {
        key: np.concatenate([np.asarray(getattr(p.transitions, name)) for p in parts])
        for key, name in fields.items()
    }
    return from_arrays(arrays, spec=spec, metadata=metadata)


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
