"""Reading Minari datasets from their on-disk layout with h5py (no `minari` import).

A Minari dataset is a directory `<root>/<dataset_id>/` holding `data/main_data.hdf5` and
`data/metadata.json`. The HDF5 file has one group per episode, `episode_<i>`, with
`observations` (T + 1 rows: the reset observation, then the observation after each step, the
last one the true final observation), `actions`, `rewards`, `terminations` and `truncations`
(T rows each), and optionally `infos/`. Observations of a `Dict` space are groups of arrays;
they are flattened by concatenating the leaves in sorted key order (gymnasium's order for a
`Dict` built from a plain dict) or in the order given by `observation_keys`.

Episodes are laid end to end in id order: row t of episode i has `obs = observations[t]`,
`next_obs = observations[t + 1]`, `terminated = terminations[t]`, and `truncated =
truncations[t]` (or the last step of an episode that is neither, i.e. cut off by the data).

Example:

    >>> from jaxrl import data
    >>> ds = data.load("D4RL/door/human-v2")  # doctest: +SKIP  ($MINARI_DATASETS_PATH/...)
    >>> ds = data.load_minari("~/.minari/datasets/mujoco/hopper/medium-v0")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from collections.abc import Sequence

import numpy as np

from jaxrl.data.dataset import Dataset, DatasetError, from_arrays, validate
from jaxrl.data.files import HDF5Error, has_hdf5_signature
from jaxrl.specs import EnvSpec

MAIN_FILE = "main_data.hdf5"
METADATA_FILE = "metadata.json"
EPISODE_KEYS = ("observations", "actions", "rewards", "terminations", "truncations")
_EPISODE = re.compile(r"^episode_(\d+)$")


def minari_root() -> pathlib.Path:
    """Where Minari keeps datasets: `$MINARI_DATASETS_PATH`, else `~/.minari/datasets`."""
    root = os.environ.get("MINARI_DATASETS_PATH") or os.path.join("~", ".minari", "datasets")
    return pathlib.Path(root).expanduser()


def _main_file(directory: pathlib.Path) -> pathlib.Path | None:
    """The main HDF5 file of a Minari dataset directory (or of its `data/`), else None."""
    for data in (directory / "data", directory):
        if (data / MAIN_FILE).is_file() or (data / METADATA_FILE).is_file():
            return data / MAIN_FILE
    return None


def find(path_or_id: str | os.PathLike) -> pathlib.Path | None:
    """The `main_data.hdf5` of a Minari dataset given as a directory or a dataset id.

    Args:
      path_or_id: a dataset directory (`<root>/<id>`, or its `data/`), its `main_data.hdf5`,
        or a dataset id such as `"D4RL/door/human-v2"` looked up under `minari_root()`. A file
        is returned as it is.

    Returns:
      The path of `main_data.hdf5` (which may be missing if only the metadata is there), or
      None if `path_or_id` is not a Minari dataset.
    """
    path = pathlib.Path(path_or_id).expanduser()
    if path.is_file() or is_minari_path(path):
        return path
    if path.is_dir():
        return _main_file(path)
    candidate = minari_root() / os.fspath(path_or_id)
    return _main_file(candidate) if candidate.is_dir() else None


def is_minari_path(path: pathlib.Path) -> bool:
    """Whether `path` is the main file of a Minari dataset directory (by name and neighbour)."""
    return path.name == MAIN_FILE and (path.parent / METADATA_FILE).is_file()


def is_minari_file(f) -> bool:
    """Whether an open h5py file has Minari's layout (episode groups, no D4RL arrays)."""
    return "observations" not in f and any(_EPISODE.match(k) for k in f)


def _json_value(x):
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def _read_metadata(path: pathlib.Path, root_attrs: dict) -> dict:
    """Minari's dataset metadata: the root attributes (Minari < 0.5) updated by metadata.json."""
    meta = {k: _json_value(v) for k, v in root_attrs.items()}
    meta_path = path.parent / METADATA_FILE
    if meta_path.is_file():
        try:
            meta.update(json.loads(meta_path.read_text()))
        except ValueError as e:
            raise DatasetError(
                f"{meta_path}: not valid JSON ({e}). Fix: restore the file Minari wrote, or "
                "delete it (the spaces are then taken from the data)"
            ) from None
    return meta


def _space(meta: dict, key: str) -> dict | None:
    space = meta.get(key)
    if isinstance(space, str):
        try:
            space = json.loads(space)
        except ValueError:
            return None
    return space if isinstance(space, dict) else None


def _action_box(meta: dict, path: pathlib.Path) -> tuple | None:
    space = _space(meta, "action_space")
    if space is None:
        return None
    if space.get("type") != "Box":
        raise DatasetError(
            f"{path}: key 'action_space': Minari action space is {space.get('type')!r}; jaxrl "
            "trains continuous-control agents. Fix: use a dataset with a Box action space"
        )
    return np.asarray(space["low"], np.float64), np.asarray(space["high"], np.float64)


def _leaves(node, prefix: str, keys: Sequence[str] | None, path, episode: str) -> list:
    """(name, array) leaves of an observation dataset or group, in flattening order."""
    import h5py

    if isinstance(node, h5py.Dataset):
        return [(prefix, node[()])]
    if keys is None:
        names = list(node)
        if all(n.startswith("_index_") and n[7:].isdigit() for n in names):  # a Tuple space
            names.sort(key=lambda n: int(n[7:]))
        else:
            names.sort()
    else:
        names = list(keys)
        missing = [k for k in names if k not in node]
        if missing:
            raise DatasetError(
                f"{path}: key '{episode}/{prefix}': observation keys {missing} not found "
                f"(present: {sorted(node)}). Fix: pass observation_keys from those"
            )
    out = []
    for name in names:
        out += _leaves(node[name], f"{prefix}/{name}", None, path, episode)
    return out


def _check_finite(path, key: str, a: np.ndarray) -> None:
    if a.dtype.kind != "f":
        return
    with np.errstate(over="ignore"):
        bad = ~np.isfinite(a.astype(np.float32, copy=False))
    rows = bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim else bad[None]
    if rows.any():
        i = int(np.argmax(rows))
        value = a[i].reshape(-1)[int(np.argmax(bad[i].reshape(-1)))].item()
        raise DatasetError(
            f"{path}: key '{key}': non-finite value {value!r} (first offending index {i}). "
            "Fix: drop or repair the episode with NaN/inf"
        )


def _episode_arrays(group, name: str, path, observation_keys) -> dict[str, np.ndarray]:
    """One episode's arrays in the D4RL layout, after checking Minari's structure."""
    import h5py

    missing = [k for k in EPISODE_KEYS if k not in group]
    if missing:
        raise DatasetError(
            f"{path}: key '{name}/{missing[0]}': required key missing from the episode "
            f"(missing: {missing}; present: {sorted(group)}). Fix: store every key of "
            f"{list(EPISODE_KEYS)} in each episode group, as minari.DataCollector does"
        )
    if isinstance(group["actions"], h5py.Group):
        raise DatasetError(
            f"{path}: key '{name}/actions': actions are a group (a Dict or Tuple action "
            "space). Fix: use a dataset with a Box action space"
        )
    leaves = _leaves(group["observations"], "observations", observation_keys, path, name)
    flat = []
    for key, a in leaves:
        if a.ndim == 0 or a.dtype.kind not in "biuf":
            raise DatasetError(
                f"{path}: key '{name}/{key}': observations of shape {a.shape} and dtype "
                f"{a.dtype} cannot be flattened to vectors. Fix: use vector observations"
            )
        _check_finite(path, f"{name}/{key}", a)
        flat.append(a.reshape(a.shape[0], -1))
    lengths = {key: a.shape[0] for key, a in leaves}
    if len(set(lengths.values())) > 1:
        raise DatasetError(
            f"{path}: key '{name}/observations': observation parts have different lengths "
            f"{lengths}. Fix: store one row per step under every observation key"
        )
    obs = np.concatenate(flat, axis=1) if len(flat) > 1 else flat[0]
    arrays = {k: group[k][()] for k in EPISODE_KEYS[1:]}
    steps = arrays["rewards"].shape[0] if arrays["rewards"].ndim else -1
    for key, a in arrays.items():
        _check_finite(path, f"{name}/{key}", a)
    if steps < 1:
        raise DatasetError(
            f"{path}: key '{name}/rewards': episode has no steps (shape "
            f"{arrays['rewards'].shape}). Fix: drop the empty episode"
        )
    for key in ("actions", "terminations", "truncations"):
        if arrays[key].ndim == 0 or arrays[key].shape[0] != steps:
            got = arrays[key].shape[0] if arrays[key].ndim else 0
            raise DatasetError(
                f"{path}: key '{name}/{key}': has {got} rows but '{name}/rewards' has {steps} "
                f"(first offending index {min(got, steps)}). Fix: store one row per step"
            )
    if obs.shape[0] != steps + 1:
        raise DatasetError(
            f"{path}: key '{name}/observations': has {obs.shape[0]} rows, expected "
            f"{steps + 1} (one per step plus the final observation) (first offending index "
            f"{min(obs.shape[0], steps + 1)}). Fix: store the reset observation and the "
            "observation after every step"
        )
    term = np.asarray(arrays["terminations"]).reshape(steps)
    trunc = np.asarray(arrays["truncations"]).reshape(steps).astype(bool)
    trunc[-1] |= not bool(term[-1])  # an episode the data cuts off ends there too
    actions = arrays["actions"]
    if actions.ndim == 1:
        actions = actions[:, None]
    return {
        "observations": obs[:-1],
        "next_observations": obs[1:],
        "actions": actions,
        "rewards": arrays["rewards"],
        "terminals": term,
        "timeouts": trunc & ~term.astype(bool),
    }


def _jaxrl_metadata(meta: dict) -> dict:
    """The Minari metadata jaxrl keeps: ids, versions and the reference scores."""
    out = {"source_format": "minari"}
    for src, dst in (
        ("dataset_id", "name"),
        ("minari_version", "minari_version"),
        ("algorithm_name", "algorithm_name"),
        ("ref_min_score", "random_return"),
        ("ref_max_score", "expert_return"),
    ):
        if meta.get(src) is not None:
            out[dst] = meta[src]
    env_spec = _space(meta, "env_spec")
    if env_spec and env_spec.get("id"):
        out["env_id"] = env_spec["id"]
    return out


def load_minari(
    path_or_id: str | os.PathLike,
    *,
    spec: EnvSpec | None = None,
    observation_keys: Sequence[str] | None = None,
) -> Dataset:
    """Loads and validates a Minari dataset stored in HDF5, read-only.

    Args:
      path_or_id: a dataset directory, its `main_data.hdf5`, or a dataset id under
        `minari_root()` (e.g. `"D4RL/door/human-v2"`).
      spec: the environment the dataset is for; checks the observation and action sizes and
        the action box. Without it actions are checked against the dataset's own action space.
      observation_keys: for `Dict` observations, the top-level keys to concatenate, in order
        (default: all leaves in sorted key order).

    Returns:
      A `Dataset` (see the module docstring for the row layout). Its metadata has `name` (the
      dataset id), `env_id`, `source_format: "minari"`, and `random_return`/`expert_return`
      from Minari's `ref_min_score`/`ref_max_score` when the dataset has them.

    Raises:
      DatasetError: not a Minari dataset, stored in another format than HDF5, unreadable or
        truncated, or an episode fails the checks; the message names the file, the episode
        group and key, and the first offending row within the episode.
    """
    import h5py

    path = find(path_or_id)
    if path is None:
        raise DatasetError(
            f"{path_or_id}: not a Minari dataset (no data/{MAIN_FILE} or data/{METADATA_FILE}; "
            f"looked under {minari_root()} too). Fix: pass the dataset directory, or set "
            "$MINARI_DATASETS_PATH to the root Minari downloaded it to"
        )
    if not path.is_file():
        meta = _read_metadata(path, {})
        fmt = meta.get("data_format")
        raise DatasetError(
            f"{path}: missing; the dataset is stored as {fmt!r}. Fix: jaxrl reads Minari's "
            "HDF5 format; recreate the dataset with data_format='hdf5'"
        )
    if not has_hdf5_signature(path):
        raise DatasetError(
            f"{path}: not an HDF5 file (no HDF5 signature). Fix: download the dataset again"
        )
    name = None
    try:
        with h5py.File(path, "r", locking=False) as f:
            meta = _read_metadata(path, dict(f.attrs))
            names = sorted((k for k in f if _EPISODE.match(k)), key=lambda k: int(k[8:]))
            if not names:
                raise DatasetError(
                    f"{path}: key 'episode_0': no episode groups (empty dataset; keys: "
                    f"{sorted(f)[:10]}). Fix: collect at least one episode"
                )
            box = _action_box(meta, path)
            if spec is not None:
                box = None  # the task's box wins over the dataset's
            episodes = []
            for name in names:
                group = f[name]
                if not isinstance(group, h5py.Group):
                    raise DatasetError(
                        f"{path}: key '{name}': is a dataset, not an episode group. Fix: "
                        "store each episode as a group (Minari layout)"
                    )
                ep = _episode_arrays(group, name, path, observation_keys)
                validate(ep, source=f"{path} (group '{name}')", spec=spec, action_box=box)
                episodes.append(ep)
            name = None
    except DatasetError:
        raise
    except HDF5Error as e:
        where = f" (reading group '{name}')" if name else ""
        raise DatasetError(
            f"{path}: unreadable HDF5 file{where}: {e}. The file is probably truncated or "
            "corrupt. Fix: download the dataset again"
        ) from None
    arrays = {k: np.concatenate([ep[k] for ep in episodes]) for k in episodes[0]}
    return from_arrays(
        arrays, source=str(path), spec=spec, metadata=_jaxrl_metadata(meta), action_box=box
    )
