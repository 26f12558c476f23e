"""What every runner in experiments/parity_refs/ shares (they run in the `torch` peer venv, with
torch and numpy only): the reference file imported with its training-script imports stubbed,
the harness's parameters in and out, its draws fed in order, and the update loop."""

import importlib.util
import json
import sys
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def stub(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    def attribute(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return type(attr, (), {})  # gym.Env etc., read by annotations at import

    module.__getattr__ = attribute
    if name == "pyrallis":
        module.wrap = lambda *a, **k: lambda f: f
    return module


def load_reference(source: Path):
    """The reference file as a module, its training-script imports (d4rl, gym, wandb,
    pyrallis) stubbed: the update uses none of them."""
    for name in ("d4rl", "gym", "wandb", "pyrallis"):
        sys.modules.setdefault(name, stub(name))
    spec = importlib.util.spec_from_file_location(source.stem + "_reference", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_modules(path: Path) -> dict:
    """The harness's `module::key` arrays as {module: state dict of tensors}."""
    out = {}
    with np.load(path) as f:
        for key in f.files:
            module, name = key.split("::", 1)
            out.setdefault(module, {})[name] = torch.from_numpy(f[key].copy())
    return out


def save_modules(path: Path, trainer, names, extra: dict | None = None) -> None:
    """The state dicts of `trainer`'s modules `names` (and `extra` arrays), flattened as
    `module::key` arrays."""
    flat = {
        f"{name}::{key}": value.detach().numpy().copy()
        for name in names
        for key, value in getattr(trainer, name).state_dict().items()
    }
    np.savez(path, **flat, **(extra or {}))


def fed_draws(inputs) -> Callable[[tuple, torch.dtype], torch.Tensor]:
    """`next_draw(shape, dtype)`: the harness's normals ([steps, draws per step, B, |A|]) one
    at a time, in the order the reference asks for them, each checked against its shape."""
    draws = inputs["noise"]
    noise = iter(torch.from_numpy(draws.reshape((-1,) + draws.shape[2:]).copy()))

    def next_draw(shape, dtype):
        draw = next(noise)
        assert tuple(draw.shape) == tuple(shape), (draw.shape, shape)
        return draw.to(dtype)

    return next_draw


def run_updates(update: Callable, inputs, steps: int, directory: Path, save: Callable) -> None:
    """`update(batch)` on the harness's batches ([s, a, r[:, None], s', done[:, None]], CORL's
    order); `save(path)` after steps 1 and `steps`; the log dicts to losses.json."""
    logs = []
    for k in range(steps):
        f = lambda name, k=k: torch.from_numpy(inputs[name][k].copy())  # noqa: E731
        batch = [f("obs"), f("action"), f("reward")[:, None], f("next_obs"),
                 f("terminated")[:, None]]  # fmt: skip
        logs.append(update(batch))
        if k + 1 in (1, steps):
            save(directory / f"after_{k + 1}.npz")
    (directory / "losses.json").write_text(json.dumps(logs))
