"""PRDC (LAMDA-RL/PRDC halfcheetah settings: α 40, β 2, k 1, TD3 with policy delay 2, lr 3e-4).

The reference is offline only. Online (jaxrl's design, docs/algorithms/prdc.md): the
constraint keeps the offline dataset as its neighbour set and its weight decays linearly to half
over the online gradient steps (bc_decay_steps follows online_steps × utd), with exploration
noise 0.1 and 50/50 mixed batches. Observations are normalized with the dataset's mean and std
(+1e-3), offline, online and in evaluation, as the reference does (`normalize_obs=True`).
Hopper and walker2d: --config.agent.alpha=2.5; antmaze: alpha 7.5, beta 7.5, reward ×10000 − 1.
"""

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
        "prdc",
        agent={"alpha": 40.0, "beta": 2.0, "k": 1},
        retention="mixed",
        offline_ratio=0.5,
        normalize_obs=True,
    )
    # A reference, so --config.online_steps / --config.utd overrides move the decay with them.
    c.agent.bc_decay_steps = c.get_ref("online_steps") * c.get_ref("utd")
    return c
