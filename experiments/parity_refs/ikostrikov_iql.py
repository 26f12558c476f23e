"""Runs the authors' IQL update (ikostrikov/implicit_q_learning `learner.py`) on the harness's
inputs.

Runs in the `jax` peer venv (experiments/peers/setup.sh jax), called by experiments/parity.py
as `python ikostrikov_iql.py SOURCE DIR STEPS AGENT_JSON`. It imports the reference's modules
unchanged (with jax_common's compatibility settings), builds its `Learner` with the
locomotion settings (`configs/mujoco_config.py`; the offline script's cosine-decayed actor rate
over `max_steps`), puts the harness's initial parameters into its actor, double critic, value
and target critic, and calls `Learner.update(batch)` STEPS times. The update draws nothing
(dropout is off for locomotion), so no draws are fed.
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from jax_common import (  # noqa: E402
    add_reference_to_path,
    flatten,
    load_trees,
    run_updates,
    save_trees,
    tolerant_jit,
)  # noqa: E402


def main(source: str, directory: str, steps: str, agent_json: str) -> None:
    directory, steps, hp = Path(directory), int(steps), json.loads(agent_json)
    add_reference_to_path(Path(source))
    import jax.numpy as jnp
    from flax.core import freeze

    with tolerant_jit():  # policy.py's `static_argnames=('actor_def', 'distribution')`
        import learner as ref  # the reference's own module
        from common import Batch

    init = load_trees(directory / "init.npz")
    inputs = np.load(directory / "inputs.npz")
    agent = ref.Learner(
        seed=0,
        observations=jnp.asarray(inputs["obs"][0][:1]),
        actions=jnp.asarray(inputs["action"][0][:1]),
        actor_lr=hp["actor_lr"],
        value_lr=hp["value_lr"],
        critic_lr=hp["critic_lr"],
        hidden_dims=tuple(hp["hidden_dims"]),
        discount=hp["discount"],
        tau=hp["tau"],
        expectile=hp["expectile"],
        temperature=hp["beta"],
        dropout_rate=None,
        max_steps=hp["actor_lr_decay_steps"],
        opt_decay_schedule="cosine",
    )
    for name in ("actor", "critic", "value", "target_critic"):
        model = getattr(agent, name)
        params = freeze(init[name])
        mine, theirs = shapes(params), shapes(model.params)
        assert mine == theirs, f"{name}: the harness's {mine} are not the reference's {theirs}"
        setattr(agent, name, model.replace(params=params))

    def update(b):
        batch = Batch(
            observations=jnp.asarray(b["obs"]),
            actions=jnp.asarray(b["action"]),
            rewards=jnp.asarray(b["reward"]),
            masks=jnp.asarray(1.0 - b["terminated"]),
            next_observations=jnp.asarray(b["next_obs"]),
        )
        info = agent.update(batch)
        return {k: info[k] for k in ("critic_loss", "value_loss", "actor_loss")}

    def save(path):
        names = ("actor", "critic", "value", "target_critic")
        save_trees(path, {name: getattr(agent, name).params for name in names})

    run_updates(update, inputs, steps, directory, save)


def shapes(tree) -> dict:
    return {k: v.shape for k, v in flatten(tree).items()}


if __name__ == "__main__":
    main(*sys.argv[1:])
