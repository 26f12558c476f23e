"""Where the generated benchmark suite lives, its manifests and checksum verification.

Every generated dataset `<task>-<kind>-v0` is one D4RL-layout HDF5 file plus a JSON manifest
beside it (`<name>.json`: size, episodes, reference returns, seed, preset, generator version,
SHA-256 of the HDF5 file). The cache layout under `jaxrl.data.data_dir()` (`$JAXRL_DATA`,
default `~/.cache/jaxrl/datasets`) is

    <data_dir>/<name>.hdf5                 preset "cpu", seed 0 (what the default jobs load)
    <data_dir>/<preset>/<name>.hdf5        any other preset ("d4rl", "tiny"), seed 0
    <data_dir>/[<preset>/]seed<k>/<name>.hdf5   seed k != 0

so a name never stands for two different files, and `jaxrl.data.load("halfcheetah-medium-v0")`
keeps meaning the CPU-preset dataset. `load` verifies the checksum before reading.

Example:

    >>> from jaxrl.data import suite
    >>> suite.dataset_path("hopper-expert-v0", preset="d4rl")  # doctest: +SKIP
    PosixPath('/home/me/.cache/jaxrl/datasets/d4rl/hopper-expert-v0.hdf5')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from jaxrl.data.dataset import Dataset, DatasetError, episode_ends
from jaxrl.data.io import data_dir
from jaxrl.data.io import load as _load_file
from jaxrl.envs.registry import TASKS
from jaxrl.specs import EnvSpec

#: Bumped whenever generation changes what a name produces; older caches must be regenerated.
GENERATOR_VERSION = 3
#: The preset stored at the cache root under the bare dataset names.
ROOT_PRESET = "cpu"


KINDS = ("random", "medium", "expert", "medium-replay", "medium-expert", "full-replay")
_NAME = re.compile(
    r"^(?P<task>[a-z0-9_]+)-(?P<kind>random|medium|expert|medium-replay|medium-expert|"
    r"full-replay)-v0$"
)


def parse_name(name: str) -> tuple[str, str]:
    """`"halfcheetah-medium-v0" -> ("halfcheetah", "medium")`; raises on other names."""
    m = _NAME.match(name)
    if not m or m["task"] not in TASKS:
        raise ValueError(
            f"cannot generate {name!r}: names look like <task>-<kind>-v0 with task in "
            f"{sorted(TASKS)} and kind in {KINDS}"
        )
    return m["task"], m["kind"]


def is_generatable(name: str) -> bool:
    try:
        parse_name(str(name))
    except ValueError:
        return False
    return True


def suite_dir(preset: str = ROOT_PRESET, seed: int = 0, root: str | os.PathLike | None = None):
    """The directory holding the datasets of `preset` and `seed` (see the module docstring)."""
    d = Path(root).expanduser() if root is not None else data_dir()
    if preset != ROOT_PRESET:
        d = d / preset
    if seed:
        d = d / f"seed{seed}"
    return d


def dataset_path(
    name: str, preset: str = ROOT_PRESET, seed: int = 0, root: str | os.PathLike | None = None
) -> Path:
    """`<suite_dir>/<name>.hdf5`."""
    return suite_dir(preset, seed, root) / f"{name}.hdf5"


def manifest_path(path: str | os.PathLike) -> Path:
    """The manifest beside a dataset file: same name, `.json`."""
    return Path(path).with_suffix(".json")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance() -> dict[str, str | None]:
    """What is building a file now: jaxrl's version and, in a git checkout, its commit
    (suffixed "-dirty" when tracked files have changes), and jax's and brax's versions.

    Generation depends on the whole library (SAC's updates, network initialisation, Brax), not
    only on `GENERATOR_VERSION`, so two caches built at different commits can hold different
    files under one name; manifests record this to tell them apart (DATASETS.md).
    """
    import importlib.metadata
    import subprocess

    import jaxrl

    def version(package: str) -> str | None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None

    commit = None
    root = Path(jaxrl.__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            git = ["git", "-C", str(root)]
            head = subprocess.run(
                [*git, "rev-parse", "--short=12", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            dirty = subprocess.run(
                [*git, "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if head.returncode == 0:
                commit = head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {
        "jaxrl": jaxrl.__version__,
        "jaxrl_commit": commit,
        "jax": version("jax"),
        "brax": version("brax"),
    }


def write_manifest(path: str | os.PathLike, ds: Dataset, extra: dict | None = None) -> dict:
    """Writes `<name>.json` for the dataset file `path` (already written) and returns it.

    The manifest holds the dataset's metadata (references, seed, preset, …), its size and
    number of episodes, the generator version and the SHA-256 of the file, plus `extra`
    (e.g. timings, which are kept out of the HDF5 file so that it is reproducible).
    """
    path = Path(path)
    manifest = {
        **ds.metadata,
        "file": path.name,
        "size": ds.size,
        "episodes": int(episode_ends(ds).sum()),
        "generator_version": GENERATOR_VERSION,
        "sha256": sha256_file(path),
        **(extra or {}),
    }
    tmp = manifest_path(path).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    tmp.replace(manifest_path(path))
    return manifest


def _regenerate_hint(path: Path) -> str:
    name, preset, seed = path.stem, "?", "?"
    try:
        meta = json.loads(manifest_path(path).read_text())
        preset, seed = meta.get("preset", "?"), meta.get("seed", "?")
    except (OSError, ValueError):
        pass
    task = name.split("-", 1)[0]
    return (
        f"delete {path} and {manifest_path(path)} and regenerate it with `python "
        f"experiments/make_datasets.py --datasets={name} --preset={preset} --seed={seed} "
        f"--force` (the cached SAC run of {task} is reused)"
    )


def verify(path: str | os.PathLike) -> dict:
    """Checks a generated dataset file against its manifest and returns the manifest.

    Raises:
      DatasetError: the manifest is missing or unreadable, was written by another generator
        version, or the file's SHA-256 differs from the recorded one; the message says which
        files to delete and the command that regenerates them.
    """
    path = Path(path)
    mpath = manifest_path(path)
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError:
        raise DatasetError(
            f"{path}: no manifest {mpath.name} beside it, so its checksum cannot be verified. "
            f"Fix: {_regenerate_hint(path)}"
        ) from None
    except (OSError, ValueError) as e:
        raise DatasetError(
            f"{mpath}: unreadable manifest ({e}). Fix: {_regenerate_hint(path)}"
        ) from None
    version = manifest.get("generator_version")
    if version != GENERATOR_VERSION:
        raise DatasetError(
            f"{path}: made by generator version {version}, this is version "
            f"{GENERATOR_VERSION}. Fix: {_regenerate_hint(path)}"
        )
    digest = sha256_file(path)
    if digest != manifest.get("sha256"):
        raise DatasetError(
            f"{path}: checksum mismatch (SHA-256 {digest[:12]}…, manifest says "
            f"{str(manifest.get('sha256'))[:12]}…): the file was modified or is corrupt. "
            f"Fix: {_regenerate_hint(path)}"
        )
    return manifest


def is_stale(path: str | os.PathLike) -> bool:
    """True if `path` has no readable manifest or one from another generator version."""
    try:
        manifest = json.loads(manifest_path(path).read_text())
    except (OSError, ValueError):
        return True
    return manifest.get("generator_version") != GENERATOR_VERSION


def is_cached(name: str, preset: str = ROOT_PRESET, seed: int = 0, root=None) -> bool:
    """True if `name` exists for this preset and seed and passes `verify`."""
    path = dataset_path(name, preset, seed, root)
    if not path.is_file():
        return False
    try:
        verify(path)
    except DatasetError:
        return False
    return True


def load(
    name: str,
    preset: str = ROOT_PRESET,
    seed: int = 0,
    root: str | os.PathLike | None = None,
    *,
    spec: EnvSpec | None = None,
) -> Dataset:
    """Loads a generated dataset after verifying its checksum against the manifest.

    Raises:
      DatasetError: missing (with the command that generates it), corrupt or modified.
    """
    path = dataset_path(name, preset, seed, root)
    if not path.is_file():
        raise DatasetError(
            f"{name}: not generated for preset {preset!r}, seed {seed} (no {path}). Fix: "
            f"`python experiments/make_datasets.py --datasets={name} --preset={preset} "
            f"--seed={seed}`"
        )
    verify(path)
    return _load_file(path, spec=spec)
