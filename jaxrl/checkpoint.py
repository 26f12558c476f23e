"""Checkpoints of the whole stacked `TrainState`, exact resume, and loading a policy for use.

A checkpoint (one orbax step directory under `workdir/checkpoints/`, named by the number of
chunks done) holds two items:

- ``state``: the stacked `TrainState` of every run index — parameters, target parameters,
  optimizer states with their injected learning rates, dynamic hyperparameters, the replay
  buffer, the environment states (Brax pipeline state, last observation, episode counters),
  PRNG keys (as raw key data), gradient and environment step counters, phase, offline ratio
  and the divergence guard's `frozen` flags;
- ``meta`` (JSON): format and jaxrl versions, the config, the host loop position (chunks done,
  step, phase), how many `metrics.jsonl` records had been written, elapsed seconds, the
  divergences seen so far, and a checksum of every array of ``state``.

`load_states` restores a run directory's checkpoint for use outside training (the states, the
config, the agent); `load_policy` builds one run's policy on it.

Orbax writes each step into a temporary directory and renames it when complete, so a process
killed mid-write leaves no step directory; a step directory whose files were later truncated
or damaged fails its restore or its checksum and is skipped in favour of the previous one.

Example:

    >>> from jaxrl.checkpoint import load_policy
    >>> policy = load_policy("runs/iql-demo", run_index=0)  # doctest: +SKIP
    >>> action = policy(obs)  # deterministic; policy(obs, key, deterministic=False) samples
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

import jaxrl
from jaxrl.config import from_mapping
from jaxrl.data.transforms import ObsNormalizer
from jaxrl.training.programs import build_agent, make_policy, state_template

FORMAT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
#: The observation statistics of a run with `normalize_obs` (also in every checkpoint's meta).
OBS_NORMALIZER_JSON = "obs_normalizer.json"
# Orbax's in-progress directories ("<step>.orbax-checkpoint-tmp-<n>"), removed when a manager
# opens the directory.
_TMP_DIR = re.compile(r"^\d+\.orbax-checkpoint-tmp(-\d+)?$")


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or no usable one could be read; says what to do."""


class CorruptCheckpointWarning(UserWarning):
    """A checkpoint was incomplete or damaged and the previous one was used instead."""


# --------------------------------------------------------------------------- tree conversion


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def to_saveable(tree: Any) -> Any:
    """`tree` with typed PRNG keys replaced by their raw uint32 key data."""
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, tree)


def from_saveable(tree: Any, template: Any) -> Any:
    """Inverse of `to_saveable`: wraps key data back where `template` (abstract) has keys."""

    def wrap(x, t):
        return jax.random.wrap_key_data(x, impl=t.dtype._impl) if _is_key(t) else x

    return jax.tree.map(wrap, tree, template)


def _abstract_saveable(template: Any) -> Any:
    """ShapeDtypeStructs of `to_saveable(template)`, each with its template leaf's sharding
    (a run-axis split restores as that split, one shard per device) or the default device."""
    default = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    return jax.tree.map(
        lambda x, t: jax.ShapeDtypeStruct(
            x.shape, x.dtype, sharding=getattr(t, "sharding", None) or default
        ),
        jax.eval_shape(to_saveable, template),
        template,
    )


@jax.jit
def _leaf_checksums(tree: Any) -> jax.Array:
    """[leaves, 2] uint32: the wrapping sum of each leaf's 32-bit words, and a position-weighted
    sum, computed on the device so a save moves only these few numbers to the host."""

    def words(x):
        x = jnp.ravel(x)
        if x.dtype == jnp.bool_:
            x = x.astype(jnp.uint8)
        if x.dtype.itemsize < 4:
            return x.astype(jnp.uint32)
        return jax.lax.bitcast_convert_type(x, jnp.uint32).reshape(-1)

    def one(x):
        w = words(x)
        weights = jnp.arange(w.size, dtype=jnp.uint32) * jnp.uint32(2654435761) + jnp.uint32(1)
        return jnp.stack([jnp.sum(w, dtype=jnp.uint32), jnp.sum(w * weights, dtype=jnp.uint32)])

    return jnp.stack([one(x) for x in jax.tree.leaves(tree)])


def checksum(saveable: Any) -> list[list[int]]:
    """Per-leaf checksums of a key-free tree (see `to_saveable`), as JSON-able ints."""
    sums = _leaf_checksums(saveable)  # integer sums: the same for any sharding of the tree
    if not sums.is_fully_addressable:  # a multi-host job: every process gets every row
        from jax.experimental import multihost_utils

        sums = multihost_utils.process_allgather(sums, tiled=True)
    return np.asarray(sums).tolist()


# --------------------------------------------------------------------------- the manager


def checkpoint_dir(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / CHECKPOINT_DIR


def _check_directory(directory: Path) -> None:
    """Raises when `directory` holds anything but orbax step and temporary directories."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a directory; move it away to start a run here")
    foreign = sorted(
        p.name
        for p in directory.iterdir()
        if not (p.is_dir() and (p.name.isdigit() or _TMP_DIR.match(p.name)))
    )
    if foreign:
        raise CheckpointError(
            f"{directory} holds files that are not jaxrl checkpoints: {foreign[:10]}; it may "
            "belong to another program. Remove them or choose another workdir."
        )


class Checkpointer:
    """Saves and restores stacked train states under `workdir/checkpoints/` with orbax.

    Saves are asynchronous: `save` returns once the arrays are on the host and the files are
    written in the background; an error from a background write is raised (as
    `CheckpointError`) by the next `save`, `check` or `wait`.

    Args:
      workdir: the run directory.
      keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, workdir: str | os.PathLike, keep: int = 3):
        self.directory = checkpoint_dir(workdir)
        _check_directory(self.directory)
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max(keep, 1),
            enable_async_checkpointing=True,
            create=True,
            cleanup_tmp_directories=True,
        )
        self._manager = ocp.CheckpointManager(self.directory.absolute(), options=options)
        self._saving: int | None = None

    def steps(self) -> list[int]:
        """Steps (chunks done) of the complete checkpoints, oldest first."""
        return sorted(self._manager.all_steps())

    def save(self, step: int, states: Any, meta: dict[str, Any]) -> None:
        """Starts writing `states` (the stacked TrainState) and `meta` as checkpoint `step`."""
        self.check()
        tree = to_saveable(states)
        meta = {**meta, "checksum": checksum(tree)}
        try:
            self._manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(tree), meta=ocp.args.JsonSave(meta)
                ),
                force=True,
            )
        except Exception as err:
            raise self._write_error(step, err) from err
        self._saving = step

    def check(self) -> None:
        """Raises `CheckpointError` if a background write has failed."""
        try:
            self._manager.check_for_errors()
        except Exception as err:
            raise self._write_error(self._saving, err) from err

    def wait(self) -> None:
        """Blocks until the background write is done; raises `CheckpointError` if it failed."""
        try:
            self._manager.wait_until_finished()
            self._manager.check_for_errors()
        except Exception as err:
            raise self._write_error(self._saving, err) from err
        self._saving = None

    def _write_error(self, step: int | None, err: BaseException) -> CheckpointError:
        done = [s for s in self.steps() if s != step]
        previous = (
            f"the previous checkpoint (after {done[-1]} chunks) is intact and the run resumes "
            "from it when rerun on the same workdir"
            if done
            else "no earlier checkpoint exists"
        )
        return CheckpointError(
            f"writing checkpoint {step} in {self.directory} failed ({type(err).__name__}: "
            f"{err}); {previous}. Free disk space or fix the directory, then rerun."
        )

    def read_meta(self, step: int) -> dict[str, Any]:
        restored = self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
        return restored.meta

    def restore(self, step: int, template: Any, meta: dict[str, Any] | None = None) -> Any:
        """The states of checkpoint `step`, verified against the checksum in its meta.

        Raises:
          Exception: the files cannot be read, or a checksum differs (`CheckpointError`).
        """
        meta = self.read_meta(step) if meta is None else meta
        abstract = _abstract_saveable(template)
        restored = self._manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract))
        )
        tree = restored.state
        sums, stored = checksum(tree), meta["checksum"]
        if len(sums) != len(stored):
            raise CheckpointError(f"{len(stored)} arrays stored, {len(sums)} expected")
        bad = [i for i, (a, b) in enumerate(zip(sums, stored, strict=True)) if a != b]
        if bad:
            paths = [jax.tree_util.keystr(p) for p, _ in _paths(abstract)]
            raise CheckpointError(f"checksum mismatch in {[paths[i] for i in bad[:5]]}")
        return from_saveable(tree, template)

    def restore_latest(self, template: Any) -> tuple[int, Any, dict[str, Any]] | None:
        """The newest checkpoint that restores and passes its checksum, or None if none exist.

        A damaged checkpoint is reported with a `CorruptCheckpointWarning` and skipped.

        Args:
          template: the stacked TrainState, or its abstract shape (`jax.eval_shape`), or a
            function from a checkpoint's meta to either (it may raise to refuse the
            checkpoint, e.g. when its run axis does not fit the current devices).

        Returns:
          `(step, states, meta)`.

        Raises:
          CheckpointError: a checkpoint has another format version, or checkpoints exist but
            none of them can be restored.
        """
        failures = []
        for step in reversed(self.steps()):
            try:
                meta = self.read_meta(step)
            except Exception as err:  # a damaged or missing meta file
                failures.append(self._skip(step, err))
                continue
            version = meta.get("format_version")
            if version != FORMAT_VERSION:
                raise CheckpointError(
                    f"checkpoint {self.directory / str(step)} has format version {version} "
                    f"(written by jaxrl {meta.get('jaxrl_version')}); this jaxrl "
                    f"({jaxrl.__version__}) reads format {FORMAT_VERSION}. Resume with the "
                    "jaxrl version that wrote it, or start in a new workdir."
                )
            tree = template(meta) if callable(template) else template
            try:
                states = self.restore(step, tree, meta)
            except Exception as err:
                failures.append(self._skip(step, err))
                continue
            self._set_aside([s for s in self.steps() if s > step])
            return step, states, meta
        if failures:
            raise CheckpointError(
                f"no checkpoint in {self.directory} could be restored:\n  "
                + "\n  ".join(failures)
                + "\nRefusing to start from scratch: move the directory away to do that."
            )
        return None

    def _set_aside(self, steps: list[int]) -> None:
        """Moves damaged checkpoints to `workdir/damaged_checkpoints/` (the run will write new
        ones under the same step numbers; the damaged files stay for inspection)."""
        if not steps:
            return
        aside = self.directory.parent / "damaged_checkpoints"
        aside.mkdir(exist_ok=True)
        for step in steps:
            target = aside / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
            os.replace(self.directory / str(step), target)
            warnings.warn(
                f"moved damaged checkpoint {step} to {target}",
                CorruptCheckpointWarning,
                stacklevel=3,
            )
        self._manager.reload()

    def _skip(self, step: int, err: BaseException) -> str:
        message = f"checkpoint {step}: {type(err).__name__}: {str(err)[:300]}"
        warnings.warn(
            f"skipping damaged {message} — falling back to the previous checkpoint",
            CorruptCheckpointWarning,
            stacklevel=3,
        )
        return message

    def close(self, raise_errors: bool = True) -> None:
        """Waits for the background write, then releases the manager.

        Args:
          raise_errors: raise a failed background write as `CheckpointError` (False when
            closing while another error is already being raised).
        """
        try:
            self.wait()
        except CheckpointError:
            if raise_errors:
                raise
        finally:
            self._manager.close()


def _paths(tree: Any):
    return jax.tree_util.tree_leaves_with_path(tree)


# --------------------------------------------------------------------------- loading for use


class Loaded(NamedTuple):
    """A run's checkpoint, restored (see `load_states`)."""

    config: Any  # the run's TrainConfig
    states: Any  # the stacked TrainState (leading axis: run index)
    meta: dict[str, Any]  # the checkpoint's meta
    step: int  # the checkpoint (chunks done)
    agent: Any  # the run's Agent
    env: Any  # its Env


def load_states(
    workdir: str | os.PathLike,
    step: int | None = None,
    *,
    run_index: int | None = None,
) -> Loaded:
    """The stacked train states of a run directory, from its newest valid checkpoint.

    The one restore path for using a finished (or interrupted) run outside training.

    Args:
      workdir: the run directory (holding `config.json` and `checkpoints/`).
      step: a specific checkpoint (chunks done); None means the newest valid one.
      run_index: if given, checked against the run's run indices before anything is restored.

    Returns:
      `Loaded(config, states, meta, step, agent, env)`.

    Raises:
      CheckpointError: no `config.json`, no checkpoint, or `run_index` out of range.
    """
    workdir = Path(workdir)
    if not (workdir / "config.json").exists():
        raise CheckpointError(f"{workdir} has no config.json; is it a jaxrl run directory?")
    config = from_mapping(json.loads((workdir / "config.json").read_text()))
    if run_index is not None and not 0 <= run_index < config.num_runs:
        raise CheckpointError(
            f"run_index={run_index} is out of range: the run has {config.num_runs} run indices "
            f"(seeds {config.seeds})"
        )
    agent, env = build_agent(config)

    def template(meta):  # a sweep padded to the device count saved the padding runs too
        return state_template(config, agent, env, meta.get("run_axis", config.num_runs))

    ckpt = Checkpointer(workdir, keep=max(config.keep_checkpoints, 1))
    try:
        if step is None:
            found = ckpt.restore_latest(template)
            if found is None:
                raise CheckpointError(f"{ckpt.directory} holds no checkpoint")
            step, states, meta = found
        else:
            meta = ckpt.read_meta(step)
            states = ckpt.restore(step, template(meta), meta)
    finally:
        ckpt.close()
    return Loaded(config, states, meta, step, agent, env)


def load_policy(
    workdir: str | os.PathLike, run_index: int = 0, step: int | None = None
) -> Callable[..., jax.Array]:
    """A jitted policy of one run index of a (vmapped) run, from its newest valid checkpoint.

    Args:
      workdir: the run directory (holding `config.json` and `checkpoints/`).
      run_index: which run (position in `config.seeds`).
      step: a specific checkpoint (chunks done); None means the newest valid one.

    Returns:
      `policy(obs, key=None, deterministic=True) -> action` for one raw environment
      observation or a batch (leading axes are vmapped). `key` is needed only when
      `deterministic` is False. For a run with `normalize_obs` the policy normalizes `obs` with
      the run's dataset statistics first; they are `policy.obs_normalizer` (None otherwise).

    Raises:
      CheckpointError: no checkpoint, `run_index` out of range, or a run with `normalize_obs`
        whose observation statistics are missing.
    """
    loaded = load_states(workdir, step, run_index=run_index)
    config, states, meta, agent = loaded.config, loaded.states, loaded.meta, loaded.agent
    normalizer = None
    if config.normalize_obs:
        stats = meta.get("obs_normalizer")
        saved = Path(workdir) / OBS_NORMALIZER_JSON
        if stats is None and saved.exists():
            stats = json.loads(saved.read_text())
        if stats is None:
            raise CheckpointError(
                f"{workdir} was trained with normalize_obs=True but neither its checkpoint nor "
                f"{OBS_NORMALIZER_JSON} holds the observation statistics; restore the file"
            )
        normalizer = ObsNormalizer.from_dict(stats)
    return make_policy(agent, jax.tree.map(lambda x: x[run_index], states.agent), normalizer)
