"""Runs CORL's own TD3+BC update (`algorithms/offline/td3_bc.py`) on the harness's inputs.

Runs in the `torch` peer venv (torch + numpy only; experiments/peers/setup.sh), called by
experiments/parity.py as `python corl_td3bc.py SOURCE DIR STEPS AGENT_JSON`. It imports the
reference file unchanged, with its training-script imports (d4rl, gym, wandb, pyrallis)
replaced by empty stand-ins (the update uses none of them), loads the harness's initial
parameters into the reference's `Actor` and two `Critic`s, replaces `torch.randn_like` (the
target-policy noise, the update's only random draw) by the harness's normals, calls
`TD3_BC.train(batch)` STEPS times and writes its log dicts and its modules' state dicts.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import fed_draws, load_modules, load_reference, run_updates, save_modules  # noqa: E402


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
    next_draw = fed_draws(inputs)  # one draw per step
    # the reference calls torch.randn_like(action)
    torch.randn_like = lambda tensor, *a, **k: next_draw(tensor.shape, tensor.dtype)
    names = ("actor", "critic_1", "critic_2", "actor_target", "critic_1_target")
    names += ("critic_2_target",)
    run_updates(
        trainer.train, inputs, steps, directory, lambda path: save_modules(path, trainer, names)
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
