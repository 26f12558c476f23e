"""Runs CORL's own TD3+BC update (`algorithms/offline/td3_bc.py`) on the harness's inputs.

Runs in the `torch` peer venv (torch + numpy only; experiments/peers/setup.sh), called by
experiments/parity.py as `python corl_td3bc.py SOURCE DIR STEPS AGENT_JSON`. It imports the
reference file unchanged, with its training-script imports (d4rl, gym, wandb, pyrallis)
replaced by empty stand-ins (the update uses none of them), loads the harness's initial
parameters into the reference's `Actor` and two `Critic`s, replaces `torch.randn_like` (the
target-policy noise, the update's only random draw) by the harness's normals, calls
`TD3_BC.train(batch)` STEPS times and writes its log dicts and its modules' state dicts.
"""

import importlib.util
import json
import sys
import types
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


def load_reference(source: Path, extra_stubs: tuple[str, ...] = ()):
    """The reference file as a module, its training-script imports stubbed."""
    for name in ("d4rl", "gym", "wandb", "pyrallis", *extra_stubs):
        sys.modules.setdefault(name, stub(name))
    spec = importlib.util.spec_from_file_location(source.stem + "_reference", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_modules(path: Path) -> dict:
    out = {}
    with np.load(path) as f:
        for key in f.files:
            module, name = key.split("::", 1)
            out.setdefault(module, {})[name] = torch.from_numpy(f[key].copy())
    return out


def save_modules(path: Path, trainer, names) -> None:
    """The state dicts of `trainer`'s modules `names`, flattened as `module::key` arrays."""
    flat = {
        f"{name}::{key}": value.detach().numpy().copy()
        for name in names
        for key, value in getattr(trainer, name).state_dict().items()
    }
    np.savez(path, **flat)


def main(source: str, directory: str, steps: str, agent_json: str) -> None:
    directory, steps, hp = Path(directory), int(steps), json.loads(agent_json)
    ref = load_reference(Path(source))
    torch.set_default_dtype(torch.float32)
    init = load_modules(directory / "init.npz")
    inputs = np.load(directory / "inputs.npz")
    state_dim, action_dim = inputs["obs"].shape[-1], inputs["action"].shape[-1]
    actor = ref.Actor(state_dim, action_dim, 1.0)
    critic_1, critic_2 = ref.Critic(state_dim, action_dim), ref.Critic(state_dim, action_dim)
    for module, name in ((actor, "actor"), (critic_1, "critic_1"), (critic_2, "critic_2")):
        module.load_state_dict(init[name])
    trainer = ref.TD3_BC(
        max_action=1.0,
        actor=actor,
        actor_optimizer=torch.optim.Adam(actor.parameters(), lr=hp["actor_lr"]),
        critic_1=critic_1,
        critic_1_optimizer=torch.optim.Adam(critic_1.parameters(), lr=hp["critic_lr"]),
        critic_2=critic_2,
        critic_2_optimizer=torch.optim.Adam(critic_2.parameters(), lr=hp["critic_lr"]),
        discount=hp["discount"],
        tau=hp["tau"],
        policy_noise=hp["policy_noise"],
        noise_clip=hp["noise_clip"],
        policy_freq=hp["policy_delay"],
        alpha=hp["alpha"],
    )
    draws = inputs["noise"]  # [steps, 1, B, |A|]: one draw per step
    noise = iter(torch.from_numpy(draws.reshape((-1,) + draws.shape[2:]).copy()))

    def fed_randn_like(tensor, *args, **kwargs):
        draw = next(noise)
        assert draw.shape == tensor.shape, (draw.shape, tensor.shape)
        return draw.to(tensor.dtype)

    torch.randn_like = fed_randn_like  # the reference calls torch.randn_like(action)
    logs = []
    for k in range(steps):
        f = lambda name, k=k: torch.from_numpy(inputs[name][k].copy())  # noqa: E731
        batch = [f("obs"), f("action"), f("reward")[:, None], f("next_obs"),
                 f("terminated")[:, None]]  # fmt: skip
        logs.append(trainer.train(batch))
        if k + 1 in (1, steps):
            names = ("actor", "critic_1", "critic_2", "actor_target", "critic_1_target")
            names += ("critic_2_target",)
            save_modules(directory / f"after_{k + 1}.npz", trainer, names)
    (directory / "losses.json").write_text(json.dumps(logs))


if __name__ == "__main__":
    main(*sys.argv[1:])
