"""ReBRAC (CORL offline/rebrac.py locomotion: 3×256, critic LayerNorm after ReLU, lr 1e-3,
batch 1024; halfcheetah-medium β_actor 0.001, β_critic 0.01), fine-tuned as in CORL
finetune/rebrac.py: 50/50 mixed batches, β_critic 0 online, β_actor decaying linearly to half
over the online gradient steps (bc_decay_steps follows online_steps × utd).
"""

from experiments.configs._base import with_overrides


def get_config():
    c = with_overrides(
        "rebrac",
        agent={"actor_bc_coef": 0.001, "critic_bc_coef": 0.01},
        retention="mixed",
        offline_ratio=0.5,
        batch_size=1024,
    )
    # A reference, so --config.online_steps / --config.utd overrides move the decay with them.
    c.agent.bc_decay_steps = c.get_ref("online_steps") * c.get_ref("utd")
    return c
