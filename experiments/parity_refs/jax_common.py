"""What the JAX runners in experiments/parity_refs/ share (they run in the `jax` peer venv,
jax 0.4.30 / flax 0.8.5 / optax 0.2.3; experiments/peers/setup.sh): the harness's flat
`module::path/to/leaf` arrays in and out as the reference's nested parameter dicts, its draws
fed in order, and the update loop.

Compatibility settings for code written against older jax and flax, each stated in
docs/PARITY.md: `jax.tree_multimap` (removed in jax 0.3.16) is `jax.tree_util.tree_map` again;
flax's `init` returns a `FrozenDict` (`flax_return_frozendict`), whose `pop` returns
`(rest, value)` as the references' `Model.create` expects; and, while a reference module is
imported (`tolerant_jit`), `jax.jit` drops `static_argnames` that the function does not take
(older jax ignored them, jax 0.4.30 refuses them).
"""

import contextlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import jax
import numpy as np

if os.environ.get("JAXRL_PARITY_X64") == "1":  # parity.py --x64: float64 on both sides
    jax.config.update("jax_enable_x64", True)
if not hasattr(jax, "tree_multimap"):
    jax.tree_multimap = jax.tree_util.tree_map
import flax  # noqa: E402

flax.config.update("flax_return_frozendict", True)


@contextlib.contextmanager
def tolerant_jit():
    """`jax.jit` that ignores `static_argnames` the jitted function has no parameter for."""
    original = jax.jit

    def jit(fun=None, **kwargs):
        names = kwargs.get("static_argnames")
        if fun is not None and names:
            params = inspect.signature(fun).parameters
            names = (names,) if isinstance(names, str) else names
            kwargs["static_argnames"] = tuple(n for n in names if n in params)
        return original(fun, **kwargs) if fun is not None else original(**kwargs)

    jax.jit = jit
    try:
        yield
    finally:
        jax.jit = original


def load_trees(path: Path) -> dict:
    """The harness's `module::a/b/c` arrays as {module: nested dict of arrays}."""
    out: dict = {}
    with np.load(path) as f:
        for key in f.files:
            if "::" not in key:
                continue
            module, name = key.split("::", 1)
            node = out.setdefault(module, {})
            *parents, leaf = name.split("/")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = np.asarray(f[key])
    return out


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """A nested dict (or FrozenDict) of arrays as {"a/b/c": array}."""
    out = {}
    for k, v in tree.items():
        name = f"{prefix}/{k}" if prefix else str(k)
        if hasattr(v, "items"):
            out.update(flatten(v, name))
        else:
            out[name] = np.asarray(v)
    return out


def save_trees(path: Path, trees: dict) -> None:
    """{module: nested params} as flat `module::a/b/c` arrays."""
    flat = {f"{m}::{k}": v for m, tree in trees.items() for k, v in flatten(tree).items()}
    np.savez(path, **flat)


def fed_draws(inputs) -> Callable[[tuple], np.ndarray]:
    """`next_draw(shape)`: the harness's normals ([steps, draws per step, ...]) one at a time,
    in the order the reference asks for them, each checked against its shape."""
    draws = inputs["noise"]
    noise = iter(draws.reshape((-1,) + draws.shape[2:]))

    def next_draw(shape):
        draw = next(noise)
        assert tuple(draw.shape) == tuple(shape), (draw.shape, shape)
        return draw

    return next_draw


def batches(inputs, steps: int):
    """The harness's batches as numpy dicts: obs, action, reward, terminated, next_obs."""
    for k in range(steps):
        yield {name: np.asarray(inputs[name][k]) for name in inputs.files if name != "noise"}


def run_updates(update: Callable, inputs, steps: int, directory: Path, save: Callable) -> None:
    """`update(batch)` -> log dict on each batch; `save(path)` after steps 1 and `steps`; the
    log dicts (as floats) to losses.json."""
    logs = []
    for k, batch in enumerate(batches(inputs, steps)):
        info = update(batch)
        logs.append({name: float(np.asarray(v)) for name, v in info.items() if np.size(v) == 1})
        if k + 1 in (1, steps):
            save(directory / f"after_{k + 1}.npz")
    (directory / "losses.json").write_text(json.dumps(logs))


def add_reference_to_path(source: Path) -> None:
    """The reference's directory first on sys.path: its modules import each other by name."""
    sys.path.insert(0, str(source.parent))
