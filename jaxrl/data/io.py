"""Reading and writing datasets: npz and HDF5 in the D4RL layout, Minari, and the local cache.

Both formats store the D4RL keys `observations`, `actions`, `rewards`, `terminals`, `timeouts`,
`next_observations` and `infos/mc_return`, plus the metadata as a JSON string (npz: the key
`metadata_json`; HDF5: the root attribute `jaxrl_metadata`). Writes go to a temporary file in
the target directory followed by `os.replace`, so a reader never sees half a file. Reads open
the source read-only and never modify it.

Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from jaxrl.data import from_arrays, save_hdf5, load
    >>> obs = np.zeros((3, 2), np.float32)
    >>> ds = from_arrays({"observations": obs, "next_observations": obs,
    ...                   "actions": np.zeros((3, 1)), "rewards": np.ones(3),
    ...                   "terminals": np.zeros(3)}, metadata={"task": "hopper"})
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.hdf5")
    >>> save_hdf5(ds, path)
    >>> load(path).metadata
    {'task': 'hopper'}
"""

from __future__ import annotations

import json
import os
import pathlib
import zipfile
from collections.abc import Callable

import numpy as np

from jaxrl.atomic import atomic_target
from jaxrl.data import minari
from jaxrl.data.dataset import Dataset, DatasetError, from_arrays
from jaxrl.data.files import HDF5Error, has_hdf5_signature, read_signature
from jaxrl.specs import EnvSpec

#: The command that fills the cache; named in the error for a missing dataset.
MAKE_DATASETS_COMMAND = "python experiments/make_datasets.py --datasets={name}"
HDF5_SUFFIXES = (".hdf5", ".h5")
NPZ_SUFFIXES = (".npz",)
_ZIP_SIGNATURE = b"PK\x03\x04"
_METADATA_NPZ_KEY = "metadata_json"
_METADATA_HDF5_ATTR = "jaxrl_metadata"
# Keys read from a file; D4RL files carry many more (infos/qpos, metadata/...), all ignored.
_READ_KEYS = (
    "observations",
    "actions",
    "rewards",
    "terminals",
    "timeouts",
    "next_observations",
    "infos/mc_return",
)


def data_dir() -> pathlib.Path:
    """The dataset cache directory, created if missing.

    Returns:
      `$JAXRL_DATA` if set and non-empty, else `~/.cache/jaxrl/datasets`.
    """
    root = os.environ.get("JAXRL_DATA") or os.path.join("~", ".cache", "jaxrl", "datasets")
    path = pathlib.Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _d4rl_arrays(ds: Dataset) -> dict[str, np.ndarray]:
    t = ds.transitions
    return {
        "observations": np.asarray(t.obs, np.float32),
        "actions": np.asarray(t.action, np.float32),
        "rewards": np.asarray(t.reward, np.float32),
        "terminals": np.asarray(t.terminated) > 0,
        "timeouts": np.asarray(t.truncated) > 0,
        "next_observations": np.asarray(t.next_obs, np.float32),
        "infos/mc_return": np.asarray(t.mc_return, np.float32),
    }


def _metadata_json(ds: Dataset, path: pathlib.Path) -> str:
    try:
        return json.dumps(ds.metadata, sort_keys=True)
    except (TypeError, ValueError) as e:
        raise DatasetError(
            f"{path}: metadata is not JSON-able ({e}). Fix: build the dataset with "
            "from_arrays(..., metadata=...), which converts numpy scalars"
        ) from None


def save_npz(ds: Dataset, path: str | os.PathLike) -> None:
    """Writes `ds` as an uncompressed `.npz` with D4RL key names, atomically; the arguments
    and errors are `save_hdf5`'s (the metadata is JSON under the key `metadata_json`)."""
    meta = _metadata_json(ds, pathlib.Path(path))
    arrays = _d4rl_arrays(ds)
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        # A file object, not a name: np.savez would append ".npz" to the temporary name.
        np.savez(f, **arrays, **{_METADATA_NPZ_KEY: np.array(meta)})


def save_hdf5(ds: Dataset, path: str | os.PathLike) -> None:
    """Writes `ds` as HDF5 in the D4RL layout, atomically.

    Datasets: `observations`, `actions`, `rewards`, `next_observations` (float32), `terminals`,
    `timeouts` (bool) and `infos/mc_return` (float32); the metadata is JSON in the root
    attribute `jaxrl_metadata`.

    Args:
      ds: the dataset.
      path: the target file; its directory is created if missing.

    Raises:
      DatasetError: if the metadata is not JSON-able.
    """
    import h5py

    meta = _metadata_json(ds, pathlib.Path(path))
    arrays = _d4rl_arrays(ds)
    with atomic_target(path) as tmp, h5py.File(tmp, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        f.attrs[_METADATA_HDF5_ATTR] = meta


def _parse_metadata(text: str | bytes, path: pathlib.Path, where: str) -> dict:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    try:
        meta = json.loads(str(text))
    except ValueError as e:
        raise DatasetError(
            f"{path}: key '{where}': metadata is not valid JSON ({e}). Fix: rewrite the file "
            "with jaxrl.data.save_hdf5 / save_npz, or delete the metadata"
        ) from None
    if not isinstance(meta, dict):
        raise DatasetError(
            f"{path}: key '{where}': metadata must be a JSON object, got "
            f"{type(meta).__name__}. Fix: store a JSON dict"
        )
    return meta


def _read_hdf5(path: pathlib.Path) -> tuple[dict[str, np.ndarray], dict]:
    import h5py

    if not has_hdf5_signature(path):
        raise DatasetError(
            f"{path}: not an HDF5 file (no HDF5 signature). Fix: regenerate or re-download it; "
            "if it is an npz archive, rename it to .npz"
        )
    key = None
    try:
        with h5py.File(path, "r", locking=False) as f:
            if minari.is_minari_file(f):
                return None, {}
            arrays = {}
            for key in _READ_KEYS:
                if key not in f:
                    continue
                node = f[key]
                if not isinstance(node, h5py.Dataset):
                    raise DatasetError(
                        f"{path}: key '{key}': is an HDF5 group, not a dataset. Fix: store "
                        "the array itself under this key (D4RL layout)"
                    )
                arrays[key] = node[()]
            key = None
            raw = f.attrs.get(_METADATA_HDF5_ATTR)
    except DatasetError:
        raise
    except HDF5Error as e:
        raise _unreadable(
            path, "HDF5", key, e, ". Fix: regenerate it or download it again"
        ) from None
    meta = {} if raw is None else _parse_metadata(raw, path, _METADATA_HDF5_ATTR)
    return arrays, meta


def _unreadable(path: pathlib.Path, kind: str, key: str | None, error: Exception, advice: str):
    """The DatasetError for a file that failed to read (at `key`, if one was being read)."""
    where = f" (reading key '{key}')" if key else ""
    return DatasetError(
        f"{path}: unreadable {kind} file{where}: {error}. The file is probably truncated or "
        f"corrupt{advice}"
    )


def _read_npz(path: pathlib.Path) -> tuple[dict[str, np.ndarray], dict]:
    key = None
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {}
            for key in _READ_KEYS:
                if key in z.files:
                    arrays[key] = z[key]
            key = None
            raw = z[_METADATA_NPZ_KEY][()] if _METADATA_NPZ_KEY in z.files else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        advice = ", or holds pickled objects. Fix: regenerate it with jaxrl.data.save_npz"
        raise _unreadable(path, "npz", key, e, advice) from None
    meta = {} if raw is None else _parse_metadata(raw, path, _METADATA_NPZ_KEY)
    return arrays, meta


def _reader(path: pathlib.Path) -> Callable[[pathlib.Path], tuple[dict, dict]]:
    suffix = path.suffix.lower()
    if suffix in HDF5_SUFFIXES:
        return _read_hdf5
    if suffix in NPZ_SUFFIXES:
        return _read_npz
    if has_hdf5_signature(path):
        return _read_hdf5
    if read_signature(path, 0, len(_ZIP_SIGNATURE)) == _ZIP_SIGNATURE:
        return _read_npz
    raise DatasetError(
        f"{path}: unknown dataset format (neither HDF5 nor npz). Fix: use a .hdf5 file in the "
        "D4RL layout or an .npz written by jaxrl.data.save_npz"
    )


def _resolve(path_or_name: str | os.PathLike) -> pathlib.Path:
    """An existing file: the path itself, a Minari dataset's main file, or a cache entry."""
    path = pathlib.Path(path_or_name).expanduser()
    if path.is_file():
        return path
    if path.exists():
        main = minari.find(path)
        if main is not None:
            return main
        raise DatasetError(
            f"{path}: is a directory, neither a dataset file nor a Minari dataset (no "
            f"data/{minari.MAIN_FILE}). Fix: pass a file path or a Minari dataset directory"
        )
    text = os.fspath(path_or_name)
    is_bare_name = os.sep not in text and (os.altsep is None or os.altsep not in text)
    if not is_bare_name:
        main = minari.find(text)  # a Minari dataset id such as "D4RL/door/human-v2"
        if main is not None:
            return main
        raise DatasetError(
            f"{path}: no such file, nor a Minari dataset id under {minari.minari_root()}. "
            "Fix: check the path (or set $MINARI_DATASETS_PATH)"
        )
    known_suffix = path.suffix.lower() in HDF5_SUFFIXES + NPZ_SUFFIXES
    stem = path.stem if known_suffix else text
    cache = data_dir()
    candidates = [cache / text] if known_suffix else [cache / f"{text}.hdf5", cache / f"{text}.npz"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    main = minari.find(text)
    if main is not None:
        return main
    if known_suffix and not candidates[0].exists():
        where = f"neither {path.resolve()} nor {candidates[0]} exists"
    else:
        where = "looked for " + " and ".join(str(c) for c in candidates)
    raise DatasetError(
        f"{text}: dataset '{stem}' is not in the cache ({where}; nor is it a Minari dataset "
        f"under {minari.minari_root()}). Fix: generate it with "
        f"`{MAKE_DATASETS_COMMAND.format(name=stem)}`, or set $JAXRL_DATA to the directory "
        "that holds it"
    )


def load(path_or_name: str | os.PathLike, *, spec: EnvSpec | None = None) -> Dataset:
    """Loads and validates a dataset file, or a dataset from the cache by name.

    The reader is chosen by suffix (`.hdf5`/`.h5`: HDF5, checked for the HDF5 signature;
    `.npz`: numpy archive), or by content for other names. An HDF5 file with Minari's layout
    (`episode_<i>` groups), a Minari dataset directory, or a Minari dataset id is read by
    `jaxrl.data.load_minari`. A bare name such as `"halfcheetah-medium-v0"` resolves to
    `data_dir()/<name>.hdf5`, then `.npz`, then a Minari dataset of that id; a name with a
    slash that is not a path is looked up as a Minari id under `$MINARI_DATASETS_PATH` (default
    `~/.minari/datasets`). Only the D4RL keys are read; other keys (e.g. `infos/qpos`) are
    ignored, except `infos/mc_return`. Files without `next_observations` (raw D4RL
    `get_dataset()` output) get them rebuilt as `from_arrays` describes. The source is opened
    read-only and never modified.

    Args:
      path_or_name: a file path, a Minari dataset directory or id, or the name of a dataset in
        `data_dir()`.
      spec: the environment the dataset is for; checks the observation and action sizes and
        the action box.

    Returns:
      The validated `Dataset` (see `from_arrays` for episode boundaries and action clipping).

    Raises:
      DatasetError: the file is missing (for a bare name: with the command that generates
        it), unreadable, truncated, of the wrong format, or fails `validate`; the message
        names the file.
    """
    path = _resolve(path_or_name)
    if not path.is_file() or minari.is_minari_path(path):
        return minari.load_minari(path, spec=spec)
    arrays, metadata = _reader(path)(path)
    if arrays is None:  # an HDF5 file in Minari's layout
        return minari.load_minari(path, spec=spec)
    return from_arrays(arrays, source=str(path), spec=spec, metadata=metadata)
