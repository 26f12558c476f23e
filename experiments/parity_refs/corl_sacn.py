"""Runs CORL's own SAC-N update (`algorithms/offline/sac_n.py`) on the harness's inputs.

Runs in the `torch` peer venv (experiments/peers/setup.sh), called by experiments/parity.py as
`python corl_sacn.py SOURCE DIR STEPS AGENT_JSON`. It imports the reference file unchanged (its
training-script imports stubbed), loads the harness's initial parameters into the reference's
`Actor`, `VectorizedCritic` and `log_alpha`, replaces the standard normals of `Normal.rsample`
(the update's three draws: the temperature loss's action at s, the actor loss's at s, the critic
target's at s') by the harness's, calls `SACN.update(batch)` STEPS times and writes its log
dicts and state dicts. `torch.rand_like` (random actions for a logged Q std) stays the
reference's own: it feeds no loss.
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
    ref = load_reference(Path(source))
    init = load_modules(directory / "init.npz")
    inputs = np.load(directory / "inputs.npz")
    state_dim, action_dim = inputs["obs"].shape[-1], inputs["action"].shape[-1]
    actor = ref.Actor(state_dim, action_dim, hp["actor_hidden_dims"][0])
    critic = ref.VectorizedCritic(
        state_dim, action_dim, hp["critic_hidden_dims"][0], hp["num_critics"]
    )
    actor.load_state_dict(init["actor"])
    critic.load_state_dict(init["critic"])
    trainer = ref.SACN(
        actor=actor,
        actor_optimizer=torch.optim.Adam(actor.parameters(), lr=hp["actor_lr"]),
        critic=critic,
        critic_optimizer=torch.optim.Adam(critic.parameters(), lr=hp["critic_lr"]),
        gamma=hp["discount"],
        tau=hp["tau"],
        alpha_learning_rate=hp["temperature_lr"],
    )
    with torch.no_grad():
        trainer.log_alpha.copy_(init["log_alpha"]["value"])
    trainer.alpha = trainer.log_alpha.exp().detach()
    next_draw = fed_draws(inputs)  # temperature's, actor's, critic target's, each step
    normal_module._standard_normal = lambda shape, dtype, device: next_draw(shape, dtype)

    def save(path):
        log_alpha = {"log_alpha::value": trainer.log_alpha.detach().numpy().copy()}
        save_modules(path, trainer, ("actor", "critic", "target_critic"), log_alpha)

    run_updates(trainer.update, inputs, steps, directory, save)


if __name__ == "__main__":
    main(*sys.argv[1:])
