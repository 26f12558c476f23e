"""Runs CORL's own AWAC update (`algorithms/finetune/awac.py`) on the harness's inputs.

Runs in the `torch` peer venv (experiments/peers/setup.sh), called by experiments/parity.py as
`python corl_awac.py SOURCE DIR STEPS AGENT_JSON`. It imports the reference file unchanged, with
its training-script imports (d4rl, gym, wandb, pyrallis) replaced by empty stand-ins,
loads the harness's initial parameters into the reference's `Actor` and two `Critic`s, replaces
the standard normals of `Normal.rsample` (the update's two random draws: the critic target's
action at s', then the actor loss's action at s) by the harness's, calls
`AdvantageWeightedActorCritic.update(batch)` STEPS times and writes its log dicts and its
modules' state dicts.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributions.normal as normal_module

sys.path.insert(0, str(Path(__file__).parent))
from common import fed_draws, load_modules, load_reference, run_updates, save_modules  # noqa: E402


def main(source: str, directory: str, steps: str, agent_json: str) -> None:
    directory, steps, hp = Path(directory), int(steps), json.loads(agent_json)
    ref = load_reference(Path(source))  # tqdm is installed in the venv (torch probes for it)
    init = load_modules(directory / "init.npz")
    inputs = np.load(directory / "inputs.npz")
    state_dim, action_dim = inputs["obs"].shape[-1], inputs["action"].shape[-1]
    width = hp["actor_hidden_dims"][0]
    actor = ref.Actor(state_dim, action_dim, width, hp["log_std_min"], hp["log_std_max"])
    critic_1 = ref.Critic(state_dim, action_dim, hp["critic_hidden_dims"][0])
    critic_2 = ref.Critic(state_dim, action_dim, hp["critic_hidden_dims"][0])
    for module, name in ((actor, "_actor"), (critic_1, "_critic_1"), (critic_2, "_critic_2")):
        module.load_state_dict(init[name])
    trainer = ref.AdvantageWeightedActorCritic(
        actor=actor,
        actor_optimizer=torch.optim.Adam(actor.parameters(), lr=hp["actor_lr"]),
        critic_1=critic_1,
        critic_1_optimizer=torch.optim.Adam(critic_1.parameters(), lr=hp["critic_lr"]),
        critic_2=critic_2,
        critic_2_optimizer=torch.optim.Adam(critic_2.parameters(), lr=hp["critic_lr"]),
        gamma=hp["discount"],
        tau=hp["tau"],
        awac_lambda=hp["awac_lambda"],
        exp_adv_max=hp["max_weight"],
    )
    next_draw = fed_draws(inputs)  # the critic's draw, then the actor's, each step
    normal_module._standard_normal = lambda shape, dtype, device: next_draw(shape, dtype)
    names = ("_actor", "_critic_1", "_critic_2", "_target_critic_1", "_target_critic_2")
    run_updates(
        trainer.update, inputs, steps, directory, lambda path: save_modules(path, trainer, names)
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
